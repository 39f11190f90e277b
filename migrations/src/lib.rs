//! roster's database migrations, portable to SQLite, PostgreSQL and MariaDB.
//!
//! Each migration is frozen in time: it names its own tables and columns with
//! local `DeriveIden` enums and never imports the adapter's entities, so a later
//! change of the entities can't rewrite history.
//!
//! String lengths are chosen so every index key fits MariaDB's 3072-byte limit
//! with utf8mb4 (4 bytes a character).
#![forbid(unsafe_code)]

pub use sea_orm_migration;
use sea_orm_migration::prelude::*;

mod m20261204_100000_create_users;
mod m20261204_100100_create_user_roles;
mod m20261204_100200_create_user_teams;
mod m20261204_100300_create_user_telephony;
mod m20261204_100400_postgres_save_user;
mod m20261204_100500_key_first_unique_indexes;
mod m20261204_100600_create_auth;
mod m20261205_100000_create_reports;
mod m20261205_110000_postgres_save_users;
mod m20261205_120000_roles_teams_in_users;

/// Every migration of roster's schema, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_100000_create_users::Migration),
            Box::new(m20261204_100100_create_user_roles::Migration),
            Box::new(m20261204_100200_create_user_teams::Migration),
            Box::new(m20261204_100300_create_user_telephony::Migration),
            Box::new(m20261204_100400_postgres_save_user::Migration),
            Box::new(m20261204_100500_key_first_unique_indexes::Migration),
            Box::new(m20261204_100600_create_auth::Migration),
            Box::new(m20261205_100000_create_reports::Migration),
            Box::new(m20261205_110000_postgres_save_users::Migration),
            Box::new(m20261205_120000_roles_teams_in_users::Migration),
        ]
    }
}

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// The PostgreSQL advisory lock key migrations hold ("roster" in ASCII).
const POSTGRES_LOCK_KEY: i64 = 0x726f_7374_6572;

/// Applies the pending migrations, one process at a time: several roster
/// processes starting at once on a fresh database (replicas, a scaled-up
/// compose service) would otherwise race to apply the same migration and
/// all but one fail. The lock — PostgreSQL's `pg_advisory_xact_lock`,
/// MariaDB's `GET_LOCK`, SQLite's write lock (`BEGIN IMMEDIATE`) — is held on
/// one connection for the whole run; the others wait for it (SQLite up to
/// its busy timeout), then find nothing left to do.
pub async fn run(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({POSTGRES_LOCK_KEY})")).await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        DatabaseBackend::MySql => {
            // DDL commits implicitly on MySQL: the transaction only pins one
            // connection, whose session holds the named lock.
            let txn = db.begin().await?;
            txn.execute_unprepared("DO GET_LOCK('roster_migrations', 60)").await?;
            let result = Migrator::up(&txn, None).await;
            let released = txn.execute_unprepared("DO RELEASE_LOCK('roster_migrations')").await;
            result?;
            released?;
            txn.commit().await
        }
        _ => {
            // The write lock is waited for up to the busy timeout; another
            // process's migrations can take longer than that on a busy
            // machine, so waiting goes on, a while, before giving up.
            let give_up = std::time::Instant::now() + SQLITE_LOCK_PATIENCE;
            loop {
                match sqlite_run(db).await {
                    Err(e) if is_sqlite_busy(&e) && std::time::Instant::now() < give_up => {
                        tracing::info!("another process holds the database's write lock; waiting to migrate");
                    }
                    result => return result,
                }
            }
        }
    }
}

/// How long a SQLite migration waits for another process's write lock.
const SQLITE_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

async fn sqlite_run(db: &DatabaseConnection) -> Result<(), DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(options).await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// SQLite's "database is locked" (SQLITE_BUSY), after its busy timeout.
fn is_sqlite_busy(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("database is locked") || text.contains("(code: 5)")
}
