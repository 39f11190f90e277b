//! The report store contract suite: the behaviour every [`ReportStore`]
//! must have (see the port's doc comment), written once and run against
//! each adapter with
//! [`report_store_contract_tests!`](crate::report_store_contract_tests).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use roster_domain::{Issue, IssueCode, Namespace, RawValue, UserId};

use crate::contract::sample_user;
use crate::{
    Action, ChunkResult, ImportHeader, ImportStoreError, InputItem, Report, ReportKind, ReportStatus, ReportStore,
    RepositoryError, Summary, UserOutcome, UserRepository,
};

/// A fresh, empty store; dropping it cleans up.
pub trait ReportStoreFixture: Send {
    fn report_store(&self) -> Arc<dyn ReportStore>;
    /// The same store's users.
    fn users(&self) -> Arc<dyn UserRepository>;
}

/// Generates one `#[tokio::test]` per contract case. `$fixture` is an
/// expression evaluating to a future of a [`ReportStoreFixture`].
#[macro_export]
macro_rules! report_store_contract_tests {
    ($fixture:expr) => {
        $crate::report_store_contract_tests!(@cases $fixture;
            one_active_import_per_namespace,
            input_comes_back_as_appended,
            a_chunk_commits_whole_or_not_at_all,
            a_chunk_commits_once_and_only_for_its_owner,
            stale_imports_are_taken_over_and_unfinished_uploads_dropped,
            reports_are_kept_per_namespace,
            reports_go_with_the_writes_of_their_users
        );
    };
    (@cases $fixture:expr; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                use $crate::contract::reports::ReportStoreFixture as _;
                $crate::contract::reports::$case(fixture.report_store(), fixture.users()).await;
                drop(fixture);
            }
        )+
    };
}

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).expect("namespace")
}

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("time") + Duration::seconds(seconds)
}

fn header(id: &str, namespace: &str) -> ImportHeader {
    ImportHeader {
        report_id: id.to_owned(),
        namespace: ns(namespace),
        commit: true,
        force_commit: false,
        created_at: t(0),
    }
}

fn item(n: usize) -> InputItem {
    InputItem::User(RawValue::Object(vec![
        ("userId".into(), RawValue::String(format!("u{n}"))),
        ("n".into(), RawValue::Number(n.to_string())),
    ]))
}

fn outcome(index: u64, user_id: &str, action: Action) -> UserOutcome {
    UserOutcome {
        index,
        user_id: Some(user_id.to_owned()),
        action,
        persisted: action == Action::Create,
        changed_fields: if action == Action::Update { vec!["jobTitle", "roles"] } else { Vec::new() },
        errors: if action == Action::None {
            vec![Issue::new("status", IssueCode::InvalidValue, "no").with_value(RawValue::from("x"))]
        } else {
            Vec::new()
        },
        warnings: vec![Issue::new("emial", IssueCode::UnknownField, "typo")],
    }
}

fn summary_of(outcomes: &[UserOutcome]) -> Summary {
    let mut s = Summary::default();
    for o in outcomes {
        s.count(o);
    }
    s
}

/// An accepted import of `chunks` chunks of 2 items, owned by `owner`.
async fn accepted(store: &dyn ReportStore, id: &str, namespace: &str, owner: &str, chunks: u32) {
    store.begin_import(&header(id, namespace), owner).await.expect("begin");
    for c in 0..chunks {
        let items = [item(2 * c as usize), item(2 * c as usize + 1)];
        store.append_input(id, c, &items, owner, t(1)).await.expect("append");
    }
    store.accept_import(id, u64::from(chunks) * 2, chunks, owner, t(1)).await.expect("accept");
}

pub async fn one_active_import_per_namespace(store: Arc<dyn ReportStore>, _users: Arc<dyn UserRepository>) {
    accepted(&*store, "r1", "acme", "p1", 1).await;
    match store.begin_import(&header("r2", "acme"), "p2").await {
        Err(ImportStoreError::Busy { report_id }) => assert_eq!(report_id, "r1"),
        other => panic!("a second import of the namespace is Busy, got {other:?}"),
    }
    store.begin_import(&header("r3", "globex"), "p2").await.expect("another namespace is free");
    let outcomes = [outcome(0, "u0", Action::Create), outcome(1, "u1", Action::Create)];
    let result = ChunkResult { chunk: 0, users: &[], outcomes: &outcomes, summary: summary_of(&outcomes) };
    store.commit_chunk(&ns("acme"), "r1", "p1", result, t(2)).await.expect("commit");
    store.finish_import("r1", "p1", ReportStatus::Completed, t(3)).await.expect("finish");
    store.begin_import(&header("r2", "acme"), "p2").await.expect("the namespace is free once r1 is finished");
}

pub async fn input_comes_back_as_appended(store: Arc<dyn ReportStore>, _users: Arc<dyn UserRepository>) {
    accepted(&*store, "r1", "acme", "p1", 3).await;
    for c in 0..3u32 {
        let items = store.input_chunk("r1", c).await.expect("chunk");
        assert_eq!(items, vec![item(2 * c as usize), item(2 * c as usize + 1)]);
    }
    let unreadable = InputItem::Unreadable(Issue::new("", IssueCode::MalformedJson, "not JSON"));
    store.begin_import(&header("r2", "globex"), "p1").await.expect("begin");
    store.append_input("r2", 0, std::slice::from_ref(&unreadable), "p1", t(1)).await.expect("append");
    assert_eq!(store.input_chunk("r2", 0).await.expect("chunk"), vec![unreadable]);
    assert_eq!(store.report(&ns("globex"), "r2", true).await.expect("report"), None, "still receiving: no report");
    let report = store.report(&ns("acme"), "r1", true).await.expect("report").expect("accepted: a report");
    assert_eq!((report.status, report.kind, report.summary.received), (ReportStatus::InProgress, ReportKind::Bulk, 6));
    assert_eq!((report.commit, report.force_commit, report.created_at), (true, false, t(0)));
}

pub async fn a_chunk_commits_whole_or_not_at_all(store: Arc<dyn ReportStore>, users: Arc<dyn UserRepository>) {
    let acme = ns("acme");
    let holder = sample_user("holder", Some("taken@example.com"), &["1"], &[]);
    users.save(&acme, &holder, t(0)).await.expect("save the holder");
    accepted(&*store, "r1", "acme", "p1", 2).await;
    let fine = sample_user("u0", Some("u0@example.com"), &["10", "11"], &[]);
    let clash = sample_user("u1", Some("TAKEN@example.com"), &["12"], &[]);
    let outcomes = [outcome(0, "u0", Action::Create), outcome(1, "u1", Action::Create)];
    let result =
        ChunkResult { chunk: 0, users: &[fine.clone(), clash], outcomes: &outcomes, summary: summary_of(&outcomes) };
    match store.commit_chunk(&acme, "r1", "p1", result, t(2)).await {
        Err(ImportStoreError::Store(RepositoryError::Conflict)) => {}
        other => panic!("a clash on a unique value is a Conflict, got {other:?}"),
    }
    assert_eq!(users.find(&acme, &UserId::parse("u0").expect("id")).await.expect("find"), None, "nothing written");
    let report = store.report(&acme, "r1", true).await.expect("report").expect("some");
    assert_eq!((report.summary.processed, report.users.len()), (0, 0), "no progress recorded");

    let fixed = sample_user("u1", Some("u1@example.com"), &["12"], &[]);
    let result = ChunkResult {
        chunk: 0,
        users: &[fine.clone(), fixed.clone()],
        outcomes: &outcomes,
        summary: summary_of(&outcomes),
    };
    store.commit_chunk(&acme, "r1", "p1", result, t(2)).await.expect("commit");
    assert_eq!(users.find(&acme, &fine.user_id).await.expect("find"), Some(fine));
    assert_eq!(users.find(&acme, &fixed.user_id).await.expect("find"), Some(fixed));
    let second = [outcome(2, "u2", Action::Update), outcome(3, "u3", Action::None)];
    let result = ChunkResult { chunk: 1, users: &[], outcomes: &second, summary: summary_of(&second) };
    store.commit_chunk(&acme, "r1", "p1", result, t(3)).await.expect("commit a dry chunk");
    let report = store.report(&acme, "r1", true).await.expect("report").expect("some");
    assert_eq!(report.users, [outcomes.to_vec(), second.to_vec()].concat(), "outcomes kept whole, in order");
    assert_eq!(
        report.summary,
        Summary { received: 4, processed: 4, valid: 3, invalid: 1, created: 2, updated: 1, unchanged: 0, persisted: 2 }
    );
    assert_eq!(report.status, ReportStatus::InProgress);
    store.finish_import("r1", "p1", ReportStatus::Failed, t(4)).await.expect("finish");
    let report = store.report(&acme, "r1", false).await.expect("report").expect("some");
    assert_eq!((report.status, report.completed_at, report.users.len()), (ReportStatus::Failed, Some(t(4)), 0));
    assert_eq!(store.input_chunk("r1", 0).await.expect("chunk"), Vec::new(), "the input is dropped at the end");
}

pub async fn a_chunk_commits_once_and_only_for_its_owner(store: Arc<dyn ReportStore>, _users: Arc<dyn UserRepository>) {
    let acme = ns("acme");
    accepted(&*store, "r1", "acme", "p1", 2).await;
    let outcomes = [outcome(0, "u0", Action::Create)];
    let result = ChunkResult { chunk: 0, users: &[], outcomes: &outcomes, summary: summary_of(&outcomes) };
    assert!(matches!(store.commit_chunk(&acme, "r1", "p2", result, t(2)).await, Err(ImportStoreError::Lost)));
    assert!(matches!(store.heartbeat("r1", "p2", t(2)).await, Err(ImportStoreError::Lost)));
    assert!(matches!(
        store.finish_import("r1", "p2", ReportStatus::Completed, t(2)).await,
        Err(ImportStoreError::Lost)
    ));
    store.commit_chunk(&acme, "r1", "p1", result, t(2)).await.expect("the owner commits");
    assert!(
        matches!(store.commit_chunk(&acme, "r1", "p1", result, t(2)).await, Err(ImportStoreError::Lost)),
        "chunk 0 again"
    );
    store.heartbeat("r1", "p1", t(3)).await.expect("the owner's heartbeat");
    let report = store.report(&acme, "r1", true).await.expect("report").expect("some");
    assert_eq!((report.summary.processed, report.users.len()), (1, 1));
}

pub async fn stale_imports_are_taken_over_and_unfinished_uploads_dropped(
    store: Arc<dyn ReportStore>,
    _users: Arc<dyn UserRepository>,
) {
    let acme = ns("acme");
    accepted(&*store, "r1", "acme", "p1", 2).await;
    let outcomes = [outcome(0, "u0", Action::Create)];
    let result = ChunkResult { chunk: 0, users: &[], outcomes: &outcomes, summary: summary_of(&outcomes) };
    store.commit_chunk(&acme, "r1", "p1", result, t(5)).await.expect("commit");
    // An upload that never finished, in another namespace.
    store.begin_import(&header("r2", "globex"), "p1").await.expect("begin");
    store.append_input("r2", 0, &[item(0)], "p1", t(5)).await.expect("append");

    assert_eq!(store.claim_stale("p2", t(5), t(6)).await.expect("claim"), Vec::new(), "heartbeats at 5 are not stale");
    let jobs = store.claim_stale("p2", t(6), t(7)).await.expect("claim");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!((job.header.report_id.as_str(), job.received, job.chunks, job.next_chunk), ("r1", 4, 2, 1));
    assert_eq!((job.header.namespace.as_str(), job.header.commit, job.header.created_at), ("acme", true, t(0)));
    assert!(matches!(store.heartbeat("r1", "p1", t(7)).await, Err(ImportStoreError::Lost)), "p1 lost it");
    assert_eq!(store.claim_stale("p3", t(7), t(7)).await.expect("claim"), Vec::new(), "p2's claim is fresh");
    let result = ChunkResult { chunk: 1, users: &[], outcomes: &outcomes, summary: summary_of(&outcomes) };
    store.commit_chunk(&acme, "r1", "p2", result, t(8)).await.expect("p2 goes on from chunk 1");
    // The unfinished upload is gone, its namespace free.
    assert_eq!(store.input_chunk("r2", 0).await.expect("chunk"), Vec::new());
    store.begin_import(&header("r3", "globex"), "p2").await.expect("globex is free");
}

/// A completed single-user report of `user`, sent with `(commit, forceCommit)`.
fn single(id: &str, namespace: &str, user: UserOutcome, (commit, force_commit): (bool, bool)) -> Report {
    let users = vec![user];
    Report {
        report_id: id.to_owned(),
        namespace: namespace.to_owned(),
        kind: ReportKind::Single,
        status: ReportStatus::Completed,
        commit,
        force_commit,
        created_at: t(1),
        completed_at: Some(t(2)),
        summary: Summary { received: 1, ..summary_of(&users) },
        errors: Vec::new(),
        users,
    }
}

pub async fn reports_are_kept_per_namespace(store: Arc<dyn ReportStore>, _users: Arc<dyn UserRepository>) {
    let single = |id: &str, namespace: &str| single(id, namespace, outcome(0, "u0", Action::Update), (false, true));
    let reports = [single("s1", "acme"), single("s2", "acme"), single("s3", "globex")];
    store.keep_reports(&reports).await.expect("keep");
    assert_eq!(store.report(&ns("acme"), "s1", true).await.expect("report"), Some(reports[0].clone()));
    assert_eq!(store.report(&ns("globex"), "s3", true).await.expect("report"), Some(reports[2].clone()));
    assert_eq!(store.report(&ns("globex"), "s1", true).await.expect("report"), None, "another namespace's");
    assert_eq!(store.report(&ns("acme"), "nope", true).await.expect("report"), None);
    let bare = store.report(&ns("acme"), "s2", false).await.expect("report").expect("some");
    assert_eq!((bare.users.len(), bare.summary), (0, reports[1].summary));

    // A refused import: its failed report kept, its namespace freed.
    store.begin_import(&header("b1", "acme"), "p1").await.expect("begin");
    store.append_input("b1", 0, &[item(0)], "p1", t(1)).await.expect("append");
    let mut refused = Report {
        report_id: "b1".into(),
        namespace: "acme".into(),
        kind: ReportKind::Bulk,
        status: ReportStatus::Failed,
        commit: true,
        force_commit: false,
        created_at: t(0),
        completed_at: Some(t(1)),
        summary: Summary::default(),
        errors: vec![Issue::new("", IssueCode::MalformedJson, "not an array")],
        users: Vec::new(),
    };
    store.refuse_import(&refused).await.expect("refuse");
    assert_eq!(store.report(&ns("acme"), "b1", true).await.expect("report"), Some(refused.clone()));
    // A discarded one leaves nothing, and frees the namespace too.
    store.begin_import(&header("b2", "acme"), "p1").await.expect("acme is free after a refusal");
    store.discard_import("b2").await.expect("discard");
    assert_eq!(store.report(&ns("acme"), "b2", true).await.expect("report"), None);
    store.begin_import(&header("b3", "acme"), "p1").await.expect("acme is free after a discard");
    refused.report_id = "b3".into();
    store.refuse_import(&refused).await.expect("refuse");
}

/// `save_each_reporting`: a store that answers keeps each report if and
/// only if its user was written — also when a unique index refused the
/// writes together and they went one by one; a store that answers `None`
/// wrote nothing.
pub async fn reports_go_with_the_writes_of_their_users(store: Arc<dyn ReportStore>, users: Arc<dyn UserRepository>) {
    let acme = ns("acme");
    let single = |id: &str, user_id: &str| single(id, "acme", outcome(0, user_id, Action::Create), (true, false));
    let id = |s: &str| UserId::parse(s).expect("id");
    let (a, b) = (sample_user("a-1", Some("a@example.com"), &["g-a"], &[]), sample_user("b-1", None, &["g-b"], &[]));
    let reports = [single("r-a", "a-1"), single("r-b", "b-1")];
    let Some(results) = users.save_each_reporting(&acme, &[a.clone(), b.clone()], &reports, t(1)).await else {
        assert_eq!(users.find(&acme, &id("a-1")).await.expect("find"), None, "None, and nothing written");
        assert_eq!(store.report(&acme, "r-a", true).await.expect("report"), None);
        return;
    };
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(users.find(&acme, &id("a-1")).await.expect("find"), Some(a));
    assert_eq!(users.find(&acme, &id("b-1")).await.expect("find"), Some(b));
    for report in &reports {
        assert_eq!(store.report(&acme, &report.report_id, true).await.expect("report"), Some(report.clone()));
    }

    // c-1 wants the email a-1 holds: the writes together are refused, then
    // made one by one; only d-1 and its report are kept.
    let c = sample_user("c-1", Some("a@example.com"), &["g-c"], &[]);
    let d = sample_user("d-1", Some("d@example.com"), &["g-d"], &[]);
    let reports = [single("r-c", "c-1"), single("r-d", "d-1")];
    let results = users.save_each_reporting(&acme, &[c, d.clone()], &reports, t(3)).await.expect("answers again");
    assert!(matches!(results[0], Err(RepositoryError::Conflict)), "{results:?}");
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(users.find(&acme, &id("c-1")).await.expect("find"), None);
    assert_eq!(users.find(&acme, &id("d-1")).await.expect("find"), Some(d));
    assert_eq!(store.report(&acme, "r-c", true).await.expect("report"), None, "the loser's report is not kept");
    assert_eq!(store.report(&acme, "r-d", true).await.expect("report"), Some(reports[1].clone()));
}
