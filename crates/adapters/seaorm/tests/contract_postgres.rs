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
