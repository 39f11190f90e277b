//! The [`ReportStore`] port on SQL: tables `reports` and `report_chunks`
//! (migration `m20261205_100000_create_reports`). Input items and outcomes
//! are kept as JSON text, a chunk of users a row.

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_application::{
    ChunkResult, ImportHeader, ImportJob, ImportStoreError, InputItem, Report, ReportKind, ReportStatus, ReportStore,
    RepositoryError, Summary, UserOutcome,
};
use roster_domain::{Issue, Namespace, User};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, QueryResult, SqlErr, TransactionTrait};

use crate::error::{corrupt_value, to_repository_error};
use crate::lists::Sql;
use crate::user_repository::with_retries;
use crate::{SeaOrmUserRepository, batch};

const RECEIVING: &str = "receiving";
const IN_PROGRESS: &str = "inprogress";

/// What a write of an import can fail with; the transaction was rolled back.
#[derive(Debug)]
enum WriteError {
    Db(DbErr),
    /// The import is not (or no longer) this owner's to write.
    Lost,
}

impl From<DbErr> for WriteError {
    fn from(e: DbErr) -> Self {
        WriteError::Db(e)
    }
}

fn store_error(e: WriteError) -> ImportStoreError {
    match e {
        WriteError::Db(e) => ImportStoreError::Store(to_repository_error(e)),
        WriteError::Lost => ImportStoreError::Lost,
    }
}

/// A write that can't be refused as `Lost` (it checks no owner), as the
/// port's error.
fn repository_error(e: WriteError) -> RepositoryError {
    match e {
        WriteError::Db(e) => to_repository_error(e),
        WriteError::Lost => RepositoryError::Internal("an import write found no import to write".into()),
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, RepositoryError> {
    serde_json::to_string(value).map_err(|e| RepositoryError::Internal(Box::new(e)))
}

fn kind_str(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Single => "single",
        ReportKind::Bulk => "bulk",
    }
}

fn status_str(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Completed => "completed",
        ReportStatus::Failed => "failed",
        ReportStatus::InProgress => IN_PROGRESS,
    }
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(column: &'static str, ms: i64) -> Result<DateTime<Utc>, RepositoryError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt_value(column, format!("{ms} is not an instant")))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, RepositoryError> {
    row.try_get("", column).map_err(to_repository_error)
}

/// The statements keeping finished reports and their outcome rows: on
/// PostgreSQL one (see [`postgres_report_statement`]), so one round trip,
/// atomic; elsewhere, per 200 reports, a multi-row insert into each table.
fn report_statements(backend: DbBackend, reports: &[Report]) -> Result<Vec<sea_orm::Statement>, DbErr> {
    if backend == DbBackend::Postgres {
        return postgres_report_statement(reports).map(|s| vec![s]);
    }
    let mut statements = Vec::new();
    for part in reports.chunks(200) {
        let with_outcomes: Vec<&Report> = part.iter().filter(|r| !r.users.is_empty()).collect();
        let mut sql = Sql::new(backend);
        sql.push(
            "INSERT INTO reports (report_id, namespace, kind, status, is_commit, is_force_commit, created_at_ms, \
             completed_at_ms, received, processed, valid, invalid, created, updated, unchanged, persisted, errors) \
             VALUES ",
        );
        for (n, r) in part.iter().enumerate() {
            let s = &r.summary;
            sql.push(if n == 0 { "(" } else { ", (" });
            sql.bind(r.report_id.clone()).push(", ");
            sql.bind(r.namespace.clone()).push(", ");
            sql.bind(kind_str(r.kind)).push(", ");
            sql.bind(status_str(r.status)).push(", ");
            sql.bind(r.commit).push(", ").bind(r.force_commit).push(", ");
            sql.bind(ms(r.created_at)).push(", ").bind(r.completed_at.map(ms)).push(", ");
            for c in [s.received, s.processed, s.valid, s.invalid, s.created, s.updated, s.unchanged, s.persisted] {
                sql.bind(count(c)).push(", ");
            }
            let errors = serde_json::to_string(&r.errors).map_err(|e| DbErr::Custom(e.to_string()))?;
            sql.bind(errors).push(")");
        }
        statements.push(sql.build());
        if with_outcomes.is_empty() {
            continue;
        }
        let mut outcomes = Sql::new(backend);
        outcomes.push("INSERT INTO report_chunks (report_id, chunk, outcomes) VALUES ");
        for (n, r) in with_outcomes.iter().enumerate() {
            let users = serde_json::to_string(&r.users).map_err(|e| DbErr::Custom(e.to_string()))?;
            outcomes.push(if n == 0 { "(" } else { ", (" });
            outcomes.bind(r.report_id.clone()).push(", 0, ").bind(users).push(")");
        }
        statements.push(outcomes.build());
    }
    Ok(statements)
}

/// PostgreSQL: the two data-modifying `WITH` queries keeping reports and
/// their outcomes, given as JSON parameters `$first` and `$first + 1`
/// (see [`postgres_report_values`]): fixed text, so one statement prepared
/// once per connection whatever the number of reports, where a `VALUES`
/// list of 17 parameters a report was parsed and planned anew for each size
/// of batch. They run whatever the statement's main query returns.
fn postgres_report_inserts(first: usize) -> String {
    let (r, c) = (first, first + 1);
    format!(
        "kept AS (INSERT INTO reports (report_id, namespace, kind, status, is_commit, \
         is_force_commit, created_at_ms, completed_at_ms, received, processed, valid, invalid, created, updated, \
         unchanged, persisted, errors) \
         SELECT report_id, namespace, kind, status, is_commit, is_force_commit, created_at_ms, completed_at_ms, \
         received, processed, valid, invalid, created, updated, unchanged, persisted, errors::text \
         FROM json_to_recordset(${r}::json) AS x(report_id text, namespace text, kind text, status text, \
         is_commit boolean, is_force_commit boolean, created_at_ms bigint, completed_at_ms bigint, received bigint, \
         processed bigint, valid bigint, invalid bigint, created bigint, updated bigint, unchanged bigint, \
         persisted bigint, errors json) RETURNING 1), \
         chunks AS (INSERT INTO report_chunks (report_id, chunk, outcomes) \
         SELECT report_id, chunk, outcomes::text \
         FROM json_to_recordset(${c}::json) AS x(report_id text, chunk integer, outcomes json) RETURNING 1)"
    )
}

/// PostgreSQL: one statement keeping `reports`, atomic.
fn postgres_report_statement(reports: &[Report]) -> Result<sea_orm::Statement, DbErr> {
    let sql = format!("WITH {} SELECT 1", postgres_report_inserts(1));
    let [rows, chunks] = postgres_report_values(reports)?;
    Ok(sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, [rows.into(), chunks.into()]))
}

/// PostgreSQL: `save` (one statement writing users, its parameters `$1` …
/// `$n`) that also keeps `reports`, in the same statement — one implicit
/// transaction, one round trip, one commit; a failing write leaves none of
/// them.
pub(crate) fn postgres_saving_with_reports(
    save: sea_orm::Statement,
    reports: &[Report],
) -> Result<sea_orm::Statement, DbErr> {
    let mut values = save.values.map(|v| v.0).unwrap_or_default();
    let sql = format!("WITH {} {}", postgres_report_inserts(values.len() + 1), save.sql);
    let [rows, chunks] = postgres_report_values(reports)?;
    values.push(rows.into());
    values.push(chunks.into());
    Ok(sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
}

/// One row of `reports` in [`postgres_report_values`]'s JSON.
#[derive(serde::Serialize)]
struct ReportRow<'a> {
    report_id: &'a str,
    namespace: &'a str,
    kind: &'static str,
    status: &'static str,
    is_commit: bool,
    is_force_commit: bool,
    created_at_ms: i64,
    completed_at_ms: Option<i64>,
    received: i64,
    processed: i64,
    valid: i64,
    invalid: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    persisted: i64,
    /// Nested JSON, not a string holding JSON: PostgreSQL takes its text as
    /// it is (a `json` column of the recordset), with nothing escaped here
    /// and unescaped there.
    errors: &'a [Issue],
}

/// One row of `report_chunks`, its outcomes nested as `errors` above.
#[derive(serde::Serialize)]
struct ChunkRow<'a> {
    report_id: &'a str,
    chunk: i32,
    outcomes: &'a [UserOutcome],
}

/// The reports and their outcomes as JSON arrays of `reports` and
/// `report_chunks` rows, read by [`postgres_report_inserts`].
fn postgres_report_values(reports: &[Report]) -> Result<[String; 2], DbErr> {
    fn text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, DbErr> {
        serde_json::to_string(value).map_err(|e| DbErr::Custom(e.to_string()))
    }
    let rows: Vec<ReportRow<'_>> = reports
        .iter()
        .map(|r| {
            let s = &r.summary;
            ReportRow {
                report_id: &r.report_id,
                namespace: &r.namespace,
                kind: kind_str(r.kind),
                status: status_str(r.status),
                is_commit: r.commit,
                is_force_commit: r.force_commit,
                created_at_ms: ms(r.created_at),
                completed_at_ms: r.completed_at.map(ms),
                received: count(s.received),
                processed: count(s.processed),
                valid: count(s.valid),
                invalid: count(s.invalid),
                created: count(s.created),
                updated: count(s.updated),
                unchanged: count(s.unchanged),
                persisted: count(s.persisted),
                errors: &r.errors,
            }
        })
        .collect();
    let chunks: Vec<ChunkRow<'_>> = reports
        .iter()
        .filter(|r| !r.users.is_empty())
        .map(|r| ChunkRow { report_id: &r.report_id, chunk: 0, outcomes: &r.users })
        .collect();
    Ok([text(&rows)?, text(&chunks)?])
}

/// Keeps finished reports inside `txn`.
pub(crate) async fn insert_reports(txn: &DatabaseTransaction, reports: &[Report]) -> Result<(), DbErr> {
    for statement in report_statements(txn.get_database_backend(), reports)? {
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

impl SeaOrmUserRepository {
    /// A write transaction: SQLite's `BEGIN IMMEDIATE`, after this
    /// process's other writers (the guard, held until the commit).
    async fn begin_write(&self) -> Result<(Option<tokio::sync::MutexGuard<'_, ()>>, DatabaseTransaction), DbErr> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        Ok((writer, self.begin_transaction().await?))
    }
}

impl SeaOrmUserRepository {
    /// Runs `body` — one statement, autocommitted — after this process's
    /// other SQLite writers, tried again on transient failures. One
    /// statement is never left half done: a caller that goes away, or a
    /// task aborted, leaves no open transaction (with its locks) behind on
    /// a pooled connection.
    async fn write_one<T, F, Fut>(&self, what: &'static str, body: F) -> Result<T, WriteError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, WriteError>>,
    {
        let mut tries = 0u32;
        loop {
            let attempt = {
                let _writer = match &self.sqlite_writer {
                    Some(lock) => Some(lock.lock().await),
                    None => None,
                };
                body().await
            };
            match attempt {
                Err(WriteError::Db(e)) if tries < 10 && crate::error::is_transient(&e) => {
                    tries += 1;
                    tracing::debug!(error = %e, tries, "{what}: transient failure, trying again");
                    tokio::time::sleep(crate::user_repository::backoff(tries)).await;
                }
                other => return other,
            }
        }
    }
}

/// Ends a write transaction: committed on `Ok`, rolled back otherwise.
async fn end_write<T>(txn: DatabaseTransaction, result: Result<T, WriteError>) -> Result<T, WriteError> {
    match result {
        Ok(v) => {
            txn.commit().await?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Runs `$body` (an expression using `$txn`, giving `Result<T, WriteError>`)
/// in a write transaction, tried again on transient failures. Callers that
/// may go away midway (an HTTP request) run the store call on a task of
/// their own (see `roster_application::bulk`), so a transaction is never
/// abandoned halfway. A macro, not a closure: async closures borrowing the
/// transaction don't make `Send` futures on stable Rust yet.
macro_rules! write_retrying {
    ($this:expr, $what:literal, |$txn:ident| $body:expr) => {{
        let mut tries = 0u32;
        loop {
            let attempt: Result<_, WriteError> = async {
                let (_writer, owned) = $this.begin_write().await?;
                let $txn = &owned;
                let result = async { $body }.await;
                end_write(owned, result).await
            }
            .await;
            match attempt {
                Err(WriteError::Db(e)) if tries < 10 && crate::error::is_transient(&e) => {
                    tries += 1;
                    tracing::debug!(error = %e, tries, "{}: transient failure, trying again", $what);
                    tokio::time::sleep(crate::user_repository::backoff(tries)).await;
                }
                other => break other,
            }
        }
    }};
}

/// `UPDATE … WHERE` the import is `owner`'s and in one of `states`; Lost
/// when no row matched.
async fn touch<C: ConnectionTrait>(
    txn: &C,
    report_id: &str,
    owner: &str,
    states: &[&'static str],
    set: impl FnOnce(&mut Sql),
) -> Result<(), WriteError> {
    touch_chunk(txn, report_id, owner, states, None, set).await
}

/// [`touch`], also requiring `next_chunk = chunk` when given.
async fn touch_chunk<C: ConnectionTrait>(
    txn: &C,
    report_id: &str,
    owner: &str,
    states: &[&'static str],
    chunk: Option<u32>,
    set: impl FnOnce(&mut Sql),
) -> Result<(), WriteError> {
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push("UPDATE reports SET ");
    set(&mut sql);
    sql.push(" WHERE report_id = ").bind(report_id.to_owned()).push(" AND owner = ").bind(owner.to_owned());
    if let Some(chunk) = chunk {
        sql.push(" AND next_chunk = ").bind(i64::from(chunk));
    }
    sql.push(" AND status IN (");
    for (n, s) in states.iter().enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.bind(*s);
    }
    sql.push(")");
    let done = txn.execute_raw(sql.build()).await?;
    if done.rows_affected() == 0 { Err(WriteError::Lost) } else { Ok(()) }
}

async fn delete_import(txn: &DatabaseTransaction, report_id: &str, only_receiving: bool) -> Result<bool, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push("DELETE FROM reports WHERE report_id = ").bind(report_id.to_owned());
    if only_receiving {
        sql.push(" AND status = ").bind(RECEIVING);
    }
    let gone = txn.execute_raw(sql.build()).await?.rows_affected() > 0;
    if gone {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("DELETE FROM report_chunks WHERE report_id = ").bind(report_id.to_owned());
        txn.execute_raw(sql.build()).await?;
    }
    Ok(gone)
}

const REPORT_COLUMNS: &str = "report_id, namespace, kind, status, is_commit, is_force_commit, created_at_ms, \
     completed_at_ms, received, processed, valid, invalid, created, updated, unchanged, persisted, errors, chunks, \
     next_chunk, owner, heartbeat_ms";

fn report_of(row: &QueryResult) -> Result<Report, RepositoryError> {
    let kind: String = get(row, "kind")?;
    let status: String = get(row, "status")?;
    let n = |c: &str| -> Result<u64, RepositoryError> { Ok(u64::try_from(get::<i64>(row, c)?).unwrap_or(0)) };
    let errors: Option<String> = get(row, "errors")?;
    Ok(Report {
        report_id: get(row, "report_id")?,
        namespace: get(row, "namespace")?,
        kind: if kind == "single" { ReportKind::Single } else { ReportKind::Bulk },
        status: match status.as_str() {
            "completed" => ReportStatus::Completed,
            "failed" => ReportStatus::Failed,
            _ => ReportStatus::InProgress,
        },
        commit: get(row, "is_commit")?,
        force_commit: get(row, "is_force_commit")?,
        created_at: instant("created_at_ms", get(row, "created_at_ms")?)?,
        completed_at: get::<Option<i64>>(row, "completed_at_ms")?.map(|t| instant("completed_at_ms", t)).transpose()?,
        summary: Summary {
            received: n("received")?,
            processed: n("processed")?,
            valid: n("valid")?,
            invalid: n("invalid")?,
            created: n("created")?,
            updated: n("updated")?,
            unchanged: n("unchanged")?,
            persisted: n("persisted")?,
        },
        errors: match errors {
            Some(text) => {
                serde_json::from_str::<Vec<Issue>>(&text).map_err(|e| corrupt_value("errors", e.to_string()))?
            }
            None => Vec::new(),
        },
        users: Vec::new(),
    })
}

fn job_of(row: &QueryResult) -> Result<ImportJob, RepositoryError> {
    let report = report_of(row)?;
    let namespace = Namespace::parse(&report.namespace).map_err(|e| corrupt_value("namespace", e))?;
    Ok(ImportJob {
        header: ImportHeader {
            report_id: report.report_id,
            namespace,
            commit: report.commit,
            force_commit: report.force_commit,
            created_at: report.created_at,
        },
        received: report.summary.received,
        chunks: u32::try_from(get::<i32>(row, "chunks")?).unwrap_or(0),
        next_chunk: u32::try_from(get::<i32>(row, "next_chunk")?).unwrap_or(0),
    })
}

#[async_trait]
impl ReportStore for SeaOrmUserRepository {
    #[tracing::instrument(skip_all, fields(report_id = %header.report_id), err)]
    async fn begin_import(&self, header: &ImportHeader, owner: &str) -> Result<(), ImportStoreError> {
        let (header, owner) = (header.clone(), owner.to_owned());
        let inserted = self
            .write_one("begin_import", || async {
                let mut sql = Sql::new(self.db.get_database_backend());
                sql.push(
                    "INSERT INTO reports (report_id, namespace, kind, status, is_commit, is_force_commit, \
                     created_at_ms, active_namespace, owner, heartbeat_ms) VALUES (",
                );
                sql.bind(header.report_id.clone()).push(", ").bind(header.namespace.as_str().to_owned()).push(", ");
                sql.bind("bulk").push(", ").bind(RECEIVING).push(", ");
                sql.bind(header.commit).push(", ").bind(header.force_commit).push(", ");
                sql.bind(ms(header.created_at)).push(", ").bind(header.namespace.as_str().to_owned()).push(", ");
                sql.bind(owner.clone()).push(", ").bind(ms(header.created_at)).push(")");
                self.db.execute_raw(sql.build()).await?;
                Ok(())
            })
            .await;
        match inserted {
            Ok(()) => Ok(()),
            Err(WriteError::Db(e)) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                let mut sql = Sql::new(self.db.get_database_backend());
                sql.push("SELECT report_id FROM reports WHERE active_namespace = ")
                    .bind(header.namespace.as_str().to_owned());
                let running = self.db.query_one_raw(sql.build()).await.map_err(to_repository_error)?;
                let report_id = match running {
                    Some(row) => get(&row, "report_id")?,
                    None => String::new(),
                };
                Err(ImportStoreError::Busy { report_id })
            }
            Err(e) => Err(store_error(e)),
        }
    }

    #[tracing::instrument(skip_all, fields(report_id, chunk), err)]
    async fn append_input(
        &self,
        report_id: &str,
        chunk: u32,
        items: &[InputItem],
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let input = json(items)?;
        let (report_id, owner) = (report_id.to_owned(), owner.to_owned());
        write_retrying!(self, "append_input", |txn| {
            touch(txn, &report_id, &owner, &[RECEIVING], |sql| {
                sql.push("heartbeat_ms = ").bind(ms(at));
            })
            .await?;
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("INSERT INTO report_chunks (report_id, chunk, input) VALUES (")
                .bind(report_id.clone())
                .push(", ")
                .bind(i64::from(chunk))
                .push(", ")
                .bind(input.clone())
                .push(")");
            txn.execute_raw(sql.build()).await?;
            Ok(())
        })
        .map_err(store_error)
    }

    #[tracing::instrument(skip_all, fields(report_id), err)]
    async fn accept_import(
        &self,
        report_id: &str,
        received: u64,
        chunks: u32,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let (report_id, owner) = (report_id.to_owned(), owner.to_owned());
        self.write_one("accept_import", || async {
            touch(&self.db, &report_id, &owner, &[RECEIVING], |sql| {
                sql.push("status = ").bind(IN_PROGRESS);
                sql.push(", received = ").bind(count(received));
                sql.push(", chunks = ").bind(i64::from(chunks));
                sql.push(", heartbeat_ms = ").bind(ms(at));
            })
            .await
        })
        .await
        .map_err(store_error)
    }

    #[tracing::instrument(skip_all, fields(report_id = %report.report_id), err)]
    async fn refuse_import(&self, report: &Report) -> Result<(), RepositoryError> {
        let report = report.clone();
        write_retrying!(self, "refuse_import", |txn| {
            delete_import(txn, &report.report_id, false).await?;
            insert_reports(txn, std::slice::from_ref(&report)).await?;
            Ok(())
        })
        .map_err(repository_error)
    }

    #[tracing::instrument(skip_all, fields(report_id), err)]
    async fn discard_import(&self, report_id: &str) -> Result<(), RepositoryError> {
        let report_id = report_id.to_owned();
        write_retrying!(self, "discard_import", |txn| {
            delete_import(txn, &report_id, true).await?;
            Ok(())
        })
        .map_err(repository_error)
    }

    #[tracing::instrument(skip_all, fields(report_id, chunk), err)]
    async fn input_chunk(&self, report_id: &str, chunk: u32) -> Result<Vec<InputItem>, RepositoryError> {
        let mut sql = Sql::new(self.db.get_database_backend());
        sql.push("SELECT input FROM report_chunks WHERE report_id = ")
            .bind(report_id.to_owned())
            .push(" AND chunk = ")
            .bind(i64::from(chunk));
        let statement = sql.build();
        let row = with_retries("input_chunk", || self.db.query_one_raw(statement.clone()))
            .await
            .map_err(to_repository_error)?;
        let Some(row) = row else { return Ok(Vec::new()) };
        match get::<Option<String>>(&row, "input")? {
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt_value("report_chunks.input", e.to_string())),
            None => Ok(Vec::new()),
        }
    }

    #[tracing::instrument(skip_all, fields(report_id, chunk = result.chunk, users = result.users.len()), err)]
    async fn commit_chunk(
        &self,
        namespace: &Namespace,
        report_id: &str,
        owner: &str,
        result: ChunkResult<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let outcomes = json(result.outcomes)?;
        let users: std::sync::Arc<Vec<User>> = std::sync::Arc::new(result.users.to_vec());
        let (ns, report_id, owner) = (namespace.as_str().to_owned(), report_id.to_owned(), owner.to_owned());
        let (chunk, s) = (result.chunk, result.summary);
        write_retrying!(self, "commit_chunk", |txn| {
            batch::plan_per_statement(txn).await?;
            touch_chunk(txn, &report_id, &owner, &[IN_PROGRESS], Some(chunk), |sql| {
                sql.push("next_chunk = next_chunk + 1, heartbeat_ms = ").bind(ms(at));
                for (column, n) in [
                    ("processed", s.processed),
                    ("valid", s.valid),
                    ("invalid", s.invalid),
                    ("created", s.created),
                    ("updated", s.updated),
                    ("unchanged", s.unchanged),
                    ("persisted", s.persisted),
                ] {
                    sql.push(", ").push(column).push(" = ").push(column).push(" + ").bind(count(n));
                }
            })
            .await?;
            batch::write_users(txn, &ns, &users, at).await?;
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("UPDATE report_chunks SET outcomes = ")
                .bind(outcomes.clone())
                .push(" WHERE report_id = ")
                .bind(report_id.clone())
                .push(" AND chunk = ")
                .bind(i64::from(chunk));
            txn.execute_raw(sql.build()).await?;
            Ok(())
        })
        .map_err(store_error)
    }

    #[tracing::instrument(skip_all, fields(report_id), err)]
    async fn finish_import(
        &self,
        report_id: &str,
        owner: &str,
        status: ReportStatus,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let (report_id, owner) = (report_id.to_owned(), owner.to_owned());
        write_retrying!(self, "finish_import", |txn| {
            touch(txn, &report_id, &owner, &[IN_PROGRESS], |sql| {
                sql.push("status = ").bind(status_str(status));
                sql.push(", completed_at_ms = ").bind(ms(at));
                sql.push(", heartbeat_ms = ").bind(ms(at));
                sql.push(", active_namespace = NULL");
            })
            .await?;
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("UPDATE report_chunks SET input = NULL WHERE report_id = ").bind(report_id.clone());
            txn.execute_raw(sql.build()).await?;
            Ok(())
        })
        .map_err(store_error)
    }

    async fn heartbeat(&self, report_id: &str, owner: &str, at: DateTime<Utc>) -> Result<(), ImportStoreError> {
        let (report_id, owner) = (report_id.to_owned(), owner.to_owned());
        self.write_one("heartbeat", || async {
            touch(&self.db, &report_id, &owner, &[RECEIVING, IN_PROGRESS], |sql| {
                sql.push("heartbeat_ms = ").bind(ms(at));
            })
            .await
        })
        .await
        .map_err(store_error)
    }

    #[tracing::instrument(skip_all, err)]
    async fn claim_stale(
        &self,
        owner: &str,
        stale_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ImportJob>, RepositoryError> {
        let backend = self.db.get_database_backend();
        let mut sql = Sql::new(backend);
        sql.push("SELECT ")
            .push(REPORT_COLUMNS)
            .push(" FROM reports WHERE active_namespace IS NOT NULL AND heartbeat_ms < ")
            .bind(ms(stale_before));
        // In a transaction planned for its parameters: a generic plan made
        // while `reports` was small would scan it whole every time, and
        // every single upsert adds a row.
        let rows = async {
            if backend != DbBackend::Postgres {
                return self.db.query_all_raw(sql.build()).await;
            }
            let txn = self.db.begin().await?;
            batch::plan_per_statement(&txn).await?;
            let rows = txn.query_all_raw(sql.build()).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(rows)
        }
        .await
        .map_err(to_repository_error)?;
        let mut jobs = Vec::new();
        for row in rows {
            let report_id: String = get(&row, "report_id")?;
            let status: String = get(&row, "status")?;
            let heartbeat: i64 = get(&row, "heartbeat_ms")?;
            let previous: Option<String> = get(&row, "owner")?;
            if status == RECEIVING {
                // Its client never got an answer: drop it, free the namespace.
                let id = report_id.clone();
                write_retrying!(self, "claim_stale", |txn| {
                    let mut sql = Sql::new(txn.get_database_backend());
                    sql.push("SELECT 1 AS x FROM reports WHERE report_id = ")
                        .bind(id.clone())
                        .push(" AND heartbeat_ms = ")
                        .bind(heartbeat);
                    if txn.query_one_raw(sql.build()).await?.is_some() {
                        delete_import(txn, &id, true).await?;
                    }
                    Ok(())
                })
                .map_err(repository_error)?;
                tracing::info!(%report_id, "dropped an import whose body never arrived whole");
                continue;
            }
            // Take it over, unless someone else just did.
            let (id, me) = (report_id.clone(), owner.to_owned());
            let taken = self
                .write_one("claim_stale", || async {
                    let mut sql = Sql::new(backend);
                    sql.push("UPDATE reports SET owner = ")
                        .bind(me.clone())
                        .push(", heartbeat_ms = ")
                        .bind(ms(at))
                        .push(" WHERE report_id = ")
                        .bind(id.clone())
                        .push(" AND status = ")
                        .bind(IN_PROGRESS)
                        .push(" AND heartbeat_ms = ")
                        .bind(heartbeat)
                        .push(" AND owner = ")
                        .bind(previous.clone().unwrap_or_default());
                    Ok(self.db.execute_raw(sql.build()).await?.rows_affected() == 1)
                })
                .await;
            match taken {
                Ok(true) => jobs.push(job_of(&row)?),
                Ok(false) => {}
                Err(e) => {
                    return Err(repository_error(e));
                }
            }
        }
        Ok(jobs)
    }

    #[tracing::instrument(skip_all, fields(count = reports.len()), err)]
    async fn keep_reports(&self, reports: &[Report]) -> Result<(), RepositoryError> {
        let reports = std::sync::Arc::new(reports.to_vec());
        if self.db.get_database_backend() == DbBackend::Postgres {
            // One statement, its own transaction: no BEGIN and COMMIT
            // round trips on the way of every upsert.
            let statements = report_statements(DbBackend::Postgres, &reports).map_err(to_repository_error)?;
            for statement in statements {
                with_retries("keep_reports", || self.db.execute_raw(statement.clone()))
                    .await
                    .map_err(to_repository_error)?;
            }
            return Ok(());
        }
        write_retrying!(self, "keep_reports", |txn| {
            insert_reports(txn, &reports).await?;
            Ok(())
        })
        .map_err(repository_error)
    }

    #[tracing::instrument(skip(self, namespace), err)]
    async fn report(
        &self,
        namespace: &Namespace,
        report_id: &str,
        include_users: bool,
    ) -> Result<Option<Report>, RepositoryError> {
        let backend = self.db.get_database_backend();
        let mut sql = Sql::new(backend);
        sql.push("SELECT ").push(REPORT_COLUMNS).push(" FROM reports WHERE report_id = ").bind(report_id.to_owned());
        let statement = sql.build();
        let Some(row) =
            with_retries("report", || self.db.query_one_raw(statement.clone())).await.map_err(to_repository_error)?
        else {
            return Ok(None);
        };
        let status: String = get(&row, "status")?;
        let mut report = report_of(&row)?;
        if report.namespace != namespace.as_str() || status == RECEIVING {
            return Ok(None);
        }
        if include_users {
            let mut sql = Sql::new(backend);
            sql.push("SELECT outcomes FROM report_chunks WHERE report_id = ")
                .bind(report_id.to_owned())
                .push(" AND outcomes IS NOT NULL ORDER BY chunk");
            let statement = sql.build();
            let rows = with_retries("report", || self.db.query_all_raw(statement.clone()))
                .await
                .map_err(to_repository_error)?;
            for row in rows {
                let text: String = get(&row, "outcomes")?;
                let users: Vec<UserOutcome> =
                    serde_json::from_str(&text).map_err(|e| corrupt_value("report_chunks.outcomes", e.to_string()))?;
                report.users.extend(users);
            }
        }
        Ok(Some(report))
    }
}
