//! The database going away under load, and coming back: requests fail fast
//! with a 503 problem document, readiness says 503, nothing is half
//! written, and roster recovers without a restart. The server is cut off by
//! a proxy ([`Proxy`]), so the other tests sharing it are not disturbed.
//! SQLite is embedded: there is no server to lose.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Backend, Store, spawn_on, user, with};
use crate::proxy::Proxy;

crate::backend_module!(postgres_faults, Postgres, the_database_going_away_under_load);
crate::backend_module!(mysql_faults, MySql, the_database_going_away_under_load);

/// What `ROSTER_DATABASE_ACQUIRE_TIMEOUT_SECS` is set to here.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// The slowest answer allowed while the database is away.
const FAIL_FAST: Duration = Duration::from_millis(4_500);
const CLIENTS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Up,
    Down,
    Back,
}

struct Sent {
    body: Value,
    status: u16,
    elapsed: Duration,
    /// The phase the request was sent in.
    phase: Phase,
    /// Sent and answered while the database was away.
    within_outage: bool,
}

fn contender(client: usize, n: usize) -> Value {
    let id = format!("c{client}-{n}");
    with(
        user(&id, &format!("g-{id}")),
        &[
            ("email", json!(format!("{id}@example.com"))),
            ("roles", json!(["Agent", format!("r-{id}")])),
            ("teams", json!(["Billing", format!("t-{id}")])),
            (
                "telephonyConfigurations",
                json!([
                    {"platform": "Genesys Cloud", "agentId": format!("g-{id}")},
                    {"platform": "Five9", "agentId": format!("f-{id}")}
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

/// The stored user is exactly the one sent: every table's part of it.
fn assert_whole(stored: &Value, sent: &Value) {
    for field in ["userId", "firstName", "email"] {
        assert_eq!(stored[field], sent[field], "{field}: stored {stored}");
    }
    for field in ["roles", "teams", "telephonyConfigurations"] {
        assert_eq!(sorted(&stored[field]), sorted(&sent[field]), "{field}: stored {stored}");
    }
}

async fn the_database_going_away_under_load(backend: Backend) {
    let store = Store::new(backend).await;
    let mut proxy = Proxy::start(&store.url);
    let url = proxy.url(&store.url);
    let acquire = ACQUIRE_TIMEOUT.as_secs().to_string();
    let app = spawn_on(
        store,
        Some(url),
        &[
            ("ROSTER_DATABASE_ACQUIRE_TIMEOUT_SECS", acquire.as_str()),
            ("ROSTER_DATABASE_CONNECT_TIMEOUT_SECS", acquire.as_str()),
            ("ROSTER_AUTH", "off"),
        ],
    )
    .await;
    let phase = RefCell::new(Phase::Up);
    let sent: RefCell<Vec<Sent>> = RefCell::default();
    let done = RefCell::new(false);

    let load = join_all((0..CLIENTS).map(|client| {
        let (app, phase, sent, done) = (&app, &phase, &sent, &done);
        async move {
            let mut n = 0;
            while !*done.borrow() {
                n += 1;
                let body = contender(client, n);
                let started_in = *phase.borrow();
                let started = Instant::now();
                let answer = app.upsert("acme", "", &body).await;
                let elapsed = started.elapsed();
                assert!(
                    answer.status == 200 || answer.status == 503,
                    "only 200 or 503, never {} ({:?}): {}",
                    answer.status,
                    started_in,
                    answer.raw
                );
                if answer.status == 503 {
                    answer.assert_problem(503);
                    assert!(answer.headers.contains_key("retry-after"), "a 503 says when to retry");
                    assert_eq!(answer.body["detail"].as_str().map(|d| d.contains("nothing was written")), Some(true));
                } else {
                    assert_eq!(answer.body["users"][0]["persisted"], true, "{}", answer.raw);
                }
                let within_outage = started_in == Phase::Down && *phase.borrow() == Phase::Down;
                sent.borrow_mut().push(Sent { body, status: answer.status, elapsed, phase: started_in, within_outage });
            }
        }
    }));

    let script = async {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        proxy.cut();
        *phase.borrow_mut() = Phase::Down;
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let ready = app.request("GET", "/health/ready", &[], None).await;
        ready.assert_problem(503);
        assert!(started.elapsed() <= FAIL_FAST, "readiness answered in {:?}", started.elapsed());
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;

        proxy.restore();
        *phase.borrow_mut() = Phase::Back;
        let back = Instant::now();
        loop {
            let ready = app.request("GET", "/health/ready", &[], None).await;
            if ready.status == 200 {
                break;
            }
            assert!(back.elapsed() < Duration::from_secs(15), "roster did not recover: {}", ready.raw);
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        // and keep the load on for a while after recovery
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        *done.borrow_mut() = true;
    };
    tokio::join!(load, script);

    let sent = sent.into_inner();
    let count = |phase: Phase, status: u16| sent.iter().filter(|s| s.phase == phase && s.status == status).count();
    assert!(count(Phase::Up, 200) > 0, "writes succeed before the cut");
    assert!(count(Phase::Down, 503) > 0, "writes fail while the database is away");
    let impossible = sent.iter().filter(|s| s.within_outage && s.status == 200).count();
    assert_eq!(impossible, 0, "nothing succeeds without a database");
    let slowest = sent.iter().map(|s| s.elapsed).max().unwrap_or_default();
    assert!(slowest <= FAIL_FAST, "every request answered within {FAIL_FAST:?}, the slowest took {slowest:?}");
    // after the recovery the last requests of each client succeed
    let last_of_back: Vec<&Sent> = sent.iter().filter(|s| s.phase == Phase::Back).rev().take(CLIENTS).collect();
    assert!(last_of_back.iter().all(|s| s.status == 200), "recovered: the last requests succeed");

    // nothing accepted lost, nothing half written
    for s in &sent {
        let id = s.body["userId"].as_str().expect("an id");
        let got = app.get_user("acme", id).await;
        match (s.status, got.status) {
            (200, 200) | (503, 200) => assert_whole(&got.body, &s.body),
            (503, 404) => {}
            (sent_status, got_status) => panic!("{id}: answered {sent_status}, then read {got_status}: {}", got.raw),
        }
    }
    eprintln!(
        "{backend:?}: {} requests; before the cut {} ok; while away {} × 503 (slowest answer {slowest:?}); after {} ok, {} × 503",
        sent.len(),
        count(Phase::Up, 200),
        count(Phase::Down, 503),
        count(Phase::Back, 200),
        count(Phase::Back, 503),
    );
}
