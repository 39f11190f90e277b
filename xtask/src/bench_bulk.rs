//! `cargo xtask bench bulk`: times bulk imports (`POST
//! /api-ext/domain/{ns}/users`) of `--users` (100,000) new users, dry run and
//! commit, on SQLite and PostgreSQL, with roster's peak memory; and on
//! PostgreSQL, beside it, psql's `\copy` of the same rows into the same
//! tables.
//!
//! Everything runs in one invocation, against a release build of roster on
//! 127.0.0.1 (2 workers, authentication off), one thing at a time.
//!
//! **The import.** N distinct, valid users are generated once into one JSON
//! array file (written as a stream, never held in memory), about 0.7 KB each
//! (the size of `bench upsert`'s user):
//! a distinct `userId`, a distinct email (mixed case), one telephony
//! configuration with a distinct agent id (an extension on every other one),
//! one or two roles, one or two teams, the usual optional fields, an
//! `Inactive` user with a `deactivationDate` one time in 25; one user in ten
//! has a `supervisorId` (with the matching `supervisorName`) and one in
//! twenty a `coachId`, pointing at another user of the import, earlier or
//! later in the file. Every user is new to the store, so a run creates N.
//!
//! **A run** (per store: dry run `commit=false`, then commit `commit=true`),
//! each with a fresh roster process on the same store, so each has its own
//! peak memory:
//!
//! 1. roster starts (migrating the store) and reports ready;
//! 2. the clock starts; the file is streamed from disk in one `POST
//!    /api-ext/domain/bench/users?commit=…` (`Content-Type: application/json`,
//!    a plain HTTP/1.1 client on a TCP socket), which must answer `202
//!    Accepted` with a `reportId` (and a `Location`);
//! 3. the report is polled every 100 ms (`GET
//!    /api-ext/domain/bench/users/report/{reportId}?includeUsers=false`) until
//!    its `status` is no longer `inprogress`; the clock stops there (so a time
//!    is the whole import, upload and parsing included, to within 100 ms);
//! 4. the report must be `completed` with `received` = `processed` = `valid`
//!    = `created` = N and `invalid` = 0, and `persisted` = N on a commit, 0 on
//!    a dry run;
//! 5. roster's peak resident memory (`VmHWM` of `/proc/<pid>/status`) is read,
//!    and roster stops.
//!
//! After the commit, the store must hold the N users and exactly their
//! roles, teams and telephony rows (counted with `psql`, or `sqlite3` — the
//! SQLite count is skipped, with a note, when the `sqlite3` CLI is absent).
//!
//! **Stores.** SQLite: a file in the bench's temporary directory, roster's
//! default pool. PostgreSQL: `--postgres URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) is an admin connection;
//! the bench creates a fresh database `roster_bench_<pid>` with `psql` (and
//! drops it at the end, also on failure); roster's pool is `--pool` (10, its
//! default). Each PostgreSQL measurement starts after a `CHECKPOINT`.
//!
//! **COPY, the PostgreSQL floor.** A second fresh database,
//! `roster_bench_<pid>_copy`, migrated by `roster migrate` (the same tables,
//! keys, unique indexes and foreign keys). From the same generated users the
//! bench writes one text-format file per table — `users` (with
//! `email_norm` lower-cased, `created_at` = `updated_at` = the server's
//! `now()`, `roles` and `teams` JSON arrays) and `user_telephony`
//! (`position` the 0-based list index, `platform_norm` lower-cased) — and
//! then times one `psql` process running `BEGIN; \copy users …; \copy
//! user_telephony …; COMMIT;` (client-side `\copy` from
//! those files; the time is the process's wall time, connection included).
//! The rows loaded are counted as after roster's commit. It prints the time
//! beside roster's commit on PostgreSQL, and the ratio.
//!
//! **Output.** A table of store, mode, users, seconds, users/s and peak RSS
//! (MB), the COPY comparison, then the targets (evaluated only when
//! `--users` is 100,000, the size they are set for): committed on PostgreSQL
//! in ≤ 20 s, on SQLite in ≤ 30 s; a dry run in ≤ 10 s; roster's peak RSS ≤
//! 300 MB in every run.
//!
//! Options: `--only all|sqlite|postgres|copy` (all: SQLite, then PostgreSQL
//! with COPY; `copy`: only the COPY baseline, no roster import), `--users N`
//! (100000; roster takes at most 200,000 and 256 MiB in one import),
//! `--postgres URL`, `--pool N` (10, roster's default; PostgreSQL only).

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bench::{
    DEFAULT_POSTGRES, Database, Server, WorkDir, build_release, checkpoint, free_port, installed, psql,
    redact_password, roster_command,
};
use crate::workspace_root;

const USAGE: &str =
    "usage: cargo xtask bench bulk [--only all|sqlite|postgres|copy] [--users N] [--postgres URL] [--pool N]";

/// The namespace every import goes to.
const NAMESPACE: &str = "bench";

/// How often the report is polled.
const POLL: Duration = Duration::from_millis(100);

/// How long one import may take before the bench gives up on it.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The targets, for this many users.
const TARGET_USERS: u64 = 100_000;
const TARGET_POSTGRES_COMMIT_SECS: f64 = 20.0;
const TARGET_SQLITE_COMMIT_SECS: f64 = 30.0;
const TARGET_DRY_RUN_SECS: f64 = 10.0;
const TARGET_PEAK_RSS_MB: f64 = 300.0;

/// The columns the COPY files hold, in their order (migrations/src).
const USERS_COLUMNS: &str = "namespace, user_id, salutation, first_name, middle_name, last_name, suffix, job_title, \
                             pilot, status, work_from_home, organization, contact_center, site, coach_id, \
                             supervisor_name, supervisor_id, email, email_norm, activation_date, deactivation_date, \
                             created_at, updated_at, roles, teams";
const TELEPHONY_COLUMNS: &str = "namespace, user_id, position, platform, platform_norm, agent_id, extension";

/// The users, roles, teams and telephony rows in the bench's namespace, as
/// `a|b|c|d` (the output of both `psql -A` and `sqlite3`); roles and teams
/// are JSON arrays in the users' rows (`json_array_length` on both).
fn count_rows(postgres: bool) -> String {
    let cast = if postgres { "::json" } else { "" };
    format!(
        "SELECT (SELECT count(*) FROM users WHERE namespace = 'bench'), \
         (SELECT coalesce(sum(json_array_length(roles{cast})), 0) FROM users WHERE namespace = 'bench'), \
         (SELECT coalesce(sum(json_array_length(teams{cast})), 0) FROM users WHERE namespace = 'bench'), \
         (SELECT count(*) FROM user_telephony WHERE namespace = 'bench')"
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Only {
    All,
    Sqlite,
    Postgres,
    Copy,
}

struct Options {
    only: Only,
    users: u64,
    postgres: String,
    pool: u32,
}

/// `args` after `bench bulk`.
fn parse(args: &[&str]) -> Result<Options, String> {
    let mut options = Options { only: Only::All, users: TARGET_USERS, postgres: DEFAULT_POSTGRES.to_owned(), pool: 10 };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if matches!(*arg, "-h" | "--help") {
            return Err(USAGE.to_owned());
        }
        let value = rest.next().ok_or(format!("{arg} needs a value\n{USAGE}"))?;
        let positive = || match value.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{arg}: expected a positive number, got {value:?}")),
        };
        match *arg {
            "--only" => {
                options.only = match *value {
                    "all" => Only::All,
                    "sqlite" => Only::Sqlite,
                    "postgres" => Only::Postgres,
                    "copy" => Only::Copy,
                    other => return Err(format!("--only: expected all, sqlite, postgres or copy, got {other:?}")),
                }
            }
            "--users" => options.users = u64::from(positive()?),
            "--postgres" => options.postgres = (*value).to_owned(),
            "--pool" => options.pool = positive()?,
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

pub fn run(args: &[&str]) -> Result<(), String> {
    let options = parse(args)?;
    let sqlite = matches!(options.only, Only::All | Only::Sqlite);
    let postgres = matches!(options.only, Only::All | Only::Postgres | Only::Copy);
    if postgres {
        installed("psql", "apt-get install postgresql-client")?;
        psql(&options.postgres, "SELECT 1").map_err(|e| {
            format!(
                "PostgreSQL at {} does not answer (--postgres URL sets the server; --only sqlite leaves it out):\n{e}",
                redact_password(&options.postgres)
            )
        })?;
    }

    let root = workspace_root();
    build_release(&root, &["roster"])?;
    let work = WorkDir::create(std::env::temp_dir().join(format!("roster-bench-bulk-{}", std::process::id())))?;
    let file = work.0.join("users.json");
    let started = Instant::now();
    let generated = write_import(&file, options.users)?;
    println!(
        "generated {} users in {} ({:.1} MB, {:.0} bytes a user on average; {} roles, {} teams, {} telephony configurations) in {:.1} s",
        generated.users,
        file.display(),
        generated.bytes as f64 / 1e6,
        generated.bytes as f64 / generated.users as f64,
        generated.roles,
        generated.teams,
        generated.telephony,
        started.elapsed().as_secs_f64()
    );
    if options.only != Only::Copy {
        println!(
            "roster: release build, 2 workers, authentication off, a fresh process per run; report polled every {} ms",
            POLL.as_millis()
        );
    }
    println!();

    let mut runs = Vec::new();
    if sqlite {
        let url = format!("sqlite://{}?mode=rwc", work.0.join("bulk.db").display());
        let store = Store { label: "SQLite", url: &url, pool: None, postgres: false };
        runs.push(import(&root, &work.0, &store, false, &file, &generated)?);
        runs.push(import(&root, &work.0, &store, true, &file, &generated)?);
        match installed("sqlite3", "") {
            Ok(()) => {
                let path = work.0.join("bulk.db");
                let counts = sqlite3(&path, &count_rows(false))?;
                check_counts("roster's commit on SQLite", &counts, &generated)?;
                println!("  SQLite holds {}", describe_counts(&counts));
            }
            Err(_) => println!("  (the sqlite3 CLI is not installed: the rows stored on SQLite are not counted)"),
        }
        println!();
    }
    let mut copy = None;
    if postgres {
        let admin = &options.postgres;
        let version = psql(admin, "SHOW server_version")?;
        let pid = std::process::id();
        if options.only != Only::Copy {
            let database = Database::create(admin, &format!("roster_bench_{pid}"))?;
            println!(
                "PostgreSQL {version} at {}: database {} (dropped at the end), roster's pool {}",
                redact_password(admin),
                database.name,
                options.pool
            );
            let store = Store { label: "PostgreSQL", url: &database.url, pool: Some(options.pool), postgres: true };
            runs.push(import(&root, &work.0, &store, false, &file, &generated)?);
            runs.push(import(&root, &work.0, &store, true, &file, &generated)?);
            let counts = psql(&database.url, &count_rows(true))?;
            check_counts("roster's commit on PostgreSQL", &counts, &generated)?;
            println!("  PostgreSQL holds {}", describe_counts(&counts));
        }
        let database = Database::create(admin, &format!("roster_bench_{pid}_copy"))?;
        println!(
            "PostgreSQL {version}: database {} (dropped at the end) for psql's \\copy, migrated by `roster migrate`",
            database.name
        );
        copy = Some(copy_baseline(&root, &work.0, &database.url, &generated)?);
        println!();
    }

    report(&runs, copy, options.users);
    Ok(())
}

/// Where an import goes.
struct Store<'a> {
    label: &'static str,
    url: &'a str,
    pool: Option<u32>,
    postgres: bool,
}

/// One timed import.
struct Run {
    store: &'static str,
    commit: bool,
    users: u64,
    seconds: f64,
    peak_rss_mb: Option<f64>,
}

impl Run {
    fn mode(&self) -> &'static str {
        if self.commit { "commit" } else { "dry run" }
    }
}

/// A bulk import of `file` by a fresh roster process on `store`, timed from
/// the POST to the end of the import, checked against what was generated.
fn import(
    root: &Path,
    work: &Path,
    store: &Store,
    commit: bool,
    file: &Path,
    generated: &Generated,
) -> Result<Run, String> {
    let mode = if commit { "commit" } else { "dry run" };
    let name = format!("roster {mode}, {}", store.label);
    let port = free_port()?;
    let log = work.join(format!("roster-{}-{}.log", store.label.to_lowercase(), if commit { "commit" } else { "dry" }));
    let mut server = Server::spawn(roster_command(root, work, port, store.url, store.pool), &log, &name)?;
    server.wait_ready(port, true)?;
    if store.postgres {
        checkpoint(store.url);
    }

    let path = format!("/api-ext/domain/{NAMESPACE}/users?commit={commit}");
    let start = Instant::now();
    let answer = http(port, "POST", &path, Some(file))
        .map_err(|e| format!("{name}: POST {path}: {e}\n{}", server.exited().unwrap_or_else(|| log_note(&server))))?;
    if answer.status != 202 {
        let hint = match answer.status {
            404 | 405 => " (this roster has no bulk endpoint: is the release build from a checkout that has it?)",
            409 => " (another bulk import is running in the namespace)",
            _ => "",
        };
        return Err(format!(
            "{name}: POST {path} answered {}, expected 202{hint}:\n{}\n{}",
            answer.status,
            answer.excerpt(),
            log_note(&server)
        ));
    }
    let accepted_after = start.elapsed().as_secs_f64();
    let accepted: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("{name}: the 202 answer is not JSON ({e}):\n{}", answer.excerpt()))?;
    let report_path = report_path(answer.header("location"), &accepted)
        .ok_or_else(|| format!("{name}: the 202 answer has neither a Location header nor a reportId:\n{accepted}"))?;

    let mut last_progress = Instant::now();
    let report = loop {
        std::thread::sleep(POLL);
        if let Some(exited) = server.exited() {
            return Err(format!("{name}: roster stopped during the import: {exited}"));
        }
        let answer = http(port, "GET", &report_path, None).map_err(|e| format!("{name}: GET {report_path}: {e}"))?;
        if answer.status != 200 {
            return Err(format!(
                "{name}: GET {report_path} answered {}, expected 200:\n{}",
                answer.status,
                answer.excerpt()
            ));
        }
        let report: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{name}: the report is not JSON ({e}):\n{}", answer.excerpt()))?;
        match report.get("status").and_then(Value::as_str) {
            Some("inprogress") => {}
            Some(_) => break report,
            None => return Err(format!("{name}: the report has no status:\n{report}")),
        }
        if start.elapsed() > IMPORT_TIMEOUT {
            return Err(format!(
                "{name}: still in progress after {} s: {}",
                IMPORT_TIMEOUT.as_secs(),
                summary(&report).map(|s| s.to_string()).unwrap_or_default()
            ));
        }
        if last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            if let Ok(s) = summary(&report) {
                println!(
                    "  … {name}: {} of {} processed after {:.0} s",
                    s.processed,
                    s.received,
                    start.elapsed().as_secs_f64()
                );
            }
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_mb(server.pid());
    let log_end = server.log_tail(20);
    drop(server);

    let status = report.get("status").and_then(Value::as_str).unwrap_or_default();
    let s = summary(&report).map_err(|e| format!("{name}: {e}:\n{report}"))?;
    let n = generated.users;
    let mut wrong = Vec::new();
    if status != "completed" {
        wrong.push(format!("status {status:?}, expected \"completed\""));
    }
    for (field, value, expected) in [
        ("received", s.received, n),
        ("processed", s.processed, n),
        ("valid", s.valid, n),
        ("invalid", s.invalid, 0),
        ("created", s.created, n),
        ("persisted", s.persisted, if commit { n } else { 0 }),
    ] {
        if value != expected {
            wrong.push(format!("{field} {value}, expected {expected}"));
        }
    }
    if !wrong.is_empty() {
        let errors = report.get("errors").filter(|e| e.as_array().is_some_and(|a| !a.is_empty()));
        return Err(format!(
            "{name}: the import's report is not what {n} new valid users give: {}\nsummary: {s}{}\nroster's log ends with:\n{log_end}",
            wrong.join("; "),
            errors.map(|e| format!("\nerrors: {e}")).unwrap_or_default()
        ));
    }
    println!(
        "  {name}: {seconds:.2} s ({:.0} users/s; 202 after {accepted_after:.2} s), peak RSS {}\n    summary: {s}",
        n as f64 / seconds,
        peak_rss_mb.map(|m| format!("{m:.0} MB")).unwrap_or_else(|| "n/a".to_owned())
    );
    Ok(Run { store: store.label, commit, users: n, seconds, peak_rss_mb })
}

fn log_note(server: &Server) -> String {
    format!("roster's log ends with:\n{}", server.log_tail(20))
}

/// The report's path, for polling without its `users`: the `Location` of
/// the 202 (a path, or an absolute URL on this server), else built from the
/// `reportId`.
fn report_path(location: Option<&str>, accepted: &Value) -> Option<String> {
    let path = match location {
        Some(l) if l.starts_with('/') => l.to_owned(),
        Some(l) if l.contains("://") => {
            let after = &l[l.find("://")? + 3..];
            after.find('/').map(|at| after[at..].to_owned())?
        }
        _ => {
            let id = accepted.get("reportId")?.as_str()?;
            format!("/api-ext/domain/{NAMESPACE}/users/report/{id}")
        }
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    Some(format!("{path}{separator}includeUsers=false"))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Summary {
    received: u64,
    processed: u64,
    valid: u64,
    invalid: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    persisted: u64,
}

fn summary(report: &Value) -> Result<Summary, String> {
    let s = report.get("summary").ok_or("the report has no summary")?;
    let field = |name: &str| s.get(name).and_then(Value::as_u64).ok_or(format!("the report has no summary.{name}"));
    Ok(Summary {
        received: field("received")?,
        processed: field("processed")?,
        valid: field("valid")?,
        invalid: field("invalid")?,
        created: field("created")?,
        updated: field("updated")?,
        unchanged: field("unchanged")?,
        persisted: field("persisted")?,
    })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received {}, processed {}, valid {}, invalid {}, created {}, updated {}, unchanged {}, persisted {}",
            self.received,
            self.processed,
            self.valid,
            self.invalid,
            self.created,
            self.updated,
            self.unchanged,
            self.persisted
        )
    }
}

/// A process's peak resident set (`VmHWM`), in MB; None off Linux.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kb: f64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb / 1024.0)
}

// ---------------------------------------------------------------------------
// HTTP: a minimal HTTP/1.1 client, one connection per request.

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text, cut at 2,000 characters.
    fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        match text.char_indices().nth(2000) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None if text.is_empty() => "(empty body)".to_owned(),
            None => text.into_owned(),
        }
    }
}

/// `method path` on 127.0.0.1:`port`, with `body` (a JSON file, streamed
/// from disk) if any; `Connection: close`, so the answer ends with the
/// connection.
fn http(port: u16, method: &str, path: &str, body: Option<&Path>) -> Result<Response, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("cannot connect: {e}"))?;
    // An import's 202 comes once the body is read (and perhaps parsed).
    stream.set_read_timeout(Some(Duration::from_secs(600))).map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    let sent = match body {
        None => {
            head.push_str("\r\n");
            stream.write_all(head.as_bytes())
        }
        Some(body) => {
            let mut file = File::open(body).map_err(|e| format!("cannot open {}: {e}", body.display()))?;
            let length = file.metadata().map_err(|e| e.to_string())?.len();
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"));
            stream.write_all(head.as_bytes()).and_then(|()| std::io::copy(&mut file, &mut stream).map(drop))
        }
    };
    // The server may answer (an error) and close before reading the whole
    // body: its answer is still worth reading when sending failed.
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    match parse_response(&raw) {
        Ok(response) => Ok(response),
        Err(e) => Err(match (sent, read) {
            (Err(e), _) => format!("sending failed ({e}) and no answer came"),
            (Ok(()), Err(e)) => format!("no answer ({e})"),
            (Ok(()), Ok(_)) => e,
        }),
    }
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    if raw.is_empty() {
        return Err("the server closed the connection without an answer".to_owned());
    }
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("an answer without the end of its headers: {}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let rest = &raw[end + 4..];
    let body = if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        dechunk(rest)?
    } else {
        match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            Some(length) => rest[..length.min(rest.len())].to_vec(),
            None => rest.to_vec(),
        }
    };
    Ok(Response { status, headers, body })
}

/// A chunked body, decoded.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("a chunked body cut short")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("a bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size {
            return Err("a chunked body cut short".to_owned());
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

// ---------------------------------------------------------------------------
// The generated users.

const FIRST_NAMES: [&str; 16] = [
    "Ann", "Bob", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena", "Mateo",
    "Nora", "Omar", "Priya",
];
const LAST_NAMES: [&str; 16] = [
    "Lee", "Stone", "Garcia", "Okafor", "Novak", "Haddad", "Kim", "Tanaka", "Silva", "Brown", "Mensah", "Fischer",
    "Rossi", "Dubois", "Nakamura", "Patel",
];
const MIDDLE_NAMES: [&str; 4] = ["Josephine", "Alexander", "Marguerite", "Sebastian"];
const SALUTATIONS: [&str; 4] = ["Ms.", "Mr.", "Mx.", "Dr."];
const JOB_TITLES: [&str; 4] = [
    "Customer Care Agent II, Billing and Payments",
    "Senior Customer Care Agent, Technical Support",
    "Customer Care Team Lead, Retention and Loyalty",
    "Quality Assurance Analyst, Contact Center Operations",
];
const ORGANIZATIONS: [&str; 3] = [
    "Acme Corporation North America Customer Operations",
    "Acme Corporation Europe, Middle East and Africa Customer Operations",
    "Globex International Customer Services Division",
];
const CONTACT_CENTERS: [(&str, &str); 4] = [
    ("Boston Contact Center (Back Bay)", "Boston Back Bay, 200 Clarendon Street, Floor"),
    ("Denver Contact Center (Tech Center)", "Denver Tech Center, 7900 East Union Avenue, Floor"),
    ("Dublin Contact Center (Docklands)", "Dublin Docklands, 1 Grand Canal Square, Floor"),
    ("Manila Contact Center (Makati)", "Makati City, 6750 Ayala Avenue, Floor"),
];
const ROLES: [&str; 4] = ["Customer Service Agent", "Supervisor", "Quality Assurance Analyst", "Trainer"];
const TEAMS: [&str; 6] = [
    "Billing and Payments Tier 1",
    "Retention and Loyalty",
    "Escalations and Complaints",
    "Technical Support Tier 2",
    "New Customer Onboarding",
    "Collections and Recovery",
];
const PLATFORMS: [&str; 4] = ["Genesys Cloud CX", "Five9 Virtual Contact Center", "Amazon Connect", "NICE CXone"];

/// User `i` of an import of `n`: every field as sent, a function of `i` and
/// `n` only, so the JSON and the COPY files describe the same users.
struct BenchUser {
    user_id: String,
    salutation: Option<&'static str>,
    first_name: &'static str,
    middle_name: Option<&'static str>,
    last_name: &'static str,
    suffix: Option<&'static str>,
    job_title: &'static str,
    pilot: Option<&'static str>,
    status: &'static str,
    work_from_home: Option<&'static str>,
    organization: &'static str,
    contact_center: &'static str,
    site: String,
    roles: Vec<&'static str>,
    teams: Vec<&'static str>,
    /// One configuration: (platform, agent id, extension).
    telephony: (&'static str, String, Option<String>),
    coach_id: Option<String>,
    supervisor_name: Option<String>,
    supervisor_id: Option<String>,
    email: String,
    activation_date: String,
    deactivation_date: Option<String>,
}

/// A UUID-shaped id (as HR systems give them), distinct for each `i`.
fn user_id(i: u64) -> String {
    format!("{:08x}-be0c-4b1a-8d2e-{i:012x}", i.wrapping_mul(0x9e37_79b9) & 0xffff_ffff)
}

fn first_name(i: u64) -> &'static str {
    FIRST_NAMES[(i % 16) as usize]
}

fn last_name(i: u64) -> &'static str {
    LAST_NAMES[(i / 16 % 16) as usize]
}

fn bench_user(i: u64, n: u64) -> BenchUser {
    let pick = |len: usize, salt: u64| ((i + salt) % len as u64) as usize;
    let (contact_center, address) = CONTACT_CENTERS[pick(4, 1)];
    let inactive = i % 25 == 7;
    // One user in ten has a supervisor: every other one later in the import,
    // the others earlier (a forward and a backward reference).
    let supervisor = match i % 20 {
        5 => Some((i + 5) % n),
        15 => Some(i - 5),
        _ => None,
    }
    .filter(|&j| j != i);
    let coach = (i % 20 == 13).then(|| i - 13);
    let mut roles = vec![ROLES[pick(4, 0)]];
    if i.is_multiple_of(3) {
        roles.push(ROLES[pick(4, 1)]);
    }
    let mut teams = vec![TEAMS[pick(6, 0)]];
    if i.is_multiple_of(4) {
        teams.push(TEAMS[pick(6, 3)]);
    }
    let month = |salt: u64| (i + salt) % 12 + 1;
    let day = |salt: u64| (i + salt) % 28 + 1;
    BenchUser {
        user_id: user_id(i),
        salutation: (!i.is_multiple_of(5)).then_some(SALUTATIONS[pick(4, 0)]),
        first_name: first_name(i),
        middle_name: (i % 3 != 2).then_some(MIDDLE_NAMES[pick(4, 1)]),
        last_name: last_name(i),
        suffix: i.is_multiple_of(17).then_some("Jr."),
        job_title: JOB_TITLES[pick(4, 2)],
        pilot: (i % 4 != 3).then_some(if i.is_multiple_of(2) { "Test" } else { "Control" }),
        status: if inactive { "Inactive" } else { "Active" },
        work_from_home: Some(if i % 3 == 1 { "Y" } else { "N" }),
        organization: ORGANIZATIONS[pick(3, 0)],
        contact_center,
        site: format!("{address} {}", i % 12 + 1),
        roles,
        teams,
        telephony: (
            PLATFORMS[pick(4, 0)],
            format!("{}-agent-{i:08}", ["gc", "f9", "ac", "nice"][pick(4, 0)]),
            i.is_multiple_of(2).then(|| format!("{}", 1000 + i % 9000)),
        ),
        coach_id: coach.map(user_id),
        supervisor_name: supervisor.map(|j| format!("{} {}", first_name(j), last_name(j))),
        supervisor_id: supervisor.map(user_id),
        email: format!("{}.{}.{i}@Customer-Care.Acme-Corporation.example.com", first_name(i), last_name(i)),
        activation_date: format!("2024-{:02}-{:02}", month(0), day(0)),
        deactivation_date: inactive.then(|| format!("2025-{:02}-{:02}", month(5), day(3))),
    }
}

/// What a generated import holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Generated {
    users: u64,
    roles: u64,
    teams: u64,
    telephony: u64,
    bytes: u64,
}

/// A JSON string literal.
struct Json<'a>(&'a str);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// The JSON array of `n` users, into `path`, one user at a time.
fn write_import(path: &Path, n: u64) -> Result<Generated, String> {
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = Counting { inner: BufWriter::with_capacity(1 << 20, file), bytes: 0 };
    let mut generated = Generated { users: n, ..Generated::default() };
    let write = |out: &mut Counting<_>, generated: &mut Generated| -> std::io::Result<()> {
        out.write_all(b"[\n")?;
        for i in 0..n {
            let u = bench_user(i, n);
            if i > 0 {
                out.write_all(b",\n")?;
            }
            write_user_json(out, &u)?;
            generated.roles += u.roles.len() as u64;
            generated.teams += u.teams.len() as u64;
            generated.telephony += 1;
        }
        out.write_all(b"\n]\n")?;
        out.flush()
    };
    write(&mut out, &mut generated).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    generated.bytes = out.bytes;
    Ok(generated)
}

fn write_user_json(out: &mut impl Write, u: &BenchUser) -> std::io::Result<()> {
    write!(out, "{{\"userId\":{}", Json(&u.user_id))?;
    let optional = |out: &mut dyn Write, name: &str, value: Option<&str>| -> std::io::Result<()> {
        match value {
            Some(v) => write!(out, ",\"{name}\":{}", Json(v)),
            None => Ok(()),
        }
    };
    optional(out, "salutation", u.salutation)?;
    write!(out, ",\"firstName\":{}", Json(u.first_name))?;
    optional(out, "middleName", u.middle_name)?;
    write!(out, ",\"lastName\":{}", Json(u.last_name))?;
    optional(out, "suffix", u.suffix)?;
    write!(out, ",\"jobTitle\":{}", Json(u.job_title))?;
    optional(out, "pilot", u.pilot)?;
    write!(out, ",\"status\":{}", Json(u.status))?;
    optional(out, "workFromHome", u.work_from_home)?;
    write!(
        out,
        ",\"organization\":{},\"contactCenter\":{},\"site\":{}",
        Json(u.organization),
        Json(u.contact_center),
        Json(&u.site)
    )?;
    let list = |out: &mut dyn Write, name: &str, items: &[&str]| -> std::io::Result<()> {
        write!(out, ",\"{name}\":[")?;
        for (k, item) in items.iter().enumerate() {
            write!(out, "{}{}", if k > 0 { "," } else { "" }, Json(item))?;
        }
        out.write_all(b"]")
    };
    list(out, "roles", &u.roles)?;
    list(out, "teams", &u.teams)?;
    let (platform, agent_id, extension) = &u.telephony;
    write!(out, ",\"telephonyConfigurations\":[{{\"platform\":{},\"agentId\":{}", Json(platform), Json(agent_id))?;
    optional(out, "extension", extension.as_deref())?;
    out.write_all(b"}]")?;
    optional(out, "coachId", u.coach_id.as_deref())?;
    optional(out, "supervisorName", u.supervisor_name.as_deref())?;
    optional(out, "supervisorId", u.supervisor_id.as_deref())?;
    write!(out, ",\"email\":{},\"activationDate\":{}", Json(&u.email), Json(&u.activation_date))?;
    optional(out, "deactivationDate", u.deactivation_date.as_deref())?;
    out.write_all(b"}")
}

/// A writer that counts the bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------
// COPY, the PostgreSQL baseline.

/// A field of PostgreSQL's COPY text format: `\N` for NULL, backslash,
/// tab, newline and carriage return escaped.
struct Text<'a>(Option<&'a str>);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(value) = self.0 else { return f.write_str("\\N") };
        for c in value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\t' => f.write_str("\\t")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                c => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

fn t(value: &str) -> Text<'_> {
    Text(Some(value))
}

/// The two tables' rows of the `n` generated users, one COPY text file a
/// table, stamped `at` (created and updated).
fn write_copy_files(work: &Path, n: u64, at: &str) -> Result<[std::path::PathBuf; 2], String> {
    let paths = ["users", "user_telephony"].map(|t| work.join(format!("{t}.copy")));
    let open = |p: &Path| {
        File::create(p)
            .map(|f| BufWriter::with_capacity(1 << 20, f))
            .map_err(|e| format!("cannot create {}: {e}", p.display()))
    };
    let (mut users, mut telephony) = (open(&paths[0])?, open(&paths[1])?);
    let json = |items: &[&str]| serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned());
    let mut write = || -> std::io::Result<()> {
        let ns = NAMESPACE;
        for i in 0..n {
            let u = bench_user(i, n);
            let id = &u.user_id;
            writeln!(
                users,
                "{ns}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                t(id),
                Text(u.salutation),
                t(u.first_name),
                Text(u.middle_name),
                t(u.last_name),
                Text(u.suffix),
                t(u.job_title),
                Text(u.pilot),
                t(u.status),
                Text(u.work_from_home),
                t(u.organization),
                t(u.contact_center),
                t(&u.site),
                Text(u.coach_id.as_deref()),
                Text(u.supervisor_name.as_deref()),
                Text(u.supervisor_id.as_deref()),
                t(&u.email),
                t(&u.email.to_lowercase()),
                t(&u.activation_date),
                Text(u.deactivation_date.as_deref()),
                t(at),
                t(at),
                t(&json(&u.roles)),
                t(&json(&u.teams)),
            )?;
            let (platform, agent_id, extension) = &u.telephony;
            writeln!(
                telephony,
                "{ns}\t{}\t0\t{}\t{}\t{}\t{}",
                t(id),
                t(platform),
                t(&platform.to_lowercase()),
                t(agent_id),
                Text(extension.as_deref())
            )?;
        }
        users.flush()?;
        telephony.flush()
    };
    write().map_err(|e| format!("cannot write the COPY files in {}: {e}", work.display()))?;
    Ok(paths)
}

/// The psql script that loads the two files in one transaction.
fn copy_script(paths: &[std::path::PathBuf; 2]) -> String {
    let quoted = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "''"));
    format!(
        "BEGIN;\n\\copy users ({USERS_COLUMNS}) FROM {}\n\\copy user_telephony ({TELEPHONY_COLUMNS}) FROM {}\nCOMMIT;\n",
        quoted(&paths[0]),
        quoted(&paths[1])
    )
}

/// Migrates `url` with `roster migrate`, then times one psql process loading
/// the generated users' rows with `\copy`; the seconds it took.
fn copy_baseline(root: &Path, work: &Path, url: &str, generated: &Generated) -> Result<f64, String> {
    let n = generated.users;
    let out = roster_command(root, work, free_port()?, url, None)
        .arg("migrate")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run roster migrate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "roster migrate failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let at = psql(url, "SELECT now()::text")?;
    let paths = write_copy_files(work, n, &at)?;
    let script = work.join("copy.sql");
    std::fs::write(&script, copy_script(&paths)).map_err(|e| e.to_string())?;

    checkpoint(url);
    let start = Instant::now();
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&script)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("psql \\copy failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    let counts = psql(url, &count_rows(true))?;
    check_counts("psql's \\copy", &counts, generated)?;
    println!(
        "  psql \\copy, PostgreSQL: {seconds:.2} s ({:.0} users/s) for {}",
        n as f64 / seconds,
        describe_counts(&counts)
    );
    Ok(seconds)
}

/// Runs `sql` on the SQLite file with the sqlite3 CLI; its output, trimmed.
fn sqlite3(path: &Path, sql: &str) -> Result<String, String> {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg(sql)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run sqlite3: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("sqlite3: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// `counts` (the output of [`count_rows`]) must be what was generated.
fn check_counts(what: &str, counts: &str, generated: &Generated) -> Result<(), String> {
    let expected = format!("{}|{}|{}|{}", generated.users, generated.roles, generated.teams, generated.telephony);
    if counts == expected {
        Ok(())
    } else {
        Err(format!(
            "{what}: the store holds users|roles|teams|telephony rows {counts:?} in namespace {NAMESPACE}, expected {expected:?}"
        ))
    }
}

fn describe_counts(counts: &str) -> String {
    let c: Vec<&str> = counts.split('|').collect();
    match c.as_slice() {
        [users, roles, teams, telephony] => {
            format!("{users} users ({roles} roles, {teams} teams), {telephony} user_telephony rows")
        }
        _ => counts.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// The report.

fn report(runs: &[Run], copy: Option<f64>, users: u64) {
    if !runs.is_empty() {
        println!(
            "{:<11} {:<8} {:>8} {:>9} {:>9} {:>12}",
            "store", "mode", "users", "seconds", "users/s", "peak RSS MB"
        );
        for r in runs {
            println!(
                "{:<11} {:<8} {:>8} {:>9.2} {:>9.0} {:>12}",
                r.store,
                r.mode(),
                r.users,
                r.seconds,
                r.users as f64 / r.seconds,
                r.peak_rss_mb.map(|m| format!("{m:.0}")).unwrap_or_else(|| "n/a".to_owned())
            );
        }
    }
    if let Some(copy) = copy {
        let roster = runs.iter().find(|r| r.store == "PostgreSQL" && r.commit);
        if roster.is_some() {
            println!();
        }
        println!(
            "psql \\copy of the same rows into the same tables (indexes and foreign keys in place, one transaction): {copy:.2} s ({:.0} users/s){}",
            users as f64 / copy,
            roster
                .map(|r| format!(
                    "; roster's commit on PostgreSQL: {:.2} s, {:.1}× COPY's time",
                    r.seconds,
                    r.seconds / copy
                ))
                .unwrap_or_default()
        );
    }
    if runs.is_empty() {
        return;
    }
    if users != TARGET_USERS {
        println!(
            "\ntargets: not evaluated (they are set for {TARGET_USERS} users; this run imported {users}, --users)"
        );
        return;
    }
    let verdict = |met: bool| if met { "met" } else { "NOT MET" };
    let mut all_met = true;
    println!("\ntargets (for {TARGET_USERS} users):");
    for (store, limit) in [("PostgreSQL", TARGET_POSTGRES_COMMIT_SECS), ("SQLite", TARGET_SQLITE_COMMIT_SECS)] {
        if let Some(r) = runs.iter().find(|r| r.store == store && r.commit) {
            let met = r.seconds <= limit;
            all_met &= met;
            println!("  committed on {store} in <= {limit:.0} s: {:.2} s, {}", r.seconds, verdict(met));
        }
    }
    for r in runs.iter().filter(|r| !r.commit) {
        let met = r.seconds <= TARGET_DRY_RUN_SECS;
        all_met &= met;
        println!("  dry run on {} in <= {TARGET_DRY_RUN_SECS:.0} s: {:.2} s, {}", r.store, r.seconds, verdict(met));
    }
    for r in runs {
        let met = r.peak_rss_mb.is_some_and(|m| m <= TARGET_PEAK_RSS_MB);
        all_met &= met;
        println!(
            "  peak RSS of roster, {} {}, <= {TARGET_PEAK_RSS_MB:.0} MB: {}, {}",
            r.store,
            r.mode(),
            r.peak_rss_mb.map(|m| format!("{m:.0} MB")).unwrap_or_else(|| "not measured".to_owned()),
            verdict(met)
        );
    }
    println!("targets {}", if all_met { "MET" } else { "NOT MET" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = parse(&[]).unwrap();
        assert!(o.only == Only::All && o.users == 100_000 && o.pool == 10 && o.postgres == DEFAULT_POSTGRES);
        let o = parse(&["--only", "copy", "--users", "2000", "--pool", "4"]).unwrap();
        assert!(o.only == Only::Copy && o.users == 2000 && o.pool == 4);
        assert!(parse(&["--only", "memory"]).is_err());
        assert!(parse(&["--users", "0"]).is_err());
        assert!(parse(&["--users"]).is_err());
        assert!(parse(&["--connections", "8"]).is_err());
    }

    #[test]
    fn generated_users_are_distinct_valid_json_and_reference_each_other() {
        let dir = std::env::temp_dir().join(format!("roster-bench-bulk-test-{}", std::process::id()));
        let work = WorkDir::create(dir).unwrap();
        let path = work.0.join("users.json");
        let n = 200;
        let generated = write_import(&path, n).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(generated.bytes, text.len() as u64);
        let users: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(users.len() as u64, n);
        let ids: std::collections::HashSet<&str> = users.iter().map(|u| u["userId"].as_str().unwrap()).collect();
        let emails: std::collections::HashSet<String> =
            users.iter().map(|u| u["email"].as_str().unwrap().to_lowercase()).collect();
        let agents: std::collections::HashSet<&str> =
            users.iter().map(|u| u["telephonyConfigurations"][0]["agentId"].as_str().unwrap()).collect();
        assert_eq!((ids.len(), emails.len(), agents.len()), (200, 200, 200));
        let supervised: Vec<&Value> = users.iter().filter(|u| u.get("supervisorId").is_some()).collect();
        assert_eq!(supervised.len(), 20);
        for u in &supervised {
            let boss = u["supervisorId"].as_str().unwrap();
            assert!(ids.contains(boss) && boss != u["userId"].as_str().unwrap());
            let boss = users.iter().find(|b| b["userId"] == boss).unwrap();
            let name = format!("{} {}", boss["firstName"].as_str().unwrap(), boss["lastName"].as_str().unwrap());
            assert_eq!(u["supervisorName"], name.as_str());
        }
        for u in &users {
            let roles = u["roles"].as_array().unwrap();
            assert!((1..=2).contains(&roles.len()) && roles.first() != roles.get(1));
            assert_eq!(u["telephonyConfigurations"].as_array().unwrap().len(), 1);
            assert_eq!(u.get("deactivationDate").is_some(), u["status"] == "Inactive");
        }
        let roles: usize = users.iter().map(|u| u["roles"].as_array().unwrap().len()).sum();
        assert_eq!(generated.roles, roles as u64);
        // A tiny import has no self-reference either.
        for n in 1..=6 {
            for i in 0..n {
                let u = bench_user(i, n);
                assert_ne!(u.supervisor_id.as_deref(), Some(u.user_id.as_str()));
                assert_ne!(u.coach_id.as_deref(), Some(u.user_id.as_str()));
            }
        }
    }

    #[test]
    fn copy_text_fields() {
        assert_eq!(Text(None).to_string(), "\\N");
        assert_eq!(t("a\tb\\c\nd").to_string(), "a\\tb\\\\c\\nd");
        assert_eq!(Json("a\"b\\c\u{1}").to_string(), "\"a\\\"b\\\\c\\u0001\"");
    }

    /// The client streams a file as the body and reads a chunked answer.
    #[test]
    fn http_client() {
        let dir = std::env::temp_dir().join(format!("roster-bench-bulk-http-{}", std::process::id()));
        let work = WorkDir::create(dir).unwrap();
        let path = work.0.join("body.json");
        let body = format!("[{}]", vec!["{\"userId\":\"u\"}"; 50_000].join(","));
        std::fs::write(&path, &body).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0; 65536];
            let head_end = loop {
                let n = s.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
                if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            };
            let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap();
            while seen.len() < head_end + length {
                let n = s.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            s.write_all(
                b"HTTP/1.1 202 Accepted\r\nLocation: /x/report/r1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n",
            )
            .unwrap();
            (head, seen[head_end..].to_vec())
        });
        let answer = http(port, "POST", "/x?commit=false", Some(&path)).unwrap();
        let (head, received) = server.join().unwrap();
        assert!(head.starts_with("POST /x?commit=false HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("Content-Type: application/json\r\n"), "{head}");
        assert_eq!(received, body.as_bytes());
        assert_eq!((answer.status, answer.header("location")), (202, Some("/x/report/r1")));
        assert_eq!(answer.body, b"{\"a\":1}");
        assert!(http(free_port().unwrap(), "GET", "/", None).unwrap_err().starts_with("cannot connect"));
    }

    #[test]
    fn responses() {
        let r = parse_response(
            b"HTTP/1.1 202 Accepted\r\nlocation: /api-ext/domain/bench/users/report/r1\r\ncontent-length: 17\r\n\r\n{\"reportId\":\"r1\"}xxxx",
        )
        .unwrap();
        assert_eq!((r.status, r.header("Location")), (202, Some("/api-ext/domain/bench/users/report/r1")));
        assert_eq!(r.body, b"{\"reportId\":\"r1\"}");
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());

        let accepted = serde_json::json!({"reportId": "r9"});
        let poll = "/api-ext/domain/bench/users/report/r9?includeUsers=false";
        assert_eq!(report_path(None, &accepted).unwrap(), poll);
        assert_eq!(report_path(Some("/api-ext/domain/bench/users/report/r9"), &accepted).unwrap(), poll);
        assert_eq!(
            report_path(Some("http://127.0.0.1:1/api-ext/domain/bench/users/report/r9"), &accepted).unwrap(),
            poll
        );
        assert_eq!(report_path(Some("/r?a=b"), &accepted).unwrap(), "/r?a=b&includeUsers=false");
        assert_eq!(report_path(None, &serde_json::json!({})), None);
    }
}
