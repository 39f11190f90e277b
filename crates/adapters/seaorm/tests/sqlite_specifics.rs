//! What the contract suite does not pin: SQLite's connection settings, how
//! failures map to the port's errors, and the schema's foreign keys.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{TimeZone, Utc};
use roster_application::contract::sample_user;
use roster_application::{RepositoryError, UserRepository};
use roster_domain::{Namespace, UserId};
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::{DatabaseConnection, DatabaseSettings, SeaOrmUserRepository, connect};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

/// A database file deleted (with its -wal and -shm) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        TempDb(std::env::temp_dir().join(format!("roster-sqlite-{}-{n}-{nanos}.db", std::process::id())))
    }

    fn settings(&self) -> DatabaseSettings {
        DatabaseSettings { url: format!("sqlite://{}?mode=rwc", self.0.display()), ..DatabaseSettings::default() }
    }

    async fn migrated(&self, settings: &DatabaseSettings) -> DatabaseConnection {
        let db = connect(settings).await.expect("connect");
        Migrator::up(&db, None).await.expect("migrate");
        db
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn ns() -> Namespace {
    Namespace::parse("acme").expect("namespace")
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("time")
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> String {
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect(sql).expect("a row");
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
        .expect("a value")
}

#[tokio::test]
async fn sqlite_is_created_in_wal_mode_with_a_busy_timeout_and_foreign_keys() {
    let tmp = TempDb::new();
    assert!(!tmp.0.exists());
    let db = connect(&tmp.settings()).await.expect("connect");
    assert!(tmp.0.exists(), "mode=rwc creates the file");
    assert_eq!(scalar(&db, "PRAGMA journal_mode").await, "wal");
    assert_eq!(scalar(&db, "PRAGMA synchronous").await, "2", "FULL");
    assert_eq!(scalar(&db, "PRAGMA foreign_keys").await, "1");
    assert_eq!(scalar(&db, "PRAGMA busy_timeout").await, "5000");
}

#[tokio::test]
async fn a_missing_file_without_rwc_is_an_error() {
    let tmp = TempDb::new();
    let settings = DatabaseSettings { url: format!("sqlite://{}", tmp.0.display()), ..DatabaseSettings::default() };
    assert!(connect(&settings).await.is_err());
    assert!(!tmp.0.exists());
}

#[tokio::test]
async fn deleting_a_user_deletes_its_lists() {
    let tmp = TempDb::new();
    let db = tmp.migrated(&tmp.settings()).await;
    let repo = SeaOrmUserRepository::new(db.clone());
    repo.save(&ns(), &sample_user("a-1", Some("a@example.com"), &["1", "2"], &[]), at()).await.expect("save");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM user_telephony").await, "2");
    db.execute_unprepared("DELETE FROM users").await.expect("delete");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM user_telephony").await, "0");
}

#[tokio::test]
async fn a_stored_value_the_domain_refuses_is_internal() {
    let tmp = TempDb::new();
    let db = tmp.migrated(&tmp.settings()).await;
    let repo = SeaOrmUserRepository::new(db.clone());
    repo.save(&ns(), &sample_user("a-1", None, &["1"], &[]), at()).await.expect("save");
    db.execute_unprepared("UPDATE users SET status = 'Retired'").await.expect("corrupt");
    let err = repo.find(&ns(), &UserId::parse("a-1").expect("id")).await.expect_err("corrupt row");
    assert!(matches!(err, RepositoryError::Internal(_)), "got {err:?}");
    assert!(format!("{:?}", err).contains("status"), "{err:?}");
}

#[tokio::test]
async fn an_exhausted_pool_is_unavailable() {
    let tmp = TempDb::new();
    let settings =
        DatabaseSettings { max_connections: 1, acquire_timeout: Duration::from_millis(200), ..tmp.settings() };
    let db = tmp.migrated(&settings).await;
    let repo = SeaOrmUserRepository::new(db.clone());
    let held = db.begin().await.expect("hold the only connection");
    let err = repo.ping().await.expect_err("no connection free");
    assert!(matches!(err, RepositoryError::Unavailable(_)), "got {err:?}");
    drop(held);
    repo.ping().await.expect("free again");
}

#[tokio::test]
async fn a_missing_schema_is_internal() {
    let tmp = TempDb::new();
    let repo = SeaOrmUserRepository::new(connect(&tmp.settings()).await.expect("connect"));
    let err = repo.find(&ns(), &UserId::parse("a-1").expect("id")).await.expect_err("no tables");
    assert!(matches!(err, RepositoryError::Internal(_)), "got {err:?}");
}

/// Two pools on one file stand for two server processes: their writers
/// queue on SQLite's lock (busy timeout), none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_of_two_pools_on_one_file_all_succeed() {
    let tmp = TempDb::new();
    let first = SeaOrmUserRepository::new(tmp.migrated(&tmp.settings()).await);
    let second = SeaOrmUserRepository::new(connect(&tmp.settings()).await.expect("connect"));
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let repo = if i % 2 == 0 { first.clone() } else { second.clone() };
            let user = sample_user(&format!("u-{i}"), Some(&format!("u{i}@example.com")), &[&i.to_string()], &[]);
            tokio::spawn(async move { repo.save(&ns(), &user, at()).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("save");
    }
    for i in 0..24 {
        let id = UserId::parse(&format!("u-{i}")).expect("id");
        assert!(first.find(&ns(), &id).await.expect("find").is_some());
    }
}

/// A second process migrating while another holds the write lock longer
/// than the busy timeout (5 s) waits for it rather than failing to start.
#[tokio::test]
async fn migrating_waits_out_a_write_lock_held_past_the_busy_timeout() {
    let file = roster_store_seaorm::testing::TempSqlite::new("roster-migrate-lock");
    let settings = DatabaseSettings { url: file.url.clone(), max_connections: 1, ..DatabaseSettings::default() };
    let holder = connect(&settings).await.expect("connect");
    let lock = holder
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .expect("take the write lock");
    let migrator = connect(&settings).await.expect("connect");
    let started = std::time::Instant::now();
    let migrating = tokio::spawn(async move { roster_migrations::run(&migrator).await });
    tokio::time::sleep(Duration::from_secs(7)).await;
    lock.commit().await.expect("release the lock");
    migrating.await.expect("join").expect("migrated once the lock was free");
    assert!(started.elapsed() >= Duration::from_secs(7), "it waited for the lock");
}

/// Opening a file another process holds locked (two processes starting
/// together on a new file, one of them migrating) waits for the lock
/// instead of failing at once with "database is locked" (seen in CI).
#[tokio::test]
async fn opening_waits_out_another_connections_exclusive_lock() {
    let file = roster_store_seaorm::testing::TempSqlite::new("roster-open-lock");
    // A connection of another kind (rollback journal), holding an exclusive lock.
    let holder = sea_orm::Database::connect(file.url.as_str()).await.expect("connect");
    holder.execute_unprepared("CREATE TABLE held (x INTEGER)").await.expect("create");
    let lock = holder.begin().await.expect("begin");
    lock.execute_unprepared("INSERT INTO held VALUES (1)").await.expect("write");
    lock.execute_unprepared("PRAGMA locking_mode = EXCLUSIVE").await.expect("exclusive");
    lock.execute_unprepared("SELECT * FROM held").await.expect("read");
    let settings = DatabaseSettings { url: file.url.clone(), max_connections: 1, ..DatabaseSettings::default() };
    let started = std::time::Instant::now();
    let opening = tokio::spawn(async move { connect(&settings).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lock.commit().await.expect("release the lock");
    holder.execute_unprepared("PRAGMA locking_mode = NORMAL").await.expect("normal");
    holder.execute_unprepared("SELECT * FROM held").await.expect("read to release");
    let db = opening.await.expect("join").expect("opened once the lock was free");
    assert!(started.elapsed() >= Duration::from_millis(1500), "it waited for the lock");
    assert_eq!(scalar(&db, "PRAGMA journal_mode").await, "wal");
}
