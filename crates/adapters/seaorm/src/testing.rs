//! Test support (feature `testing`): a database of its own on a PostgreSQL
//! or MariaDB server for each test, dropped when the test ends, and the
//! environment variables that name those servers.
//!
//! Used by this crate's contract suites and by the API tests of the binary.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, DbBackend};

use crate::{DatabaseSettings, connect};

/// A database server the tests can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Postgres,
    MySql,
}

impl ServerKind {
    /// The variable holding the server's admin URL (a user allowed to
    /// create and drop databases).
    pub fn env_var(self) -> &'static str {
        match self {
            ServerKind::Postgres => "ROSTER_TEST_POSTGRES_URL",
            ServerKind::MySql => "ROSTER_TEST_MYSQL_URL",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Postgres => "PostgreSQL",
            ServerKind::MySql => "MariaDB/MySQL",
        }
    }

    /// The admin URL from the environment, or `None` when it is not set —
    /// and then, once per test binary and suite, a notice written straight
    /// to the terminal (not through `println!`, which the harness swallows
    /// for a passing test), so a plain `cargo test` says what it skipped.
    pub fn admin_url(self, suite: &str) -> Option<String> {
        match std::env::var(self.env_var()) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                static NOTICES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
                let key = format!("{suite} on {}", self.name());
                let mut shown = NOTICES.lock().unwrap_or_else(|e| e.into_inner());
                if !shown.contains(&key) {
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr(),
                        "\nSKIPPED: {suite} on {}: {} is not set (see README, \"Tests\")",
                        self.name(),
                        self.env_var()
                    );
                    shown.push(key);
                }
                None
            }
        }
    }
}

/// `scheme://authority/db?query` with another `db`.
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}/{database}{query}")
}

fn admin_settings(url: String) -> DatabaseSettings {
    DatabaseSettings { url, max_connections: 1, ..DatabaseSettings::default() }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("roster_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}

/// An empty database of its own on a server, dropped (connections and
/// all) when this value is.
pub struct TempDatabase {
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
    backend: DbBackend,
}

impl TempDatabase {
    pub async fn create(admin_url: &str) -> TempDatabase {
        let name = unique_name();
        let admin = connect(&admin_settings(admin_url.to_owned())).await.expect("connect to the test server as admin");
        let backend = admin.get_database_backend();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
        admin.close().await.expect("close the admin connection");
        TempDatabase { url: with_database(admin_url, &name), admin_url: admin_url.to_owned(), name, backend }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let drop_sql = match self.backend {
            DbBackend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            _ => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop can't await: do it on a runtime of its own, on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let admin = connect(&admin_settings(admin_url)).await?;
                if admin.get_database_backend() == DbBackend::MySql {
                    // As PostgreSQL's WITH (FORCE): end the sessions still on
                    // the database (a test's pool, a transaction a stopped
                    // runtime left open), whose metadata locks would keep
                    // DROP DATABASE waiting.
                    let sessions = admin
                        .query_all_raw(sea_orm::Statement::from_string(
                            DbBackend::MySql,
                            format!("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '{name}'"),
                        ))
                        .await?;
                    for row in sessions {
                        let id: i64 = row.try_get("", "id")?;
                        // gone already: fine
                        let _ = admin.execute_unprepared(&format!("KILL {id}")).await;
                    }
                }
                admin.execute_unprepared(&drop_sql).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// A SQLite database file of its own (with `mode=rwc`, created on first
/// connection), removed with its WAL and journal files when dropped.
pub struct TempSqlite {
    /// `sqlite://…?mode=rwc`.
    pub url: String,
    pub path: std::path::PathBuf,
}

impl TempSqlite {
    /// A new, not yet existing, file in the temporary directory, its name
    /// starting with `prefix`.
    pub fn new(prefix: &str) -> TempSqlite {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}.db", std::process::id()));
        TempSqlite { url: format!("sqlite://{}?mode=rwc", path.display()), path }
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// `SELECT COUNT(*) …` on the database at `url`: what a test reads behind
/// roster's back (`sql` is the rest of the query, after `COUNT(*)`).
pub async fn count(url: &str, sql: &str) -> i64 {
    let db = connect(&admin_settings(url.to_owned())).await.expect("connect to the test database");
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(backend, format!("SELECT COUNT(*) AS n {sql}")))
        .await
        .expect("count")
        .expect("a row");
    let n: i64 = row.try_get("", "n").expect("a count");
    db.close().await.expect("close");
    n
}

/// The text of the PostgreSQL statement that reads a batch's context (`$1`
/// the namespace, `$2` … `$5` JSON arrays of user ids, emails, upserted user
/// ids and agent ids), for tests of its query plans.
pub fn postgres_context_sql() -> &'static str {
    crate::batch::postgres_context_sql()
}
