//! Races, on every backend and between two rosters sharing one store (each
//! with a pool of its own, as two processes would have): the store's unique
//! indexes decide, never a read followed by a write.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app, user, with};

crate::on_every_backend!(
    simultaneous_upserts_of_one_user_all_succeed_and_one_version_is_kept_whole,
    users_racing_for_one_email_have_one_winner,
    users_racing_for_one_telephony_identity_have_one_winner,
);

const RACERS: usize = 24;

/// The app and, when the store can be shared, a second roster on it.
async fn two_rosters(backend: Backend) -> (TestApp, Option<TestApp>) {
    let app = spawn_app(backend).await;
    let peer = app.peer().await;
    (app, peer)
}

/// The roster that sends request `i`: every other one goes to the peer.
fn pick(apps: &(TestApp, Option<TestApp>), i: usize) -> &TestApp {
    match &apps.1 {
        Some(peer) if i % 2 == 1 => peer,
        _ => &apps.0,
    }
}

/// Version `i` of user `u-1`: every part that lives in a table of its own
/// (roles, teams, telephony) carries `i`, so a mixed version would show.
fn version(i: usize) -> Value {
    with(
        user("u-1", &format!("agent-{i}")),
        &[
            ("firstName", json!(format!("V{i}"))),
            ("email", json!(format!("v{i}@example.com"))),
            ("roles", json!([format!("role-{i}"), format!("role-{i}b")])),
            ("teams", json!([format!("team-{i}")])),
            (
                "telephonyConfigurations",
                json!([
                    {"platform": "Genesys Cloud", "agentId": format!("g-{i}"), "extension": format!("{i}")},
                    {"platform": "Five9", "agentId": format!("f-{i}")}
                ]),
            ),
        ],
    )
}

fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v.as_array().map(|a| a.iter().map(|x| x.to_string()).collect()).unwrap_or_default();
    items.sort();
    items
}

async fn simultaneous_upserts_of_one_user_all_succeed_and_one_version_is_kept_whole(backend: Backend) {
    let apps = two_rosters(backend).await;
    let answers = join_all((0..RACERS).map(|i| {
        let app = pick(&apps, i);
        async move { app.upsert("acme", "", &version(i)).await }
    }))
    .await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.status, 200, "version {i}: {}", a.raw);
        assert_eq!(a.body["status"], "completed", "version {i}: {}", a.raw);
        assert_eq!(a.body["users"][0]["persisted"], true, "version {i}: {}", a.raw);
    }
    // Each report describes its own plan: racers that all found no user
    // each say `create` (README, "Concurrency"); at least one did create.
    assert!(answers.iter().any(|a| a.body["users"][0]["action"] == "create"), "one of them creates");

    let stored = apps.0.get_user("acme", "u-1").await;
    assert_eq!(stored.status, 200, "{}", stored.raw);
    let first = stored.body["firstName"].as_str().expect("a firstName").to_owned();
    let i: usize = first.trim_start_matches('V').parse().expect("a version's firstName");
    let written = version(i);
    for field in ["email", "firstName"] {
        assert_eq!(stored.body[field], written[field], "{field} of version {i}: {}", stored.raw);
    }
    for field in ["roles", "teams", "telephonyConfigurations"] {
        assert_eq!(sorted(&stored.body[field]), sorted(&written[field]), "{field} of version {i}: {}", stored.raw);
    }
    // the other roster reads the same
    if let Some(peer) = &apps.1 {
        assert_eq!(peer.get_user("acme", "u-1").await.body, stored.body);
    }
}

/// `RACERS` distinct users, each made by `contender(i)`, race; exactly one
/// is stored, every other gets a 400 report with `conflict` on `field`.
async fn one_winner(backend: Backend, field: &str, contender: impl Fn(usize) -> Value) {
    let apps = two_rosters(backend).await;
    let answers = join_all((0..RACERS).map(|i| {
        let app = pick(&apps, i);
        let body = contender(i);
        async move { app.upsert("acme", "", &body).await }
    }))
    .await;
    let mut winners = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        match a.status {
            200 => {
                assert_eq!(a.body["users"][0]["persisted"], true, "{}", a.raw);
                winners.push(i);
            }
            400 => {
                assert_eq!(a.body["users"][0]["persisted"], false, "{}", a.raw);
                let codes: Vec<(String, String)> = a.user_errors();
                assert!(
                    codes.iter().any(|(f, c)| f.starts_with(field) && c == "conflict"),
                    "contender {i}: a conflict on {field} expected: {}",
                    a.raw
                );
            }
            other => panic!("contender {i}: 200 or 400 expected, got {other}: {}", a.raw),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner, got {winners:?}");
    for i in 0..RACERS {
        let expected = if winners.contains(&i) { 200 } else { 404 };
        let got = apps.0.get_user("acme", &format!("racer-{i}")).await;
        assert_eq!(got.status, expected, "racer-{i}: {}", got.raw);
    }
}

async fn users_racing_for_one_email_have_one_winner(backend: Backend) {
    one_winner(backend, "email", |i| {
        with(user(&format!("racer-{i}"), &format!("agent-{i}")), &[("email", json!("shared@example.com"))])
    })
    .await;
}

async fn users_racing_for_one_telephony_identity_have_one_winner(backend: Backend) {
    one_winner(backend, "telephonyConfigurations", |i| user(&format!("racer-{i}"), "shared-agent")).await;
}
