//! `spawn_app()`: the real roster — the same `Application::build` as the
//! binary — on port 0, over a fresh store per test.

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use awc::http::header::HeaderMap;
use roster::startup::Stores;
use roster::{Application, Settings};
use roster_store_seaorm::testing::{ServerKind, TempDatabase, TempSqlite};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    fn server(self) -> Option<ServerKind> {
        match self {
            Backend::Postgres => Some(ServerKind::Postgres),
            Backend::MySql => Some(ServerKind::MySql),
            Backend::Memory | Backend::Sqlite => None,
        }
    }

    /// Whether the tests can run on this backend: the database servers need
    /// their `ROSTER_TEST_*_URL`; without it a SKIPPED notice is printed.
    pub fn available(self) -> bool {
        self.server().is_none_or(|kind| kind.admin_url("the API tests").is_some())
    }
}

/// Runs each listed test function (an `async fn(Backend)`) once per backend:
/// `memory::name`, `sqlite::name`, `postgres::name`, `mysql::name`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $crate::backend_module!(memory, Memory, $($name),+);
        $crate::backend_module!(sqlite, Sqlite, $($name),+);
        $crate::backend_module!(postgres, Postgres, $($name),+);
        $crate::backend_module!(mysql, MySql, $($name),+);
    };
}

/// `mod $module` running each listed test function on one backend (skipped,
/// with a notice, when that backend's server is not configured).
#[macro_export]
macro_rules! backend_module {
    ($module:ident, $backend:ident, $($name:ident),+ $(,)?) => {
        mod $module {
            $(
                #[actix_web::test]
                async fn $name() {
                    let backend = $crate::helpers::Backend::$backend;
                    if backend.available() {
                        super::$name(backend).await;
                    }
                }
            )+
        }
    };
}

/// A fresh store for one test, removed when the last app using it is gone.
pub struct Store {
    pub backend: Backend,
    pub url: String,
    _sqlite: Option<TempSqlite>,
    _server: Option<TempDatabase>,
}

impl Store {
    pub async fn new(backend: Backend) -> Arc<Store> {
        let mut store = Store { backend, url: "memory:".to_owned(), _sqlite: None, _server: None };
        match backend {
            Backend::Memory => {}
            Backend::Sqlite => {
                let file = TempSqlite::new("roster-api");
                store.url = file.url.clone();
                store._sqlite = Some(file);
            }
            Backend::Postgres | Backend::MySql => {
                let kind = backend.server().expect("a server");
                let admin = kind.admin_url("the API tests").expect("checked by Backend::available");
                let database = TempDatabase::create(&admin).await;
                store.url = database.url.clone();
                store._server = Some(database);
            }
        }
        Arc::new(store)
    }
}

pub struct TestApp {
    pub address: String,
    pub client: awc::Client,
    pub store: Arc<Store>,
    pub stores: Stores,
    handle: ServerHandle,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// `(field, code)` of each issue in `users[0].errors`.
    pub fn user_errors(&self) -> Vec<(String, String)> {
        issues(&self.body["users"][0]["errors"])
    }

    pub fn user_warnings(&self) -> Vec<(String, String)> {
        issues(&self.body["users"][0]["warnings"])
    }

    pub fn request_errors(&self) -> Vec<(String, String)> {
        issues(&self.body["errors"])
    }

    /// Asserts an RFC 9457 problem document with this status.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.raw);
        assert!(self.content_type().starts_with("application/problem+json"), "content type {}", self.content_type());
        for key in ["type", "title", "detail"] {
            assert!(self.body[key].is_string(), "problem without {key}: {}", self.raw);
        }
        assert_eq!(self.body["status"], status);
    }
}

fn issues(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|i| (i["field"].as_str().unwrap_or("").to_owned(), i["code"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The real app on a fresh store of `backend`, authentication off (the
/// behaviour under test is elsewhere; `auth.rs` tests with it on).
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_on(Store::new(backend).await, None, &[("ROSTER_AUTH", "off")]).await
}

/// The real app on `store`, reaching the database at `url` (the store's own
/// URL when `None`, e.g. a proxy's otherwise), with extra settings.
pub async fn spawn_on(store: Arc<Store>, url: Option<String>, settings: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("ROSTER_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("ROSTER_DATABASE_URL".to_owned(), url.unwrap_or_else(|| store.url.clone())),
        ("ROSTER_WORKERS".to_owned(), "2".to_owned()),
    ];
    env.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let settings = Settings::load_from(None, env).expect("settings");
    let app = Application::build(&settings).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let stores = app.stores().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp { address, client: awc::Client::builder().disable_timeout().finish(), handle, store, stores }
}

impl TestApp {
    /// A second roster on the same store, with a pool of its own — as a
    /// second process would be. `None` in memory, which can't be shared.
    pub async fn peer(&self) -> Option<TestApp> {
        match self.store.backend {
            Backend::Memory => None,
            _ => Some(spawn_on(self.store.clone(), None, &[("ROSTER_AUTH", "off")]).await),
        }
    }

    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Answer {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.address));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some(b) => req.send_body(b).await,
            None => req.send().await,
        }
        .expect("the request is answered");
        let bytes = res.body().limit(16 * 1024 * 1024).await.expect("a body");
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            raw,
        }
    }

    /// `POST …/{namespace}/user{query}` with a JSON body.
    pub async fn upsert(&self, namespace: &str, query: &str, user: &Value) -> Answer {
        self.request(
            "POST",
            &format!("/api-ext/domain/{namespace}/user{query}"),
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(user).expect("json")),
        )
        .await
    }

    pub async fn get_user(&self, namespace: &str, user_id: &str) -> Answer {
        self.request("GET", &format!("/api-ext/domain/{namespace}/user/{user_id}"), &[], None).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// A valid user; `agent` is its one Genesys agent id.
pub fn user(id: &str, agent: &str) -> Value {
    json!({
        "userId": id,
        "salutation": "Ms.",
        "firstName": "Ann",
        "lastName": "Lee",
        "jobTitle": "Agent",
        "status": "Active",
        "workFromHome": "N",
        "organization": "Acme",
        "contactCenter": "Boston",
        "site": "Boston-1",
        "roles": ["Agent"],
        "teams": ["Billing"],
        "telephonyConfigurations": [{"platform": "Genesys Cloud", "agentId": agent, "extension": "4042"}],
        "activationDate": "2026-01-15"
    })
}

/// `u` with some fields set (`Value::Null` sets null; `without` removes).
pub fn with(mut u: Value, fields: &[(&str, Value)]) -> Value {
    for (k, v) in fields {
        u[*k] = v.clone();
    }
    u
}

pub fn without(mut u: Value, fields: &[&str]) -> Value {
    for k in fields {
        u.as_object_mut().expect("object").remove(*k);
    }
    u
}

/// `[(field, code)]` as owned pairs, to compare with `Answer::user_errors()`.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect()
}

pub fn today() -> String {
    chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string()
}
