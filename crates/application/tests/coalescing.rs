//! `UpsertUser::coalescing`: concurrent upserts share their reads and
//! writes, and each still gets the report it would have got alone. Over the
//! real in-memory repository, slowed down so that calls pile up while a
//! batch is under way, and counted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use roster_application::{
    Action, BatchContext, BatchContextQuery, Body, FixedClock, IdGenerator, RepositoryError, UpsertContext,
    UpsertContextQuery, UpsertRequest, UpsertUser, UserRepository,
};
use roster_domain::{IssueCode, Namespace, RawValue, User, UserId};
use roster_store_memory::InMemoryUserRepository;

struct Seq(AtomicU64);
impl IdGenerator for Seq {
    fn new_id(&self) -> String {
        format!("r{}", self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// The memory repository, each call 20 ms slower, with the sizes of the
/// batches it was asked for.
#[derive(Default)]
struct Slow {
    inner: InMemoryUserRepository,
    single_reads: AtomicUsize,
    batch_reads: Mutex<Vec<usize>>,
    single_saves: AtomicUsize,
    batch_saves: Mutex<Vec<usize>>,
}

const DELAY: Duration = Duration::from_millis(20);

#[async_trait]
impl UserRepository for Slow {
    async fn find(&self, namespace: &Namespace, user_id: &UserId) -> Result<Option<User>, RepositoryError> {
        self.inner.find(namespace, user_id).await
    }
    async fn upsert_context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError> {
        self.single_reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(DELAY).await;
        self.inner.upsert_context(namespace, query).await
    }
    async fn batch_context(
        &self,
        namespace: &Namespace,
        query: &BatchContextQuery,
    ) -> Result<BatchContext, RepositoryError> {
        self.batch_reads.lock().unwrap().push(query.user_ids.len());
        tokio::time::sleep(DELAY).await;
        self.inner.batch_context(namespace, query).await
    }
    async fn save(&self, namespace: &Namespace, user: &User, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        self.single_saves.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(DELAY).await;
        self.inner.save(namespace, user, at).await
    }
    async fn save_each(
        &self,
        namespace: &Namespace,
        users: &[User],
        at: DateTime<Utc>,
    ) -> Vec<Result<(), RepositoryError>> {
        self.batch_saves.lock().unwrap().push(users.len());
        tokio::time::sleep(DELAY).await;
        let mut results = Vec::new();
        for user in users {
            results.push(self.inner.save(namespace, user, at).await);
        }
        results
    }
    async fn ping(&self) -> Result<(), RepositoryError> {
        Ok(())
    }
}

fn use_case() -> (Arc<UpsertUser>, Arc<Slow>) {
    let repo = Arc::new(Slow::default());
    let clock = Arc::new(FixedClock(Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap()));
    let uc = UpsertUser::new(repo.clone(), clock, Arc::new(Seq(AtomicU64::new(1)))).coalescing();
    (Arc::new(uc), repo)
}

fn user(namespace: &str, id: &str, email: &str, job: &str) -> UpsertRequest {
    let s = |v: &str| RawValue::String(v.into());
    let body = RawValue::Object(vec![
        ("userId".into(), s(id)),
        ("firstName".into(), s("Ann")),
        ("lastName".into(), s("Lee")),
        ("jobTitle".into(), s(job)),
        ("status".into(), s("Active")),
        ("organization".into(), s("Acme")),
        ("contactCenter".into(), s("North")),
        ("site".into(), s("Oslo")),
        ("email".into(), s(email)),
        ("roles".into(), RawValue::Array(vec![s("Agent")])),
        (
            "telephonyConfigurations".into(),
            RawValue::Array(vec![RawValue::Object(vec![
                ("platform".into(), s("Genesys")),
                ("agentId".into(), s(&format!("agent-{id}"))),
            ])]),
        ),
    ]);
    let mut body = body;
    if id != "boss"
        && let RawValue::Object(fields) = &mut body
    {
        fields.push(("supervisorId".into(), s("boss")));
    }
    UpsertRequest { namespace: namespace.into(), commit: None, force_commit: None, body: Body::Document(body) }
}

/// Runs the requests at once; their reports in order.
async fn all_at_once(uc: &Arc<UpsertUser>, requests: Vec<UpsertRequest>) -> Vec<roster_application::Report> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| {
            let uc = uc.clone();
            tokio::spawn(async move { uc.execute(r).await.expect("no store failure") })
        })
        .collect();
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(t.await.expect("task"));
    }
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upserts_are_read_and_written_in_batches_each_with_its_own_report() {
    let (uc, repo) = use_case();
    // the supervisor first, alone: a lone call takes the single path
    let boss = all_at_once(&uc, vec![user("acme", "boss", "boss@example.com", "Boss")]).await;
    assert!(boss[0].users[0].persisted, "{:?}", boss[0]);
    assert_eq!((repo.single_reads.load(Ordering::SeqCst), repo.single_saves.load(Ordering::SeqCst)), (1, 1));

    let requests: Vec<_> = (0..40)
        .map(|i| {
            user(if i % 4 == 0 { "globex" } else { "acme" }, &format!("u-{i}"), &format!("u{i}@example.com"), "Agent")
        })
        .collect();
    let reports = all_at_once(&uc, requests).await;
    for (i, r) in reports.iter().enumerate() {
        let outcome = &r.users[0];
        assert_eq!(outcome.user_id.as_deref(), Some(format!("u-{i}").as_str()));
        assert_eq!((outcome.action, outcome.persisted), (Action::Create, true), "{i}: {outcome:?}");
        assert!(outcome.errors.is_empty(), "{i}: {:?}", outcome.errors);
        // the supervisor is known in acme, not in globex
        let unknown_boss = outcome.warnings.iter().any(|w| w.field == "supervisorId");
        assert_eq!(unknown_boss, i % 4 == 0, "{i}: {:?}", outcome.warnings);
        let ns = Namespace::parse(if i % 4 == 0 { "globex" } else { "acme" }).unwrap();
        let stored = repo.inner.find(&ns, &UserId::parse(&format!("u-{i}")).unwrap()).await.unwrap();
        assert!(stored.is_some(), "u-{i} is stored in {ns}");
    }
    let reads = repo.batch_reads.lock().unwrap().clone();
    let saves = repo.batch_saves.lock().unwrap().clone();
    assert!(reads.iter().any(|&n| n > 1), "contexts were read together: {reads:?}");
    assert!(saves.iter().any(|&n| n > 1), "users were saved together: {saves:?}");
    let calls = reads.len() + repo.single_reads.load(Ordering::SeqCst) - 1;
    assert!(calls < 20, "40 upserts took {calls} context reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_saves_one_user_twice_in_order_and_races_for_an_email_have_one_winner() {
    let (uc, repo) = use_case();
    // keep the workers busy so that the next calls arrive together
    let warm = uc.clone();
    let first = tokio::spawn(async move { warm.execute(user("acme", "w-0", "w0@example.com", "Agent")).await });
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut requests =
        vec![user("acme", "twice", "t1@example.com", "First"), user("acme", "twice", "t2@example.com", "Second")];
    for i in 0..6 {
        requests.push(user("acme", &format!("racer-{i}"), "prize@example.com", "Agent"));
    }
    let reports = all_at_once(&uc, requests).await;
    first.await.unwrap().unwrap();
    // both saves of one user succeed; one of them is stored, whole
    assert!(reports[0].users[0].persisted && reports[1].users[0].persisted);
    let stored = repo.inner.find(&Namespace::parse("acme").unwrap(), &UserId::parse("twice").unwrap()).await.unwrap();
    let stored = stored.expect("stored");
    let version = |job: &str, email: &str| {
        (job, email) == (stored.profile.job_title.as_str(), stored.profile.email.as_ref().unwrap().as_str())
    };
    assert!(version("First", "t1@example.com") || version("Second", "t2@example.com"), "{stored:?}");
    // one racer wins the email; the others get a conflict and are not stored
    let racers = &reports[2..];
    assert_eq!(racers.iter().filter(|r| r.users[0].persisted).count(), 1, "{racers:?}");
    for r in racers.iter().filter(|r| !r.users[0].persisted) {
        let codes: Vec<_> = r.users[0].errors.iter().map(|e| e.code).collect();
        assert!(codes.contains(&IssueCode::Conflict), "{codes:?}");
    }
    assert!(repo.batch_saves.lock().unwrap().iter().any(|&n| n > 1), "{:?}", repo.batch_saves.lock().unwrap());
}
