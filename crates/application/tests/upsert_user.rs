//! `UpsertUser` over the real in-memory repository and a fixed clock.

use std::sync::Arc;

use roster_application::{
    Action, Body, FixedClock, IdGenerator, ReportStatus, UpsertRequest, UpsertUser, UserRepository,
};
use roster_domain::{IssueCode, Namespace, RawValue};

use chrono::{TimeZone, Utc};
use roster_store_memory::InMemoryUserRepository;
use std::sync::atomic::{AtomicU64, Ordering};

struct Seq(AtomicU64);
impl IdGenerator for Seq {
    fn new_id(&self) -> String {
        format!("r{}", self.0.fetch_add(1, Ordering::Relaxed))
    }
}

fn use_case() -> (UpsertUser, Arc<InMemoryUserRepository>) {
    let repo = Arc::new(InMemoryUserRepository::default());
    let clock = Arc::new(FixedClock(Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap()));
    (UpsertUser::new(repo.clone(), clock, Arc::new(Seq(AtomicU64::new(1)))), repo)
}

fn user(id: &str, extra: &[(&str, &str)]) -> RawValue {
    let s = |v: &str| RawValue::String(v.into());
    let mut f: Vec<(String, RawValue)> = vec![
        ("userId".into(), s(id)),
        ("firstName".into(), s("Ann")),
        ("lastName".into(), s("Lee")),
        ("jobTitle".into(), s("Agent")),
        ("status".into(), s("Active")),
        ("organization".into(), s("Acme")),
        ("contactCenter".into(), s("North")),
        ("site".into(), s("Oslo")),
        ("roles".into(), RawValue::Array(vec![s("Agent")])),
        (
            "telephonyConfigurations".into(),
            RawValue::Array(vec![RawValue::Object(vec![
                ("platform".into(), s("Genesys")),
                ("agentId".into(), s(&format!("agent-{id}"))),
            ])]),
        ),
    ];
    for (k, v) in extra {
        f.retain(|(key, _)| key != k);
        f.push(((*k).into(), s(v)));
    }
    RawValue::Object(f)
}

fn request(body: RawValue, commit: Option<&str>) -> UpsertRequest {
    UpsertRequest {
        namespace: "acme".into(),
        commit: commit.map(str::to_owned),
        force_commit: None,
        body: Body::Document(body),
    }
}

#[tokio::test]
async fn dry_run_then_commit_then_unchanged() {
    let (uc, repo) = use_case();
    let ns = Namespace::parse("acme").unwrap();
    let id = roster_domain::UserId::parse("u1").unwrap();

    let r = uc.execute(request(user("u1", &[]), Some("false"))).await.unwrap();
    assert_eq!((r.status, r.users[0].action, r.users[0].persisted), (ReportStatus::Completed, Action::Create, false));
    assert!(repo.find(&ns, &id).await.unwrap().is_none());

    let r = uc.execute(request(user("u1", &[]), None)).await.unwrap();
    assert_eq!((r.users[0].action, r.users[0].persisted, r.summary.persisted), (Action::Create, true, 1));
    assert!(repo.find(&ns, &id).await.unwrap().is_some());

    let r = uc.execute(request(user("u1", &[]), None)).await.unwrap();
    assert_eq!((r.users[0].action, r.users[0].persisted), (Action::Unchanged, false));

    let mut forced = request(user("u1", &[]), None);
    forced.force_commit = Some("true".into());
    let r = uc.execute(forced).await.unwrap();
    assert_eq!((r.users[0].action, r.users[0].persisted), (Action::Unchanged, true));
}

#[tokio::test]
async fn request_level_errors_stop_everything() {
    let (uc, _) = use_case();
    let mut req = request(user("u1", &[]), Some("yes"));
    req.namespace = "bad ns".into();
    let r = uc.execute(req).await.unwrap();
    assert_eq!(r.status, ReportStatus::Failed);
    let fields: Vec<_> = r.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["namespace", "commit"]);
    assert!(r.users.is_empty());
    assert_eq!(r.summary.received, 0);
}

#[tokio::test]
async fn conflicts_are_reported_and_nothing_is_written() {
    let (uc, repo) = use_case();
    uc.execute(request(user("u1", &[("email", "ann@example.com")]), None)).await.unwrap();
    let r = uc.execute(request(user("u2", &[("email", "ANN@example.com")]), None)).await.unwrap();
    assert_eq!(r.status, ReportStatus::Failed);
    assert_eq!(r.users[0].errors[0].code, IssueCode::Conflict);
    assert!(r.users[0].errors[0].message.contains("'u1'"));
    let ns = Namespace::parse("acme").unwrap();
    assert!(repo.find(&ns, &roster_domain::UserId::parse("u2").unwrap()).await.unwrap().is_none());
}
