//! HTTP behaviour around the upsert: media types, limits, problem documents,
//! request ids, health, the spec and Swagger UI.

use serde_json::Value;

use crate::helpers::{Backend, spawn_app, user};

crate::on_every_backend!(
    responses_follow_accept,
    content_type_must_be_json,
    bodies_over_one_mebibyte_are_refused,
    errors_are_problem_documents,
    every_response_has_a_request_id,
    health_endpoints_answer,
    the_spec_and_swagger_ui_are_served,
);

const VND: &str = "application/vnd.cogitocorp.v1+json";

async fn responses_follow_accept(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_vec(&user("a-1", "1")).unwrap();
    let post = |accept: &'static str, ct: &'static str| {
        let body = body.clone();
        let app = &app;
        async move {
            app.request("POST", "/api-ext/domain/acme/user", &[("content-type", ct), ("accept", accept)], Some(body))
                .await
        }
    };
    let r = post(VND, VND).await;
    assert_eq!((r.status, r.content_type()), (200, VND), "{}", r.raw);
    let r = post("application/json", "application/json; charset=utf-8").await;
    assert_eq!((r.status, r.content_type()), (200, "application/json"));
    let r = post("*/*", VND).await;
    assert_eq!((r.status, r.content_type()), (200, "application/json"));
    let r = post("text/html", "application/json").await;
    r.assert_problem(406);
    let r = app.request("GET", "/api-ext/domain/acme/user/a-1", &[("accept", VND)], None).await;
    assert_eq!((r.status, r.content_type()), (200, VND));
    app.request("GET", "/api-ext/domain/acme/user/a-1", &[("accept", "application/xml")], None)
        .await
        .assert_problem(406);
}

async fn content_type_must_be_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_vec(&user("a-1", "1")).unwrap();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "text/csv"] {
        let r = app.request("POST", "/api-ext/domain/acme/user", &[("content-type", ct)], Some(body.clone())).await;
        r.assert_problem(415);
        assert!(r.body["detail"].as_str().unwrap().contains("application/json"));
    }
    app.request("POST", "/api-ext/domain/acme/user", &[], Some(body)).await.assert_problem(415);
    app.get_user("acme", "a-1").await.assert_problem(404);
}

async fn bodies_over_one_mebibyte_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut u = user("a-1", "1");
    u["padding"] = Value::String("x".repeat(1024 * 1024));
    let r = app.upsert("acme", "", &u).await;
    r.assert_problem(413);
    app.get_user("acme", "a-1").await.assert_problem(404);
    // just under the limit is read (and the unknown field is only a warning)
    u["padding"] = Value::String("x".repeat(1024 * 1024 - 1000));
    let r = app.upsert("acme", "", &u).await;
    assert_eq!(r.status, 200, "{}", &r.raw[..200.min(r.raw.len())]);
}

async fn errors_are_problem_documents(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.request("DELETE", "/api-ext/domain/acme/user/a-1", &[], None).await;
    r.assert_problem(405);
    assert_eq!(r.headers.get("allow").unwrap(), "GET");
    let r = app.request("GET", "/api-ext/domain/acme/user", &[], None).await;
    r.assert_problem(405);
    assert_eq!(r.headers.get("allow").unwrap(), "POST");
    app.request("PUT", "/health/live", &[], None).await.assert_problem(405);
    app.request("GET", "/no/such/thing", &[], None).await.assert_problem(404);
    let r = app.get_user("acme", "nobody").await;
    r.assert_problem(404);
    assert!(r.body["detail"].as_str().unwrap().contains("nobody"));
}

async fn every_response_has_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let answers = [
        app.upsert("acme", "", &user("a-1", "1")).await,
        app.upsert("acme", "?commit=nope", &user("a-1", "1")).await,
        app.get_user("acme", "nobody").await,
        app.request("GET", "/nowhere", &[], None).await,
        app.request("GET", "/health/live", &[], None).await,
    ];
    let mut ids: Vec<String> = answers
        .iter()
        .map(|a| a.headers.get("x-request-id").expect("x-request-id").to_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), answers.len(), "each response has its own id");
}

async fn health_endpoints_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/health/live", "/health/ready"] {
        let r = app.request("GET", path, &[], None).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body["status"], "ok");
    }
}

async fn the_spec_and_swagger_ui_are_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.request("GET", "/api-docs/openapi.json", &[], None).await;
    assert_eq!(r.status, 200);
    let committed: Value = serde_json::from_str(&roster_openapi::document_json()).unwrap();
    assert_eq!(r.body, committed, "the served spec is the generated one");
    let r = app.request("GET", "/swagger-ui/", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.raw.contains("swagger-ui"));
    // without the slash: redirected there (the client follows)
    let r = app.request("GET", "/swagger-ui", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.raw.contains("swagger-ui"));
}

crate::backend_module!(broken_store_sqlite, Sqlite, a_broken_store_is_an_opaque_problem_document);
crate::backend_module!(broken_store_postgres, Postgres, a_broken_store_is_an_opaque_problem_document);
crate::backend_module!(broken_store_mysql, MySql, a_broken_store_is_an_opaque_problem_document);

/// A store that fails under the service is a problem document (500 when it
/// answers nonsense, as here; 503 when unreachable) — opaque to the client,
/// never a report that says something was stored.
async fn a_broken_store_is_an_opaque_problem_document(backend: Backend) {
    use roster_migrations::sea_orm_migration::sea_orm::ConnectionTrait;

    let app = spawn_app(backend).await;
    assert_eq!(app.upsert("acme", "", &user("a-1", "1")).await.status, 200);
    // break the store under the running service
    let settings = roster_store_seaorm::DatabaseSettings { url: app.store.url.clone(), ..Default::default() };
    let db = roster_store_seaorm::connect(&settings).await.unwrap();
    db.execute_unprepared("DROP TABLE user_telephony").await.unwrap();
    db.close().await.unwrap();

    let r = app.get_user("acme", "a-1").await;
    r.assert_problem(500);
    assert!(!r.raw.contains("user_telephony"), "no database text reaches the client: {}", r.raw);
    let r = app.upsert("acme", "", &user("a-2", "2")).await;
    r.assert_problem(500);
    assert!(r.body["detail"].as_str().unwrap().contains("nothing was written"));
}
