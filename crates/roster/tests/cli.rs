//! The `roster` binary itself: its commands, health check and clean stop.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_roster");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn clean(cmd: &mut Command) -> &mut Command {
    // the binary reads ROSTER_* from the environment: start from none
    for (k, _) in std::env::vars() {
        if k.starts_with("ROSTER_") {
            cmd.env_remove(k);
        }
    }
    cmd
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
