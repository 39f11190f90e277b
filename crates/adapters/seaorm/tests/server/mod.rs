//! A contract fixture on a database server (PostgreSQL or MariaDB): each
//! test creates its own database, migrates it, and drops it afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use roster_application::UserRepository;
use roster_application::contract::Fixture;
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};
use sea_orm::{ConnectionTrait, DbBackend};

pub struct Server {
    repository: Arc<SeaOrmUserRepository>,
    admin_url: String,
    database: String,
    backend: DbBackend,
}

impl Fixture for Server {
    fn repository(&self) -> Arc<dyn UserRepository> {
        self.repository.clone()
    }
}

/// `scheme://authority/db?query` with another `db`.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}/{database}{query}")
}

fn settings(url: String) -> DatabaseSettings {
    DatabaseSettings { url, max_connections: 5, ..DatabaseSettings::default() }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("roster_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}

/// The admin URL from `var`, or `None` when it is not set — and then a
/// notice, once per test binary, written straight to the terminal (not
/// through `println!`, which the test harness would swallow for a passing
/// test), so a plain `cargo test` says which suite it skipped.
pub fn admin_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                use std::io::Write;
                let suite = if var.contains("POSTGRES") { "PostgreSQL" } else { "MariaDB/MySQL" };
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: the {suite} repository contract suite: {var} is not set (see README, \"Tests\")"
                );
            });
            None
        }
    }
}

pub async fn fixture(admin_url: String) -> Server {
    let database = unique_name();
    let admin = connect(&settings(admin_url.clone())).await.expect("connect as admin");
    let backend = admin.get_database_backend();
    admin.execute_unprepared(&format!("CREATE DATABASE {database}")).await.expect("create database");
    admin.close().await.expect("close");
    let db = connect(&settings(with_database(&admin_url, &database))).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    Server { repository: Arc::new(SeaOrmUserRepository::new(db)), admin_url, database, backend }
}

impl Drop for Server {
    fn drop(&mut self) {
        let drop_sql = match self.backend {
            DbBackend::Postgres => {
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database)
            }
            _ => format!("DROP DATABASE IF EXISTS {}", self.database),
        };
        let admin_url = self.admin_url.clone();
        // Drop can't await: do it on a runtime of its own, on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let admin = connect(&settings(admin_url)).await?;
                admin.execute_unprepared(&drop_sql).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.database);
        }
    }
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
