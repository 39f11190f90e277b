//! Calls arriving together, run together: [`Batcher`] is the group commit
//! behind [`KeepReports`](crate::KeepReports) and behind
//! [`UpsertUser::coalescing`](crate::UpsertUser::coalescing), where
//! concurrent single upserts share their context reads and their writes.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use roster_domain::{Namespace, User, UserId};
use tokio::sync::oneshot;

use crate::{BatchContextQuery, Clock, Report, RepositoryError, UpsertContext, UpsertContextQuery, UserRepository};

type Waiter<Resp> = oneshot::Sender<Resp>;
type Run<Req, Resp> = dyn Fn(Vec<Req>) -> BoxFuture<'static, Vec<Resp>> + Send + Sync;

/// Group work: at most `slots.steady` batches under way at once. A call
/// finding a slot free runs at once, as a batch of one — under no load
/// nothing waits; a call finding every slot taken waits, and when a batch
/// ends its task takes every call waiting (at most `max`) as the next batch.
/// So batches grow with the load, by themselves. And when `slots.extra_at`
/// calls are waiting, up to `slots.extra` more batches start at once with
/// them: large enough to be worth it, they keep the store busy while the
/// others wait on it (a commit's flush, a round trip). Like the others, a
/// batch's task then goes on with the calls waiting when it ends.
pub(crate) struct Batcher<Req, Resp> {
    shared: Arc<Shared<Req, Resp>>,
}

/// How many batches a [`Batcher`] runs at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slots {
    /// Batches under way whenever calls wait.
    pub steady: usize,
    /// Batches more, each started when `extra_at` calls are waiting.
    pub extra: usize,
    /// How many calls waiting start an extra batch.
    pub extra_at: usize,
}

impl Slots {
    /// `n` batches at once, never more.
    pub(crate) fn fixed(n: usize) -> Self {
        Slots { steady: n, extra: 0, extra_at: usize::MAX }
    }
}

struct Shared<Req, Resp> {
    name: &'static str,
    slots: Slots,
    max: usize,
    run: Box<Run<Req, Resp>>,
    /// For a response saying the store is down, the same answer for the
    /// calls that waited meanwhile (see [`Batcher::failing_fast`]).
    down: std::sync::OnceLock<fn(&Resp) -> Option<Resp>>,
    state: std::sync::Mutex<State<Req, Resp>>,
}

struct State<Req, Resp> {
    running: usize,
    waiting: VecDeque<(Req, Waiter<Resp>)>,
}

impl<Req, Resp> Clone for Batcher<Req, Resp> {
    fn clone(&self) -> Self {
        Batcher { shared: self.shared.clone() }
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// `run` answers a batch with one response per call, in order.
    pub(crate) fn new<F, Fut>(name: &'static str, slots: Slots, max: usize, run: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Resp>> + Send + 'static,
    {
        let run: Box<Run<Req, Resp>> = Box::new(move |batch| run(batch).boxed());
        let state = State { running: 0, waiting: VecDeque::new() };
        Batcher {
            shared: Arc::new(Shared {
                name,
                slots: Slots { steady: slots.steady.max(1), extra_at: slots.extra_at.max(1), ..slots },
                max: max.max(1),
                run,
                down: std::sync::OnceLock::new(),
                state: std::sync::Mutex::new(state),
            }),
        }
    }

    /// When a batch answers a call with what `down` makes an answer of (the
    /// store is unavailable), the calls that waited during that batch get
    /// that answer at once instead of a batch of their own: they would wait
    /// out the same timeout again, and a failing store answers fast.
    /// Set once: a later call (or one on a clone) changes nothing.
    pub(crate) fn failing_fast(self, down: fn(&Resp) -> Option<Resp>) -> Self {
        let _ = self.shared.down.set(down);
        self
    }

    /// Runs `request`, alone or with the next batch; `None` if its batch
    /// failed (a panic, logged). Batches run on tasks of their own: a caller
    /// that goes away stops neither its batch nor the ones after it. Call
    /// from within a tokio runtime.
    pub(crate) async fn call(&self, request: Req) -> Option<Resp> {
        let (done, wait) = oneshot::channel();
        let lead = {
            let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
            let Slots { steady, extra, extra_at } = self.shared.slots;
            if state.running < steady {
                state.running += 1;
                Some(vec![(request, done)])
            } else {
                state.waiting.push_back((request, done));
                if state.running < steady + extra && state.waiting.len() >= extra_at {
                    state.running += 1;
                    let n = state.waiting.len().min(self.shared.max);
                    Some(state.waiting.drain(..n).collect())
                } else {
                    None
                }
            }
        };
        if let Some(batch) = lead {
            tokio::spawn(drive(self.shared.clone(), batch));
        }
        wait.await.ok()
    }
}

/// One slot taken by [`drive`]. Given back by `drive` when no call waits
/// (under the lock that tells so, or a call queued meanwhile would wait for
/// nobody); if the task is dropped midway instead (its runtime stopping),
/// by the guard — which, if no other slot is running, also answers the
/// waiting calls with `None` — rather than leave them, and the slot, lost.
struct Slot<'a, Req, Resp> {
    shared: &'a Shared<Req, Resp>,
    held: bool,
}

impl<Req, Resp> Drop for Slot<'_, Req, Resp> {
    fn drop(&mut self) {
        if self.held {
            let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
            state.running -= 1;
            if state.running == 0 {
                // nobody is left to run them
                state.waiting.clear();
            }
        }
    }
}

/// Runs `batch`, then the calls that waited meanwhile, until none wait;
/// holds one slot all along.
async fn drive<Req, Resp>(shared: Arc<Shared<Req, Resp>>, mut batch: Vec<(Req, Waiter<Resp>)>) {
    let mut slot = Slot { shared: &shared, held: true };
    loop {
        tracing::trace!(batcher = shared.name, size = batch.len(), "batch");
        let (requests, waiters): (Vec<Req>, Vec<Waiter<Resp>>) = batch.into_iter().unzip();
        let mut failed = None;
        match AssertUnwindSafe((shared.run)(requests)).catch_unwind().await {
            Ok(responses) => {
                if let Some(down) = shared.down.get() {
                    failed = responses.iter().find_map(down);
                }
                for (waiter, response) in waiters.into_iter().zip(responses) {
                    let _ = waiter.send(response);
                }
            }
            // The waiters, dropped, get `None`.
            Err(_) => tracing::error!(batcher = shared.name, "a batch panicked"),
        }
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(failed), Some(down)) = (&failed, shared.down.get()) {
            for (_, waiter) in state.waiting.drain(..) {
                if let Some(answer) = down(failed) {
                    let _ = waiter.send(answer);
                }
            }
        }
        if state.waiting.is_empty() {
            state.running -= 1;
            slot.held = false;
            return;
        }
        let n = state.waiting.len().min(shared.max);
        batch = state.waiting.drain(..n).collect();
    }
}

/// Upserts' reads and writes, batched: see [`UpsertUser::coalescing`](crate::UpsertUser::coalescing).
pub(crate) struct Coalesced {
    contexts: Batcher<(Namespace, UpsertContextQuery), Result<UpsertContext, RepositoryError>>,
    /// A user to write and the report to keep with it, if any; `true` when
    /// the report was kept.
    saves: Batcher<(Namespace, User, Option<Report>), Result<bool, RepositoryError>>,
}

/// Batches at most this many calls.
const MAX_BATCH: usize = 256;

/// Batches under way at once, per batcher: 2, and up to 2 more for 16 calls
/// waiting or more. Measured on PostgreSQL at 64 connections, runs of 10 s
/// on a fresh database: 4 pairs run in turn, with and without the 2 extra
/// slots, averaged 8,600 and 7,560 upserts/s (the CPU left idle fell from
/// 22% to 11%). Single runs the same day, noisier: 3 or 4 steady slots
/// 6,940 – 8,160 (smaller batches, more CPU a user); 2 extra slots from 8
/// waiting 7,720, from 24 waiting 9,590; 3 extra 8,750, 4 extra 8,200.
const SLOTS: Slots = Slots { steady: 2, extra: 2, extra_at: 16 };

/// The same `Unavailable`, for another caller.
fn unavailable<T>(response: &Result<T, RepositoryError>) -> Option<Result<T, RepositoryError>> {
    match response {
        Err(e @ RepositoryError::Unavailable(_)) => Some(Err(e.shared())),
        _ => None,
    }
}

fn gone() -> RepositoryError {
    RepositoryError::Internal("the batch of this call failed (see the log)".into())
}

impl Coalesced {
    pub(crate) fn start(repository: Arc<dyn UserRepository>, clock: Arc<dyn Clock>) -> Self {
        let repo = repository.clone();
        let contexts = Batcher::new("upsert contexts", SLOTS, MAX_BATCH, move |calls| read(repo.clone(), calls))
            .failing_fast(unavailable);
        let saves = Batcher::new("upsert saves", SLOTS, MAX_BATCH, move |calls| {
            write(repository.clone(), clock.clone(), calls)
        })
        .failing_fast(unavailable);
        Coalesced { contexts, saves }
    }

    pub(crate) async fn upsert_context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError> {
        self.contexts.call((namespace.clone(), query.clone())).await.unwrap_or_else(|| Err(gone()))
    }

    /// Writes `user` and, where the repository can, keeps `report` in the
    /// same transaction: `Ok(true)` when it did.
    pub(crate) async fn save(
        &self,
        namespace: &Namespace,
        user: &User,
        report: Option<Report>,
    ) -> Result<bool, RepositoryError> {
        self.saves.call((namespace.clone(), user.clone(), report)).await.unwrap_or_else(|| Err(gone()))
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
/// namespace written together: with their reports
/// (`save_each_reporting`) when every one of them has one and the
/// repository keeps them along, else with one `save_each` (a lone one
/// with `save`).
async fn write(
    repository: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    calls: Vec<(Namespace, User, Option<Report>)>,
) -> Vec<Result<bool, RepositoryError>> {
    let mut answers: Vec<Option<Result<bool, RepositoryError>>> = calls.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..calls.len()).collect();
    while !pending.is_empty() {
        let mut seen: HashSet<(&Namespace, &UserId)> = HashSet::new();
        let (round, later): (Vec<usize>, Vec<usize>) =
            pending.iter().partition(|&&i| seen.insert((&calls[i].0, &calls[i].1.user_id)));
        let round_calls: Vec<(Namespace, ())> = round.iter().map(|&i| (calls[i].0.clone(), ())).collect();
        for (namespace, members) in by_namespace(&round_calls) {
            let positions: Vec<usize> = members.iter().map(|&m| round[m]).collect();
            let users: Vec<User> = positions.iter().map(|&i| calls[i].1.clone()).collect();
            let reports: Option<Vec<Report>> = positions.iter().map(|&i| calls[i].2.clone()).collect();
            let reported = match &reports {
                Some(reports) => repository.save_each_reporting(namespace, &users, reports, clock.now()).await,
                None => None,
            };
            let results: Vec<Result<bool, RepositoryError>> = match reported {
                Some(results) => results.into_iter().map(|r| r.map(|()| true)).collect(),
                None if users.len() == 1 => {
                    vec![repository.save(namespace, &users[0], clock.now()).await.map(|()| false)]
                }
                None => repository
                    .save_each(namespace, &users, clock.now())
                    .await
                    .into_iter()
                    .map(|r| r.map(|()| false))
                    .collect(),
            };
            for (i, result) in positions.into_iter().zip(results) {
                answers[i] = Some(result);
            }
        }
        pending = later;
    }
    answers.into_iter().map(|a| a.unwrap_or_else(|| Err(gone()))).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::{BatchContext, FixedClock};

    /// Records the saves; `upsert_context` and `batch_context` are not used.
    #[derive(Default)]
    struct Recorder {
        saves: Mutex<Vec<Vec<(String, String)>>>,
        /// Whether it keeps reports with its writes; the ids of those kept.
        reporting: bool,
        reported: Mutex<Vec<Vec<String>>>,
    }

    #[async_trait]
    impl UserRepository for Recorder {
        async fn find(&self, _: &Namespace, _: &UserId) -> Result<Option<User>, RepositoryError> {
            Ok(None)
        }
        async fn upsert_context(
            &self,
            _: &Namespace,
            _: &UpsertContextQuery,
        ) -> Result<UpsertContext, RepositoryError> {
            Ok(UpsertContext::default())
        }
        async fn batch_context(&self, _: &Namespace, _: &BatchContextQuery) -> Result<BatchContext, RepositoryError> {
            Ok(BatchContext::default())
        }
        async fn save(&self, namespace: &Namespace, user: &User, at: DateTime<Utc>) -> Result<(), RepositoryError> {
            self.save_each(namespace, std::slice::from_ref(user), at).await.remove(0)
        }
        async fn save_each(
            &self,
            namespace: &Namespace,
            users: &[User],
            _: DateTime<Utc>,
        ) -> Vec<Result<(), RepositoryError>> {
            let call = users.iter().map(|u| (namespace.to_string(), u.profile.job_title.to_string())).collect();
            self.saves.lock().unwrap().push(call);
            users
                .iter()
                .map(|u| if u.profile.job_title.as_str() == "Loser" { Err(RepositoryError::Conflict) } else { Ok(()) })
                .collect()
        }
        async fn save_each_reporting(
            &self,
            namespace: &Namespace,
            users: &[User],
            reports: &[Report],
            at: DateTime<Utc>,
        ) -> Option<Vec<Result<(), RepositoryError>>> {
            if !self.reporting {
                return None;
            }
            let results = self.save_each(namespace, users, at).await;
            let kept = reports.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(k, _)| k.report_id.clone());
            self.reported.lock().unwrap().push(kept.collect());
            Some(results)
        }
        async fn ping(&self) -> Result<(), RepositoryError> {
            Ok(())
        }
    }

    fn report(id: &str) -> Report {
        let head = crate::report::RequestHead {
            kind: crate::ReportKind::Single,
            namespace: "acme",
            commit: None,
            force_commit: None,
            default_commit: true,
        };
        Report::open(head, id.to_owned(), Utc::now()).0
    }

    #[tokio::test]
    async fn reports_go_with_their_users_when_each_has_one_and_the_repository_keeps_them() {
        let clock = Arc::new(FixedClock(chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 4, 10, 0, 0).unwrap()));
        let acme = Namespace::parse("acme").unwrap();
        let repo = Arc::new(Recorder { reporting: true, ..Recorder::default() });
        let calls = vec![
            (acme.clone(), user("a", "First"), Some(report("r-a"))),
            (acme.clone(), user("b", "Loser"), Some(report("r-b"))),
        ];
        let results = write(repo.clone(), clock.clone(), calls).await;
        assert!(matches!(results[..], [Ok(true), Err(RepositoryError::Conflict)]), "{results:?}");
        assert_eq!(*repo.reported.lock().unwrap(), vec![vec!["r-a".to_owned()]]);

        // One call of the round without a report: the round is written
        // without reports, and the caller keeps its own.
        let calls = vec![(acme.clone(), user("c", "X"), None), (acme.clone(), user("d", "Y"), Some(report("r-d")))];
        let results = write(repo.clone(), clock.clone(), calls).await;
        assert!(matches!(results[..], [Ok(false), Ok(false)]), "{results:?}");
        assert_eq!(repo.reported.lock().unwrap().len(), 1);
        assert_eq!(repo.saves.lock().unwrap().len(), 2, "written all the same");

        // A repository that does not keep reports along.
        let plain = Arc::new(Recorder::default());
        let results = write(plain.clone(), clock, vec![(acme.clone(), user("e", "Z"), Some(report("r-e")))]).await;
        assert!(matches!(results[..], [Ok(false)]), "{results:?}");
        assert_eq!(plain.saves.lock().unwrap().len(), 1);
    }

    /// A valid user whose job title tells the calls apart.
    fn user(id: &str, job: &str) -> User {
        crate::contract::sample_user(id, None, &[id], &[("jobTitle", job)])
    }

    #[tokio::test]
    async fn a_batch_writes_in_rounds_by_namespace_and_answers_each_call() {
        let repo = Arc::new(Recorder::default());
        let clock = Arc::new(FixedClock(chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 4, 10, 0, 0).unwrap()));
        let (acme, globex) = (Namespace::parse("acme").unwrap(), Namespace::parse("globex").unwrap());
        let calls = vec![
            (acme.clone(), user("a", "First"), None),
            (globex.clone(), user("a", "Other"), None),
            (acme.clone(), user("b", "Loser"), None),
            (acme.clone(), user("a", "Second"), None),
            (acme.clone(), user("c", "Third"), None),
            (acme.clone(), user("a", "Last"), None),
        ];
        let results = write(repo.clone(), clock, calls).await;
        let outcome: Vec<&str> = results.iter().map(|r| if r.is_ok() { "ok" } else { "conflict" }).collect();
        assert_eq!(outcome, ["ok", "ok", "conflict", "ok", "ok", "ok"]);
        let saves = repo.saves.lock().unwrap().clone();
        let job = |ns: &str, job: &str| (ns.to_owned(), job.to_owned());
        assert_eq!(
            saves,
            vec![
                // round one: each user's first call, by namespace
                vec![job("acme", "First"), job("acme", "Loser"), job("acme", "Third")],
                vec![job("globex", "Other")],
                // then a's later calls, in order
                vec![job("acme", "Second")],
                vec![job("acme", "Last")],
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_a_batch_finds_the_store_down_the_calls_that_waited_meanwhile_are_answered_at_once() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let batcher = {
            let (batches, gate) = (batches.clone(), gate.clone());
            Batcher::new("test", Slots::fixed(1), 10, move |batch: Vec<u32>| {
                let (batches, gate) = (batches.clone(), gate.clone());
                async move {
                    batches.lock().unwrap().push(batch.clone());
                    gate.acquire().await.expect("gate").forget();
                    batch
                        .iter()
                        .map(|&n| if n == 1 { Err(RepositoryError::Unavailable("down".into())) } else { Ok(n) })
                        .collect::<Vec<Result<u32, RepositoryError>>>()
                }
            })
            .failing_fast(unavailable)
        };
        let first = tokio::spawn({
            let b = batcher.clone();
            async move { b.call(1).await }
        });
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let waiting: Vec<_> = (2..=4)
            .map(|n| {
                let b = batcher.clone();
                tokio::spawn(async move { b.call(n).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gate.add_permits(1);
        assert!(matches!(first.await.unwrap(), Some(Err(RepositoryError::Unavailable(_)))));
        for w in waiting {
            assert!(matches!(w.await.unwrap(), Some(Err(RepositoryError::Unavailable(_)))));
        }
        assert_eq!(batches.lock().unwrap().len(), 1, "the waiting calls ran no batch of their own");
        // and the next call runs as usual
        gate.add_permits(1);
        assert_eq!(batcher.call(7).await.map(|r| r.ok()), Some(Some(7)));
    }

    #[test]
    fn a_batch_dropped_with_its_runtime_gives_its_slot_back() {
        let batcher = Batcher::new("test", Slots::fixed(1), 10, |batch: Vec<u32>| async move {
            if batch.contains(&1) {
                std::future::pending::<()>().await;
            }
            batch
        });
        let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let first = runtime();
        first.block_on(async {
            for n in [1, 2] {
                // 1 hangs in its batch; 2 waits for the next
                let b = batcher.clone();
                tokio::spawn(async move { b.call(n).await });
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        // the runtime of the hung batch stops: its tasks are dropped
        drop(first);
        runtime().block_on(async {
            let answer = tokio::time::timeout(std::time::Duration::from_secs(5), batcher.call(3)).await;
            assert_eq!(answer.expect("the slot is free again"), Some(3));
        });
    }

    /// The batches run, in order.
    type Sizes = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A batcher answering `n` with `n * 10`, each batch recorded in the
    /// sizes and then held until the semaphore gives it a permit.
    fn gated(slots: Slots, max: usize) -> (Batcher<u32, u32>, Sizes, Arc<tokio::sync::Semaphore>) {
        let sizes: Sizes = Arc::default();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let batcher = {
            let (sizes, gate) = (sizes.clone(), gate.clone());
            Batcher::new("test", slots, max, move |batch: Vec<u32>| {
                let (sizes, gate) = (sizes.clone(), gate.clone());
                async move {
                    sizes.lock().unwrap().push(batch.clone());
                    gate.acquire().await.expect("gate").forget();
                    batch.iter().map(|n| n * 10).collect::<Vec<u32>>()
                }
            })
        };
        (batcher, sizes, gate)
    }

    #[tokio::test]
    async fn enough_calls_waiting_start_an_extra_batch_at_once() {
        let (batcher, sizes, gate) = gated(Slots { steady: 1, extra: 1, extra_at: 3 }, 10);
        let waiting = |b: &Batcher<u32, u32>| b.shared.state.lock().unwrap().waiting.len();
        let mut calls = Vec::new();
        for n in 1..=5 {
            let b = batcher.clone();
            calls.push(tokio::spawn(async move { b.call(n).await }));
            // each call in its place before the next
            while sizes.lock().unwrap().iter().map(Vec::len).sum::<usize>() + waiting(&batcher) < n as usize {
                tokio::task::yield_now().await;
            }
            let running: Vec<usize> = sizes.lock().unwrap().iter().map(Vec::len).collect();
            match n {
                // the steady slot
                1 => assert_eq!(running, [1]),
                // waiting: fewer than 3
                2 | 3 => assert_eq!((running.clone(), waiting(&batcher)), (vec![1], n as usize - 1)),
                // 3 waiting: an extra batch of them, at once
                4 => assert_eq!((running.clone(), waiting(&batcher)), (vec![1, 3], 0)),
                // every slot taken: it waits
                _ => assert_eq!((running.clone(), waiting(&batcher)), (vec![1, 3], 1)),
            }
        }
        gate.add_permits(3);
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap().expect("answered"));
        }
        assert_eq!(answers, [10, 20, 30, 40, 50]);
        assert_eq!(sizes.lock().unwrap().iter().map(Vec::len).collect::<Vec<_>>(), [1, 3, 1]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_finding_a_slot_free_runs_at_once_and_later_ones_wait_for_the_next_batch() {
        let (batcher, sizes, gate) = gated(Slots::fixed(1), 3);
        let first = tokio::spawn({
            let b = batcher.clone();
            async move { b.call(1).await }
        });
        while sizes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let mut later = Vec::new();
        for n in 2..=6 {
            let b = batcher.clone();
            later.push(tokio::spawn(async move { b.call(n).await }));
        }
        // they are waiting, not running
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(sizes.lock().unwrap().len(), 1);
        gate.add_permits(3);
        assert_eq!(first.await.unwrap(), Some(10));
        let mut answers = Vec::new();
        for t in later {
            answers.push(t.await.unwrap().expect("answered"));
        }
        assert_eq!(answers, [20, 30, 40, 50, 60], "each call gets its own answer");
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().map(Vec::len).collect::<Vec<_>>(), [1, 3, 2], "at most 3 a batch: {sizes:?}");
    }
}
