//! The repository contract suite against PostgreSQL, with the real
//! migrations; each test on a database of its own, dropped afterwards.
//! Set `ROSTER_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`,
//! a user allowed to create databases); without it every test is skipped.

mod server;

use roster_application::contract::Fixture as _;
use roster_store_seaorm::testing::ServerKind;

roster_application::repository_contract_tests!({
    let Some(url) = server::admin_url(ServerKind::Postgres) else {
        return;
    };
    server::fixture(url)
});

#[tokio::test]
async fn keys_are_case_sensitive() {
    let Some(url) = server::admin_url(ServerKind::Postgres) else {
        return;
    };
    let fixture = server::fixture(url).await;
    server::keys_are_case_sensitive(fixture.repository()).await;
}

/// Each connection keeps a generic plan of a statement once it has run five
/// times. One made just after a tiny table was analyzed must still look up
/// keys by index — not scan the table, which may grow a thousandfold while
/// the plan is kept — so roster's connections price sequential scans out.
#[tokio::test]
async fn cached_plans_of_the_context_read_use_the_indexes_after_a_tiny_table_was_analyzed() {
    use roster_application::contract::sample_user;
    use roster_domain::Namespace;
    use roster_store_seaorm::{DatabaseSettings, connect};
    use sea_orm::{ConnectionTrait, Statement};

    let Some(url) = server::admin_url(ServerKind::Postgres) else {
        return;
    };
    let fixture = server::fixture(url).await;
    let ns = Namespace::parse("acme").expect("namespace");
    let at = chrono::Utc::now();
    for n in 1..=3 {
        let user = sample_user(&format!("a-{n}"), Some(&format!("a{n}@example.com")), &[&format!("g-{n}")], &[]);
        fixture.repository().save(&ns, &user, at).await.expect("save");
    }
    // One connection, so the statements below share a session.
    let settings = DatabaseSettings { url: fixture.url().to_owned(), max_connections: 1, ..Default::default() };
    let db = connect(&settings).await.expect("connect");
    let run = |sql: String| {
        let db = db.clone();
        async move { db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("query") }
    };
    let setting = run("SHOW enable_seqscan".into()).await;
    assert_eq!(setting[0].try_get::<String>("", "enable_seqscan").expect("value"), "off");

    run("ANALYZE".into()).await;
    run(format!("PREPARE context AS {}", roster_store_seaorm::testing::postgres_context_sql())).await;
    run("SET plan_cache_mode = force_generic_plan".into()).await;
    let plan =
        run(r#"EXPLAIN EXECUTE context('acme', '["a-1","boss"]', '["x@example.com"]', '["a-1"]', '["g-9"]')"#.into())
            .await;
    let plan: Vec<String> = plan.iter().map(|r| r.try_get::<String>("", "QUERY PLAN").expect("line")).collect();
    assert!(plan.iter().any(|l| l.contains("Index Scan")), "{plan:#?}");
    assert!(!plan.iter().any(|l| l.contains("Seq Scan")), "a sequential scan: {plan:#?}");
}
