//! From `DbErr` to the port's [`RepositoryError`], and which failures are
//! worth trying again.

use roster_application::RepositoryError;
use roster_domain::ValueError;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// The `sqlx` error under a `DbErr`, if there is one.
fn sqlx_error(err: &DbErr) -> Option<&sqlx::Error> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// What a database error says, in the terms of each backend.
enum DbCode {
    /// SQLite's extended result code.
    Sqlite(i32),
    /// PostgreSQL's SQLSTATE.
    Postgres(String),
    /// MySQL/MariaDB's error number and message.
    MySql(u16, String),
}

fn db_code(err: &DbErr) -> Option<DbCode> {
    let Some(sqlx::Error::Database(db)) = sqlx_error(err) else {
        return None;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return db.code().and_then(|c| c.parse().ok()).map(DbCode::Sqlite);
    }
    if let Some(e) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return Some(DbCode::Postgres(e.code().to_owned()));
    }
    if let Some(e) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(DbCode::MySql(e.number(), e.message().to_owned()));
    }
    None
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_CANTOPEN: i32 = 14;

/// A failure that says nothing about the data and may well not happen
/// again: a serialization failure or deadlock (PostgreSQL 40001/40P01,
/// MySQL 1213), SQLite busy or locked, or — on MySQL, where the user row is
/// written by UPDATE-then-INSERT — a concurrent insert of the same new user.
/// The transaction was rolled back; running it again is safe.
pub(crate) fn is_transient(err: &DbErr) -> bool {
    match db_code(err) {
        Some(DbCode::Sqlite(code)) => matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED),
        Some(DbCode::Postgres(state)) => state == "40001" || state == "40P01",
        Some(DbCode::MySql(number, message)) => number == 1213 || (number == 1062 && message.contains("'PRIMARY'")),
        None => false,
    }
}

/// The store could not be reached or did not answer in time.
fn is_unavailable(err: &DbErr) -> bool {
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    if let Some(e) = sqlx_error(err)
        && matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        )
    {
        return true;
    }
    match db_code(err) {
        Some(DbCode::Sqlite(code)) => {
            matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_CANTOPEN)
        }
        // connection exceptions, shutting down, too many connections
        Some(DbCode::Postgres(state)) => {
            state.starts_with("08") || matches!(state.as_str(), "57P01" | "57P02" | "57P03" | "53300")
        }
        // too many connections, shutting down, gone away, lost
        Some(DbCode::MySql(number, _)) => matches!(number, 1040 | 1053 | 1205 | 2002 | 2006 | 2013),
        None => false,
    }
}

/// The port's view of a database failure: a unique index said no
/// ([`RepositoryError::Conflict`]), the store is out of reach or busy
/// beyond our patience ([`RepositoryError::Unavailable`]), or anything else
/// ([`RepositoryError::Internal`]).
pub(crate) fn to_repository_error(err: DbErr) -> RepositoryError {
    // Transient first: a lost race of two inserts of one new user on MySQL
    // is a duplicate key, but no conflict with another user.
    if is_transient(&err) || is_unavailable(&err) {
        return RepositoryError::Unavailable(Box::new(err));
    }
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return RepositoryError::Conflict;
    }
    RepositoryError::Internal(Box::new(err))
}

/// A stored value the domain refuses: the database holds something roster
/// never writes.
#[derive(Debug, thiserror::Error)]
#[error("stored {column} is invalid: {message}")]
pub(crate) struct CorruptValue {
    column: &'static str,
    message: String,
}

pub(crate) fn corrupt(column: &'static str) -> impl FnOnce(ValueError) -> RepositoryError {
    move |e| corrupt_value(column, e.message)
}

/// [`CorruptValue`] of `column`, saying what is wrong with it.
pub(crate) fn corrupt_value(column: &'static str, message: impl Into<String>) -> RepositoryError {
    RepositoryError::Internal(Box::new(CorruptValue { column, message: message.into() }))
}
