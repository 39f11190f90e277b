//! The port bulk imports and kept reports need: [`ReportStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_domain::{Issue, Namespace, RawValue, User};
use serde::{Deserialize, Serialize};

use crate::{Report, ReportStatus, RepositoryError, Summary, UserOutcome};

/// What an import is, fixed when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportHeader {
    pub report_id: String,
    pub namespace: Namespace,
    pub commit: bool,
    pub force_commit: bool,
    pub created_at: DateTime<Utc>,
}

/// One item of an import's input, as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InputItem {
    /// A document (normally an object holding one user).
    #[serde(rename = "u")]
    User(RawValue),
    /// An item that could not be read (a JSON element that is not JSON, a
    /// CSV row with more fields than the header): the error on its row.
    #[serde(rename = "e")]
    Unreadable(Issue),
}

/// An import a process is to run (again): accepted, not finished.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub header: ImportHeader,
    /// Users in the input.
    pub received: u64,
    /// Chunks of input; chunk `n` holds the users from `n * chunk size`.
    pub chunks: u32,
    /// The first chunk not yet processed.
    pub next_chunk: u32,
}

/// One processed chunk: what to write, and what to report.
#[derive(Debug, Clone, Copy)]
pub struct ChunkResult<'a> {
    pub chunk: u32,
    /// Users to write (empty on a dry run).
    pub users: &'a [User],
    /// The outcome of every user of the chunk, in input order.
    pub outcomes: &'a [UserOutcome],
    /// The chunk's counts (`received` unused).
    pub summary: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportStoreError {
    /// Another import of the namespace is running (the one named).
    #[error("import {report_id} of this namespace is running")]
    Busy { report_id: String },
    /// This process no longer runs the import: another one took it over
    /// (its heartbeat had stopped), or the chunk was already committed.
    #[error("the import is run by another process now")]
    Lost,
    #[error(transparent)]
    Store(#[from] RepositoryError),
}

/// Where reports and the imports behind them are kept.
///
/// Contract (pinned by `contract::imports`, run against every adapter):
/// - At most one import per namespace is *active* (receiving or in
///   progress); [`begin_import`](Self::begin_import) of a second one is
///   [`ImportStoreError::Busy`], decided by the store (a unique key), so it
///   holds across processes.
/// - An import is run by one owner at a time. Writes of another owner are
///   [`ImportStoreError::Lost`]. An owner whose heartbeat is older than the
///   lease loses the import to [`claim_stale`](Self::claim_stale).
/// - [`commit_chunk`](Self::commit_chunk) writes the chunk's users, its
///   outcomes and the progress in one transaction, or nothing; a chunk is
///   committed at most once.
#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    /// Starts receiving an import, owned by `owner`.
    async fn begin_import(&self, header: &ImportHeader, owner: &str) -> Result<(), ImportStoreError>;

    /// Keeps chunk `chunk` of the input (chunks arrive in order).
    async fn append_input(
        &self,
        report_id: &str,
        chunk: u32,
        items: &[InputItem],
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError>;

    /// The whole input is kept: the import is accepted and in progress.
    async fn accept_import(
        &self,
        report_id: &str,
        received: u64,
        chunks: u32,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError>;

    /// An import refused whole (a body that is not a JSON array, an empty
    /// one): its input is dropped, the namespace freed, and `report` (failed)
    /// kept in its place.
    async fn refuse_import(&self, report: &Report) -> Result<(), RepositoryError>;

    /// An import whose body never arrived whole (too large, the client went
    /// away): everything of it is dropped and the namespace freed.
    async fn discard_import(&self, report_id: &str) -> Result<(), RepositoryError>;

    /// Chunk `chunk` of the input, as appended.
    async fn input_chunk(&self, report_id: &str, chunk: u32) -> Result<Vec<InputItem>, RepositoryError>;

    /// Writes a processed chunk (see the contract above). A unique value
    /// taken by another user meanwhile is `Store(Conflict)`, with nothing
    /// written.
    async fn commit_chunk(
        &self,
        namespace: &Namespace,
        report_id: &str,
        owner: &str,
        result: ChunkResult<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError>;

    /// The import is done: its status is set, its input dropped and its
    /// namespace freed.
    async fn finish_import(
        &self,
        report_id: &str,
        owner: &str,
        status: ReportStatus,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError>;

    /// `owner` still runs the import, as of `at`.
    async fn heartbeat(&self, report_id: &str, owner: &str, at: DateTime<Utc>) -> Result<(), ImportStoreError>;

    /// Takes over, for `owner`, every accepted import whose heartbeat is
    /// older than `stale_before`; drops every import still receiving whose
    /// heartbeat is that old (its client never got an answer).
    async fn claim_stale(
        &self,
        owner: &str,
        stale_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ImportJob>, RepositoryError>;

    /// Keeps finished single-user reports.
    async fn keep_reports(&self, reports: &[Report]) -> Result<(), RepositoryError>;

    /// A report of `namespace`, with its users when `include_users`; an
    /// import still running shows the users processed so far.
    async fn report(
        &self,
        namespace: &Namespace,
        report_id: &str,
        include_users: bool,
    ) -> Result<Option<Report>, RepositoryError>;
}
