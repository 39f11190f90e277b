//! The hot-path reads are index lookups: SQLite's query plans for them
//! never scan a table nor range over a whole namespace.

use roster_application::UpsertContextQuery;
use roster_domain::{TelephonyIdentity, UserId};
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{DatabaseSettings, connect, context};

async fn plan(statement: Statement) -> Vec<String> {
    let settings = DatabaseSettings { url: "sqlite::memory:".into(), max_connections: 1, ..Default::default() };
    let db = connect(&settings).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    let explain = Statement { sql: format!("EXPLAIN QUERY PLAN {}", statement.sql), ..statement };
    let rows = db.query_all_raw(explain).await.expect("explain");
    rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect()
}

fn assert_lookups(plan: &[String]) {
    assert!(plan.iter().any(|l| l.starts_with("SEARCH")), "{plan:#?}");
    for line in plan {
        assert!(!line.starts_with("SCAN"), "table scan: {plan:#?}");
        assert!(!line.ends_with("(namespace=?)"), "range over a namespace: {plan:#?}");
    }
}

fn id(s: &str) -> UserId {
    UserId::parse(s).expect("id")
}

fn identity(agent: &str) -> TelephonyIdentity {
    TelephonyIdentity { platform: "genesys cloud".into(), agent_id: agent.into() }
}

fn query(references: &[&str], email: Option<&str>, identities: &[TelephonyIdentity]) -> UpsertContextQuery {
    UpsertContextQuery {
        user_id: id("a-1"),
        references: references.iter().map(|r| id(r)).collect(),
        email: email.map(str::to_owned),
        identities: identities.to_vec(),
    }
}

#[tokio::test]
async fn context_query_uses_the_keys() {
    let identities = [identity("1"), identity("2"), identity("3")];
    for q in [
        query(&["boss", "coach"], Some("a@example.com"), &identities),
        query(&[], None, &[]),
        query(&[], Some("a@example.com"), &identities[..1]),
    ] {
        assert_lookups(&plan(context::statement(DbBackend::Sqlite, "acme", &q)).await);
    }
}

#[test]
fn postgres_placeholders_are_numbered() {
    let statement = context::statement(DbBackend::Postgres, "acme", &query(&[], None, &[identity("1")]));
    assert!(statement.sql.contains("$7"), "{}", statement.sql);
    assert!(!statement.sql.contains('?'), "{}", statement.sql);
    assert_eq!(statement.values.map(|v| v.0.len()), Some(7));
}
