//! The hot-path reads are index lookups: SQLite's query plans for them
//! never scan a table nor range over a whole namespace.

use roster_application::UpsertContextQuery;
use roster_domain::{TelephonyIdentity, UserId};
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

use crate::{DatabaseSettings, connect, lists, user_repository::context_users};

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

#[tokio::test]
async fn context_users_query_uses_the_keys() {
    let query = UpsertContextQuery {
        user_id: id("a-1"),
        references: vec![id("boss"), id("coach")],
        email: Some("a@example.com".into()),
        identities: vec![],
    };
    assert_lookups(&plan(context_users("acme", &query).build(DbBackend::Sqlite)).await);
    let no_email = UpsertContextQuery { email: None, references: vec![], ..query };
    assert_lookups(&plan(context_users("acme", &no_email).build(DbBackend::Sqlite)).await);
}

#[tokio::test]
async fn lists_query_uses_the_keys() {
    let identities = [identity("1"), identity("2"), identity("3")];
    for (owner, identities) in [(Some("a-1"), &identities[..]), (None, &identities[..]), (Some("a-1"), &[][..])] {
        let statement = lists::statement(DbBackend::Sqlite, "acme", owner, identities).expect("statement");
        assert_lookups(&plan(statement).await);
    }
    assert!(lists::statement(DbBackend::Sqlite, "acme", None, &[]).is_none());
}

#[test]
fn postgres_placeholders_are_numbered() {
    let statement = lists::statement(DbBackend::Postgres, "acme", Some("a-1"), &[identity("1")]).expect("statement");
    assert!(statement.sql.contains("$9"), "{}", statement.sql);
    assert!(!statement.sql.contains('?'), "{}", statement.sql);
    assert_eq!(statement.values.map(|v| v.0.len()), Some(9));
}
