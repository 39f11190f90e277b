//! `cargo xtask bench upsert`: load-tests single-user upserts with wrk.
//!
//! In one run, against release builds on 127.0.0.1, each target gets the
//! same load (wrk, 2 threads, 64 connections, 10 s by default) of POSTs with
//! a realistic ~0.9 KB user body, every request a distinct user:
//!
//! - `echo`: a minimal actix-web endpoint that parses the JSON and echoes it
//!   (the ceiling: HTTP + JSON on this machine);
//! - roster dry run (`commit=false`) on SQLite and in memory;
//! - roster commit on SQLite and in memory.
//!
//! It prints requests/s, p50 and p99 for each and the ratio to the echo.
//! Options: `--duration SECS`, `--connections N`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::workspace_root;

const WRK_SCRIPT: &str = r#"
-- Every request is a distinct user: userId, agentId and email carry a
-- per-thread counter, so commits create and dry runs plan new users.
local counter = 0
local threads = {}
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

function init(args)
  path = args[1]
end

local template = '{"userId":"bench-%s","salutation":"Ms.","firstName":"Ann","middleName":"B","lastName":"Lee",'
  .. '"suffix":"Jr.","jobTitle":"Customer Care Agent","pilot":"Test","status":"Active","workFromHome":"Y",'
  .. '"organization":"Acme Corporation","contactCenter":"Boston Contact Center","site":"Boston-1",'
  .. '"roles":["Agent","Trainer"],"teams":["Billing","Retention","Escalations"],'
  .. '"telephonyConfigurations":[{"platform":"Genesys Cloud","agentId":"g-%s","extension":"4042"},'
  .. '{"platform":"Five9","agentId":"f-%s"}],"coachId":"coach-1","supervisorName":"Bob Stone",'
  .. '"supervisorId":"boss-1","email":"ann.lee.%s@example.com","activationDate":"2026-01-15"}'

request = function()
  counter = counter + 1
  local id = tid .. "-" .. counter .. "-" .. math.random(1, 1000000000)
  local body = string.format(template, id, id, id, id)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
"#;

struct Target {
    name: &'static str,
    server: Server,
    path: &'static str,
}

enum Server {
    Echo,
    Roster { database: &'static str },
}

struct Outcome {
    name: &'static str,
    requests_per_sec: f64,
    p50: String,
    p99: String,
    non_2xx: String,
}

pub fn run(args: &[&str]) -> Result<(), String> {
    let mut duration = 10u64;
    let mut connections = 64u32;
    let mut rest = args.iter();
    let Some(&"upsert") = rest.next() else {
        return Err("usage: cargo xtask bench upsert [--duration SECS] [--connections N]".to_owned());
    };
    while let Some(arg) = rest.next() {
        let value = rest.next().ok_or(format!("{arg} needs a value"))?;
        match *arg {
            "--duration" => duration = value.parse().map_err(|e| format!("--duration: {e}"))?,
            "--connections" => connections = value.parse().map_err(|e| format!("--connections: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        return Err("wrk is not installed: apt-get install wrk".to_owned());
    }

    let root = workspace_root();
    println!("building release binaries (cargo build --release -p roster -p xtask)…");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "roster", "-p", "xtask"])
        .current_dir(&root)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("release build failed".to_owned());
    }
    let work = std::env::temp_dir().join(format!("roster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let script = work.join("upsert.lua");
    std::fs::write(&script, WRK_SCRIPT).map_err(|e| e.to_string())?;

    let targets = [
        Target { name: "echo (actix + serde_json)", server: Server::Echo, path: "/echo" },
        Target {
            name: "roster dry run, SQLite",
            server: Server::Roster { database: "sqlite" },
            path: "/api-ext/domain/bench/user?commit=false",
        },
        Target {
            name: "roster dry run, memory",
            server: Server::Roster { database: "memory" },
            path: "/api-ext/domain/bench/user?commit=false",
        },
        Target {
            name: "roster commit, SQLite",
            server: Server::Roster { database: "sqlite" },
            path: "/api-ext/domain/bench/user",
        },
        Target {
            name: "roster commit, memory",
            server: Server::Roster { database: "memory" },
            path: "/api-ext/domain/bench/user",
        },
    ];
    println!(
        "load: wrk -t2 -c{connections} -d{duration}s, POST of a ~0.9 KB user (a new user each request), 2 server workers, all on 127.0.0.1\n"
    );
    let mut outcomes = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let port = free_port()?;
        let mut child = start(&root, &work, target, port, i)?;
        let result = wait_ready(port).and_then(|()| load(&script, port, target, duration, connections));
        let _ = child.kill();
        let _ = child.wait();
        outcomes.push(result?);
    }
    let _ = std::fs::remove_dir_all(&work);

    let echo = outcomes[0].requests_per_sec;
    println!("{:<28} {:>12} {:>10} {:>10} {:>10}  non-2xx", "target", "requests/s", "p50", "p99", "vs echo");
    for o in &outcomes {
        println!(
            "{:<28} {:>12.0} {:>10} {:>10} {:>10.2}  {}",
            o.name,
            o.requests_per_sec,
            o.p50,
            o.p99,
            o.requests_per_sec / echo,
            o.non_2xx
        );
    }
    let dry = outcomes[1].requests_per_sec / echo;
    println!(
        "\ntarget: roster dry run >= 0.60 of echo; measured {dry:.2} (SQLite), {:.2} (memory)",
        outcomes[2].requests_per_sec / echo
    );
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn start(root: &Path, work: &Path, target: &Target, port: u16, n: usize) -> Result<Child, String> {
    let release = root.join("target/release");
    let log = std::fs::File::create(work.join(format!("server-{n}.log"))).map_err(|e| e.to_string())?;
    let mut cmd = match target.server {
        Server::Echo => {
            let mut c = Command::new(release.join("xtask"));
            c.args(["echo-server", &format!("127.0.0.1:{port}")]);
            c
        }
        Server::Roster { database } => {
            let url = match database {
                "sqlite" => format!("sqlite://{}?mode=rwc", work.join(format!("bench-{n}.db")).display()),
                _ => "memory:".to_owned(),
            };
            let mut c = Command::new(release.join("roster"));
            c.env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
                .env("ROSTER_DATABASE_URL", url)
                .env("ROSTER_WORKERS", "2")
                .env("ROSTER_LOG_FILTER", "warn");
            c
        }
    };
    cmd.stdout(Stdio::null()).stderr(log).spawn().map_err(|e| format!("cannot start {}: {e}", target.name))
}

fn wait_ready(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /health/ready HTTP/1.0\r\n\r\n");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the server on port {port} did not start"))
}

fn load(script: &PathBuf, port: u16, target: &Target, duration: u64, connections: u32) -> Result<Outcome, String> {
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{duration}s"), "--latency", "-s"])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--")
        .arg(target.path)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| -> Option<String> {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_owned())
    };
    let requests_per_sec = field("Requests/sec:")
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("unexpected wrk output for {}:\n{text}", target.name))?;
    Ok(Outcome {
        name: target.name,
        requests_per_sec,
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        non_2xx: field("Non-2xx or 3xx responses:").unwrap_or_else(|| "0".to_owned()),
    })
}

/// The echo target: parse the JSON body, send it back. Runs in the release
/// xtask binary (`xtask echo-server ADDR`), with as many workers as roster.
pub fn echo_server(address: &str) -> Result<(), String> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    async fn echo(body: web::Bytes) -> HttpResponse {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => HttpResponse::Ok().json(v),
            Err(e) => HttpResponse::BadRequest().body(e.to_string()),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        HttpServer::new(|| App::new().route("/echo", web::post().to(echo)))
            .workers(2)
            .bind(address)
            .map_err(|e| e.to_string())?
            .run()
            .await
            .map_err(|e| e.to_string())
    })
}
