//! The `roster` binary itself: its commands, health check and clean stop.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roster_store_seaorm::testing::TempSqlite;

mod support;

use support::{BIN, clean};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn help_lists_every_command() {
    let out = clean(&mut Command::new(BIN)).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "migrate", "openapi", "healthcheck", "ROSTER_DATABASE_URL", "ROSTER_LISTEN"] {
        assert!(text.contains(command), "--help does not mention {command}:\n{text}");
    }
}

#[test]
fn openapi_prints_the_committed_document() {
    let out = clean(&mut Command::new(BIN)).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[test]
fn bad_configuration_is_refused_with_its_name() {
    let out = clean(&mut Command::new(BIN)).env("ROSTER_WORKERS", "many").arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("workers"));
}

#[test]
fn serves_answers_health_checks_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let healthcheck = || {
        clean(&mut Command::new(BIN))
            .env("ROSTER_LISTEN", &listen)
            .arg("healthcheck")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(!healthcheck(), "nothing serves yet");

    let mut child = clean(&mut Command::new(BIN))
        .env("ROSTER_LISTEN", &listen)
        .env("ROSTER_DATABASE_URL", "memory:")
        .env("ROSTER_LOG_FORMAT", "json")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !healthcheck() {
        assert!(Instant::now() < deadline, "roster did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    // one request of our own, to find its id in the log afterwards
    let request_id = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"GET /health/live HTTP/1.0\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_else(|| panic!("no x-request-id in {response}"))
            .trim()
            .to_owned()
    };

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "roster did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0), "a clean stop exits 0");
    let log = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{line}");
    }
    assert!(log.contains("shutting down"), "{log}");
    let logged = log.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).any(|v| {
        v["span"]["request_id"] == request_id.as_str()
            && v["span"]["path"] == "/health/live"
            && v["fields"]["status"] == 200
    });
    assert!(logged, "no log line of request {request_id}:\n{log}");
}

fn clients(db: &TempSqlite, args: &[&str]) -> std::process::Output {
    clean(&mut Command::new(BIN)).env("ROSTER_DATABASE_URL", &db.url).arg("clients").args(args).output().unwrap()
}

#[test]
fn clients_are_added_listed_and_revoked_and_secrets_are_kept_hashed() {
    let db = TempSqlite::new("roster-cli");
    let out = clients(&db, &["add", "--namespace", "acme", "--name", "HR sync"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let added: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let id = added["clientId"].as_str().expect("clientId").to_owned();
    let secret = added["clientSecret"].as_str().expect("clientSecret").to_owned();
    assert!(secret.len() >= 32, "a long random secret: {secret}");
    assert_eq!((added["namespace"].as_str(), added["name"].as_str()), (Some("acme"), Some("HR sync")));

    // the secret is nowhere in the database files, only its argon2 hash
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(bytes) = std::fs::read(format!("{}{suffix}", db.path.display())) {
            stored.extend(bytes);
        }
    }
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(secret.as_bytes()), "the secret is stored in plain text");
    assert!(contains(b"$argon2id$"), "an argon2id hash is stored");

    let out = clients(&db, &["list"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["clientId"], id.as_str());
    assert!(list[0]["revokedAt"].is_null());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret), "list never shows a secret");

    assert!(clients(&db, &["revoke", &id]).status.success());
    let list: serde_json::Value = serde_json::from_slice(&clients(&db, &["list"]).stdout).unwrap();
    assert!(list[0]["revokedAt"].is_string(), "{list}");
    let out = clients(&db, &["revoke", "no-such-client"]);
    assert!(!out.status.success(), "revoking an unknown client fails");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client"));
    let out = clients(&db, &["add", "--namespace", "-bad"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--namespace"));
}

#[test]
fn authentication_off_is_refused_unless_on_loopback() {
    let out = clean(&mut Command::new(BIN))
        .env("ROSTER_AUTH", "off")
        .env("ROSTER_LISTEN", "0.0.0.0:0")
        .env("ROSTER_DATABASE_URL", "memory:")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success(), "refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ROSTER_AUTH=off") && stderr.contains("loopback"), "{stderr}");

    // on loopback it starts, and says so loudly
    let port = free_port();
    let mut child = clean(&mut Command::new(BIN))
        .env("ROSTER_AUTH", "off")
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_DATABASE_URL", "memory:")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "roster did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let log = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(log.contains("AUTHENTICATION IS OFF"), "{log}");
}
