//! Bulk imports across real `roster serve` processes:
//!
//! - **Resume after SIGKILL**: a committed import of 30,000 users is killed
//!   mid-way (some chunks done, not all); a new process on the same store
//!   takes it over once the lease (1 s here) has run out and completes it.
//!   Every user is then stored exactly once — the table holds 30,000 users,
//!   and the report says `create` and `persisted` for each of them, none
//!   `unchanged` (which a chunk written twice would show) — and the summary
//!   adds up. On SQLite and, with `ROSTER_TEST_POSTGRES_URL`, PostgreSQL.
//! - **One import per namespace across processes**: an import receiving its
//!   body on one process makes another process answer 409; when its client
//!   goes away, the namespace is free again. On SQLite and PostgreSQL.

mod support;

use std::time::{Duration, Instant};

use roster_store_seaorm::testing::{ServerKind, TempDatabase, TempSqlite, count};
use serde_json::{Value, json};
use support::Process;
use tokio::io::AsyncWriteExt;

const USERS: usize = 30_000;

/// Each process with authentication off and a 1 s import lease.
async fn serve(database_url: &str) -> Process {
    support::serve(database_url, &[("ROSTER_AUTH", "off"), ("ROSTER_IMPORT_LEASE_SECS", "1")]).await
}

fn user(i: usize) -> Value {
    json!({
        "userId": format!("u-{i}"), "firstName": "Ann", "lastName": format!("Lee {i}"), "jobTitle": "Agent",
        "status": "Active", "organization": "Acme", "contactCenter": "Boston", "site": "B1",
        "email": format!("u{i}@example.com"), "roles": ["Agent"], "teams": ["Billing"],
        "telephonyConfigurations": [{"platform": "Genesys Cloud", "agentId": format!("g-{i}")}],
        "supervisorId": format!("u-{}", (i + 1) % USERS)
    })
}

async fn get(address: &str, path: &str) -> (u16, Value) {
    let client = awc::Client::builder().disable_timeout().finish();
    let mut res = client.get(format!("{address}{path}")).send().await.expect("an answer");
    let body = res.json().limit(256 << 20).await.unwrap_or(Value::Null);
    (res.status().as_u16(), body)
}

async fn post_users(address: &str, query: &str, body: Vec<u8>) -> (u16, Value) {
    let client = awc::Client::builder().disable_timeout().finish();
    let mut res = client
        .post(format!("{address}/api-ext/domain/acme/users{query}"))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .expect("an answer");
    let body = res.json().limit(1 << 20).await.unwrap_or(Value::Null);
    (res.status().as_u16(), body)
}

async fn resumes_after_sigkill(database_url: &str) {
    let users: Vec<Value> = (0..USERS).map(user).collect();
    let mut first = serve(database_url).await;
    let (status, accepted) = post_users(&first.address, "?commit=true", serde_json::to_vec(&users).unwrap()).await;
    assert_eq!(status, 202, "{accepted}");
    let report = format!("/api-ext/domain/acme/users/report/{}", accepted["reportId"].as_str().unwrap());

    // Kill it once a few chunks are done, and not all.
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        let (_, r) = get(&first.address, &format!("{report}?includeUsers=false")).await;
        let processed = r["summary"]["processed"].as_u64().unwrap_or(0);
        assert_ne!(r["status"], "completed", "the import finished before it could be interrupted; make it bigger");
        if processed >= 3000 {
            first.kill();
            break processed;
        }
        assert!(Instant::now() < deadline, "no progress within 120 s:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(killed_at < USERS as u64, "killed mid-way: {killed_at} of {USERS}");
    let stored_at_kill = count(database_url, "FROM users WHERE namespace = 'acme'").await;
    assert!(stored_at_kill > 0 && stored_at_kill < USERS as i64, "{stored_at_kill} users stored when killed");
    eprintln!("killed with {killed_at} of {USERS} processed and {stored_at_kill} users stored");

    // A new process takes it over once its lease has run out.
    let second = serve(database_url).await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let (status, r) = get(&second.address, &format!("{report}?includeUsers=false")).await;
        assert_eq!(status, 200, "{r}");
        if r["status"] != "inprogress" {
            break r;
        }
        assert!(Instant::now() < deadline, "not resumed and finished within 180 s: {r}\n{}", second.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let n = USERS as u64;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["summary"],
        json!({"received": n, "processed": n, "valid": n, "invalid": 0, "created": n, "updated": 0, "unchanged": 0, "persisted": n}),
        "killed after {killed_at} processed"
    );
    let (_, full) = get(&second.address, &report).await;
    let outcomes = full["users"].as_array().expect("users");
    assert_eq!(outcomes.len(), USERS);
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o["index"], i);
        assert_eq!((o["action"].as_str(), o["persisted"].as_bool()), (Some("create"), Some(true)), "{o}");
        assert_eq!(o["warnings"], json!([]), "references inside the import resolve after a resume too: {o}");
    }
    assert_eq!(count(database_url, "FROM users WHERE namespace = 'acme'").await, USERS as i64);
    assert_eq!(count(database_url, "FROM user_telephony WHERE namespace = 'acme'").await, USERS as i64);
    assert_eq!(count(database_url, "FROM report_chunks WHERE input IS NOT NULL").await, 0, "the input is dropped");
    assert!(second.log().contains("resuming an import"), "{}", second.log());
    let (status, u) = get(&second.address, "/api-ext/domain/acme/user/u-29999").await;
    assert_eq!((status, u["supervisorId"].as_str()), (200, Some("u-0")));
}

async fn one_import_across_processes(database_url: &str) {
    let (a, b) = tokio::join!(serve(database_url), serve(database_url));
    // An import receiving its body on a…
    let address = a.address.trim_start_matches("http://").to_owned();
    let mut held = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /api-ext/domain/acme/users HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000000\r\n\r\n[{}",
        user(1)
    );
    held.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // …holds the namespace on b.
    let (status, problem) = post_users(&b.address, "", serde_json::to_vec(&[user(2)]).unwrap()).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap_or("").contains("still running"), "{problem}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = post_users(&b.address, "", serde_json::to_vec(&[user(2)]).unwrap()).await;
        if status == 202 {
            break;
        }
        assert_eq!(status, 409, "{body}");
        assert!(Instant::now() < deadline, "the namespace was not freed within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn an_import_resumes_after_sigkill_on_sqlite() {
    let file = TempSqlite::new("roster-bulk-resume");
    resumes_after_sigkill(&file.url).await;
}

#[actix_web::test]
async fn an_import_resumes_after_sigkill_on_postgresql() {
    let Some(admin) = ServerKind::Postgres.admin_url("the bulk resume test") else {
        return;
    };
    let database = TempDatabase::create(&admin).await;
    resumes_after_sigkill(&database.url).await;
}

#[actix_web::test]
async fn one_import_per_namespace_across_processes_on_sqlite() {
    let file = TempSqlite::new("roster-bulk-409");
    one_import_across_processes(&file.url).await;
}

#[actix_web::test]
async fn one_import_per_namespace_across_processes_on_postgresql() {
    let Some(admin) = ServerKind::Postgres.admin_url("the bulk 409 test across processes") else {
        return;
    };
    let database = TempDatabase::create(&admin).await;
    one_import_across_processes(&database.url).await;
}
