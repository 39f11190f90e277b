//! `cargo xtask bench upsert`: load-tests single-user upserts with wrk, and
//! on PostgreSQL compares them with pgbench.
//!
//! Everything runs in one invocation, against release builds on 127.0.0.1,
//! one load at a time (never two at once). The HTTP load is wrk (threads =
//! min(2, connections)) POSTing a realistic ~0.9 KB user body, every request
//! a distinct user; roster serves with 2 workers.
//!
//! **Embedded stores** (`--only sqlite|memory`, both with `all`), at
//! `--connections` (64) for `--duration` (10 s) each:
//!
//! - `echo`: a minimal actix-web endpoint that parses the JSON and echoes it
//!   (the ceiling: HTTP + JSON on this machine);
//! - roster dry run (`commit=false`) and roster commit, on SQLite and in
//!   memory.
//!
//! It prints requests/s, p50 and p99 for each and the ratio to the echo
//! (target: a dry run reaches 0.60 of the echo).
//!
//! **PostgreSQL** (`--only postgres`, also with `all`): `--postgres URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`) is an admin
//! connection; the bench creates a fresh database `roster_bench_<pid>` on
//! that server with `psql`, and drops it at the end, also on failure.
//!
//! 1. roster serves on it (migrated at start, a pool of `--pool` (10, roster's default)
//!    connections) and wrk sends committed single-user upserts
//!    (`POST /api-ext/domain/bench/user`, `commit` defaults to true) at 1, 8
//!    and 64 connections (`--pg-connections 1,8,64`), `--duration` each;
//! 2. roster stops, and pgbench runs, in the same database, a transaction of
//!    one `INSERT … ON CONFLICT (namespace, user_id) DO UPDATE` of a distinct
//!    user into `pgbench_upsert`, a table shaped like roster's `users` (the
//!    same columns and keys, with roles, teams and telephony configurations
//!    in one `jsonb` column) — an autocommitted statement, so one durable
//!    commit per transaction, as for each roster upsert — at the same
//!    connection counts (`-n -M prepared -j min(2, N) -T duration`, per-
//!    transaction latencies from its `-l` logs).
//!
//! Each measurement starts after a `CHECKPOINT`. It prints, per connection
//! count, roster's committed upserts/s (2xx responses/s) with p50 and p99,
//! pgbench's tps with p50 and p99, and the ratio roster / pgbench, with any
//! non-2xx response or socket error called out; then whether the targets
//! hold: at 64 connections, roster reaches 0.50 of pgbench's tps with a p99
//! of at most 50 ms, and no non-2xx response.
//!
//! Options: `--only all|sqlite|memory|postgres` (all), `--duration SECS`
//! (10), `--connections N` (64, embedded stores), `--postgres URL`,
//! `--pool N` (10, roster's default), `--pg-connections LIST` (1,8,64).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::workspace_root;

const USAGE: &str =
    "usage: cargo xtask bench upsert [--only all|sqlite|memory|postgres] [--duration SECS] [--connections N]
                               [--postgres URL] [--pool N] [--pg-connections 1,8,64]
       cargo xtask bench bulk [--only all|sqlite|postgres|copy] [--users N] [--postgres URL] [--pool N]";

pub(crate) const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL targets: at these connection counts, roster's committed
/// upserts/s reach this share of pgbench's tps, within this p99.
const TARGET_CONNECTIONS: u32 = 64;
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_MS: f64 = 50.0;

const WRK_SCRIPT: &str = r#"
-- Every request is a distinct user: userId, agentId and email carry the
-- run's tag (wrk's second script argument: each run of one bench differs,
-- though every run restarts the counters and the unseeded math.random) and a
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
  run = args[2]
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
  local id = run .. "-" .. tid .. "-" .. counter .. "-" .. math.random(1, 1000000000)
  local body = string.format(template, id, id, id, id)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
"#;

/// pgbench's table: the shape of roster's `users` (migrations/src), with the
/// roles, teams and telephony configurations (which roster keeps in two
/// text columns and the `user_telephony` table) in one `jsonb` column, so a
/// user is one row.
const PGBENCH_TABLE: &str = "
CREATE TABLE pgbench_upsert (
  namespace varchar(64) NOT NULL,
  user_id varchar(128) NOT NULL,
  salutation varchar(255),
  first_name varchar(255) NOT NULL,
  middle_name varchar(255),
  last_name varchar(255) NOT NULL,
  suffix varchar(255),
  job_title varchar(255) NOT NULL,
  pilot varchar(16),
  status varchar(16) NOT NULL,
  work_from_home varchar(16),
  organization varchar(255) NOT NULL,
  contact_center varchar(255) NOT NULL,
  site varchar(255) NOT NULL,
  coach_id varchar(128),
  supervisor_name varchar(255),
  supervisor_id varchar(128),
  email varchar(254),
  email_norm varchar(254),
  activation_date date NOT NULL,
  deactivation_date date,
  details jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, user_id)
);
CREATE UNIQUE INDEX ux_pgbench_upsert_email_norm ON pgbench_upsert (email_norm, namespace);
";

/// pgbench's transaction: the user of the wrk script, a distinct id each
/// time, upserted in one autocommitted statement.
const PGBENCH_SCRIPT: &str = r"\set id random(1, 1000000000)
INSERT INTO pgbench_upsert (namespace, user_id, salutation, first_name, middle_name, last_name, suffix,
  job_title, pilot, status, work_from_home, organization, contact_center, site, coach_id, supervisor_name,
  supervisor_id, email, email_norm, activation_date, deactivation_date, details, created_at, updated_at)
VALUES ('bench', 'bench-' || :id, 'Ms.', 'Ann', 'B', 'Lee', 'Jr.',
  'Customer Care Agent', 'Test', 'Active', 'Y', 'Acme Corporation', 'Boston Contact Center', 'Boston-1',
  'coach-1', 'Bob Stone', 'boss-1',
  'ann.lee.' || :id || '@example.com', lower('ann.lee.' || :id || '@example.com'), DATE '2026-01-15', NULL,
  jsonb_build_object(
    'roles', jsonb_build_array('Agent', 'Trainer'),
    'teams', jsonb_build_array('Billing', 'Retention', 'Escalations'),
    'telephonyConfigurations', jsonb_build_array(
      jsonb_build_object('platform', 'Genesys Cloud', 'agentId', 'g-' || :id, 'extension', '4042'),
      jsonb_build_object('platform', 'Five9', 'agentId', 'f-' || :id))),
  now(), now())
ON CONFLICT (namespace, user_id) DO UPDATE SET
  salutation = EXCLUDED.salutation, first_name = EXCLUDED.first_name, middle_name = EXCLUDED.middle_name,
  last_name = EXCLUDED.last_name, suffix = EXCLUDED.suffix, job_title = EXCLUDED.job_title,
  pilot = EXCLUDED.pilot, status = EXCLUDED.status, work_from_home = EXCLUDED.work_from_home,
  organization = EXCLUDED.organization, contact_center = EXCLUDED.contact_center, site = EXCLUDED.site,
  coach_id = EXCLUDED.coach_id, supervisor_name = EXCLUDED.supervisor_name,
  supervisor_id = EXCLUDED.supervisor_id, email = EXCLUDED.email, email_norm = EXCLUDED.email_norm,
  activation_date = EXCLUDED.activation_date, deactivation_date = EXCLUDED.deactivation_date,
  details = EXCLUDED.details, updated_at = EXCLUDED.updated_at;
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    All,
    Sqlite,
    Memory,
    Postgres,
}

struct Options {
    only: Only,
    duration: u64,
    connections: u32,
    postgres: String,
    pool: u32,
    pg_connections: Vec<u32>,
}

fn parse(args: &[&str]) -> Result<Options, String> {
    let mut options = Options {
        only: Only::All,
        duration: 10,
        connections: 64,
        postgres: DEFAULT_POSTGRES.to_owned(),
        pool: 10,
        pg_connections: vec![1, 8, 64],
    };
    let mut rest = args.iter();
    let Some(&"upsert") = rest.next() else {
        return Err(USAGE.to_owned());
    };
    let positive = |arg: &str, value: &str| -> Result<u32, String> {
        match value.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{arg}: expected a positive number, got {value:?}")),
        }
    };
    while let Some(arg) = rest.next() {
        if matches!(*arg, "-h" | "--help") {
            return Err(USAGE.to_owned());
        }
        let value = rest.next().ok_or(format!("{arg} needs a value\n{USAGE}"))?;
        match *arg {
            "--only" => {
                options.only = match *value {
                    "all" => Only::All,
                    "sqlite" => Only::Sqlite,
                    "memory" => Only::Memory,
                    "postgres" => Only::Postgres,
                    other => return Err(format!("--only: expected all, sqlite, memory or postgres, got {other:?}")),
                }
            }
            "--duration" => options.duration = u64::from(positive(arg, value)?),
            "--connections" => options.connections = positive(arg, value)?,
            "--postgres" => options.postgres = (*value).to_owned(),
            "--pool" => options.pool = positive(arg, value)?,
            "--pg-connections" => {
                options.pg_connections =
                    value.split(',').map(|n| positive(arg, n.trim())).collect::<Result<Vec<_>, _>>()?;
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

pub fn run(args: &[&str]) -> Result<(), String> {
    let options = parse(args)?;
    let embedded = options.only != Only::Postgres;
    let postgres = matches!(options.only, Only::All | Only::Postgres);
    installed("wrk", "apt-get install wrk")?;
    if postgres {
        installed("psql", "apt-get install postgresql-client")?;
        installed("pgbench", "apt-get install postgresql-client (pgbench comes with it)")?;
        psql(&options.postgres, "SELECT 1").map_err(|e| {
            format!(
                "PostgreSQL at {} does not answer (--postgres URL sets the server; --only sqlite|memory leaves it out):\n{e}",
                redact_password(&options.postgres)
            )
        })?;
    }

    let root = workspace_root();
    build_release(&root, &["roster", "xtask"])?;
    let work = WorkDir::create(std::env::temp_dir().join(format!("roster-bench-{}", std::process::id())))?;
    let script = work.0.join("upsert.lua");
    std::fs::write(&script, WRK_SCRIPT).map_err(|e| e.to_string())?;

    if embedded {
        bench_embedded(&root, &work.0, &script, &options)?;
    }
    if postgres {
        if embedded {
            println!();
        }
        bench_postgres(&root, &work.0, &script, &options)?;
    }
    Ok(())
}

/// echo, then roster dry run and commit on SQLite and in memory.
fn bench_embedded(root: &Path, work: &Path, script: &Path, options: &Options) -> Result<(), String> {
    const DRY: &str = "/api-ext/domain/bench/user?commit=false";
    const COMMIT: &str = "/api-ext/domain/bench/user";
    let stores: &[(&str, &str)] = match options.only {
        Only::Sqlite => &[("SQLite", "sqlite")],
        Only::Memory => &[("memory", "memory")],
        _ => &[("SQLite", "sqlite"), ("memory", "memory")],
    };
    let mut targets = vec![("echo (actix + serde_json)".to_owned(), None, "/echo")];
    for (mode, path) in [("dry run", DRY), ("commit", COMMIT)] {
        for &(label, store) in stores {
            targets.push((format!("roster {mode}, {label}"), Some(store), path));
        }
    }
    let (duration, connections) = (options.duration, options.connections);
    println!(
        "load: wrk -t{} -c{connections} -d{duration}s, POST of a ~0.9 KB user (a new user each request), 2 server workers, all on 127.0.0.1\n",
        wrk_threads(connections)
    );
    let mut outcomes = Vec::new();
    for (n, (name, store, path)) in targets.iter().enumerate() {
        let port = free_port()?;
        let log = work.join(format!("server-{n}.log"));
        let mut server = match store {
            None => {
                let mut c = Command::new(release_binary(root, "xtask"));
                c.args(["echo-server", &format!("127.0.0.1:{port}")]);
                Server::spawn(c, &log, name)?
            }
            Some(store) => {
                let url = match *store {
                    "sqlite" => format!("sqlite://{}?mode=rwc", work.join(format!("bench-{n}.db")).display()),
                    _ => "memory:".to_owned(),
                };
                Server::spawn(roster_command(root, work, port, &url, None), &log, name)?
            }
        };
        server.wait_ready(port, store.is_some())?;
        outcomes.push(load(script, port, name, path, duration, connections)?);
    }

    let echo = outcomes[0].requests_per_sec;
    println!("{:<28} {:>12} {:>10} {:>10} {:>10}  non-2xx", "target", "requests/s", "p50", "p99", "vs echo");
    for o in &outcomes {
        println!(
            "{:<28} {:>12.0} {:>10} {:>10} {:>10.2}  {}{}",
            o.name,
            o.requests_per_sec,
            o.p50,
            o.p99,
            o.requests_per_sec / echo,
            o.non_2xx,
            o.socket_errors.as_deref().map(|e| format!("  socket errors: {e}")).unwrap_or_default()
        );
    }
    let dry: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let store = o.name.strip_prefix("roster dry run, ")?;
            Some(format!("{:.2} ({store})", o.requests_per_sec / echo))
        })
        .collect();
    println!("\ntarget: roster dry run >= 0.60 of echo; measured {}", dry.join(", "));
    Ok(())
}

/// roster on a fresh PostgreSQL database, then pgbench on the same one.
fn bench_postgres(root: &Path, work: &Path, script: &Path, options: &Options) -> Result<(), String> {
    let admin = &options.postgres;
    let version = psql(admin, "SHOW server_version")?;
    let max_connections: u32 = psql(admin, "SHOW max_connections")?.parse().unwrap_or(100);
    let levels = &options.pg_connections;
    let most = levels.iter().copied().max().unwrap_or(1).max(options.pool);
    if most + 3 > max_connections {
        println!(
            "warning: PostgreSQL's max_connections is {max_connections}; {most} connections (the pool or pgbench's clients) may not fit"
        );
    }
    let database = Database::create(admin, &format!("roster_bench_{}", std::process::id()))?;
    let url = &database.url;
    let duration = options.duration;
    println!(
        "PostgreSQL {version} at {} — database {} (dropped at the end); roster: 2 workers, pool {}; then pgbench on the same database; {duration} s per run, one run at a time, each after a CHECKPOINT\n",
        redact_password(admin),
        database.name,
        options.pool
    );

    // roster: one process for all connection counts.
    let port = free_port()?;
    let log = work.join("server-postgres.log");
    let name = "roster commit, PostgreSQL";
    let mut roster = Server::spawn(roster_command(root, work, port, url, Some(options.pool)), &log, name)?;
    roster.wait_ready(port, true)?;
    let mut http = Vec::new();
    for &connections in levels {
        checkpoint(url);
        let outcome = load(script, port, name, "/api-ext/domain/bench/user", duration, connections)?;
        println!(
            "  roster    c={connections:<3} {:>8.0} upserts/s  p99 {}{}",
            outcome.ok_per_sec(),
            outcome.p99,
            if outcome.non_2xx > 0 { format!("  !! {} non-2xx", outcome.non_2xx) } else { String::new() }
        );
        http.push(outcome);
    }
    drop(roster);
    let stored: u64 = psql(url, "SELECT count(*) FROM users").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    wait_until_alone(url);

    // pgbench, the same connection counts.
    psql(url, PGBENCH_TABLE)?;
    let sql = work.join("upsert.sql");
    std::fs::write(&sql, PGBENCH_SCRIPT).map_err(|e| e.to_string())?;
    let mut bench = Vec::new();
    for &connections in levels {
        checkpoint(url);
        let outcome = pgbench(url, work, &sql, duration, connections)?;
        println!("  pgbench   c={connections:<3} {:>8.0} tps        p99 {}", outcome.tps, ms(outcome.p99_ms));
        bench.push(outcome);
    }
    let row_bytes = psql(url, "SELECT avg(pg_column_size(t.*))::int FROM pgbench_upsert t").unwrap_or_default();
    println!();

    println!(
        "{:>11} {:>15} {:>10} {:>10} {:>12} {:>10} {:>10} {:>7}  roster non-2xx",
        "connections", "roster upserts/s", "p50", "p99", "pgbench tps", "p50", "p99", "ratio"
    );
    for ((connections, h), b) in levels.iter().zip(&http).zip(&bench) {
        println!(
            "{connections:>11} {:>15.0} {:>10} {:>10} {:>12.0} {:>10} {:>10} {:>7.2}  {}",
            h.ok_per_sec(),
            h.p50,
            h.p99,
            b.tps,
            ms(b.p50_ms),
            ms(b.p99_ms),
            h.ok_per_sec() / b.tps,
            if h.non_2xx > 0 { format!("!! {} !!", h.non_2xx) } else { "0".to_owned() }
        );
    }
    let answered: u64 = http.iter().map(|h| h.requests.saturating_sub(h.non_2xx)).sum();
    println!(
        "\nroster upserts/s: 2xx responses per second, each a committed upsert of a new user (users rows stored: {stored}, 2xx responses: {answered});"
    );
    if stored < answered {
        println!("!! fewer users stored than 2xx responses: some upserts were not new users, or were not committed");
    }
    println!(
        "pgbench: one autocommitted INSERT … ON CONFLICT (namespace, user_id) DO UPDATE of a new user per transaction, rows of {row_bytes} bytes; ratio = roster / pgbench"
    );
    for (connections, h) in levels.iter().zip(&http) {
        if h.non_2xx > 0 {
            println!(
                "!! roster answered {} non-2xx responses at {connections} connections; the server's log ends with:\n{}",
                h.non_2xx,
                tail(&log, 20)
            );
        }
        if let Some(errors) = &h.socket_errors {
            println!("!! wrk socket errors at {connections} connections: {errors}");
        }
    }
    for (connections, b) in levels.iter().zip(&bench) {
        if b.failed > 0 {
            println!("!! pgbench: {} failed transactions at {connections} connections", b.failed);
        }
    }

    let Some(at) = levels.iter().position(|&c| c == TARGET_CONNECTIONS) else {
        println!("\ntarget: not evaluated (no run at {TARGET_CONNECTIONS} connections)");
        return Ok(());
    };
    let (h, b) = (&http[at], &bench[at]);
    let ratio = h.ok_per_sec() / b.tps;
    let p99 = parse_ms(&h.p99);
    let verdict = |met: bool| if met { "met" } else { "NOT MET" };
    let ratio_met = ratio >= TARGET_RATIO;
    let p99_met = p99.is_some_and(|p| p <= TARGET_P99_MS);
    let clean = h.non_2xx == 0 && h.socket_errors.is_none();
    println!(
        "\ntarget at {TARGET_CONNECTIONS} connections: roster >= {TARGET_RATIO:.2} of pgbench's tps: measured {ratio:.2}, {}; roster p99 <= {TARGET_P99_MS:.0} ms: measured {}, {}; no non-2xx or socket error: {}",
        verdict(ratio_met),
        h.p99,
        verdict(p99_met),
        verdict(clean)
    );
    println!("targets {}", if ratio_met && p99_met && clean { "MET" } else { "NOT MET" });
    Ok(())
}

pub(crate) fn installed(program: &str, hint: &str) -> Result<(), String> {
    let found = Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if found { Ok(()) } else { Err(format!("{program} is not installed: {hint}")) }
}

fn wrk_threads(connections: u32) -> u32 {
    connections.min(2)
}

pub(crate) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// roster serving `url` on `port` with 2 workers, its settings from here
/// only: no `ROSTER_*` or `RUST_LOG` of the caller, no `roster.toml`.
pub(crate) fn roster_command(root: &Path, work: &Path, port: u16, url: &str, pool: Option<u32>) -> Command {
    let mut c = Command::new(release_binary(root, "roster"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ROSTER_") {
            c.env_remove(key);
        }
    }
    c.env_remove("RUST_LOG")
        .current_dir(work)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_DATABASE_URL", url)
        .env("ROSTER_MIGRATE_ON_START", "true")
        .env("ROSTER_WORKERS", "2")
        .env("ROSTER_LOG_FILTER", "warn")
        // Plain text in the log file the bench quotes on failure.
        .env("NO_COLOR", "1")
        // The bench measures the upsert; the token check (an HS256
        // signature and a cached revocation lookup) is off here.
        .env("ROSTER_AUTH", "off");
    if let Some(pool) = pool {
        c.env("ROSTER_DATABASE_MAX_CONNECTIONS", pool.to_string());
    }
    c
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (made absolute
/// against the current directory, as cargo reads it), else `target/` in the
/// workspace.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::env::current_dir().map(|cwd| cwd.join(&dir)).unwrap_or_else(|_| PathBuf::from(dir)),
        None => root.join("target"),
    }
}

/// A binary of the release build.
pub(crate) fn release_binary(root: &Path, name: &str) -> PathBuf {
    target_dir(root).join("release").join(name)
}

/// `cargo build --release` of `packages`, into the target directory
/// [`release_binary`] reads.
pub(crate) fn build_release(root: &Path, packages: &[&str]) -> Result<(), String> {
    let mut command = Command::new(env!("CARGO"));
    command.args(["build", "--release", "--quiet"]);
    for package in packages {
        command.args(["-p", package]);
    }
    println!("building release binaries (cargo build --release -p {})…", packages.join(" -p "));
    let status =
        command.env("CARGO_TARGET_DIR", target_dir(root)).current_dir(root).status().map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err("release build failed".to_owned()) }
}

/// A server process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Server {
    pub(crate) fn spawn(mut command: Command, log: &Path, name: &str) -> Result<Self, String> {
        let file = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child =
            command.stdout(Stdio::null()).stderr(file).spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { child, name: name.to_owned(), log: log.to_owned() })
    }

    /// Until the server answers on `port` (with a 200 on `/health/ready`
    /// when `ready` is asked for: roster has migrated and reaches its store).
    pub(crate) fn wait_ready(&mut self, port: u16, ready: bool) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited ({status}); its log ends with:\n{}", self.name, tail(&self.log, 20)));
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"GET /health/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                let status = answer.lines().next().unwrap_or_default();
                if !ready || status.split_whitespace().nth(1) == Some("200") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "{} on port {port} was not ready within 60 s; its log ends with:\n{}",
            self.name,
            tail(&self.log, 20)
        ))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What to say when the server has exited, or None while it runs.
    pub(crate) fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        Some(format!("{} exited ({status}); its log ends with:\n{}", self.name, tail(&self.log, 20)))
    }

    /// The last `lines` lines of the server's log (stderr).
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bench's temporary directory, removed when dropped.
pub(crate) struct WorkDir(pub(crate) PathBuf);

impl WorkDir {
    pub(crate) fn create(path: PathBuf) -> Result<Self, String> {
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A PostgreSQL database made for this run, dropped (with whatever is still
/// connected to it) when this is dropped — on success, error or panic.
pub(crate) struct Database {
    admin: String,
    pub(crate) name: String,
    pub(crate) url: String,
}

impl Database {
    pub(crate) fn create(admin: &str, name: &str) -> Result<Self, String> {
        let url = with_database(admin, name)?;
        psql(admin, &format!("CREATE DATABASE {name}")).map_err(|e| format!("cannot create database {name}: {e}"))?;
        Ok(Self { admin: admin.to_owned(), name: name.to_owned(), url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(e) = psql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("warning: could not drop the bench database {}: {e}", self.name);
        }
    }
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("--postgres: not a URL: {url}"))?;
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (rest, None),
    };
    let authority = address.split_once('/').map_or(address, |(authority, _)| authority);
    Ok(match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    })
}

pub(crate) fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Runs `sql` with psql, stopping at the first error; its output, trimmed.
pub(crate) fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("psql: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// So that no run pays for the checkpoint the previous one made due.
pub(crate) fn checkpoint(url: &str) {
    if let Err(e) = psql(url, "CHECKPOINT") {
        eprintln!("warning: CHECKPOINT failed (the runs may be less comparable): {e}");
    }
}

/// Waits (10 s at most) until no other session is connected to `url`'s
/// database: roster's pool is gone before pgbench starts.
fn wait_until_alone(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    while Instant::now() < deadline {
        if psql(url, sql).as_deref() == Ok("0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("warning: other sessions are still connected to the bench database");
}

struct Outcome {
    name: String,
    requests_per_sec: f64,
    requests: u64,
    seconds: f64,
    p50: String,
    p99: String,
    non_2xx: u64,
    socket_errors: Option<String>,
}

impl Outcome {
    /// 2xx (or 3xx) responses per second.
    fn ok_per_sec(&self) -> f64 {
        self.requests.saturating_sub(self.non_2xx) as f64 / self.seconds
    }
}

/// How many wrk runs this bench has started: the tag of the next one.
static RUNS: AtomicU32 = AtomicU32::new(1);

fn load(script: &Path, port: u16, name: &str, path: &str, duration: u64, connections: u32) -> Result<Outcome, String> {
    let out = Command::new("wrk")
        .args([
            &format!("-t{}", wrk_threads(connections)),
            &format!("-c{connections}"),
            &format!("-d{duration}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--")
        .arg(path)
        .arg(format!("r{}", RUNS.fetch_add(1, Ordering::Relaxed)))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| -> Option<String> {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_owned())
    };
    let unexpected = || format!("unexpected wrk output for {name}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let requests_per_sec = field("Requests/sec:").and_then(|v| v.parse::<f64>().ok()).ok_or_else(unexpected)?;
    // "  12345 requests in 5.00s, 20.00MB read"
    let (requests, seconds) = text
        .lines()
        .find_map(|l| {
            let (count, rest) = l.trim().split_once(" requests in ")?;
            let seconds = parse_ms(rest.split(',').next()?)? / 1000.0;
            Some((count.parse::<u64>().ok()?, seconds))
        })
        .ok_or_else(unexpected)?;
    let socket_errors = field("Socket errors:");
    Ok(Outcome {
        name: name.to_owned(),
        requests_per_sec,
        requests,
        seconds,
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        non_2xx: field("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0),
        socket_errors,
    })
}

/// A wrk duration ("850.00us", "4.20ms", "1.02s", "1.50m") in milliseconds.
fn parse_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(number * factor)
}

/// Milliseconds written as wrk writes them.
fn ms(value: f64) -> String {
    if value < 1.0 { format!("{:.2}us", value * 1000.0) } else { format!("{value:.2}ms") }
}

struct PgbenchOutcome {
    tps: f64,
    failed: u64,
    p50_ms: f64,
    p99_ms: f64,
}

fn pgbench(url: &str, work: &Path, sql: &Path, duration: u64, connections: u32) -> Result<PgbenchOutcome, String> {
    let prefix = format!("pgbench-c{connections}");
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-f"])
        .arg(sql)
        .args([
            format!("-c{connections}"),
            format!("-j{}", connections.min(2)),
            format!("-T{duration}"),
            "-l".to_owned(),
            format!("--log-prefix={}", work.join(&prefix).display()),
        ])
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "pgbench failed at {connections} connections:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let field = |prefix: &str| -> Option<&str> {
        text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).and_then(|v| v.split_whitespace().next())
    };
    // "tps = 1234.56 (without initial connection time)"
    let tps = field("tps = ")
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("unexpected pgbench output:\n{text}"))?;
    let failed = field("number of failed transactions:").and_then(|v| v.parse().ok()).unwrap_or(0);

    // The per-transaction logs: "client transaction latency_us script epoch us".
    let mut latencies = Vec::new();
    let entries = std::fs::read_dir(work).map_err(|e| e.to_string())?;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&format!("{prefix}.")) {
            continue;
        }
        let log = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
        latencies.extend(log.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()));
        let _ = std::fs::remove_file(entry.path());
    }
    if latencies.is_empty() {
        return Err(format!("pgbench wrote no transaction log at {connections} connections:\n{text}"));
    }
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1] as f64 / 1000.0
    };
    Ok(PgbenchOutcome { tps, failed, p50_ms: percentile(0.50), p99_ms: percentile(0.99) })
}

/// The last `lines` lines of a log file.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(with_database(DEFAULT_POSTGRES, "b").unwrap(), "postgres://postgres@127.0.0.1:5432/b");
        assert_eq!(
            with_database("postgres://u:p@h/x?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5432", "b").unwrap(), "postgres://h:5432/b");
        assert!(with_database("nonsense", "b").is_err());
        assert_eq!(redact_password("postgres://u:p@h/x"), "postgres://u:***@h/x");
        assert_eq!(redact_password(DEFAULT_POSTGRES), DEFAULT_POSTGRES);
    }

    #[test]
    fn wrk_durations() {
        let close = |text: &str, expected: f64| (parse_ms(text).unwrap() - expected).abs() < 1e-9;
        assert!(close("850.00us", 0.85) && close("4.20ms", 4.2) && close("1.02s", 1020.0) && close("1.50m", 90_000.0));
        assert_eq!(parse_ms("fast"), None);
        assert_eq!(ms(0.5), "500.00us");
        assert_eq!(ms(12.345), "12.35ms");
    }

    #[test]
    fn options() {
        let o = parse(&["upsert"]).unwrap();
        assert!(o.only == Only::All && o.duration == 10 && o.pg_connections == [1, 8, 64] && o.pool == 10);
        let o = parse(&["upsert", "--only", "postgres", "--duration", "5", "--pg-connections", "1, 64"]).unwrap();
        assert!(o.only == Only::Postgres && o.duration == 5 && o.pg_connections == [1, 64]);
        assert!(parse(&["upsert", "--only", "oracle"]).is_err());
        assert!(parse(&["upsert", "--pool", "0"]).is_err());
        assert!(parse(&["upsert", "--duration"]).is_err());
        assert!(parse(&["other"]).is_err());
    }
}
