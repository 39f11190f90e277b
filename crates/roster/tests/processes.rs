//! Two real `roster serve` processes on one store, started at the same
//! moment (their migrations and their first signing key race too): a client
//! registered with `roster clients add` gets a token from one, and both
//! accept it; users racing for one email across them have exactly one
//! winner, the others get a 400 report with `conflict`, never a 500. On
//! SQLite (one file, two processes) and, when their `ROSTER_TEST_*_URL` is
//! set, PostgreSQL and MariaDB.

mod support;

use std::process::Command;

use futures_util::future::join_all;
use roster_store_seaorm::testing::{ServerKind, TempDatabase, TempSqlite};
use serde_json::{Value, json};

use support::{BIN, Process, clean};

const RACERS: usize = 16;

async fn serve(database_url: &str) -> Process {
    support::serve(database_url, &[]).await
}

/// `roster clients add --namespace acme` on the store: `(id, secret)`.
fn add_client(database_url: &str) -> (String, String) {
    let out = clean(&mut Command::new(BIN))
        .env("ROSTER_DATABASE_URL", database_url)
        .args(["clients", "add", "--namespace", "acme", "--name", "hr-sync"])
        .output()
        .expect("roster clients add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    (
        printed["clientId"].as_str().expect("clientId").to_owned(),
        printed["clientSecret"].as_str().expect("secret").to_owned(),
    )
}

async fn token(address: &str, id: &str, secret: &str) -> String {
    let mut res = awc::Client::default()
        .post(format!("{address}/api-ext/domain/acme/token"))
        .send_form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .await
        .expect("an answer");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("a token");
    body["access_token"].as_str().expect("access_token").to_owned()
}

async fn post(address: &str, token: &str, body: &Value) -> (u16, Value) {
    let client = awc::Client::builder().disable_timeout().finish();
    let mut res = client
        .post(format!("{address}/api-ext/domain/acme/user"))
        .insert_header(("content-type", "application/json"))
        .insert_header(("authorization", format!("Bearer {token}")))
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
    let (id, secret) = add_client(database_url);
    let token = token(&a.address, &id, &secret).await;
    let answers = join_all((0..RACERS).map(|i| {
        let address = if i % 2 == 0 { a.address.clone() } else { b.address.clone() };
        let token = token.clone();
        async move { post(&address, &token, &racer(i)).await }
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
    let file = TempSqlite::new("roster-processes");
    race_for_one_email(&file.url).await;
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
