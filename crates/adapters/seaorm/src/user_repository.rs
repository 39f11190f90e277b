//! [`SeaOrmUserRepository`]: the [`UserRepository`] port on SQL.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_application::{
    BatchContext, BatchContextQuery, Report, ReportStore, RepositoryError, UpsertContext, UpsertContextQuery, UserRef,
    UserRepository,
};
use roster_domain::{Namespace, User, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::context;
use crate::entity::{user_telephony, users};
use crate::error::{is_transient, to_repository_error};
use crate::postgres;
use crate::rows::{self, UserRows};

/// How many times a transient failure (deadlock, serialization failure,
/// SQLite busy) is tried again before the store counts as unavailable.
/// Racing inserts on one unique index deadlock readily on InnoDB, so there
/// are enough tries, with jitter, for a crowd of racers to be sorted into
/// one winner and conflicts.
const RETRIES: u32 = 10;

/// Users in a SQL database (SQLite, PostgreSQL or MariaDB) migrated by
/// `roster-migrations`.
///
/// A user is one row of `users` (its roles and teams in it, as JSON arrays)
/// plus its rows in `user_telephony` (each with its list position). Uniqueness of email
/// and telephony identity is enforced by unique indexes on
/// `(namespace, email_norm)` and `(namespace, platform_norm, agent_id)`.
#[derive(Debug, Clone)]
pub struct SeaOrmUserRepository {
    pub(crate) db: DatabaseConnection,
    /// SQLite has one writer at a time. Writers of this process queue here,
    /// in order, instead of polling SQLite's busy handler (whose growing
    /// sleeps made the tail latency of concurrent commits hundreds of ms).
    /// Other processes on the same file still meet the busy timeout.
    pub(crate) sqlite_writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl SeaOrmUserRepository {
    /// A repository on `db`, which must be migrated
    /// (`roster_migrations::Migrator::up`).
    pub fn new(db: DatabaseConnection) -> Self {
        let sqlite_writer =
            (db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        SeaOrmUserRepository { db, sqlite_writer }
    }
}

/// 2, 4, 8 … ms, at most 64, each plus up to as much again at random, so
/// the racers that collided do not collide again in step.
pub(crate) fn backoff(tries: u32) -> Duration {
    let base = 1u64 << tries.min(6);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    // the low bits of the clock are noise enough to spread a few racers
    let jitter_us = u64::from(nanos.wrapping_mul(2_654_435_761) >> 8) % (base * 1000);
    Duration::from_millis(base) + Duration::from_micros(jitter_us)
}

/// Runs `attempt` until it succeeds, fails for good, or has failed
/// transiently [`RETRIES`] + 1 times.
pub(crate) async fn with_retries<T, F, Fut>(what: &'static str, mut attempt: F) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if tries < RETRIES && is_transient(&e) => {
                tries += 1;
                tracing::debug!(error = %e, tries, "{what}: transient failure, trying again");
                tokio::time::sleep(backoff(tries)).await;
            }
            other => return other,
        }
    }
}

/// Writes the user row: an upsert on `(namespace, user_id)` (SQLite and
/// MySQL/MariaDB; PostgreSQL saves through `roster_save_user`, see
/// `postgres.rs`).
///
/// On MySQL/MariaDB `ON DUPLICATE KEY UPDATE` fires on *any* unique key,
/// so a clash on the email index would overwrite the other user's row;
/// there the row is updated, and inserted when no row matched (the client
/// reports matched rows), and the email index can only refuse.
async fn write_user_row(
    txn: &DatabaseTransaction,
    user: users::ActiveModel,
    namespace: &str,
    user_id: &str,
) -> Result<(), DbErr> {
    use users::Column as C;
    if txn.get_database_backend() == DbBackend::MySql {
        let updated = users::Entity::update_many()
            .set(rows::for_update(user.clone()))
            .filter(C::Namespace.eq(namespace))
            .filter(C::UserId.eq(user_id))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            users::Entity::insert(user).exec_without_returning(txn).await?;
        }
        return Ok(());
    }
    users::Entity::insert(user).on_conflict(users_on_conflict()).exec_without_returning(txn).await?;
    Ok(())
}

/// The upsert of user rows on `(namespace, user_id)`: every column but the
/// key and `created_at` is updated (SQLite and PostgreSQL).
pub(crate) fn users_on_conflict() -> OnConflict {
    use users::Column as C;
    OnConflict::columns([C::Namespace, C::UserId])
        .update_columns([
            C::Salutation,
            C::FirstName,
            C::MiddleName,
            C::LastName,
            C::Suffix,
            C::JobTitle,
            C::Pilot,
            C::Status,
            C::WorkFromHome,
            C::Organization,
            C::ContactCenter,
            C::Site,
            C::CoachId,
            C::SupervisorName,
            C::SupervisorId,
            C::Email,
            C::EmailNorm,
            C::ActivationDate,
            C::DeactivationDate,
            C::UpdatedAt,
            C::Roles,
            C::Teams,
        ])
        .to_owned()
}

/// Everything of one save, inside `txn`. The first statement writes, so
/// SQLite takes the write lock at once.
pub(crate) async fn write_user(
    txn: &DatabaseTransaction,
    namespace: &str,
    user_id: &str,
    rows: UserRows,
) -> Result<(), DbErr> {
    write_user_row(txn, rows.user, namespace, user_id).await?;
    user_telephony::Entity::delete_many()
        .filter(user_telephony::Column::Namespace.eq(namespace))
        .filter(user_telephony::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    if !rows.telephony.is_empty() {
        user_telephony::Entity::insert_many(rows.telephony).exec_without_returning(txn).await?;
    }
    Ok(())
}

impl SeaOrmUserRepository {
    /// `users` (distinct ids) written whole and `reports` (maybe none)
    /// kept, in one transaction, or nothing.
    async fn save_together(
        &self,
        namespace: &str,
        users: &[User],
        reports: &[Report],
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            // One statement: its own transaction.
            let save = match users {
                [one] => postgres::save_statement(&rows::to_rows(namespace, one, at)),
                _ => crate::batch::postgres_save_users(namespace, users, at)?,
            };
            let statement =
                if reports.is_empty() { save } else { crate::reports::postgres_saving_with_reports(save, reports)? };
            return self.db.execute_raw(statement).await.map(|_| ());
        }
        let txn = self.begin_transaction().await?;
        let written = async {
            match users {
                [one] => write_user(&txn, namespace, one.user_id.as_str(), rows::to_rows(namespace, one, at)).await?,
                _ => crate::batch::write_users(&txn, namespace, users, at).await?,
            }
            crate::reports::insert_reports(&txn, reports).await
        }
        .await;
        match written {
            Ok(()) => txn.commit().await,
            Err(e) => {
                if let Err(rollback) = txn.rollback().await {
                    tracing::warn!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }

    /// [`save_together`](Self::save_together) after this process's other
    /// SQLite writers, tried again on transient failures.
    async fn write_retrying(
        &self,
        namespace: &str,
        users: &[User],
        reports: &[Report],
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let _writer = match &self.sqlite_writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        with_retries("save", || self.save_together(namespace, users, reports, at)).await.map_err(to_repository_error)
    }

    /// Saves `users` (distinct ids, at least one), keeping `reports` (none,
    /// or one per user) along: one transaction for all; if a unique index
    /// refuses it (a value taken by another writer, or by a user of this
    /// batch not yet released) and there are several, the users one by one —
    /// only the losers fail — and then the reports of those written.
    ///
    /// On a task of its own: if the caller goes away midway (an HTTP client
    /// that disconnects drops its request's future), the transaction still
    /// ends — committed or rolled back — instead of being abandoned on a
    /// pooled connection with its locks held.
    async fn save_many(
        &self,
        namespace: &Namespace,
        users: &[User],
        reports: Vec<Report>,
        at: DateTime<Utc>,
    ) -> Vec<Result<(), RepositoryError>> {
        let this = self.clone();
        let count = users.len();
        let (ns, users) = (namespace.clone(), users.to_vec());
        let save = tokio::spawn(async move {
            match this.write_retrying(ns.as_str(), &users, &reports, at).await {
                Ok(()) => users.iter().map(|_| Ok(())).collect(),
                Err(RepositoryError::Unavailable(e)) => {
                    let e = RepositoryError::Unavailable(e);
                    users.iter().map(|_| Err(e.shared())).collect()
                }
                // A lone user refused: that is its answer (trying it alone
                // again would be the same write).
                Err(e) if users.len() == 1 => vec![Err(e)],
                Err(e) => {
                    tracing::debug!(error = %e, "saving users together was refused; saving them one by one");
                    let mut results = Vec::with_capacity(users.len());
                    for user in &users {
                        results.push(this.write_retrying(ns.as_str(), std::slice::from_ref(user), &[], at).await);
                    }
                    let written: Vec<Report> = reports
                        .iter()
                        .zip(&results)
                        .filter(|(_, result)| result.is_ok())
                        .map(|(report, _)| report.clone())
                        .collect();
                    if !written.is_empty()
                        && let Err(e) = ReportStore::keep_reports(&this, &written).await
                    {
                        tracing::warn!(error = %e, count = written.len(), "users written, but their reports could not be kept");
                    }
                    results
                }
            }
        });
        match save.await {
            Ok(results) => results,
            Err(panicked) => {
                let e = RepositoryError::Internal(Box::new(panicked));
                (0..count).map(|_| Err(e.shared())).collect()
            }
        }
    }

    /// A transaction for writing; on SQLite `BEGIN IMMEDIATE`: the write
    /// lock now, waiting up to the busy timeout, rather than failing to
    /// upgrade a read lock later.
    pub(crate) async fn begin_transaction(&self) -> Result<DatabaseTransaction, DbErr> {
        if self.db.get_database_backend() == DbBackend::Sqlite {
            let options = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            self.db.begin_with_options(options).await
        } else {
            self.db.begin().await
        }
    }
}

/// The pool gave no connection within its acquire timeout.
fn is_acquire_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(e.downcast_ref::<DbErr>(), Some(DbErr::ConnectionAcquire(_)))
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    #[tracing::instrument(skip(self), err)]
    async fn find(&self, namespace: &Namespace, user_id: &UserId) -> Result<Option<User>, RepositoryError> {
        let ns = namespace.as_str();
        let query = UpsertContextQuery {
            user_id: user_id.clone(),
            references: Vec::new(),
            email: None,
            identities: Vec::new(),
        };
        let (mut found, lists) =
            with_retries("find", || context::load(&self.db, ns, &query)).await.map_err(to_repository_error)?;
        let found = found.pop().map(|row| (row, lists));
        found.map(|(row, lists)| rows::to_user(row, lists)).transpose()
    }

    #[tracing::instrument(skip(self, query), fields(user_id = %query.user_id), err)]
    async fn upsert_context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            // PostgreSQL: the batch read's statement, whose lookups stay
            // index lookups while a table grows faster than its statistics
            // (this one's cached plan could range over the namespace).
            let mut batch = BatchContextQuery::default();
            batch.add(query);
            return Ok(self.batch_context(namespace, &batch).await?.context_of(query));
        }
        let ns = namespace.as_str();
        let (mut found, lists) =
            with_retries("upsert_context", || context::load(&self.db, ns, query)).await.map_err(to_repository_error)?;

        let by_id = |id: &UserId| found.iter().find(|r| r.user_id == id.as_str());
        let references = query
            .references
            .iter()
            .filter_map(by_id)
            .map(|r| {
                Ok(UserRef {
                    user_id: rows::user_id(&r.user_id)?,
                    first_name: r.first_name.clone(),
                    last_name: r.last_name.clone(),
                })
            })
            .collect::<Result<Vec<_>, RepositoryError>>()?;
        let email_owner = match &query.email {
            Some(email) => found
                .iter()
                .find(|r| r.email_norm.as_deref() == Some(email.as_str()))
                .map(|r| rows::user_id(&r.user_id))
                .transpose()?,
            None => None,
        };
        let identity_owners = query
            .identities
            .iter()
            .filter_map(|identity| {
                lists.identity_owners.iter().find(|(held, _)| held == identity).map(|(_, owner)| (identity, owner))
            })
            .map(|(identity, owner)| Ok((identity.clone(), rows::user_id(owner)?)))
            .collect::<Result<Vec<_>, RepositoryError>>()?;
        let existing = match found.iter().position(|r| r.user_id == query.user_id.as_str()) {
            Some(i) => Some(rows::to_user(found.swap_remove(i), lists)?),
            None => None,
        };
        Ok(UpsertContext { existing, references, email_owner, identity_owners })
    }

    #[tracing::instrument(skip_all, fields(users = query.user_ids.len()), err)]
    async fn batch_context(
        &self,
        namespace: &Namespace,
        query: &BatchContextQuery,
    ) -> Result<BatchContext, RepositoryError> {
        let ns = namespace.as_str();
        let mut tries = 0;
        loop {
            // One statement on PostgreSQL (no transaction needed: it reads
            // one snapshot), a few on the others.
            match crate::batch::context(&self.db, ns, query).await {
                // A connection that broke is worth another; a pool that
                // could not hand one out in time is not (fail fast).
                Err(RepositoryError::Unavailable(e)) if tries < 3 && !is_acquire_timeout(e.as_ref()) => {
                    tries += 1;
                    tracing::debug!(error = %e, tries, "batch_context: trying again");
                    tokio::time::sleep(backoff(tries)).await;
                }
                other => return other,
            }
        }
    }

    #[tracing::instrument(skip(self, user, at), fields(user_id = %user.user_id), err)]
    async fn save(&self, namespace: &Namespace, user: &User, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let mut results = self.save_many(namespace, std::slice::from_ref(user), Vec::new(), at).await;
        results.pop().unwrap_or_else(|| Err(RepositoryError::Internal("a save answered nothing".into())))
    }

    #[tracing::instrument(skip_all, fields(users = users.len()))]
    async fn save_each(
        &self,
        namespace: &Namespace,
        users: &[User],
        at: DateTime<Utc>,
    ) -> Vec<Result<(), RepositoryError>> {
        if users.is_empty() {
            return Vec::new();
        }
        self.save_many(namespace, users, Vec::new(), at).await
    }

    #[tracing::instrument(skip_all, fields(users = users.len()))]
    async fn save_each_reporting(
        &self,
        namespace: &Namespace,
        users: &[User],
        reports: &[Report],
        at: DateTime<Utc>,
    ) -> Option<Vec<Result<(), RepositoryError>>> {
        if users.len() != reports.len() {
            return None;
        }
        if users.is_empty() {
            return Some(Vec::new());
        }
        Some(self.save_many(namespace, users, reports.to_vec(), at).await)
    }

    #[tracing::instrument(skip(self), err)]
    async fn ping(&self) -> Result<(), RepositoryError> {
        let backend = self.db.get_database_backend();
        self.db
            .query_one_raw(Statement::from_string(backend, "SELECT 1"))
            .await
            .map(|_| ())
            .map_err(to_repository_error)
    }
}
