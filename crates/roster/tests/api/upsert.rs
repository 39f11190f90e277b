//! Upsert and read: validation, planning, writing, the report.

use serde_json::{Value, json};

use crate::helpers::{Backend, pairs, spawn_app, today, user, with, without};

crate::on_every_backend!(
    a_valid_user_is_created_and_read_back,
    a_dry_run_reports_and_stores_nothing,
    an_update_lists_changed_fields_and_unchanged_is_not_rewritten,
    every_problem_is_reported_at_once_and_nothing_is_stored,
    malformed_and_wrongly_shaped_bodies_get_a_report,
    commit_and_force_commit_are_strict,
    email_and_telephony_identity_belong_to_one_user,
    references_and_names_are_checked,
    deactivation_date_rules,
    namespaces_are_disjoint_and_validated,
    limits_and_duplicates,
    concurrent_upserts_of_one_user_all_succeed,
    concurrent_claims_of_one_email_have_one_winner,
);

async fn a_valid_user_is_created_and_read_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let sent = without(user("a-1001", "10042"), &["activationDate"]);
    let r = app.upsert("acme", "", &sent).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.content_type(), "application/json");
    let b = &r.body;
    assert_eq!(b["status"], "completed");
    assert_eq!(b["kind"], "single");
    assert_eq!(b["namespace"], "acme");
    assert_eq!(b["commit"], true);
    assert_eq!(b["forceCommit"], false);
    assert!(b["reportId"].as_str().is_some_and(|s| s.len() == 36));
    assert!(b["createdAt"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(
        b["summary"],
        json!({"received": 1, "processed": 1, "valid": 1, "invalid": 0, "created": 1, "updated": 0, "unchanged": 0, "persisted": 1})
    );
    assert_eq!(
        b["users"][0],
        json!({"index": 0, "userId": "a-1001", "action": "create", "persisted": true, "changedFields": [], "errors": [], "warnings": []})
    );

    let got = app.get_user("acme", "a-1001").await;
    assert_eq!(got.status, 200, "{}", got.raw);
    let expected = with(sent, &[("activationDate", json!(today()))]);
    assert_eq!(got.body, expected, "stored whole; a new user gets the processing date");
}

async fn a_dry_run_reports_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.upsert("acme", "?commit=false", &user("a-1", "1")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["commit"], false);
    assert_eq!(r.body["users"][0]["action"], "create", "says what would be done");
    assert_eq!(r.body["users"][0]["persisted"], false);
    assert_eq!(r.body["summary"]["created"], 1);
    assert_eq!(r.body["summary"]["persisted"], 0);
    app.get_user("acme", "a-1").await.assert_problem(404);

    // a dry run of an update names the changes, and changes nothing
    app.upsert("acme", "", &user("a-1", "1")).await;
    let r = app.upsert("acme", "?commit=false", &with(user("a-1", "1"), &[("jobTitle", json!("Lead"))])).await;
    assert_eq!(r.body["users"][0]["action"], "update");
    assert_eq!(r.body["users"][0]["changedFields"], json!(["jobTitle"]));
    assert_eq!(app.get_user("acme", "a-1").await.body["jobTitle"], "Agent");
    // and an invalid dry run is a 400 like a real one
    let r = app.upsert("acme", "?commit=false", &without(user("a-2", "2"), &["site"])).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.user_errors(), pairs(&[("site", "required")]));
}

async fn an_update_lists_changed_fields_and_unchanged_is_not_rewritten(backend: Backend) {
    let app = spawn_app(backend).await;
    app.upsert("acme", "", &user("a-1", "1")).await;
    let changed = with(
        user("a-1", "1"),
        &[
            ("jobTitle", json!("Team Lead")),
            ("teams", json!(["Billing", "Sales"])),
            ("email", json!("ann@example.com")),
        ],
    );
    let r = app.upsert("acme", "", &changed).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["users"][0]["action"], "update");
    assert_eq!(r.body["users"][0]["changedFields"], json!(["jobTitle", "teams", "email"]));
    assert_eq!(r.body["summary"]["updated"], 1);
    assert_eq!(app.get_user("acme", "a-1").await.body["teams"], json!(["Billing", "Sales"]));

    // the same again, lists reordered and activationDate left out: unchanged, not written
    let again = without(with(changed.clone(), &[("teams", json!(["Sales", "Billing"]))]), &["activationDate"]);
    let r = app.upsert("acme", "", &again).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["users"][0]["action"], "unchanged");
    assert_eq!(r.body["users"][0]["persisted"], false);
    assert_eq!(r.body["summary"]["unchanged"], 1);
    assert_eq!(
        app.get_user("acme", "a-1").await.body["activationDate"],
        "2026-01-15",
        "an existing user keeps its date"
    );

    // forceCommit writes it anyway
    let r = app.upsert("acme", "?forceCommit=true", &again).await;
    assert_eq!(r.body["users"][0]["action"], "unchanged");
    assert_eq!(r.body["users"][0]["persisted"], true);
    assert_eq!(r.body["forceCommit"], true);
    assert_eq!(app.get_user("acme", "a-1").await.body["teams"], json!(["Sales", "Billing"]));
}

async fn every_problem_is_reported_at_once_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad = json!({
        "userId": "a-1",
        "firstName": "   ",
        "lastName": 42,
        "status": "active",
        "pilot": "Maybe",
        "workFromHome": "yes",
        "organization": "Acme",
        "contactCenter": "Boston",
        "site": "Boston-1",
        "roles": [],
        "teams": ["Blue", "blue"],
        "telephonyConfigurations": [
            {"platform": "Genesys", "agentId": "1", "extension": "12a"},
            {"platform": "genesys", "agentId": "1"},
            {"platform": "Five9"}
        ],
        "email": "not-an-email",
        "activationDate": "2023-02-30",
        "coachId": "a-1",
        "emial": "typo@example.com"
    });
    let r = app.upsert("acme", "", &bad).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["users"][0]["action"], "none");
    assert_eq!(r.body["users"][0]["persisted"], false);
    assert_eq!(r.body["users"][0]["userId"], "a-1");
    let errors = r.user_errors();
    for (field, code) in [
        ("firstName", "blank"),
        ("lastName", "invalid_type"),
        ("jobTitle", "required"),
        ("status", "invalid_value"),
        ("pilot", "invalid_value"),
        ("workFromHome", "invalid_value"),
        ("roles", "required"),
        ("teams[1]", "duplicate"),
        ("telephonyConfigurations[0].extension", "invalid_format"),
        ("telephonyConfigurations[1]", "duplicate"),
        ("telephonyConfigurations[2].agentId", "required"),
        ("email", "invalid_format"),
        ("activationDate", "invalid_date"),
        ("coachId", "self_reference"),
    ] {
        assert!(errors.contains(&(field.to_owned(), code.to_owned())), "missing ({field}, {code}) in {errors:?}");
    }
    assert_eq!(r.user_warnings(), pairs(&[("emial", "unknown_field")]));
    let status_error =
        &r.body["users"][0]["errors"].as_array().unwrap().iter().find(|e| e["field"] == "status").unwrap().clone();
    assert!(status_error["message"].as_str().unwrap().contains("Active, Inactive"), "the allowed values are listed");
    assert_eq!(status_error["value"], "active");
    assert_eq!(r.body["summary"]["invalid"], 1);
    app.get_user("acme", "a-1").await.assert_problem(404);
}

async fn malformed_and_wrongly_shaped_bodies_get_a_report(backend: Backend) {
    let app = spawn_app(backend).await;
    let json_header = [("content-type", "application/json")];
    for (body, needle) in [
        (&b"{\"userId\": "[..], "not valid JSON"),
        (&b""[..], "empty"),
        (&b"[1, 2]"[..], "array"),
        (&b"42"[..], "number"),
        (&b"\"x\""[..], "string"),
    ] {
        let r = app.request("POST", "/api-ext/domain/acme/user", &json_header, Some(body.to_vec())).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert_eq!(r.body["status"], "failed");
        assert_eq!(r.request_errors(), vec![(String::new(), "malformed_json".to_owned())]);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(needle), "{}", r.raw);
        assert_eq!(r.body["summary"]["received"], 0);
        assert_eq!(r.body["users"], json!([]));
    }
    // a number where a string belongs, an object where a list belongs
    let r = app
        .upsert(
            "acme",
            "",
            &with(user("a-1", "1"), &[("site", json!(7)), ("roles", json!({"a": 1})), ("teams", json!([1]))]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.user_errors(),
        pairs(&[("site", "invalid_type"), ("roles", "invalid_type"), ("teams[0]", "invalid_type")])
    );
}

async fn commit_and_force_commit_are_strict(backend: Backend) {
    let app = spawn_app(backend).await;
    for query in ["?commit=yes", "?commit=", "?commit=flase", "?commit=1", "?commit=true&commit=false"] {
        let r = app.upsert("acme", query, &user("a-1", "1")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.raw);
        assert_eq!(r.request_errors(), pairs(&[("commit", "invalid_value")]), "{query}");
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("commit"));
        app.get_user("acme", "a-1").await.assert_problem(404);
    }
    let r = app.upsert("acme", "?forceCommit=maybe", &user("a-1", "1")).await;
    assert_eq!(r.request_errors(), pairs(&[("forceCommit", "invalid_value")]));
    app.get_user("acme", "a-1").await.assert_problem(404);
    let r = app.upsert("acme", "?commit=FALSE", &user("a-1", "1")).await;
    assert_eq!((r.status, r.body["users"][0]["persisted"].clone()), (200, json!(false)));
    let r = app.upsert("acme", "?commit=True&forceCommit=False", &user("a-1", "1")).await;
    assert_eq!((r.status, r.body["users"][0]["persisted"].clone()), (200, json!(true)));
}

async fn email_and_telephony_identity_belong_to_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = with(user("a-1", "10042"), &[("email", json!("ann@example.com"))]);
    assert_eq!(app.upsert("acme", "", &first).await.status, 200);
    let clash = with(
        user("a-2", "7"),
        &[
            ("email", json!("ANN@Example.com")),
            (
                "telephonyConfigurations",
                json!([{"platform": "Genesys Cloud", "agentId": "8"}, {"platform": "GENESYS CLOUD", "agentId": "10042"}]),
            ),
        ],
    );
    let r = app.upsert("acme", "", &clash).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.user_errors(), pairs(&[("email", "conflict"), ("telephonyConfigurations[1].agentId", "conflict")]));
    for e in r.body["users"][0]["errors"].as_array().unwrap() {
        assert!(e["message"].as_str().unwrap().contains("'a-1'"), "names the other user: {e}");
    }
    app.get_user("acme", "a-2").await.assert_problem(404);
    // the same agent id on another platform is fine; a-1 may keep its own values
    assert_eq!(
        app.upsert(
            "acme",
            "",
            &with(user("a-3", "x"), &[("telephonyConfigurations", json!([{"platform": "Five9", "agentId": "10042"}]))])
        )
        .await
        .status,
        200
    );
    assert_eq!(app.upsert("acme", "", &with(first, &[("jobTitle", json!("Lead"))])).await.status, 200);
}

async fn references_and_names_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let boss = with(user("boss", "100"), &[("firstName", json!("Bob")), ("lastName", json!("Stone"))]);
    app.upsert("acme", "", &boss).await;
    let r = app
        .upsert(
            "acme",
            "",
            &with(
                user("a-1", "1"),
                &[("supervisorId", json!("boss")), ("supervisorName", json!("bob stone")), ("coachId", json!("ghost"))],
            ),
        )
        .await;
    assert_eq!(r.status, 200, "warnings do not stop a write: {}", r.raw);
    assert_eq!(r.user_warnings(), pairs(&[("coachId", "unknown_reference")]));
    let r = app
        .upsert(
            "acme",
            "",
            &with(user("a-2", "2"), &[("supervisorId", json!("boss")), ("supervisorName", json!("Rob Stone"))]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.user_warnings(), pairs(&[("supervisorName", "name_mismatch")]));
    assert!(r.body["users"][0]["warnings"][0]["message"].as_str().unwrap().contains("Bob Stone"));
    let r = app.upsert("acme", "", &with(user("a-3", "3"), &[("supervisorId", json!("a-3"))])).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.user_errors(), pairs(&[("supervisorId", "self_reference")]));
}

async fn deactivation_date_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    // Inactive without a date: the processing date
    let r = app.upsert("acme", "", &with(user("a-1", "1"), &[("status", json!("Inactive"))])).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(app.get_user("acme", "a-1").await.body["deactivationDate"], json!(today()));
    // already inactive with a stored date: kept
    let dated = with(user("a-2", "2"), &[("status", json!("Inactive")), ("deactivationDate", json!("2026-03-01"))]);
    app.upsert("acme", "", &dated).await;
    let r = app.upsert("acme", "", &without(dated, &["deactivationDate"])).await;
    assert_eq!(r.body["users"][0]["action"], "unchanged", "{}", r.raw);
    assert_eq!(app.get_user("acme", "a-2").await.body["deactivationDate"], "2026-03-01");
    // reactivating clears it
    let r = app.upsert("acme", "", &user("a-2", "2")).await;
    assert_eq!(r.body["users"][0]["changedFields"], json!(["status", "deactivationDate"]));
    assert!(app.get_user("acme", "a-2").await.body.get("deactivationDate").is_none());
    // only when Inactive; never before activationDate
    let r = app.upsert("acme", "", &with(user("a-3", "3"), &[("deactivationDate", json!("2026-03-01"))])).await;
    assert_eq!(r.user_errors(), pairs(&[("deactivationDate", "invalid_value")]));
    let r = app
        .upsert(
            "acme",
            "",
            &with(user("a-3", "3"), &[("status", json!("Inactive")), ("deactivationDate", json!("2025-12-31"))]),
        )
        .await;
    assert_eq!(r.user_errors(), pairs(&[("deactivationDate", "date_order")]));
    let r = app.upsert("acme", "", &with(user("a-3", "3"), &[("activationDate", json!("2026-1-5"))])).await;
    assert_eq!(r.user_errors(), pairs(&[("activationDate", "invalid_format")]));
}

async fn namespaces_are_disjoint_and_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let u = with(user("a-1", "1"), &[("email", json!("same@example.com"))]);
    assert_eq!(app.upsert("acme", "", &u).await.status, 200);
    assert_eq!(app.upsert("globex", "", &with(u, &[("firstName", json!("Gail"))])).await.status, 200);
    assert_eq!(app.get_user("acme", "a-1").await.body["firstName"], "Ann");
    assert_eq!(app.get_user("globex", "a-1").await.body["firstName"], "Gail");
    app.get_user("initech", "a-1").await.assert_problem(404);

    let r = app.upsert("-bad", "", &user("a-1", "1")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.request_errors(), pairs(&[("namespace", "invalid_value")]));
    let r = app.upsert(&"n".repeat(65), "", &user("a-1", "1")).await;
    assert_eq!(r.status, 400);
    app.get_user("bad%20ns", "a-1").await.assert_problem(400);
}

async fn limits_and_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let roles: Vec<String> = (0..101).map(|i| format!("r{i}")).collect();
    let tcs: Vec<Value> = (0..21).map(|i| json!({"platform": "P", "agentId": format!("{i}")})).collect();
    let r = app
        .upsert(
            "acme",
            "",
            &with(
                user("a-1", "1"),
                &[
                    ("roles", json!(roles)),
                    ("telephonyConfigurations", json!(tcs)),
                    ("site", json!("x".repeat(256))),
                    ("userId", json!("a-1")),
                ],
            ),
        )
        .await;
    assert_eq!(
        r.user_errors(),
        pairs(&[("site", "too_long"), ("roles", "too_many"), ("telephonyConfigurations", "too_many")])
    );
    let r = app.upsert("acme", "", &with(user(&"u".repeat(129), "1"), &[])).await;
    assert_eq!(r.user_errors(), pairs(&[("userId", "too_long")]));
    let r = app.upsert("acme", "", &with(user(" a-1", "1"), &[])).await;
    assert_eq!(r.user_errors(), pairs(&[("userId", "invalid_format")]));
    let r = app.upsert("acme", "", &with(user("a-1", "1"), &[("roles", json!(["Agent", "AGENT"]))])).await;
    assert_eq!(r.user_errors(), pairs(&[("roles[1]", "duplicate")]));
    // 255 characters and 100 roles are fine, and stored exactly
    let roles: Vec<String> = (0..100).map(|i| format!("r{i}")).collect();
    let full = with(user("a-1", "1"), &[("roles", json!(roles)), ("site", json!("é".repeat(255)))]);
    assert_eq!(app.upsert("acme", "", &full).await.status, 200);
    assert_eq!(app.get_user("acme", "a-1").await.body["roles"], json!(roles));
}

async fn concurrent_upserts_of_one_user_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let versions: Vec<Value> =
        (0..16).map(|i| with(user("a-1", &format!("agent-{i}")), &[("jobTitle", json!(format!("T{i}")))])).collect();
    let answers = futures_util::future::join_all(versions.iter().map(|v| app.upsert("acme", "", v))).await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.raw);
    }
    let stored = app.get_user("acme", "a-1").await.body;
    let i: usize = stored["jobTitle"].as_str().unwrap()[1..].parse().unwrap();
    assert_eq!(stored["telephonyConfigurations"][0]["agentId"], format!("agent-{i}"), "one version, whole");
}

async fn concurrent_claims_of_one_email_have_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let users: Vec<Value> = (0..16)
        .map(|i| with(user(&format!("u-{i}"), &format!("{i}")), &[("email", json!("shared@example.com"))]))
        .collect();
    let answers = futures_util::future::join_all(users.iter().map(|u| app.upsert("acme", "", u))).await;
    let winners = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(winners, 1);
    for a in answers.iter().filter(|a| a.status != 200) {
        assert_eq!(a.status, 400, "{}", a.raw);
        assert_eq!(a.user_errors(), pairs(&[("email", "conflict")]));
    }
}
