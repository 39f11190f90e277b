//! Two real `roster serve` processes on one store: users racing for one
//! email across them have exactly one winner; the others get a 400 report
//! with `conflict`, never a 500. On SQLite (one file, two processes) and,
//! when their `ROSTER_TEST_*_URL` is set, PostgreSQL and MariaDB.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use roster_store_seaorm::testing::{ServerKind, TempDatabase};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_roster");
const RACERS: usize = 16;

/// A roster process, killed when dropped.
struct Process {
    child: Child,
    address: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(database_url: &str) -> Process {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("ROSTER_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_DATABASE_URL", database_url)
        .env("ROSTER_WORKERS", "2")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start roster");
    let process = Process { child, address: format!("http://127.0.0.1:{port}") };
    let client = awc::Client::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/health/ready", process.address)).send().await
            && r.status() == 200
        {
            return process;
        }
        assert!(Instant::now() < deadline, "roster did not become ready on {database_url}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(address: &str, body: &Value) -> (u16, Value) {
    let client = awc::Client::builder().disable_timeout().finish();
    let mut res = client
        .post(format!("{address}/api-ext/domain/acme/user"))
        .insert_header(("content-type", "application/json"))
        .send_json(body)
        .await
        .expect("an answer");
    let body: Value = res.json().limit(1 << 20).await.unwrap_or(Value::Null);
    (res.status().as_u16(), body)
}

fn racer(i: usize) -> Value {
    json!({
        "userId": format!("racer-{i}"), "firstName": "Ann", "lastName": "Lee", "jobTitle": "Agent",
        "status": "Active", "organization": "Acme", "contactCenter": "Boston", "site": "B1",
        "email": "shared@example.com", "roles": ["Agent"], "teams": ["Billing"],
        "telephonyConfigurations": [{"platform": "Genesys Cloud", "agentId": format!("g-{i}")}]
    })
}

async fn race_for_one_email(database_url: &str) {
    // both start at once: their migrations race too
    let (a, b) = tokio::join!(serve(database_url), serve(database_url));
    let answers = join_all((0..RACERS).map(|i| {
        let address = if i % 2 == 0 { a.address.clone() } else { b.address.clone() };
        async move { post(&address, &racer(i)).await }
    }))
    .await;
    let winners = answers.iter().filter(|(status, _)| *status == 200).count();
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(winners, 1, "exactly one winner: {statuses:?}, first answer {}", answers[0].1);
    for (status, body) in &answers {
        assert!(*status == 200 || *status == 400, "200 or 400, never {status}: {body}");
        if *status == 400 {
            let conflict = body["users"][0]["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|i| i["field"] == "email" && i["code"] == "conflict"));
            assert!(conflict, "a conflict on email: {body}");
        }
    }
}

#[actix_web::test]
async fn two_processes_on_one_sqlite_file() {
    let path = std::env::temp_dir().join(format!("roster-processes-{}.db", uuid::Uuid::now_v7()));
    race_for_one_email(&format!("sqlite://{}?mode=rwc", path.display())).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[actix_web::test]
async fn two_processes_on_one_postgresql_database() {
    let Some(admin) = ServerKind::Postgres.admin_url("the two-process test") else {
        return;
    };
    let database = TempDatabase::create(&admin).await;
    race_for_one_email(&database.url).await;
}

#[actix_web::test]
async fn two_processes_on_one_mariadb_database() {
    let Some(admin) = ServerKind::MySql.admin_url("the two-process test") else {
        return;
    };
    let database = TempDatabase::create(&admin).await;
    race_for_one_email(&database.url).await;
}
