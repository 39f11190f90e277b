//! The repository contract suite against MariaDB/MySQL, with the real
//! migrations; each test on a database of its own, dropped afterwards.
//! Set `ROSTER_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/mysql`,
//! a user allowed to create databases); without it every test is skipped.

mod server;

use roster_application::contract::Fixture as _;
use roster_store_seaorm::testing::ServerKind;

roster_application::repository_contract_tests!({
    let Some(url) = server::admin_url(ServerKind::MySql) else {
        return;
    };
    server::fixture(url)
});

#[tokio::test]
async fn keys_are_case_sensitive() {
    let Some(url) = server::admin_url(ServerKind::MySql) else {
        return;
    };
    let fixture = server::fixture(url).await;
    server::keys_are_case_sensitive(fixture.repository()).await;
}

/// `mariadb://` names the same server as `mysql://`.
#[tokio::test]
async fn mariadb_urls_are_accepted() {
    let Some(url) = server::admin_url(ServerKind::MySql) else {
        return;
    };
    let Some(rest) = url.strip_prefix("mysql://") else {
        return;
    };
    let settings = roster_store_seaorm::DatabaseSettings {
        url: format!("mariadb://{rest}"),
        ..roster_store_seaorm::DatabaseSettings::default()
    };
    let db = roster_store_seaorm::connect(&settings).await.expect("a mariadb:// URL connects");
    db.ping().await.expect("and answers");
}
