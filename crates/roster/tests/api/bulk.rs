//! Bulk import (SPEC §5) and reports, over HTTP, on every backend.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Answer, Backend, TestApp, spawn_app, user, with};

crate::on_every_backend!(
    a_dry_run_import_reports_every_user_and_stores_nothing,
    a_committed_import_stores_the_valid_users_whole,
    rows_see_the_import_they_are_in,
    csv_imports_in_any_column_order,
    what_is_not_an_import_is_refused_whole,
    force_commit_rewrites_unchanged_users,
    one_import_runs_per_namespace,
    reports_are_kept_per_namespace,
);

const JSON: &str = "application/json";

async fn import(app: &TestApp, namespace: &str, query: &str, content_type: &str, body: Vec<u8>) -> Answer {
    app.request(
        "POST",
        &format!("/api-ext/domain/{namespace}/users{query}"),
        &[("content-type", content_type)],
        Some(body),
    )
    .await
}

async fn import_json(app: &TestApp, namespace: &str, query: &str, users: &[Value]) -> Answer {
    import(app, namespace, query, JSON, serde_json::to_vec(users).expect("json")).await
}

/// Follows an accepted import's `Location` until it is no longer in
/// progress; checks on the way that `processed` never goes back.
async fn finished(app: &TestApp, accepted: &Answer) -> Value {
    assert_eq!(accepted.status, 202, "{}", accepted.raw);
    assert_eq!(accepted.body["status"], "inprogress");
    let location = accepted.headers.get("location").and_then(|v| v.to_str().ok()).expect("a Location").to_owned();
    assert_eq!(
        location,
        format!(
            "/api-ext/domain/{}/users/report/{}",
            accepted.body["namespace"].as_str().unwrap(),
            accepted.body["reportId"].as_str().unwrap()
        )
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut processed = 0;
    loop {
        let r = app.request("GET", &format!("{location}?includeUsers=false"), &[], None).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let now = r.body["summary"]["processed"].as_u64().expect("processed");
        assert!(now >= processed, "processed went back from {processed} to {now}");
        processed = now;
        if r.body["status"] != "inprogress" {
            assert_eq!(r.body["users"], json!([]), "includeUsers=false leaves users out");
            let full = app.request("GET", &location, &[], None).await;
            assert_eq!(full.status, 200, "{}", full.raw);
            return full.body;
        }
        assert!(Instant::now() < deadline, "the import did not finish within 60 s: {}", r.raw);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn codes(issues: &Value) -> Vec<(String, String)> {
    issues
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| (i["field"].as_str().unwrap().to_owned(), i["code"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

fn person(id: &str, agent: &str, email: &str) -> Value {
    with(user(id, agent), &[("email", json!(email))])
}

async fn a_dry_run_import_reports_every_user_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let users: Vec<Value> =
        (0..2500).map(|i| person(&format!("u{i}"), &format!("{i}"), &format!("u{i}@x.com"))).collect();
    let accepted = import_json(&app, "acme", "", &users).await;
    assert_eq!(accepted.body["commit"], false, "commit defaults to false on the bulk endpoint");
    assert_eq!(accepted.body["kind"], "bulk");
    assert_eq!(accepted.body["summary"]["received"], 2500);
    let report = finished(&app, &accepted).await;
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(
        report["summary"],
        json!({"received": 2500, "processed": 2500, "valid": 2500, "invalid": 0, "created": 2500, "updated": 0, "unchanged": 0, "persisted": 0})
    );
    let outcomes = report["users"].as_array().expect("users");
    assert_eq!(outcomes.len(), 2500);
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o["index"], i, "users in input order, with their index");
        assert_eq!(o["userId"], format!("u{i}"));
        assert_eq!((o["action"].as_str(), o["persisted"].as_bool()), (Some("create"), Some(false)));
    }
    assert!(report["completedAt"].is_string());
    assert_eq!(app.get_user("acme", "u7").await.status, 404, "a dry run stores nothing");
}

async fn a_committed_import_stores_the_valid_users_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    // Stored before: one to update, one unchanged.
    assert_eq!(app.upsert("acme", "", &person("old", "900", "old@x.com")).await.status, 200);
    assert_eq!(app.upsert("acme", "", &person("same", "901", "same@x.com")).await.status, 200);
    let body = format!(
        "[{}, {}, {}, {}, {}, {}, {{\"userId\": }}, {}, {}]",
        // 0: names a supervisor later in the import, with the right name
        with(person("a", "1", "a@x.com"), &[("supervisorId", json!("boss")), ("supervisorName", json!("Bo Boss"))]),
        // 1: a coach nobody has
        with(person("b", "2", "b@x.com"), &[("coachId", json!("ghost"))]),
        // 2: the supervisor
        with(person("boss", "3", "boss@x.com"), &[("firstName", json!("Bo")), ("lastName", json!("Boss"))]),
        // 3: the same userId as row 0
        person("a", "4", "a4@x.com"),
        // 4: invalid
        with(person("c", "5", "c@x.com"), &[("status", json!("active"))]),
        // 5: an update
        with(person("old", "900", "old@x.com"), &[("jobTitle", json!("Lead"))]),
        // 6: not JSON (above); 7: unchanged
        person("same", "901", "same@x.com"),
        // 8: the email of row 1, another case
        person("d", "6", "B@X.com"),
    );
    let accepted = import(&app, "acme", "?commit=true", JSON, body.into_bytes()).await;
    assert_eq!(accepted.body["commit"], true);
    let report = finished(&app, &accepted).await;
    assert_eq!(report["status"], "failed", "{report}");
    assert_eq!(
        report["summary"],
        json!({"received": 9, "processed": 9, "valid": 5, "invalid": 4, "created": 3, "updated": 1, "unchanged": 1, "persisted": 4})
    );
    let u = &report["users"];
    assert_eq!(codes(&u[0]["warnings"]), vec![], "a reference to a later row resolves, its name too");
    assert_eq!(codes(&u[1]["warnings"]), vec![pair("coachId", "unknown_reference")]);
    assert_eq!(codes(&u[3]["errors"]), vec![pair("userId", "duplicate")]);
    assert!(u[3]["errors"][0]["message"].as_str().unwrap().contains("index 0"), "{}", u[3]);
    assert_eq!(codes(&u[4]["errors"]), vec![pair("status", "invalid_value")]);
    assert_eq!((u[5]["action"].as_str(), &u[5]["changedFields"]), (Some("update"), &json!(["jobTitle"])));
    assert_eq!(codes(&u[6]["errors"]), vec![pair("", "malformed_json")]);
    assert_eq!(u[6]["index"], 6);
    assert_eq!((u[7]["action"].as_str(), u[7]["persisted"].as_bool()), (Some("unchanged"), Some(false)));
    assert_eq!(codes(&u[8]["errors"]), vec![pair("email", "duplicate")]);

    let a = app.get_user("acme", "a").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["email"], "a@x.com", "the first row with the id is the one imported");
    assert_eq!(
        a.body["telephonyConfigurations"],
        json!([{"platform": "Genesys Cloud", "agentId": "1", "extension": "4042"}])
    );
    assert_eq!(app.get_user("acme", "old").await.body["jobTitle"], "Lead");
    for absent in ["c", "d"] {
        assert_eq!(app.get_user("acme", absent).await.status, 404, "{absent} is invalid: not stored");
    }
}

/// Rows are processed in order: a user that gives up an email lets a later
/// row take it; an earlier row can't — the same in a dry run and a commit.
async fn rows_see_the_import_they_are_in(backend: Backend) {
    let app = spawn_app(backend).await;
    for (n, query) in ["?commit=false", "?commit=true"].into_iter().enumerate() {
        let (x, y) = (format!("x{n}@x.com"), format!("y{n}@x.com"));
        let holder = |id: &str, email: &str| person(&format!("{id}{n}"), &format!("{id}{n}"), email);
        assert_eq!(app.upsert("acme", "", &holder("hx", &x)).await.status, 200);
        assert_eq!(app.upsert("acme", "", &holder("hy", &y)).await.status, 200);
        let rows = [
            holder("hx", &format!("moved-x{n}@x.com")), // gives up x…
            holder("late", &x),                         // …which a later row takes
            holder("early", &y),                        // y is still held…
            holder("hy", &format!("moved-y{n}@x.com")), // …until this row
        ];
        let report = finished(&app, &import_json(&app, "acme", query, &rows).await).await;
        let u = &report["users"];
        assert_eq!(codes(&u[0]["errors"]), vec![], "{query}: {report}");
        assert_eq!((codes(&u[1]["errors"]), u[1]["action"].as_str()), (vec![], Some("create")), "{query}");
        assert_eq!(codes(&u[2]["errors"]), vec![pair("email", "conflict")], "{query}");
        assert!(u[2]["errors"][0]["message"].as_str().unwrap().contains(&format!("'hy{n}'")), "{}", u[2]);
        assert_eq!(codes(&u[3]["errors"]), vec![], "{query}");
        let stored = app.get_user("acme", &format!("late{n}")).await;
        if query.ends_with("true") {
            assert_eq!(stored.body["email"], x.as_str());
        } else {
            assert_eq!(stored.status, 404);
        }
    }
}

async fn force_commit_rewrites_unchanged_users(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.upsert("acme", "", &user("a", "1")).await.status, 200);
    for (query, persisted) in [("?commit=true", false), ("?commit=true&forceCommit=TRUE", true)] {
        let report = finished(&app, &import_json(&app, "acme", query, &[user("a", "1")]).await).await;
        assert_eq!(report["forceCommit"], persisted, "{query}");
        let u = &report["users"][0];
        assert_eq!((u["action"].as_str(), u["persisted"].as_bool()), (Some("unchanged"), Some(persisted)), "{query}");
        assert_eq!(report["summary"]["persisted"], u64::from(persisted));
    }
    let r = import_json(&app, "acme", "?forceCommit=maybe", &[user("a", "1")]).await;
    assert_eq!((r.status, codes(&r.body["errors"])), (400, vec![pair("forceCommit", "invalid_value")]), "{}", r.raw);
}

async fn csv_imports_in_any_column_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let csv = "\u{feff}site,userId,firstName,lastName,jobTitle,status,organization,contactCenter,roles,teams,telephonyConfigurations,email,supervisorId\r\n\
               Oslo,c-1,\"Lee, Jr\",Ann,Agent,Active,Acme,North,Agent;Trainer,,Genesys Cloud:10:4042;Avaya:77,ann@x.com,c-2\r\n\
               Oslo,c-2,Bo,Boss,Lead,Active,Acme,North,Supervisor,Night;Day,Genesys Cloud:11,,\r\n\
               Oslo,c-3,Cy,,Agent,Active,Acme,North,Agent,,Genesys Cloud:12,,\r\n\
               Oslo,c-4,Di,Dee,Agent,Active,Acme,North,Agent,,Genesys Cloud:13,,,extra\r\n";
    let accepted = import(&app, "acme", "?commit=TRUE", "text/csv; charset=utf-8", csv.as_bytes().to_vec()).await;
    let report = finished(&app, &accepted).await;
    let u = &report["users"];
    assert_eq!(report["summary"]["received"], 4, "{report}");
    assert_eq!(codes(&u[0]["errors"]), vec![]);
    assert_eq!(codes(&u[2]["errors"]), vec![pair("lastName", "blank")], "an empty required cell is blank");
    assert_eq!(u[2]["index"], 2, "index is the data row, from 0");
    assert_eq!(codes(&u[3]["errors"]), vec![pair("", "invalid_format")], "a row with too many fields");
    let c1 = app.get_user("acme", "c-1").await;
    assert_eq!(c1.body["firstName"], "Lee, Jr");
    assert_eq!(c1.body["roles"], json!(["Agent", "Trainer"]));
    assert!(c1.body.get("teams").is_none_or(|t| t == &json!([])), "{}", c1.raw);
    assert_eq!(
        c1.body["telephonyConfigurations"],
        json!([{"platform": "Genesys Cloud", "agentId": "10", "extension": "4042"}, {"platform": "Avaya", "agentId": "77"}])
    );
    assert_eq!(app.get_user("acme", "c-2").await.body["teams"], json!(["Night", "Day"]));
}

async fn what_is_not_an_import_is_refused_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    // Not an array: a failed report, kept.
    let r = import(&app, "acme", "?commit=true", JSON, serde_json::to_vec(&user("a", "1")).unwrap()).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!((r.body["status"].as_str(), r.body["kind"].as_str()), (Some("failed"), Some("bulk")));
    assert_eq!(codes(&r.body["errors"]), vec![pair("", "malformed_json")]);
    let id = r.body["reportId"].as_str().unwrap();
    let kept = app.request("GET", &format!("/api-ext/domain/acme/users/report/{id}"), &[], None).await;
    assert_eq!((kept.status, kept.body["status"].as_str()), (200, Some("failed")), "{}", kept.raw);
    // Broken off, empty, no CSV header.
    let r = import(&app, "acme", "", JSON, br#"[{"userId": "a"}, {"userId""#.to_vec()).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("ended before"), "{}", r.raw);
    let r = import(&app, "acme", "", JSON, b"[]".to_vec()).await;
    assert_eq!((r.status, codes(&r.body["errors"])), (400, vec![pair("", "required")]), "{}", r.raw);
    let r = import(&app, "acme", "", "text/csv", Vec::new()).await;
    assert_eq!((r.status, codes(&r.body["errors"])), (400, vec![pair("", "invalid_format")]), "{}", r.raw);
    // Bad flags and namespace: a report naming them.
    let r = import(&app, "acme", "?commit=yes", JSON, b"[]".to_vec()).await;
    assert_eq!((r.status, codes(&r.body["errors"])), (400, vec![pair("commit", "invalid_value")]), "{}", r.raw);
    let r = import(&app, "-acme", "", JSON, b"[]".to_vec()).await;
    assert_eq!((r.status, codes(&r.body["errors"])), (400, vec![pair("namespace", "invalid_value")]), "{}", r.raw);
    // Media type and size.
    import(&app, "acme", "", "text/plain", b"[]".to_vec()).await.assert_problem(415);
    let too_many = format!("[{}1]", "1,".repeat(200_000));
    let r = import(&app, "acme", "", JSON, too_many.into_bytes()).await;
    r.assert_problem(413);
    assert!(r.body["detail"].as_str().unwrap().contains("200000"), "{}", r.raw);
    // A declared body over 256 MiB is refused before it is read.
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /api-ext/domain/acme/users HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 268435457\r\n\r\n["
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tokio::io::AsyncReadExt::read(&mut stream, &mut answer))
        .await
        .expect("answered without the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("256 MiB"), "{answer}");
    drop(stream);
    // Nothing of those holds the namespace.
    let accepted = import_json(&app, "acme", "", &[user("a", "1")]).await;
    assert_eq!(finished(&app, &accepted).await["status"], "completed");
}

/// Sends the head of an import and part of its body, and holds the
/// connection open: an import receiving its body.
async fn hold_an_import(app: &TestApp, namespace: &str) -> tokio::net::TcpStream {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /api-ext/domain/{namespace}/users?commit=true HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[{}",
        user("held", "999")
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.flush().await.expect("flush");
    // the handler takes the namespace's slot as soon as it runs
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream
}

async fn one_import_runs_per_namespace(backend: Backend) {
    let app = spawn_app(backend).await;
    let held = hold_an_import(&app, "acme").await;
    let r = import_json(&app, "acme", "", &[user("a", "1")]).await;
    r.assert_problem(409);
    assert!(r.body["detail"].as_str().unwrap().contains("/api-ext/domain/acme/users/report/"), "{}", r.raw);
    if let Some(peer) = app.peer().await {
        // another process on the same store agrees
        peer.request("POST", "/api-ext/domain/acme/users", &[("content-type", JSON)], Some(b"[1]".to_vec()))
            .await
            .assert_problem(409);
    }
    // Other namespaces are free.
    let other = import_json(&app, "globex", "", &[user("a", "1")]).await;
    assert_eq!(finished(&app, &other).await["status"], "completed");
    // The client goes away: the import is dropped, the namespace freed.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = import_json(&app, "acme", "", &[user("a", "1")]).await;
        if r.status == 202 {
            finished(&app, &r).await;
            break;
        }
        r.assert_problem(409);
        assert!(Instant::now() < deadline, "the namespace was not freed within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn reports_are_kept_per_namespace(backend: Backend) {
    let app = spawn_app(backend).await;
    let single = app.upsert("acme", "", &user("a", "1")).await;
    let id = single.body["reportId"].as_str().expect("a report id");
    let kept = app.request("GET", &format!("/api-ext/domain/acme/users/report/{id}"), &[], None).await;
    assert_eq!(kept.status, 200, "{}", kept.raw);
    assert_eq!(kept.body, single.body, "the single upsert's report, as answered");
    let summary =
        app.request("GET", &format!("/api-ext/domain/acme/users/report/{id}?includeUsers=false"), &[], None).await;
    assert_eq!((summary.body["users"].clone(), summary.body["summary"]["created"].clone()), (json!([]), json!(1)));
    // A dry run's report too.
    let dry = app.upsert("acme", "?commit=false", &user("b", "2")).await;
    let dry_id = dry.body["reportId"].as_str().unwrap();
    assert_eq!(app.request("GET", &format!("/api-ext/domain/acme/users/report/{dry_id}"), &[], None).await.status, 200);
    // Another namespace's report, an unknown id.
    app.request("GET", &format!("/api-ext/domain/globex/users/report/{id}"), &[], None).await.assert_problem(404);
    app.request("GET", "/api-ext/domain/acme/users/report/nope", &[], None).await.assert_problem(404);
    let accepted = import_json(&app, "acme", "", &[user("c", "3")]).await;
    let bulk_id = accepted.body["reportId"].as_str().unwrap().to_owned();
    finished(&app, &accepted).await;
    app.request("GET", &format!("/api-ext/domain/globex/users/report/{bulk_id}"), &[], None).await.assert_problem(404);
    app.request("GET", &format!("/api-ext/domain/acme/users/report/{id}?includeUsers=maybe"), &[], None)
        .await
        .assert_problem(400);
}
