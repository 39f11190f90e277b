//! The repository contract suite: the behaviour every [`UserRepository`]
//! must have, written once and run against each adapter with
//! [`repository_contract_tests!`](crate::repository_contract_tests).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use roster_domain::{Namespace, RawValue, TelephonyIdentity, User, UserId, parse_user};

use crate::{RepositoryError, UpsertContext, UpsertContextQuery, UserRepository, plan_upsert};

/// The [`ClientStore`](crate::auth::ClientStore) contract suite.
#[path = "contract_clients.rs"]
pub mod clients;

/// The [`ReportStore`](crate::ReportStore) contract suite.
#[path = "contract_reports.rs"]
pub mod reports;

/// A fresh, empty store; dropping it cleans up (drops the test database).
pub trait Fixture: Send {
    fn repository(&self) -> Arc<dyn UserRepository>;
}

/// Generates one `#[tokio::test]` per contract case. `$fixture` is an
/// expression evaluating to a future of a [`Fixture`].
#[macro_export]
macro_rules! repository_contract_tests {
    ($fixture:expr) => {
        $crate::repository_contract_tests!(@cases $fixture;
            saves_and_finds_a_user_whole,
            finding_a_missing_user_gives_none,
            save_replaces_the_stored_version,
            namespaces_are_disjoint,
            email_belongs_to_one_user,
            telephony_identity_belongs_to_one_user,
            a_refused_update_keeps_the_stored_version,
            released_values_can_be_taken,
            context_tells_what_planning_needs,
            concurrent_saves_of_one_user_all_succeed_and_one_wins_whole,
            concurrent_claims_of_one_email_have_one_winner,
            save_each_writes_each_user_whole,
            save_each_fails_only_the_losers,
            save_each_in_order_lets_a_later_user_take_a_released_value,
            concurrent_save_each_and_saves_of_one_user_all_succeed_and_one_wins_whole,
            batch_context_answers_each_query_as_upsert_context_does,
            ping_answers
        );
    };
    (@cases $fixture:expr; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::contract::$case(fixture.repository()).await;
                drop(fixture);
            }
        )+
    };
}

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).expect("namespace")
}

fn id(s: &str) -> UserId {
    UserId::parse(s).expect("user id")
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("time")
}

/// A valid user with every field set; `agents` are its Genesys agent ids.
pub fn sample_user(user_id: &str, email: Option<&str>, agents: &[&str], extra: &[(&str, &str)]) -> User {
    let s = |v: &str| RawValue::String(v.to_owned());
    let mut fields: Vec<(String, RawValue)> = vec![
        ("userId".into(), s(user_id)),
        ("salutation".into(), s("Ms.")),
        ("firstName".into(), s("Ann")),
        ("middleName".into(), s("B")),
        ("lastName".into(), s("Lee")),
        ("suffix".into(), s("Jr.")),
        ("jobTitle".into(), s("Agent")),
        ("pilot".into(), s("Test")),
        ("status".into(), s("Active")),
        ("workFromHome".into(), s("Y")),
        ("organization".into(), s("Acme")),
        ("contactCenter".into(), s("North")),
        ("site".into(), s("Oslo")),
        ("roles".into(), RawValue::Array(vec![s("Supervisor"), s("Agent")])),
        ("teams".into(), RawValue::Array(vec![s("Blue"), s("Alpha"), s("Red")])),
        (
            "telephonyConfigurations".into(),
            RawValue::Array(
                agents
                    .iter()
                    .map(|a| {
                        RawValue::Object(vec![
                            ("platform".into(), s("Genesys Cloud")),
                            ("agentId".into(), s(a)),
                            ("extension".into(), s("4042")),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("coachId".into(), s("coach-1")),
        ("supervisorName".into(), s("Bob Boss")),
        ("supervisorId".into(), s("boss-1")),
        ("activationDate".into(), s("2024-01-15")),
    ];
    if let Some(e) = email {
        fields.push(("email".into(), s(e)));
    }
    for (k, v) in extra {
        fields.retain(|(key, _)| key != k);
        fields.push(((*k).into(), s(v)));
    }
    let parsed = parse_user(&RawValue::Object(fields));
    let draft = parsed.draft.unwrap_or_else(|| panic!("sample user is invalid: {:?}", parsed.issues));
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
    plan_upsert(draft, &UpsertContext::default(), today).user.expect("sample user plans")
}

fn identity(agent: &str) -> TelephonyIdentity {
    TelephonyIdentity { platform: "genesys cloud".into(), agent_id: agent.into() }
}

pub async fn saves_and_finds_a_user_whole(repo: Arc<dyn UserRepository>) {
    let u = sample_user("a-1", Some("Ann.Lee@Example.com"), &["1", "2"], &[]);
    repo.save(&ns("acme"), &u, at()).await.expect("save");
    let found = repo.find(&ns("acme"), &id("a-1")).await.expect("find");
    assert_eq!(found.as_ref(), Some(&u), "the stored user is the saved one, lists in order");
    let inactive = sample_user("a-2", None, &["3"], &[("status", "Inactive"), ("deactivationDate", "2025-02-03")]);
    repo.save(&ns("acme"), &inactive, at()).await.expect("save");
    assert_eq!(repo.find(&ns("acme"), &id("a-2")).await.expect("find"), Some(inactive));
}

pub async fn finding_a_missing_user_gives_none(repo: Arc<dyn UserRepository>) {
    assert_eq!(repo.find(&ns("acme"), &id("nobody")).await.expect("find"), None);
}

pub async fn save_replaces_the_stored_version(repo: Arc<dyn UserRepository>) {
    let first = sample_user("a-1", Some("a@example.com"), &["1", "2", "3"], &[]);
    repo.save(&ns("acme"), &first, at()).await.expect("save");
    let mut second = sample_user("a-1", None, &["9"], &[("jobTitle", "Lead"), ("status", "Inactive")]);
    second.profile.teams.clear();
    second.profile.middle_name = None;
    repo.save(&ns("acme"), &second, at()).await.expect("save again");
    assert_eq!(repo.find(&ns("acme"), &id("a-1")).await.expect("find"), Some(second));
}

pub async fn namespaces_are_disjoint(repo: Arc<dyn UserRepository>) {
    let a = sample_user("a-1", Some("same@example.com"), &["1"], &[]);
    let b = sample_user("a-1", Some("same@example.com"), &["1"], &[("firstName", "Bea")]);
    repo.save(&ns("acme"), &a, at()).await.expect("save in acme");
    repo.save(&ns("globex"), &b, at()).await.expect("same id, email and identity in another namespace");
    assert_eq!(repo.find(&ns("acme"), &id("a-1")).await.expect("find"), Some(a));
    assert_eq!(repo.find(&ns("globex"), &id("a-1")).await.expect("find"), Some(b));
    assert_eq!(repo.find(&ns("initech"), &id("a-1")).await.expect("find"), None);
}

pub async fn email_belongs_to_one_user(repo: Arc<dyn UserRepository>) {
    repo.save(&ns("acme"), &sample_user("a-1", Some("ann@example.com"), &["1"], &[]), at()).await.expect("save");
    let clash = sample_user("a-2", Some("ANN@example.COM"), &["2"], &[]);
    let err = repo.save(&ns("acme"), &clash, at()).await.expect_err("email is taken");
    assert!(matches!(err, RepositoryError::Conflict), "got {err:?}");
    assert_eq!(repo.find(&ns("acme"), &id("a-2")).await.expect("find"), None, "nothing of a-2 is written");
    // its identity was not taken either: another user can have it
    repo.save(&ns("acme"), &sample_user("a-3", None, &["2"], &[]), at()).await.expect("identity 2 is free");
}

pub async fn telephony_identity_belongs_to_one_user(repo: Arc<dyn UserRepository>) {
    repo.save(&ns("acme"), &sample_user("a-1", None, &["10042"], &[]), at()).await.expect("save");
    let mut clash = sample_user("a-2", Some("b@example.com"), &["7", "10042"], &[]);
    clash.profile.telephony_configurations[1].platform = roster_domain::Text::parse("GENESYS CLOUD").expect("text");
    let err = repo.save(&ns("acme"), &clash, at()).await.expect_err("identity is taken");
    assert!(matches!(err, RepositoryError::Conflict), "got {err:?}");
    assert_eq!(repo.find(&ns("acme"), &id("a-2")).await.expect("find"), None);
    // the same agent id on another platform is another identity
    let mut other = sample_user("a-4", None, &["10042"], &[]);
    other.profile.telephony_configurations[0].platform = roster_domain::Text::parse("Five9").expect("text");
    repo.save(&ns("acme"), &other, at()).await.expect("other platform");
    // and the email a-2 wanted is still free
    repo.save(&ns("acme"), &sample_user("a-3", Some("b@example.com"), &["8"], &[]), at()).await.expect("email free");
}

pub async fn a_refused_update_keeps_the_stored_version(repo: Arc<dyn UserRepository>) {
    let holder = sample_user("a-1", Some("one@example.com"), &["1"], &[]);
    let before = sample_user("a-2", Some("two@example.com"), &["2"], &[]);
    repo.save(&ns("acme"), &holder, at()).await.expect("save");
    repo.save(&ns("acme"), &before, at()).await.expect("save");
    let update = sample_user("a-2", Some("new@example.com"), &["5", "1"], &[("jobTitle", "Lead")]);
    let err = repo.save(&ns("acme"), &update, at()).await.expect_err("identity 1 is a-1's");
    assert!(matches!(err, RepositoryError::Conflict), "got {err:?}");
    assert_eq!(repo.find(&ns("acme"), &id("a-2")).await.expect("find"), Some(before), "a-2 is untouched");
    // a-2 still holds its email: nobody else can take it
    let err = repo.save(&ns("acme"), &sample_user("a-3", Some("two@example.com"), &["3"], &[]), at()).await;
    assert!(matches!(err, Err(RepositoryError::Conflict)), "got {err:?}");
}

pub async fn released_values_can_be_taken(repo: Arc<dyn UserRepository>) {
    repo.save(&ns("acme"), &sample_user("a-1", Some("x@example.com"), &["1"], &[]), at()).await.expect("save");
    repo.save(&ns("acme"), &sample_user("a-1", Some("y@example.com"), &["2"], &[]), at()).await.expect("move on");
    repo.save(&ns("acme"), &sample_user("a-2", Some("x@example.com"), &["1"], &[]), at())
        .await
        .expect("take the old ones");
    let ctx = repo
        .upsert_context(
            &ns("acme"),
            &UpsertContextQuery {
                user_id: id("a-3"),
                references: vec![],
                email: Some("x@example.com".into()),
                identities: vec![identity("1")],
            },
        )
        .await
        .expect("context");
    assert_eq!(ctx.email_owner, Some(id("a-2")));
    assert_eq!(ctx.identity_owners, vec![(identity("1"), id("a-2"))]);
}

pub async fn context_tells_what_planning_needs(repo: Arc<dyn UserRepository>) {
    let boss = sample_user(
        "boss-1",
        Some("boss@example.com"),
        &["100"],
        &[("firstName", "Bob"), ("lastName", "Boss"), ("supervisorId", "ceo")],
    );
    let me = sample_user("a-1", Some("me@example.com"), &["1", "2"], &[]);
    repo.save(&ns("acme"), &boss, at()).await.expect("save");
    repo.save(&ns("acme"), &me, at()).await.expect("save");
    let query = UpsertContextQuery {
        user_id: id("a-1"),
        references: vec![id("boss-1"), id("ghost")],
        email: Some("boss@example.com".into()),
        identities: vec![identity("1"), identity("100"), identity("999")],
    };
    let ctx = repo.upsert_context(&ns("acme"), &query).await.expect("context");
    assert_eq!(ctx.existing, Some(me));
    assert_eq!(ctx.references.len(), 1);
    assert_eq!(ctx.references[0].user_id, id("boss-1"));
    assert_eq!((ctx.references[0].first_name.as_str(), ctx.references[0].last_name.as_str()), ("Bob", "Boss"));
    assert_eq!(ctx.email_owner, Some(id("boss-1")));
    let owners: HashSet<_> = ctx.identity_owners.into_iter().collect();
    assert_eq!(owners, HashSet::from([(identity("1"), id("a-1")), (identity("100"), id("boss-1"))]));
    let empty = repo.upsert_context(&ns("globex"), &query).await.expect("context");
    assert_eq!(empty, UpsertContext::default());
}

pub async fn concurrent_saves_of_one_user_all_succeed_and_one_wins_whole(repo: Arc<dyn UserRepository>) {
    let versions: Vec<User> = (0..12)
        .map(|i| {
            let agents: Vec<String> = (0..=i % 4).map(|k| format!("{i}-{k}")).collect();
            let agents: Vec<&str> = agents.iter().map(String::as_str).collect();
            sample_user("a-1", Some(&format!("v{i}@example.com")), &agents, &[("jobTitle", &format!("Title {i}"))])
        })
        .collect();
    let tasks: Vec<_> = versions
        .iter()
        .cloned()
        .map(|u| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.save(&ns("acme"), &u, at()).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("every save of one user succeeds");
    }
    let stored = repo.find(&ns("acme"), &id("a-1")).await.expect("find").expect("stored");
    assert!(versions.contains(&stored), "the stored user is one written version, whole: {stored:?}");
}

pub async fn concurrent_claims_of_one_email_have_one_winner(repo: Arc<dyn UserRepository>) {
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let repo = repo.clone();
            let u = sample_user(&format!("u-{i}"), Some("shared@example.com"), &[&format!("{i}")], &[]);
            tokio::spawn(async move { repo.save(&ns("acme"), &u, at()).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => wins += 1,
            Err(RepositoryError::Conflict) => {}
            Err(e) => panic!("a lost race is a Conflict, got {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    let mut stored = 0;
    for i in 0..12 {
        if repo.find(&ns("acme"), &id(&format!("u-{i}"))).await.expect("find").is_some() {
            stored += 1;
        }
    }
    assert_eq!(stored, 1, "only the winner is stored");
}

pub async fn save_each_writes_each_user_whole(repo: Arc<dyn UserRepository>) {
    let before = sample_user("a-1", Some("one@example.com"), &["1", "2"], &[]);
    repo.save(&ns("acme"), &before, at()).await.expect("save");
    let mut update = sample_user("a-1", Some("uno@example.com"), &["2", "3"], &[("jobTitle", "Lead")]);
    update.profile.teams.clear();
    let users = vec![
        update,
        sample_user("a-2", Some("two@example.com"), &["4"], &[]),
        sample_user("a-3", None, &["5"], &[("status", "Inactive"), ("deactivationDate", "2025-02-03")]),
    ];
    let results = repo.save_each(&ns("acme"), &users, at()).await;
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for u in &users {
        assert_eq!(repo.find(&ns("acme"), &u.user_id).await.expect("find").as_ref(), Some(u));
    }
    // the update gave up identity 1 and email one@: both free now
    repo.save(&ns("acme"), &sample_user("a-4", Some("one@example.com"), &["1"], &[]), at()).await.expect("free");
    assert!(repo.save_each(&ns("acme"), &[], at()).await.is_empty());
}

pub async fn save_each_fails_only_the_losers(repo: Arc<dyn UserRepository>) {
    let holder = sample_user("h-1", Some("taken@example.com"), &["100"], &[]);
    repo.save(&ns("acme"), &holder, at()).await.expect("save");
    let users = vec![
        sample_user("a-1", Some("a1@example.com"), &["1"], &[]),
        sample_user("a-2", Some("TAKEN@example.com"), &["2"], &[]),
        sample_user("a-3", Some("a3@example.com"), &["3"], &[]),
        sample_user("a-4", Some("a4@example.com"), &["4", "100"], &[]),
        sample_user("a-5", Some("a1@example.com"), &["5"], &[]),
    ];
    let results = repo.save_each(&ns("acme"), &users, at()).await;
    let outcome: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ok(()) => "ok",
            Err(RepositoryError::Conflict) => "conflict",
            Err(_) => "error",
        })
        .collect();
    // a-5 wants the email a-1 took in this very batch
    assert_eq!(outcome, ["ok", "conflict", "ok", "conflict", "conflict"], "{results:?}");
    for (u, ok) in users.iter().zip(&outcome) {
        let found = repo.find(&ns("acme"), &u.user_id).await.expect("find");
        assert_eq!(found.as_ref(), (*ok == "ok").then_some(u), "{}", u.user_id);
    }
    // nothing of the losers is held: their other values are free
    repo.save(&ns("acme"), &sample_user("b-1", Some("a4@example.com"), &["2", "4", "5"], &[]), at())
        .await
        .expect("the losers' values are free");
}

pub async fn save_each_in_order_lets_a_later_user_take_a_released_value(repo: Arc<dyn UserRepository>) {
    repo.save(&ns("acme"), &sample_user("a-1", Some("x@example.com"), &["1"], &[]), at()).await.expect("save");
    let users = vec![
        sample_user("a-1", Some("y@example.com"), &["2"], &[]),
        sample_user("a-2", Some("x@example.com"), &["1"], &[]),
    ];
    let results = repo.save_each(&ns("acme"), &users, at()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(repo.find(&ns("acme"), &id("a-2")).await.expect("find").as_ref(), Some(&users[1]));
}

pub async fn concurrent_save_each_and_saves_of_one_user_all_succeed_and_one_wins_whole(repo: Arc<dyn UserRepository>) {
    let version = |i: usize| {
        let agents: Vec<String> = (0..=i % 3).map(|k| format!("{i}-{k}")).collect();
        let agents: Vec<&str> = agents.iter().map(String::as_str).collect();
        sample_user("a-1", Some(&format!("v{i}@example.com")), &agents, &[("jobTitle", &format!("Title {i}"))])
    };
    repo.save(&ns("acme"), &version(99), at()).await.expect("stored before");
    let versions: Vec<User> = (0..12).map(version).collect();
    let tasks: Vec<_> = versions
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, u)| {
            let repo = repo.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    // with another user each time, so that it is a batch
                    let other = sample_user(&format!("b-{i}"), None, &[&format!("b{i}")], &[]);
                    repo.save_each(&ns("acme"), &[u, other], at()).await.into_iter().collect::<Result<Vec<_>, _>>()
                } else {
                    repo.save(&ns("acme"), &u, at()).await.map(|()| Vec::new())
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("every save of one user succeeds");
    }
    let stored = repo.find(&ns("acme"), &id("a-1")).await.expect("find").expect("stored");
    assert!(versions.contains(&stored), "the stored user is one written version, whole: {stored:?}");
}

pub async fn batch_context_answers_each_query_as_upsert_context_does(repo: Arc<dyn UserRepository>) {
    let boss =
        sample_user("boss-1", Some("boss@example.com"), &["100"], &[("firstName", "Bob"), ("supervisorId", "ceo")]);
    let me = sample_user("a-1", Some("me@example.com"), &["1", "2"], &[("supervisorId", "boss-1")]);
    repo.save(&ns("acme"), &boss, at()).await.expect("save");
    repo.save(&ns("acme"), &me, at()).await.expect("save");
    repo.save(&ns("globex"), &sample_user("new-1", Some("new@example.com"), &["7"], &[]), at()).await.expect("save");
    let queries = [
        UpsertContextQuery {
            user_id: id("a-1"),
            references: vec![id("boss-1"), id("ghost")],
            email: Some("boss@example.com".into()),
            identities: vec![identity("1"), identity("100"), identity("999")],
        },
        UpsertContextQuery {
            user_id: id("new-1"),
            references: vec![id("a-1")],
            email: Some("me@example.com".into()),
            identities: vec![identity("2"), identity("7")],
        },
        UpsertContextQuery { user_id: id("boss-1"), references: vec![], email: None, identities: vec![] },
    ];
    let mut union = crate::BatchContextQuery::default();
    for q in &queries {
        union.add(q);
    }
    let batch = repo.batch_context(&ns("acme"), &union).await.expect("batch context");
    for q in &queries {
        let mut single = repo.upsert_context(&ns("acme"), q).await.expect("context");
        let mut derived = batch.context_of(q);
        for c in [&mut single, &mut derived] {
            c.identity_owners.sort_by(|a, b| a.0.agent_id.cmp(&b.0.agent_id));
        }
        assert_eq!(derived, single, "{}", q.user_id);
    }
    assert_eq!(batch.context_of(&queries[0]).existing, Some(me));
    assert_eq!(batch.context_of(&queries[1]).existing, None, "new-1 is globex's");
}

pub async fn ping_answers(repo: Arc<dyn UserRepository>) {
    repo.ping().await.expect("ping");
}
