//! Bulk import (SPEC §5): many users in one request, kept in the store as
//! they arrive, processed in the background, resumed after a crash.
//!
//! - [`BulkImport::start`] takes the namespace's import slot (one import per
//!   namespace, decided by the store) and gives an [`Upload`]; the driving
//!   adapter pushes the items as it parses the body, and they are kept in
//!   chunks of [`ImportOptions::chunk_size`].
//! - [`Upload::finish`] accepts the import and starts its worker, which
//!   first reads the whole input once to find the users each later row
//!   duplicates and the users references may name, then processes chunk by
//!   chunk: one read of what is stored, a plan per user, and one
//!   transaction writing the chunk's users, their outcomes and the progress.
//! - A worker keeps a heartbeat in the store. Every process looks, every
//!   half lease, for imports whose heartbeat is older than the lease and
//!   takes them over; a chunk is committed at most once, so every valid user
//!   is written exactly once and the report stays right.

mod keep;
mod store;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roster_domain::{Issue, IssueCode, Namespace, RawValue, TelephonyIdentity, User, UserDraft, UserId, parse_user};

pub use keep::KeepReports;
pub use store::{ChunkResult, ImportHeader, ImportJob, ImportStoreError, InputItem, ReportStore};

use crate::report::RequestHead;
use crate::{
    Action, BatchContextQuery, Clock, IdGenerator, Plan, Report, ReportKind, ReportStatus, RepositoryError, Summary,
    UpsertContext, UserOutcome, UserRef, UserRepository, plan_upsert, report::final_status,
};

/// The limits and timings of bulk imports.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Users per chunk: per piece of kept input and per write transaction.
    pub chunk_size: usize,
    /// Users per import, at most (SPEC §5: 200,000).
    pub max_users: u64,
    /// How long an import's heartbeat may be silent before another process
    /// (or this one, restarted) takes it over.
    pub lease: Duration,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { chunk_size: 1000, max_users: 200_000, lease: Duration::from_secs(15) }
    }
}

/// A bulk import as requested: raw strings, checked here.
#[derive(Debug, Clone, PartialEq)]
pub struct StartImport {
    pub namespace: String,
    pub commit: Option<String>,
    pub force_commit: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The request is wrong (namespace, `commit`, `forceCommit`): the
    /// report says how; nothing was started.
    #[error("the import request is invalid")]
    Refused(Box<Report>),
    /// Another import of the namespace is running.
    #[error("import {report_id} of this namespace is still running")]
    Busy { report_id: String },
    #[error("the store is unavailable")]
    Unavailable(#[source] RepositoryError),
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// More users than [`ImportOptions::max_users`]; the import is dropped.
    #[error("an import holds at most {max} users")]
    TooMany { max: u64 },
    #[error("the store is unavailable")]
    Unavailable(#[source] RepositoryError),
    /// The import was taken over meanwhile (its heartbeat had stopped).
    #[error("the import was taken over by another process")]
    Lost,
}

impl From<ImportStoreError> for UploadError {
    fn from(e: ImportStoreError) -> Self {
        match e {
            ImportStoreError::Store(e) => UploadError::Unavailable(e),
            ImportStoreError::Busy { .. } | ImportStoreError::Lost => UploadError::Lost,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    InvalidNamespace(String),
    #[error("the store is unavailable")]
    Unavailable(#[source] RepositoryError),
}

struct Inner {
    users: Arc<dyn UserRepository>,
    store: Arc<dyn ReportStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    options: ImportOptions,
    /// This process, as the owner of the imports it runs.
    owner: String,
    /// Imports this process is running now.
    running: Mutex<HashSet<String>>,
}

/// The bulk import use cases: start one, run and resume them, read reports.
#[derive(Clone)]
pub struct BulkImport {
    inner: Arc<Inner>,
}

impl BulkImport {
    pub fn new(
        users: Arc<dyn UserRepository>,
        store: Arc<dyn ReportStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        options: ImportOptions,
    ) -> Self {
        let owner = ids.new_id();
        BulkImport {
            inner: Arc::new(Inner { users, store, clock, ids, options, owner, running: Mutex::new(HashSet::new()) }),
        }
    }

    /// Checks the request and takes the namespace's import slot.
    pub async fn start(&self, request: StartImport) -> Result<Upload, StartError> {
        let now = self.inner.clock.now();
        let head = RequestHead {
            kind: ReportKind::Bulk,
            namespace: &request.namespace,
            commit: request.commit.as_deref(),
            force_commit: request.force_commit.as_deref(),
            default_commit: false,
        };
        let (mut report, namespace) = Report::open(head, self.inner.ids.new_id(), now);
        let (Some(namespace), true) = (namespace, report.errors.is_empty()) else {
            report.finish(self.inner.clock.now());
            return Err(StartError::Refused(Box::new(report)));
        };
        let header = ImportHeader {
            report_id: report.report_id,
            namespace,
            commit: report.commit,
            force_commit: report.force_commit,
            created_at: now,
        };
        let begun = {
            let (store, header, owner) = (self.inner.store.clone(), header.clone(), self.inner.owner.clone());
            detached(async move { store.begin_import(&header, &owner).await }).await
        };
        match begun {
            Ok(()) => {}
            Err(ImportStoreError::Busy { report_id }) => return Err(StartError::Busy { report_id }),
            Err(ImportStoreError::Store(e)) => return Err(StartError::Unavailable(e)),
            Err(e @ ImportStoreError::Lost) => {
                return Err(StartError::Unavailable(RepositoryError::Internal(Box::new(e))));
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let ticker = self.heartbeat(&header.report_id, lost.clone());
        Ok(Upload {
            import: self.clone(),
            header,
            buffer: Vec::with_capacity(self.inner.options.chunk_size),
            chunk: 0,
            received: 0,
            ticker,
            lost,
            done: false,
        })
    }

    /// A report of the namespace: `None` when it has none of that id.
    pub async fn report(
        &self,
        namespace: &str,
        report_id: &str,
        include_users: bool,
    ) -> Result<Option<Report>, ReportError> {
        let namespace = Namespace::parse(namespace).map_err(|message| {
            ReportError::InvalidNamespace(format!("namespace '{namespace}' is invalid: {message}"))
        })?;
        if report_id.is_empty() || report_id.len() > 128 {
            return Ok(None);
        }
        self.inner.store.report(&namespace, report_id, include_users).await.map_err(ReportError::Unavailable)
    }

    /// Takes over the imports whose heartbeat stopped (at start: those of a
    /// process that died) and runs them; then looks again every half lease,
    /// until [`Background::stop`].
    pub fn start_background(&self) -> Background {
        let this = self.clone();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let every = (this.inner.options.lease / 2).max(Duration::from_millis(100));
            loop {
                this.resume_stale().await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Background { stop, task }
    }

    /// One look for imports to take over.
    pub async fn resume_stale(&self) {
        let now = self.inner.clock.now();
        let lease = chrono::Duration::from_std(self.inner.options.lease).unwrap_or(chrono::Duration::seconds(15));
        match self.inner.store.claim_stale(&self.inner.owner, now - lease, now).await {
            Ok(jobs) => {
                for job in jobs {
                    tracing::info!(report_id = %job.header.report_id, next_chunk = job.next_chunk, chunks = job.chunks, "resuming an import whose process stopped");
                    self.spawn(job);
                }
            }
            Err(e) => tracing::warn!(error = %crate::error_chain(&e), "could not look for imports to resume"),
        }
    }

    fn spawn(&self, job: ImportJob) {
        let this = self.clone();
        tokio::spawn(async move { this.run(job).await });
    }

    /// Every third of the lease, tells the store this process still runs
    /// `report_id`; sets `lost` when another process took it over.
    fn heartbeat(&self, report_id: &str, lost: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        let (this, report_id) = (self.clone(), report_id.to_owned());
        tokio::spawn(async move {
            let every = (this.inner.options.lease / 3).max(Duration::from_millis(50));
            loop {
                tokio::time::sleep(every).await;
                let now = this.inner.clock.now();
                match this.inner.store.heartbeat(&report_id, &this.inner.owner, now).await {
                    Ok(()) => {}
                    Err(ImportStoreError::Lost | ImportStoreError::Busy { .. }) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(ImportStoreError::Store(e)) => {
                        tracing::warn!(%report_id, error = %crate::error_chain(&e), "import heartbeat failed");
                    }
                }
            }
        })
    }

    async fn run(&self, job: ImportJob) {
        let report_id = job.header.report_id.clone();
        {
            let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
            if !running.insert(report_id.clone()) {
                return;
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let ticker = self.heartbeat(&report_id, lost.clone());
        let result = self.run_job(&job, &lost).await;
        ticker.abort();
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&report_id);
        match result {
            Ok(()) => tracing::info!(%report_id, "import finished"),
            Err(ImportStoreError::Lost) => {
                tracing::warn!(%report_id, "import taken over by another process; this one stops running it")
            }
            Err(e) => tracing::warn!(
                %report_id, error = %crate::error_chain(&e),
                "import stopped; it resumes when its lease runs out (here or in another process)"
            ),
        }
    }

    async fn run_job(&self, job: &ImportJob, lost: &AtomicBool) -> Result<(), ImportStoreError> {
        let store = &self.inner.store;
        let header = &job.header;
        let size = self.inner.options.chunk_size as u64;

        // 1. The whole input once: who claims which key, who may be named.
        let mut index = ImportIndex::default();
        for chunk in 0..job.chunks {
            let items = store.input_chunk(&header.report_id, chunk).await?;
            for (k, item) in items.iter().enumerate() {
                if let InputItem::User(raw) = item {
                    index.add(u64::from(chunk) * size + k as u64, parse_user(raw).draft.as_ref());
                }
            }
        }
        // Resumed: the users earlier chunks found valid.
        let mut done_valid = HashSet::new();
        if job.next_chunk > 0
            && let Some(report) = store.report(&header.namespace, &header.report_id, true).await?
        {
            for u in report.users.iter().filter(|u| u.action != Action::None) {
                if let Some(id) = u.user_id.as_deref().and_then(|id| UserId::parse(id).ok()) {
                    done_valid.insert(id);
                }
            }
        }

        // 2. Chunk by chunk, pipelined: the next chunk is read and planned
        // while this one is written. Its plan does not depend on this
        // chunk's writes: keys are unique across the import's valid rows, and
        // a key this chunk releases is known from `done_valid`. (Should a
        // write here lose a key to a concurrent writer, the next chunk's
        // write finds out the same way, from the unique indexes.)
        if job.next_chunk >= job.chunks {
            return self.finish(job).await;
        }
        let mut planned = self.plan_chunk(header, &index, &done_valid, job.next_chunk).await?;
        for chunk in job.next_chunk..job.chunks {
            if lost.load(Ordering::SeqCst) {
                return Err(ImportStoreError::Lost);
            }
            done_valid.extend(std::mem::take(&mut planned.valid));
            let written = self.write_chunk(header, chunk, planned);
            let next = async {
                match chunk + 1 < job.chunks {
                    true => self.plan_chunk(header, &index, &done_valid, chunk + 1).await.map(Some),
                    false => Ok(None),
                }
            };
            let (written, next) = tokio::join!(written, next);
            for id in written? {
                done_valid.remove(&id);
            }
            match next? {
                Some(next) => planned = next,
                None => break,
            }
        }
        self.finish(job).await
    }

    /// Sets the final status, from the counts the store kept.
    async fn finish(&self, job: &ImportJob) -> Result<(), ImportStoreError> {
        let (store, header) = (&self.inner.store, &job.header);
        let report = store.report(&header.namespace, &header.report_id, false).await?;
        let status = match report {
            Some(r) => final_status(&r.errors, &r.summary),
            None => return Err(ImportStoreError::Lost),
        };
        store.finish_import(&header.report_id, &self.inner.owner, status, self.inner.clock.now()).await
    }

    /// Writes a planned chunk with its outcomes; the users that turned out
    /// to have lost a key to another writer.
    async fn write_chunk(
        &self,
        header: &ImportHeader,
        chunk: u32,
        planned: PlannedChunk,
    ) -> Result<Vec<UserId>, ImportStoreError> {
        let store = &self.inner.store;
        let PlannedChunk { users, mut outcomes, .. } = planned;
        let now = self.inner.clock.now();
        let result = ChunkResult { chunk, users: &users, outcomes: &outcomes, summary: summarize(&outcomes) };
        match store.commit_chunk(&header.namespace, &header.report_id, &self.inner.owner, result, now).await {
            Ok(()) => Ok(Vec::new()),
            Err(ImportStoreError::Store(RepositoryError::Conflict)) => {
                // Another writer took a key meanwhile (or the chunk's own
                // writes could not be ordered): write user by user.
                let lost = self.write_one_by_one(header, &users, &mut outcomes).await?;
                let result = ChunkResult { chunk, users: &[], outcomes: &outcomes, summary: summarize(&outcomes) };
                store.commit_chunk(&header.namespace, &header.report_id, &self.inner.owner, result, now).await?;
                Ok(lost)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads and plans chunk `chunk`: the users to write and every row's
    /// outcome.
    async fn plan_chunk(
        &self,
        header: &ImportHeader,
        index: &ImportIndex,
        done_valid: &HashSet<UserId>,
        chunk: u32,
    ) -> Result<PlannedChunk, ImportStoreError> {
        let items = self.inner.store.input_chunk(&header.report_id, chunk).await?;
        let base = u64::from(chunk) * self.inner.options.chunk_size as u64;
        let mut chunk_valid: Vec<UserId> = Vec::new();
        let mut outcomes = Vec::with_capacity(items.len());
        let mut candidates: Vec<(usize, UserDraft)> = Vec::new();
        for (k, item) in items.into_iter().enumerate() {
            let i = base + k as u64;
            let mut outcome = UserOutcome {
                index: i,
                user_id: None,
                action: Action::None,
                persisted: false,
                changed_fields: Vec::new(),
                errors: Vec::new(),
                warnings: Vec::new(),
            };
            match item {
                InputItem::Unreadable(issue) => outcome.errors.push(issue),
                InputItem::User(raw) => {
                    let parsed = parse_user(&raw);
                    outcome.user_id = parsed.user_id;
                    for issue in parsed.issues {
                        if issue.is_error() { outcome.errors.push(issue) } else { outcome.warnings.push(issue) }
                    }
                    if let Some(draft) = parsed.draft {
                        outcome.errors.extend(index.duplicates(i, &draft));
                        if outcome.errors.is_empty() {
                            candidates.push((k, draft));
                        }
                    }
                }
            }
            outcomes.push(outcome);
        }

        let mut query = BatchContextQuery::default();
        for (_, draft) in &candidates {
            let q = Plan::context_query(draft);
            query.user_ids.push(q.user_id);
            query.references.extend(q.references.into_iter().filter(|r| !index.users.contains_key(r)));
            query.emails.extend(q.email);
            query.identities.extend(q.identities);
        }
        query.references.sort();
        query.references.dedup();
        let stored = if candidates.is_empty() {
            Default::default()
        } else {
            self.inner.users.batch_context(&header.namespace, &query).await?
        };

        let today = self.inner.clock.now().date_naive();
        let mut writes = Vec::new();
        for (k, draft) in candidates {
            let i = base + k as u64;
            // A key held by an import user processed (valid) before this
            // row is free by now: that user's new values do not hold it.
            let released = |owner: &UserId| {
                index.users.get(owner).is_some_and(|u| u.index < i)
                    && (done_valid.contains(owner) || chunk_valid.contains(owner))
            };
            let q = Plan::context_query(&draft);
            let context = UpsertContext {
                existing: stored.existing.get(&draft.user_id).cloned(),
                references: q
                    .references
                    .iter()
                    .filter_map(|r| match index.users.get(r) {
                        Some(u) => Some(UserRef {
                            user_id: r.clone(),
                            first_name: u.first_name.clone(),
                            last_name: u.last_name.clone(),
                        }),
                        None => stored.references.get(r).cloned(),
                    })
                    .collect(),
                email_owner: q
                    .email
                    .as_ref()
                    .and_then(|e| stored.email_owners.get(e))
                    .filter(|o| !released(o))
                    .cloned(),
                identity_owners: q
                    .identities
                    .iter()
                    .filter_map(|t| stored.identity_owners.get(t).map(|o| (t.clone(), o.clone())))
                    .filter(|(_, o)| !released(o))
                    .collect(),
            };
            let user_id = draft.user_id.clone();
            let plan = plan_upsert(draft, &context, today);
            let outcome = &mut outcomes[k];
            outcome.action = plan.action;
            outcome.changed_fields = plan.changed_fields;
            outcome.errors.extend(plan.errors);
            outcome.warnings.extend(plan.warnings);
            if let Some(user) = plan.user {
                chunk_valid.push(user_id);
                let write = header.commit && (plan.action != Action::Unchanged || header.force_commit);
                if write {
                    outcome.persisted = true;
                    writes.push(user);
                }
            }
        }
        Ok(PlannedChunk { users: writes, outcomes, valid: chunk_valid })
    }

    /// The chunk's users one transaction each, in input order; a user that
    /// lost its email or identity to another writer meanwhile gets a
    /// `conflict` and is not written.
    async fn write_one_by_one(
        &self,
        header: &ImportHeader,
        users: &[User],
        outcomes: &mut [UserOutcome],
    ) -> Result<Vec<UserId>, ImportStoreError> {
        let mut lost = Vec::new();
        for user in users {
            match self.inner.users.save(&header.namespace, user, self.inner.clock.now()).await {
                Ok(()) => {}
                Err(RepositoryError::Conflict) => {
                    if let Some(o) =
                        outcomes.iter_mut().find(|o| o.persisted && o.user_id.as_deref() == Some(user.user_id.as_str()))
                    {
                        o.persisted = false;
                        o.action = Action::None;
                        o.changed_fields.clear();
                        o.errors.push(Issue::new(
                            "userId",
                            IssueCode::Conflict,
                            "the user's email or a telephony identity was taken by another user while the import ran; import the user again",
                        ));
                    }
                    lost.push(user.user_id.clone());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(lost)
    }
}

/// The background look for imports to take over; stopped between looks,
/// never in the middle of one (a look may write).
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// A chunk read and planned, not yet written.
struct PlannedChunk {
    users: Vec<User>,
    outcomes: Vec<UserOutcome>,
    /// The chunk's valid users (planned to be written or unchanged).
    valid: Vec<UserId>,
}

/// Runs a store call on a task of its own: if the caller goes away midway
/// (an HTTP client that disconnects drops its request's future), the call
/// still ends, its transaction committed or rolled back, never abandoned.
async fn detached<T, E>(call: impl Future<Output = Result<T, E>> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<RepositoryError> + Send + 'static,
{
    match tokio::spawn(call).await {
        Ok(result) => result,
        Err(panicked) => Err(RepositoryError::Internal(Box::new(panicked)).into()),
    }
}

fn summarize(outcomes: &[UserOutcome]) -> Summary {
    let mut s = Summary::default();
    for o in outcomes {
        s.count(o);
    }
    s
}

/// A key only one row of an import may hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    UserId(UserId),
    Email(String),
    Identity(TelephonyIdentity),
}

/// A user of the import that references may name.
#[derive(Debug)]
struct ImportedUser {
    index: u64,
    first_name: String,
    last_name: String,
}

/// What the whole input says, found before any row is processed.
#[derive(Debug, Default)]
struct ImportIndex {
    /// Each key, to the first valid row holding it.
    first: HashMap<Key, u64>,
    /// The users of the import (their first valid rows).
    users: HashMap<UserId, ImportedUser>,
}

/// Each key of a user: the key, its field, how to name it, its value.
fn keys(draft: &UserDraft) -> impl Iterator<Item = (Key, String, String, String)> + '_ {
    let p = &draft.profile;
    let id = draft.user_id.as_str();
    std::iter::once((Key::UserId(draft.user_id.clone()), "userId".to_owned(), format!("userId '{id}'"), id.to_owned()))
        .chain(p.email.iter().map(|e| {
            (Key::Email(e.normalized()), "email".to_owned(), format!("email {}", e.as_str()), e.as_str().to_owned())
        }))
        .chain(p.telephony_configurations.iter().enumerate().map(|(n, t)| {
            (
                Key::Identity(t.identity()),
                format!("telephonyConfigurations[{n}].agentId"),
                format!("agentId {} on platform {}", t.agent_id, t.platform),
                t.agent_id.as_str().to_owned(),
            )
        }))
}

impl ImportIndex {
    /// Row `i`, valid as parsed (`draft`), claims its keys unless one is
    /// already claimed by an earlier row (then it is a duplicate row).
    fn add(&mut self, i: u64, draft: Option<&UserDraft>) {
        let Some(draft) = draft else { return };
        if keys(draft).any(|(key, ..)| self.first.contains_key(&key)) {
            return;
        }
        for (key, ..) in keys(draft) {
            self.first.insert(key, i);
        }
        let p = &draft.profile;
        self.users.insert(
            draft.user_id.clone(),
            ImportedUser { index: i, first_name: p.first_name.to_string(), last_name: p.last_name.to_string() },
        );
    }

    /// The `duplicate` errors of row `i`: each key an earlier row holds.
    fn duplicates(&self, i: u64, draft: &UserDraft) -> Vec<Issue> {
        keys(draft)
            .filter_map(|(key, field, what, value)| {
                let first = *self.first.get(&key)?;
                (first != i).then(|| {
                    Issue::new(
                        field,
                        IssueCode::Duplicate,
                        format!(
                            "{what} is already in this import at index {first}; only the first valid row with it is imported"
                        ),
                    )
                    .with_value(RawValue::String(value))
                })
            })
            .collect()
    }
}

/// An import being received: items pushed as the body is parsed, kept in
/// chunks. Dropped before [`finish`](Upload::finish) (the client went
/// away), the import is discarded and the namespace freed.
pub struct Upload {
    import: BulkImport,
    header: ImportHeader,
    buffer: Vec<InputItem>,
    chunk: u32,
    received: u64,
    ticker: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
    done: bool,
}

impl Upload {
    /// Adds one item of the input.
    pub async fn push(&mut self, item: InputItem) -> Result<(), UploadError> {
        let max = self.import.inner.options.max_users;
        if self.received >= max {
            return Err(UploadError::TooMany { max });
        }
        self.received += 1;
        self.buffer.push(item);
        if self.buffer.len() >= self.import.inner.options.chunk_size {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), UploadError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(UploadError::Lost);
        }
        if self.buffer.is_empty() {
            return Ok(());
        }
        let inner = &self.import.inner;
        let items = std::mem::replace(&mut self.buffer, Vec::with_capacity(inner.options.chunk_size));
        let (store, report_id, owner) = (inner.store.clone(), self.header.report_id.clone(), inner.owner.clone());
        let (chunk, at) = (self.chunk, inner.clock.now());
        detached(async move { store.append_input(&report_id, chunk, &items, &owner, at).await }).await?;
        self.chunk += 1;
        Ok(())
    }

    /// The whole body is in: the import is accepted and runs in the
    /// background; the report says `inprogress`. An empty import is refused
    /// instead (a failed report, kept).
    pub async fn finish(mut self) -> Result<Report, UploadError> {
        if self.received == 0 {
            return self.refuse(Issue::new(
                "",
                IssueCode::Required,
                "the import holds no users; send at least one (a JSON array of users, or CSV rows after the header)",
            ))
            .await;
        }
        self.flush().await?;
        let inner = self.import.inner.clone();
        {
            let (store, report_id, owner) = (inner.store.clone(), self.header.report_id.clone(), inner.owner.clone());
            let (received, chunks, at) = (self.received, self.chunk, inner.clock.now());
            detached(async move { store.accept_import(&report_id, received, chunks, &owner, at).await }).await?;
        }
        self.done = true;
        self.ticker.abort();
        let job = ImportJob { header: self.header.clone(), received: self.received, chunks: self.chunk, next_chunk: 0 };
        let report = Report {
            report_id: self.header.report_id.clone(),
            namespace: self.header.namespace.as_str().to_owned(),
            kind: ReportKind::Bulk,
            status: ReportStatus::InProgress,
            commit: self.header.commit,
            force_commit: self.header.force_commit,
            created_at: self.header.created_at,
            completed_at: None,
            summary: Summary { received: self.received, ..Summary::default() },
            errors: Vec::new(),
            users: Vec::new(),
        };
        self.import.spawn(job);
        Ok(report)
    }

    /// The body is unusable as a whole (not a JSON array, say): the import
    /// is refused with `issue`, and the failed report kept.
    pub async fn refuse(mut self, issue: Issue) -> Result<Report, UploadError> {
        let inner = self.import.inner.clone();
        let mut report = Report {
            report_id: self.header.report_id.clone(),
            namespace: self.header.namespace.as_str().to_owned(),
            kind: ReportKind::Bulk,
            status: ReportStatus::Failed,
            commit: self.header.commit,
            force_commit: self.header.force_commit,
            created_at: self.header.created_at,
            completed_at: None,
            summary: Summary::default(),
            errors: vec![issue],
            users: Vec::new(),
        };
        report.finish(inner.clock.now());
        {
            let (store, report) = (inner.store.clone(), report.clone());
            detached(async move { store.refuse_import(&report).await }).await.map_err(UploadError::Unavailable)?;
        }
        self.done = true;
        self.ticker.abort();
        Ok(report)
    }

    /// The body never arrived whole: drop everything of the import.
    pub async fn discard(mut self) {
        self.done = true;
        self.ticker.abort();
        let (store, report_id) = (self.import.inner.store.clone(), self.header.report_id.clone());
        if let Err(e) = detached(async move { store.discard_import(&report_id).await }).await {
            tracing::warn!(report_id = %self.header.report_id, error = %crate::error_chain(&e), "an unfinished import could not be dropped; it is dropped when its lease runs out");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.ticker.abort();
        if self.done {
            return;
        }
        let (store, report_id) = (self.import.inner.store.clone(), self.header.report_id.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = store.discard_import(&report_id).await {
                    tracing::warn!(%report_id, error = %crate::error_chain(&e), "an abandoned import could not be dropped; it is dropped when its lease runs out");
                }
            });
        }
    }
}
