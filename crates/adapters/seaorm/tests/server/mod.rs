//! A contract fixture on a database server (PostgreSQL or MariaDB): each
//! test creates its own database, migrates it, and drops it afterwards.

use std::sync::Arc;

use roster_application::UserRepository;
use roster_application::auth::ClientStore;
use roster_application::contract::Fixture;
use roster_application::contract::clients::ClientStoreFixture;
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::testing::{ServerKind, TempDatabase};
use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};

pub struct Server {
    repository: Arc<SeaOrmUserRepository>,
    // Dropped after the repository's pool (fields drop in order).
    _database: TempDatabase,
}

impl Server {
    /// The URL of this test's database.
    #[allow(dead_code)] // used by one of the suites sharing this module
    pub fn url(&self) -> &str {
        &self._database.url
    }
}

impl Fixture for Server {
    fn repository(&self) -> Arc<dyn UserRepository> {
        self.repository.clone()
    }
}

impl roster_application::contract::reports::ReportStoreFixture for Server {
    fn report_store(&self) -> Arc<dyn roster_application::ReportStore> {
        self.repository.clone()
    }

    fn users(&self) -> Arc<dyn UserRepository> {
        self.repository.clone()
    }
}

impl ClientStoreFixture for Server {
    fn client_store(&self) -> Arc<dyn ClientStore> {
        self.repository.clone()
    }
}

/// The admin URL of the server, or `None` (and a SKIPPED notice).
pub fn admin_url(kind: ServerKind) -> Option<String> {
    kind.admin_url("the repository contract suite")
}

pub async fn fixture(admin_url: String) -> Server {
    let database = TempDatabase::create(&admin_url).await;
    let settings = DatabaseSettings { url: database.url.clone(), max_connections: 5, ..DatabaseSettings::default() };
    let db = connect(&settings).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    Server { repository: Arc::new(SeaOrmUserRepository::new(db)), _database: database }
}

/// Keys compare exactly, as on SQLite: user ids and agent ids differing
/// only in case are different (MariaDB's default collations would say
/// equal; the migrations choose `utf8mb4_bin`).
pub async fn keys_are_case_sensitive(repo: Arc<dyn UserRepository>) {
    use chrono::{TimeZone, Utc};
    use roster_application::contract::sample_user;
    use roster_domain::{Namespace, UserId};
    let ns = Namespace::parse("acme").expect("namespace");
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("time");
    let lower = sample_user("a-1", Some("x@example.com"), &["agent"], &[]);
    let upper = sample_user("A-1", Some("y@example.com"), &["AGENT"], &[("firstName", "Upper")]);
    repo.save(&ns, &lower, at).await.expect("save a-1");
    repo.save(&ns, &upper, at).await.expect("A-1 is another user, AGENT another agent id");
    assert_eq!(repo.find(&ns, &UserId::parse("a-1").expect("id")).await.expect("find"), Some(lower));
    assert_eq!(repo.find(&ns, &UserId::parse("A-1").expect("id")).await.expect("find"), Some(upper));
}
