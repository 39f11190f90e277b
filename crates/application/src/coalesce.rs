//! Calls arriving together, run together: [`Batcher`] is the group commit
//! behind [`KeepReports`](crate::KeepReports) and behind
//! [`UpsertUser::coalescing`](crate::UpsertUser::coalescing), where
//! concurrent single upserts share their context reads and their writes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use roster_domain::{Namespace, User, UserId};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::{BatchContextQuery, Clock, RepositoryError, UpsertContext, UpsertContextQuery, UserRepository};

type Waiter<Resp> = oneshot::Sender<Resp>;

/// A queue of calls served by `workers` tasks. Each worker takes every call
/// waiting (at most `max`) and runs them as one batch; calls arriving
/// meanwhile wait for the next free worker. Under no load a batch is one
/// call and nothing waits; under load batches grow by themselves.
pub(crate) struct Batcher<Req, Resp> {
    tx: mpsc::Sender<(Req, Waiter<Resp>)>,
}

impl<Req, Resp> Clone for Batcher<Req, Resp> {
    fn clone(&self) -> Self {
        Batcher { tx: self.tx.clone() }
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// Starts the workers; call from within a tokio runtime. `run` answers a
    /// batch with one response per call, in order. Each batch runs on a task
    /// of its own: a caller that goes away does not stop it, and a panic
    /// fails that batch's callers only.
    pub(crate) fn start<F, Fut>(name: &'static str, workers: usize, max: usize, run: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Resp>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<(Req, Waiter<Resp>)>(4 * max);
        let rx = Arc::new(Mutex::new(rx));
        let run = Arc::new(run);
        for _ in 0..workers.max(1) {
            let (rx, run) = (rx.clone(), run.clone());
            tokio::spawn(async move {
                loop {
                    let mut batch = Vec::new();
                    {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        batch.push(first);
                        while batch.len() < max {
                            match rx.try_recv() {
                                Ok(call) => batch.push(call),
                                Err(_) => break,
                            }
                        }
                    }
                    tracing::debug!(batcher = name, size = batch.len(), "batch");
                    let (requests, waiters): (Vec<Req>, Vec<Waiter<Resp>>) = batch.into_iter().unzip();
                    match tokio::spawn(run(requests)).await {
                        Ok(responses) => {
                            for (waiter, response) in waiters.into_iter().zip(responses) {
                                let _ = waiter.send(response);
                            }
                        }
                        Err(e) => tracing::error!(batcher = name, error = %e, "a batch failed"),
                    }
                }
            });
        }
        Batcher { tx }
    }

    /// Runs `request` with the next batch; `None` if the batch failed (a
    /// panic, logged) or the workers are gone.
    pub(crate) async fn call(&self, request: Req) -> Option<Resp> {
        let (done, wait) = oneshot::channel();
        self.tx.send((request, done)).await.ok()?;
        wait.await.ok()
    }
}

/// Upserts' reads and writes, batched: see [`UpsertUser::coalescing`](crate::UpsertUser::coalescing).
pub(crate) struct Coalesced {
    contexts: Batcher<(Namespace, UpsertContextQuery), Result<UpsertContext, RepositoryError>>,
    saves: Batcher<(Namespace, User), Result<(), RepositoryError>>,
}

/// Batches at most this many calls.
const MAX_BATCH: usize = 256;

/// Tasks per batcher. One: while its batch is under way the next one
/// gathers, and batches grow with the load. (Two workers made smaller
/// batches and cost PostgreSQL more per user: 3,500 upserts/s against
/// 3,900 with one, at 64 connections.)
const WORKERS: usize = 1;

fn gone() -> RepositoryError {
    RepositoryError::Internal("the batch of this call failed (see the log)".into())
}

impl Coalesced {
    pub(crate) fn start(repository: Arc<dyn UserRepository>, clock: Arc<dyn Clock>) -> Self {
        let repo = repository.clone();
        let contexts = Batcher::start("upsert contexts", WORKERS, MAX_BATCH, move |calls| read(repo.clone(), calls));
        let saves = Batcher::start("upsert saves", WORKERS, MAX_BATCH, move |calls| {
            write(repository.clone(), clock.clone(), calls)
        });
        Coalesced { contexts, saves }
    }

    pub(crate) async fn upsert_context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError> {
        self.contexts.call((namespace.clone(), query.clone())).await.unwrap_or_else(|| Err(gone()))
    }

    pub(crate) async fn save(&self, namespace: &Namespace, user: &User) -> Result<(), RepositoryError> {
        self.saves.call((namespace.clone(), user.clone())).await.unwrap_or_else(|| Err(gone()))
    }
}

/// The calls' positions grouped by namespace, in order of first appearance.
fn by_namespace<T>(calls: &[(Namespace, T)]) -> Vec<(&Namespace, Vec<usize>)> {
    let mut groups: Vec<(&Namespace, Vec<usize>)> = Vec::new();
    for (i, (namespace, _)) in calls.iter().enumerate() {
        match groups.iter_mut().find(|(n, _)| *n == namespace) {
            Some((_, members)) => members.push(i),
            None => groups.push((namespace, vec![i])),
        }
    }
    groups
}

/// One context read per namespace: a lone call as `upsert_context`, several
/// as one `batch_context` of their union, each answered from it.
async fn read(
    repository: Arc<dyn UserRepository>,
    calls: Vec<(Namespace, UpsertContextQuery)>,
) -> Vec<Result<UpsertContext, RepositoryError>> {
    let mut answers: Vec<Option<Result<UpsertContext, RepositoryError>>> = calls.iter().map(|_| None).collect();
    for (namespace, members) in by_namespace(&calls) {
        if let [only] = members[..] {
            answers[only] = Some(repository.upsert_context(namespace, &calls[only].1).await);
            continue;
        }
        let mut union = BatchContextQuery::default();
        for &i in &members {
            union.add(&calls[i].1);
        }
        match repository.batch_context(namespace, &union).await {
            Ok(context) => {
                for &i in &members {
                    answers[i] = Some(Ok(context.context_of(&calls[i].1)));
                }
            }
            Err(e) => {
                for &i in &members {
                    answers[i] = Some(Err(e.shared()));
                }
            }
        }
    }
    answers.into_iter().map(|a| a.unwrap_or_else(|| Err(gone()))).collect()
}

/// The saves in rounds — a user saved twice in one batch is saved in two
/// rounds, in the order the calls came — and each round's users of one
/// namespace with one `save_each` (a lone one with `save`).
async fn write(
    repository: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    calls: Vec<(Namespace, User)>,
) -> Vec<Result<(), RepositoryError>> {
    let mut answers: Vec<Option<Result<(), RepositoryError>>> = calls.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..calls.len()).collect();
    while !pending.is_empty() {
        let mut seen: HashSet<(&Namespace, &UserId)> = HashSet::new();
        let (round, later): (Vec<usize>, Vec<usize>) =
            pending.iter().partition(|&&i| seen.insert((&calls[i].0, &calls[i].1.user_id)));
        let round_calls: Vec<(Namespace, ())> = round.iter().map(|&i| (calls[i].0.clone(), ())).collect();
        for (namespace, members) in by_namespace(&round_calls) {
            let positions: Vec<usize> = members.iter().map(|&m| round[m]).collect();
            let results = if let [only] = positions[..] {
                vec![repository.save(namespace, &calls[only].1, clock.now()).await]
            } else {
                let users: Vec<User> = positions.iter().map(|&i| calls[i].1.clone()).collect();
                repository.save_each(namespace, &users, clock.now()).await
            };
            for (i, result) in positions.into_iter().zip(results) {
                answers[i] = Some(result);
            }
        }
        pending = later;
    }
    answers.into_iter().map(|a| a.unwrap_or_else(|| Err(gone()))).collect()
}
