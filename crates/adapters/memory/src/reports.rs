//! The in-memory [`ReportStore`]: reports and imports in maps behind one
//! lock. Nothing survives a restart, so an import of a process that died is
//! gone with it (there is nothing to resume from).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_application::{
    ChunkResult, ImportHeader, ImportJob, ImportStoreError, InputItem, Report, ReportKind, ReportStatus, ReportStore,
    RepositoryError, Summary, UserOutcome,
};
use roster_domain::{Issue, Namespace};

use crate::{InMemoryUserRepository, poisoned};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Receiving,
    InProgress,
    Done(ReportStatus),
}

struct Import {
    header: ImportHeader,
    owner: String,
    heartbeat_at: DateTime<Utc>,
    state: State,
    completed_at: Option<DateTime<Utc>>,
    received: u64,
    chunks: u32,
    next_chunk: u32,
    input: Vec<Vec<InputItem>>,
    outcomes: Vec<UserOutcome>,
    summary: Summary,
    errors: Vec<Issue>,
}

#[derive(Default)]
pub(crate) struct Reports {
    imports: HashMap<String, Import>,
    /// namespace → its active import
    active: HashMap<Namespace, String>,
    /// single-user reports
    kept: HashMap<String, Report>,
}

impl Reports {
    fn owned(&mut self, report_id: &str, owner: &str) -> Result<&mut Import, ImportStoreError> {
        match self.imports.get_mut(report_id) {
            Some(i) if i.owner == owner && matches!(i.state, State::Receiving | State::InProgress) => Ok(i),
            _ => Err(ImportStoreError::Lost),
        }
    }

    fn drop_import(&mut self, report_id: &str) {
        if let Some(i) = self.imports.remove(report_id)
            && self.active.get(&i.header.namespace).is_some_and(|id| id == report_id)
        {
            self.active.remove(&i.header.namespace);
        }
    }
}

fn report_of(i: &Import, include_users: bool) -> Report {
    Report {
        report_id: i.header.report_id.clone(),
        namespace: i.header.namespace.as_str().to_owned(),
        kind: ReportKind::Bulk,
        status: match i.state {
            State::Done(status) => status,
            _ => ReportStatus::InProgress,
        },
        commit: i.header.commit,
        force_commit: i.header.force_commit,
        created_at: i.header.created_at,
        completed_at: i.completed_at,
        summary: Summary { received: i.received, ..i.summary },
        errors: i.errors.clone(),
        users: if include_users { i.outcomes.clone() } else { Vec::new() },
    }
}

#[async_trait]
impl ReportStore for InMemoryUserRepository {
    async fn begin_import(&self, header: &ImportHeader, owner: &str) -> Result<(), ImportStoreError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        if let Some(running) = r.active.get(&header.namespace) {
            return Err(ImportStoreError::Busy { report_id: running.clone() });
        }
        r.active.insert(header.namespace.clone(), header.report_id.clone());
        r.imports.insert(
            header.report_id.clone(),
            Import {
                header: header.clone(),
                owner: owner.to_owned(),
                heartbeat_at: header.created_at,
                state: State::Receiving,
                completed_at: None,
                received: 0,
                chunks: 0,
                next_chunk: 0,
                input: Vec::new(),
                outcomes: Vec::new(),
                summary: Summary::default(),
                errors: Vec::new(),
            },
        );
        Ok(())
    }

    async fn append_input(
        &self,
        report_id: &str,
        chunk: u32,
        items: &[InputItem],
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        let i = r.owned(report_id, owner)?;
        if i.input.len() != chunk as usize {
            return Err(ImportStoreError::Lost);
        }
        i.input.push(items.to_vec());
        i.heartbeat_at = at;
        Ok(())
    }

    async fn accept_import(
        &self,
        report_id: &str,
        received: u64,
        chunks: u32,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        let i = r.owned(report_id, owner)?;
        i.state = State::InProgress;
        i.received = received;
        i.chunks = chunks;
        i.heartbeat_at = at;
        Ok(())
    }

    async fn refuse_import(&self, report: &Report) -> Result<(), RepositoryError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        r.drop_import(&report.report_id);
        r.kept.insert(report.report_id.clone(), report.clone());
        Ok(())
    }

    async fn discard_import(&self, report_id: &str) -> Result<(), RepositoryError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        if r.imports.get(report_id).is_some_and(|i| i.state == State::Receiving) {
            r.drop_import(report_id);
        }
        Ok(())
    }

    async fn input_chunk(&self, report_id: &str, chunk: u32) -> Result<Vec<InputItem>, RepositoryError> {
        let r = self.reports.lock().map_err(poisoned)?;
        Ok(r.imports.get(report_id).and_then(|i| i.input.get(chunk as usize)).cloned().unwrap_or_default())
    }

    async fn commit_chunk(
        &self,
        namespace: &Namespace,
        report_id: &str,
        owner: &str,
        result: ChunkResult<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        let i = r.owned(report_id, owner)?;
        if i.state != State::InProgress || i.next_chunk != result.chunk {
            return Err(ImportStoreError::Lost);
        }
        if !result.users.is_empty() {
            let mut tenants = self.tenants.write().map_err(poisoned)?;
            tenants.entry(namespace.clone()).or_default().save_all(result.users)?;
        }
        i.outcomes.extend_from_slice(result.outcomes);
        i.summary.add(&result.summary);
        i.next_chunk += 1;
        i.heartbeat_at = at;
        Ok(())
    }

    async fn finish_import(
        &self,
        report_id: &str,
        owner: &str,
        status: ReportStatus,
        at: DateTime<Utc>,
    ) -> Result<(), ImportStoreError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        let i = r.owned(report_id, owner)?;
        i.state = State::Done(status);
        i.completed_at = Some(at);
        i.input = Vec::new();
        let namespace = i.header.namespace.clone();
        r.active.remove(&namespace);
        Ok(())
    }

    async fn heartbeat(&self, report_id: &str, owner: &str, at: DateTime<Utc>) -> Result<(), ImportStoreError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        r.owned(report_id, owner)?.heartbeat_at = at;
        Ok(())
    }

    async fn claim_stale(
        &self,
        owner: &str,
        stale_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ImportJob>, RepositoryError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        let abandoned: Vec<String> = r
            .imports
            .values()
            .filter(|i| i.state == State::Receiving && i.heartbeat_at < stale_before)
            .map(|i| i.header.report_id.clone())
            .collect();
        for id in abandoned {
            r.drop_import(&id);
        }
        let mut jobs = Vec::new();
        for i in r.imports.values_mut() {
            if i.state == State::InProgress && i.heartbeat_at < stale_before {
                i.owner = owner.to_owned();
                i.heartbeat_at = at;
                jobs.push(ImportJob {
                    header: i.header.clone(),
                    received: i.received,
                    chunks: i.chunks,
                    next_chunk: i.next_chunk,
                });
            }
        }
        Ok(jobs)
    }

    async fn keep_reports(&self, reports: &[Report]) -> Result<(), RepositoryError> {
        let mut r = self.reports.lock().map_err(poisoned)?;
        for report in reports {
            r.kept.insert(report.report_id.clone(), report.clone());
        }
        Ok(())
    }

    async fn report(
        &self,
        namespace: &Namespace,
        report_id: &str,
        include_users: bool,
    ) -> Result<Option<Report>, RepositoryError> {
        let r = self.reports.lock().map_err(poisoned)?;
        if let Some(i) = r.imports.get(report_id) {
            return Ok(
                (i.header.namespace == *namespace && i.state != State::Receiving).then(|| report_of(i, include_users))
            );
        }
        Ok(r.kept.get(report_id).filter(|k| k.namespace == namespace.as_str()).map(|k| {
            let mut k = k.clone();
            if !include_users {
                k.users.clear();
            }
            k
        }))
    }
}
