//! `BulkImport` over the real in-memory store, with each chunk's commit
//! held at a gate, so the report can be read between chunks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_application::{
    BulkImport, ChunkResult, IdGenerator, ImportHeader, ImportJob, ImportOptions, ImportStoreError, InputItem, Report,
    ReportStatus, ReportStore, RepositoryError, StartImport, SystemClock,
};
use roster_domain::{Namespace, RawValue};
use roster_store_memory::InMemoryUserRepository;
use tokio::sync::Semaphore;

struct Seq(AtomicU64);

impl IdGenerator for Seq {
    fn new_id(&self) -> String {
        format!("r{}", self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// The in-memory store, but each `commit_chunk` waits for a permit.
struct Gated {
    store: Arc<InMemoryUserRepository>,
    gate: Semaphore,
}

#[async_trait]
impl ReportStore for Gated {
    async fn begin_import(&self, header: &ImportHeader, owner: &str) -> Result<(), ImportStoreError> {
        self.store.begin_import(header, owner).await
    }
    async fn append_input(
        &self,
        report_id: &str,
        chunk: u32,
        items: &[InputItem],
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        self.store.append_input(report_id, chunk, items, owner, at).await
    }
    async fn accept_import(
        &self,
        report_id: &str,
        received: u64,
        chunks: u32,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        self.store.accept_import(report_id, received, chunks, owner, at).await
    }
    async fn refuse_import(&self, report: &Report) -> Result<(), RepositoryError> {
        self.store.refuse_import(report).await
    }
    async fn discard_import(&self, report_id: &str) -> Result<(), RepositoryError> {
        self.store.discard_import(report_id).await
    }
    async fn input_chunk(&self, report_id: &str, chunk: u32) -> Result<Vec<InputItem>, RepositoryError> {
        self.store.input_chunk(report_id, chunk).await
    }
    async fn commit_chunk(
        &self,
        namespace: &Namespace,
        report_id: &str,
        owner: &str,
        result: ChunkResult<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        self.gate.acquire().await.expect("gate").forget();
        self.store.commit_chunk(namespace, report_id, owner, result, at).await
    }
    async fn finish_import(
        &self,
        report_id: &str,
        owner: &str,
        status: ReportStatus,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        self.store.finish_import(report_id, owner, status, at).await
    }
    async fn heartbeat(&self, report_id: &str, owner: &str, at: DateTime<Utc>) -> Result<(), ImportStoreError> {
        self.store.heartbeat(report_id, owner, at).await
    }
    async fn claim_stale(
        &self,
        owner: &str,
        stale_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ImportJob>, RepositoryError> {
        self.store.claim_stale(owner, stale_before, at).await
    }
    async fn keep_reports(&self, reports: &[Report]) -> Result<(), RepositoryError> {
        self.store.keep_reports(reports).await
    }
    async fn report(
        &self,
        namespace: &Namespace,
        report_id: &str,
        include_users: bool,
    ) -> Result<Option<Report>, RepositoryError> {
        self.store.report(namespace, report_id, include_users).await
    }
}

fn user(n: usize) -> InputItem {
    let s = |v: String| RawValue::String(v);
    InputItem::User(RawValue::Object(vec![
        ("userId".into(), s(format!("u{n}"))),
        ("firstName".into(), s("Ann".into())),
        ("lastName".into(), s("Lee".into())),
        ("jobTitle".into(), s("Agent".into())),
        ("status".into(), s("Active".into())),
        ("organization".into(), s("Acme".into())),
        ("contactCenter".into(), s("North".into())),
        ("site".into(), s("Oslo".into())),
        ("roles".into(), RawValue::Array(vec![s("Agent".into())])),
        (
            "telephonyConfigurations".into(),
            RawValue::Array(vec![RawValue::Object(vec![
                ("platform".into(), s("Genesys".into())),
                ("agentId".into(), s(format!("{n}"))),
            ])]),
        ),
    ]))
}

async fn processed(import: &BulkImport, id: &str) -> (u64, ReportStatus, usize) {
    let r = import.report("acme", id, true).await.expect("report").expect("some");
    (r.summary.processed, r.status, r.users.len())
}

/// Waits until the report says `processed` (the worker runs on its own).
async fn until(import: &BulkImport, id: &str, want: u64) -> (u64, ReportStatus, usize) {
    for _ in 0..200 {
        let now = processed(import, id).await;
        if now.0 == want {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    processed(import, id).await
}

#[tokio::test]
async fn the_report_shows_progress_chunk_by_chunk() {
    let memory = Arc::new(InMemoryUserRepository::default());
    let gated = Arc::new(Gated { store: memory.clone(), gate: Semaphore::new(0) });
    let import = BulkImport::new(
        memory.clone(),
        gated.clone(),
        Arc::new(SystemClock),
        Arc::new(Seq(AtomicU64::new(1))),
        ImportOptions { chunk_size: 2, ..ImportOptions::default() },
    );
    let request = StartImport { namespace: "acme".into(), commit: Some("true".into()), force_commit: None };
    let mut upload = import.start(request).await.expect("started");
    for n in 0..5 {
        upload.push(user(n)).await.expect("push");
    }
    let accepted = upload.finish().await.expect("accepted");
    let id = accepted.report_id.clone();
    assert_eq!((accepted.status, accepted.summary.received), (ReportStatus::InProgress, 5));

    assert_eq!(until(&import, &id, 0).await, (0, ReportStatus::InProgress, 0));
    gated.gate.add_permits(1);
    assert_eq!(until(&import, &id, 2).await, (2, ReportStatus::InProgress, 2), "one chunk of 2 done");
    gated.gate.add_permits(1);
    assert_eq!(until(&import, &id, 4).await, (4, ReportStatus::InProgress, 4));
    gated.gate.add_permits(1);
    let mut last = until(&import, &id, 5).await;
    for _ in 0..200 {
        if last.1 != ReportStatus::InProgress {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        last = processed(&import, &id).await;
    }
    assert_eq!(last, (5, ReportStatus::Completed, 5));
    // A second import of the namespace can start now.
    let request = StartImport { namespace: "acme".into(), commit: None, force_commit: None };
    assert!(import.start(request).await.is_ok());
}
