//! SPEC §6 over HTTP, on every backend: the client-credentials grant, the
//! bearer token on every API call, namespaces, revocation, throttling.

use std::sync::Arc;

use base64::Engine as _;
use roster_application::auth::{Claims, ManageClients, TokenCodec};
use roster_application::{IdGenerator, SystemClock};
use roster_domain::Namespace;
use serde_json::Value;

use crate::helpers::{Answer, Backend, Store, TestApp, spawn_on, user};

crate::on_every_backend!(
    a_token_by_basic_or_form_opens_its_namespace,
    calls_without_a_good_token_are_401,
    a_token_is_bound_to_its_namespace,
    the_bulk_routes_need_a_token_of_their_namespace,
    token_requests_follow_rfc_6749,
    a_revoked_client_gets_nothing,
    repeated_wrong_secrets_are_throttled,
    with_authentication_off_no_token_is_needed_or_issued,
);

// A second roster on one store: only the stores that can be shared.
crate::backend_module!(shared_sqlite, Sqlite, tokens_of_one_store_work_on_every_process);
crate::backend_module!(shared_postgres, Postgres, tokens_of_one_store_work_on_every_process);
crate::backend_module!(shared_mysql, MySql, tokens_of_one_store_work_on_every_process);

const KEY: &str = "test-signing-key-of-forty-bytes-0123456";

struct Ids;
impl IdGenerator for Ids {
    fn new_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

async fn spawn(backend: Backend) -> TestApp {
    spawn_on(Store::new(backend).await, None, &[("ROSTER_AUTH_SIGNING_KEY", KEY)]).await
}

fn manage(app: &TestApp) -> ManageClients {
    ManageClients::new(
        app.stores.clients.clone(),
        Arc::new(roster_auth::Argon2Credentials::new()),
        Arc::new(SystemClock),
        Arc::new(Ids),
    )
}

/// A client of `namespace`: `(id, secret)`.
async fn client(app: &TestApp, namespace: &str) -> (String, String) {
    let (client, secret) = manage(app).add(Namespace::parse(namespace).unwrap(), Some("test".into())).await.unwrap();
    (client.id, secret)
}

async fn token_request(app: &TestApp, path: &str, headers: &[(&str, &str)], form: &str) -> Answer {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    app.request("POST", path, &all, Some(form.as_bytes().to_vec())).await
}

async fn token(app: &TestApp, namespace: &str, id: &str, secret: &str) -> String {
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = token_request(app, &format!("/api-ext/domain/{namespace}/token"), &[], &form).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn upsert_with(app: &TestApp, namespace: &str, authorization: Option<&str>) -> Answer {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    let body = serde_json::to_vec(&user("a-1", "1")).unwrap();
    app.request("POST", &format!("/api-ext/domain/{namespace}/user"), &headers, Some(body)).await
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

fn assert_unauthorized(r: &Answer) {
    r.assert_problem(401);
    let challenge = r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(challenge.starts_with("Bearer"), "WWW-Authenticate: {challenge}");
}

async fn a_token_by_basic_or_form_opens_its_namespace(backend: Backend) {
    let app = spawn(backend).await;
    let (id, secret) = client(&app, "acme").await;

    let by_form = token(&app, "acme", &id, &secret).await;
    let r = token_request(
        &app,
        "/api-ext/domain/acme/token",
        &[("authorization", &basic(&id, &secret))],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let by_basic = r.body["access_token"].as_str().unwrap().to_owned();
    // the namespace-free token URL (Swagger UI's) gives a token of the client's namespace
    let r = token_request(
        &app,
        "/api-ext/token",
        &[("authorization", &basic(&id, &secret))],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let by_fixed_url = r.body["access_token"].as_str().unwrap().to_owned();

    for t in [&by_form, &by_basic, &by_fixed_url] {
        let r = upsert_with(&app, "acme", Some(&format!("Bearer {t}"))).await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    let r = app
        .request("GET", "/api-ext/domain/acme/user/a-1", &[("authorization", &format!("Bearer {by_form}"))], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

async fn calls_without_a_good_token_are_401(backend: Backend) {
    let app = spawn(backend).await;
    let (id, _) = client(&app, "acme").await;
    let claims = |issued_at: i64, expires_at: i64| Claims {
        client_id: id.clone(),
        namespace: "acme".into(),
        issued_at,
        expires_at,
    };
    let now = chrono::Utc::now().timestamp();
    let ours = roster_auth::JwtCodec::new(KEY.as_bytes()).unwrap();
    let other = roster_auth::JwtCodec::new(&[7u8; 32]).unwrap();
    let good = ours.encode(&claims(now, now + 600));
    let expired = ours.encode(&claims(now - 600, now - 1));
    let forged = other.encode(&claims(now, now + 600));
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let payload = good.split('.').nth(1).unwrap().to_owned();
    let alg_none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
    let tampered = {
        let mut claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&payload).unwrap())
                .unwrap();
        claims["ns"] = "globex".into();
        let parts: Vec<&str> = good.split('.').collect();
        format!("{}.{}.{}", parts[0], b64(&claims.to_string()), parts[2])
    };

    assert_eq!(
        upsert_with(&app, "acme", Some(&format!("Bearer {good}"))).await.status,
        200,
        "the crafted good token works"
    );
    let r = upsert_with(&app, "acme", None).await;
    assert_unauthorized(&r);
    assert!(r.body["detail"].as_str().unwrap().contains("Bearer"), "{}", r.raw);
    for (what, header) in [
        ("expired", format!("Bearer {expired}")),
        ("forged", format!("Bearer {forged}")),
        ("alg none", format!("Bearer {alg_none}")),
        ("tampered", format!("Bearer {tampered}")),
        ("garbage", "Bearer not.a.jwt".to_owned()),
        ("another scheme", basic("a", "b")),
        ("empty bearer", "Bearer ".to_owned()),
    ] {
        let r = upsert_with(&app, "acme", Some(&header)).await;
        assert_unauthorized(&r);
        let challenge = r.headers.get("www-authenticate").unwrap().to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
        if what == "expired" {
            assert!(r.body["detail"].as_str().unwrap().contains("expired"), "{}", r.raw);
        }
    }
    let r = app.request("GET", "/api-ext/domain/acme/user/a-1", &[], None).await;
    assert_unauthorized(&r);
    // health, the spec and Swagger UI need no token
    for path in ["/health/live", "/health/ready", "/api-docs/openapi.json"] {
        assert_eq!(app.request("GET", path, &[], None).await.status, 200, "{path}");
    }
}

async fn a_token_is_bound_to_its_namespace(backend: Backend) {
    let app = spawn(backend).await;
    let (id, secret) = client(&app, "acme").await;
    let t = token(&app, "acme", &id, &secret).await;
    let r = upsert_with(&app, "globex", Some(&format!("Bearer {t}"))).await;
    r.assert_problem(403);
    assert!(r.body["detail"].as_str().unwrap().contains("acme"), "{}", r.raw);
    let r =
        app.request("GET", "/api-ext/domain/globex/user/a-1", &[("authorization", &format!("Bearer {t}"))], None).await;
    r.assert_problem(403);
    // a path namespace that can't be one is a 400 that says so, as without auth
    let r = upsert_with(&app, "-bad", Some(&format!("Bearer {t}"))).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.request_errors(), crate::helpers::pairs(&[("namespace", "invalid_value")]), "{}", r.raw);
    // and the client gets no token at another namespace
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = token_request(&app, "/api-ext/domain/globex/token", &[], &form).await;
    assert_eq!((r.status, r.body["error"].as_str()), (401, Some("invalid_client")), "{}", r.raw);
}

async fn the_bulk_routes_need_a_token_of_their_namespace(backend: Backend) {
    let app = spawn(backend).await;
    let (acme_id, acme_secret) = client(&app, "acme").await;
    let (globex_id, globex_secret) = client(&app, "globex").await;
    let acme = format!("Bearer {}", token(&app, "acme", &acme_id, &acme_secret).await);
    let globex = format!("Bearer {}", token(&app, "globex", &globex_id, &globex_secret).await);
    let body = || Some(serde_json::to_vec(&[user("a-1", "1")]).unwrap());
    let post = async |authorization: Option<&str>| {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        app.request("POST", "/api-ext/domain/acme/users", &headers, body()).await
    };
    assert_unauthorized(&post(None).await);
    assert_unauthorized(&post(Some("Bearer not-a-token")).await);
    post(Some(&globex)).await.assert_problem(403);
    let accepted = post(Some(&acme)).await;
    assert_eq!(accepted.status, 202, "{}; the refused calls started no import", accepted.raw);
    let report = format!("/api-ext/domain/acme/users/report/{}", accepted.body["reportId"].as_str().unwrap());
    assert_unauthorized(&app.request("GET", &report, &[], None).await);
    app.request("GET", &report, &[("authorization", &globex)], None).await.assert_problem(403);
    assert_eq!(app.request("GET", &report, &[("authorization", &acme)], None).await.status, 200);
}

async fn token_requests_follow_rfc_6749(backend: Backend) {
    let app = spawn(backend).await;
    let (id, secret) = client(&app, "acme").await;
    let path = "/api-ext/domain/acme/token";
    // (extra headers, form, status, error)
    type Case<'a> = (Vec<(&'a str, String)>, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], format!("grant_type=password&client_id={id}&client_secret={secret}"), 400, "unsupported_grant_type"),
        (vec![], format!("client_id={id}&client_secret={secret}"), 400, "invalid_request"),
        (
            vec![],
            format!(
                "grant_type=client_credentials&grant_type=client_credentials&client_id={id}&client_secret={secret}"
            ),
            400,
            "invalid_request",
        ),
        (
            vec![("authorization", basic(&id, &secret))],
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            400,
            "invalid_request",
        ),
        (vec![], "grant_type=client_credentials".to_owned(), 401, "invalid_client"),
        (vec![], format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"), 401, "invalid_client"),
        (vec![], "grant_type=client_credentials&client_id=nobody&client_secret=x".to_owned(), 401, "invalid_client"),
        (
            vec![("authorization", "Basic !!!".to_owned())],
            "grant_type=client_credentials".to_owned(),
            401,
            "invalid_client",
        ),
    ];
    for (headers, form, status, error) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = token_request(&app, path, &headers, &form).await;
        assert_eq!((r.status, r.body["error"].as_str()), (status, Some(error)), "{form}: {}", r.raw);
        assert!(r.body["error_description"].is_string(), "{}", r.raw);
        let used_basic = headers.iter().any(|(k, v)| *k == "authorization" && v.starts_with("Basic"));
        if status == 401 && used_basic {
            assert!(r.headers.contains_key("www-authenticate"), "a 401 to HTTP Basic says how to authenticate");
        }
    }
    // a browser's script gets no Basic challenge: its native sign-in pop-up
    // would hide the error from the page (Swagger UI's Authorize)
    let r = token_request(
        &app,
        path,
        &[("authorization", &basic(&id, "wrong")), ("sec-fetch-mode", "cors")],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!((r.status, r.body["error"].as_str()), (401, Some("invalid_client")), "{}", r.raw);
    assert!(!r.headers.contains_key("www-authenticate"), "no challenge to a browser");
    let r =
        token_request(&app, path, &[("authorization", &basic(&id, "wrong"))], "grant_type=client_credentials").await;
    assert_eq!(r.headers.get("www-authenticate").unwrap(), r#"Basic realm="roster""#);
    // not a form
    let r = app
        .request(
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(b"{\"grant_type\":\"client_credentials\"}".to_vec()),
        )
        .await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")), "{}", r.raw);
    // an invalid namespace
    let r = token_request(&app, "/api-ext/domain/-x/token", &[], "grant_type=client_credentials").await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")), "{}", r.raw);
}

async fn a_revoked_client_gets_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let (id, secret) = client(&app, "acme").await;
    let t = token(&app, "acme", &id, &secret).await;
    // in use before the revocation: the process re-checks a client's status
    // at most every REVOCATION_CHECK_EVERY (5 s)
    assert_eq!(upsert_with(&app, "acme", Some(&format!("Bearer {t}"))).await.status, 200);
    assert!(manage(&app).revoke(&id).await.unwrap());
    let revoked_at = std::time::Instant::now();
    let r = loop {
        let r = upsert_with(&app, "acme", Some(&format!("Bearer {t}"))).await;
        if r.status != 200 {
            break r;
        }
        assert!(
            revoked_at.elapsed() < roster_application::auth::REVOCATION_CHECK_EVERY + std::time::Duration::from_secs(2),
            "the token still works"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_unauthorized(&r);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"), "{}", r.raw);
    // a token never used before the revocation stops at once
    let (other, other_secret) = client(&app, "acme").await;
    let t = token(&app, "acme", &other, &other_secret).await;
    assert!(manage(&app).revoke(&other).await.unwrap());
    assert_unauthorized(&upsert_with(&app, "acme", Some(&format!("Bearer {t}"))).await);
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = token_request(&app, "/api-ext/domain/acme/token", &[], &form).await;
    assert_eq!((r.status, r.body["error"].as_str()), (401, Some("invalid_client")), "{}", r.raw);
}

async fn repeated_wrong_secrets_are_throttled(backend: Backend) {
    let app = spawn(backend).await;
    let (id, secret) = client(&app, "acme").await;
    let wrong = format!("grant_type=client_credentials&client_id={id}&client_secret=guess");
    for _ in 0..roster_application::auth::MAX_FAILURES {
        assert_eq!(token_request(&app, "/api-ext/domain/acme/token", &[], &wrong).await.status, 401);
    }
    // now even the right secret waits: the guesser can't tell
    let right = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = token_request(&app, "/api-ext/domain/acme/token", &[], &right).await;
    assert_eq!(r.status, 429, "{}", r.raw);
    let retry: u64 = r.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // another client is not affected
    let (other, other_secret) = client(&app, "acme").await;
    token(&app, "acme", &other, &other_secret).await;
    // attempts sent at once count too: of 12 simultaneous wrong secrets, at
    // most MAX_FAILURES are checked, the rest are refused
    let (third, _) = client(&app, "acme").await;
    let wrong = format!("grant_type=client_credentials&client_id={third}&client_secret=guess");
    let answers =
        futures_util::future::join_all((0..12).map(|_| token_request(&app, "/api-ext/domain/acme/token", &[], &wrong)))
            .await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(
        (checked, refused),
        (roster_application::auth::MAX_FAILURES, 12 - roster_application::auth::MAX_FAILURES)
    );
    // an id that can't be a client's (control characters, too long) is
    // refused like any unknown one, never a 500
    for id in ["%00", "a%0Ab", &"x".repeat(65)] {
        let form = format!("grant_type=client_credentials&client_id={id}&client_secret=x");
        let r = token_request(&app, "/api-ext/domain/acme/token", &[], &form).await;
        assert_eq!((r.status, r.body["error"].as_str()), (401, Some("invalid_client")), "{id}: {}", r.raw);
    }
}

/// A second roster on the same store (a second process) accepts the
/// tokens of the first: the signing key is kept in the store.
async fn tokens_of_one_store_work_on_every_process(backend: Backend) {
    let store = Store::new(backend).await;
    let first = spawn_on(store.clone(), None, &[]).await;
    let second = spawn_on(store, None, &[]).await;
    let (id, secret) = client(&first, "acme").await;
    let t = token(&first, "acme", &id, &secret).await;
    let r = upsert_with(&second, "acme", Some(&format!("Bearer {t}"))).await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

/// `ROSTER_AUTH=off` (development): calls need no token, and the token
/// endpoint says why it issues none.
async fn with_authentication_off_no_token_is_needed_or_issued(backend: Backend) {
    let app = spawn_on(Store::new(backend).await, None, &[("ROSTER_AUTH", "off")]).await;
    assert_eq!(upsert_with(&app, "acme", None).await.status, 200);
    let r = token_request(
        &app,
        "/api-ext/domain/acme/token",
        &[],
        "grant_type=client_credentials&client_id=a&client_secret=b",
    )
    .await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")), "{}", r.raw);
    assert!(r.body["error_description"].as_str().unwrap().contains("ROSTER_AUTH=off"), "{}", r.raw);
}
