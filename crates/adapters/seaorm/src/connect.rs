//! Opening a connection pool from a small settings struct.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a pooled connection may sit idle before it is pinged on checkout.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Where the database is and how the pool behaves.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `sqlite://roster.db?mode=rwc`, `postgres://…` or `mysql://…`.
    /// `mode=rwc` lets SQLite create the file.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long opening the pool may take.
    pub connect_timeout: Duration,
    /// How long a query waits for a free connection before the store counts
    /// as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://roster.db?mode=rwc".to_owned(),
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    /// Hides the password of the URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens a pool on `settings.url` (`mariadb://` is taken as `mysql://`).
///
/// SQLite databases are opened in WAL mode with `synchronous=FULL` (a user
/// reported as persisted survives a power cut, not only a crash of the
/// process — NORMAL would only promise the latter), a busy timeout (writers
/// of other processes wait for the lock instead of failing) and foreign keys
/// on; the file is created when the URL says `mode=rwc`.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    // `mariadb://` is what a MariaDB operator writes; the driver knows it as `mysql://`.
    let url = match settings.url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => settings.url.clone(),
    };
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.max_connections.max(1))
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.acquire_timeout)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    // PostgreSQL: roster's statements are key lookups, and each connection
    // keeps a generic plan of each once it has run five times. A plan made
    // while a table was tiny (analyzed with a handful of rows) would be a
    // sequential scan, kept while the table grows a thousandfold — seen as a
    // read taking 2 ms instead of 0.1. With sequential scans priced out,
    // cached plans use the indexes whatever the statistics said; a
    // statement with no index to use still scans.
    options.map_sqlx_postgres_opts(|o| o.options([("enable_seqscan", "off")]));
    if !settings.url.starts_with("sqlite:") {
        return Database::connect(options).await;
    }
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
    });
    // Switching a file to WAL needs a moment of exclusive access, and SQLite
    // answers "database is locked" at once — no busy timeout — while another
    // process holds a lock (two processes starting together on a new file,
    // one of them migrating). Opening waits that out, a while.
    let give_up = std::time::Instant::now() + SQLITE_OPEN_PATIENCE;
    let mut pause = std::time::Duration::from_millis(20);
    loop {
        match Database::connect(options.clone()).await {
            Err(e) if std::time::Instant::now() < give_up && is_locked(&e) => {
                tracing::debug!(error = %e, "the SQLite file is locked by another process; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// How long opening a SQLite file waits for another process's lock.
const SQLITE_OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

fn is_locked(e: &DbErr) -> bool {
    crate::error::is_transient(e) || {
        let text = e.to_string();
        text.contains("database is locked") || text.contains("(code: 5)") || text.contains("(code: 6)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let s = DatabaseSettings {
            url: "postgres://app:s3cret@db:5432/roster?sslmode=disable".into(),
            ..Default::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5432/roster?sslmode=disable"), "{shown}");
        assert_eq!(redact_password("sqlite://roster.db?mode=rwc"), "sqlite://roster.db?mode=rwc");
        assert_eq!(redact_password("mysql://root@127.0.0.1/x"), "mysql://root@127.0.0.1/x");
        assert_eq!(redact_password("postgres://a:b:c@h/d"), "postgres://a:***@h/d");
    }

    #[test]
    fn default_is_an_embedded_sqlite_file() {
        let s = DatabaseSettings::default();
        assert_eq!(s.url, "sqlite://roster.db?mode=rwc");
        assert!(s.max_connections >= 1);
    }
}
