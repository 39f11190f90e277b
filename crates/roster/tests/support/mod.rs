//! Real `roster` processes for the test binaries that start the binary
//! (`cli`, `processes`, `bulk_processes`): shared with `mod support;`.
#![allow(dead_code)] // each binary uses part of it

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_roster");

/// `cmd` without the caller's `ROSTER_*` variables (the suites' own server
/// URLs among them), so only what a test sets reaches roster.
pub fn clean(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("ROSTER_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A `roster serve` process, killed (SIGKILL) when dropped; its log in a
/// file (a pipe nobody reads could fill up and stall it).
pub struct Process {
    pub child: Child,
    pub address: String,
    log: std::path::PathBuf,
}

impl Process {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `roster serve` on `database_url` with 2 workers and `env`, once ready.
pub async fn serve(database_url: &str, env: &[(&str, &str)]) -> Process {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::env::temp_dir().join(format!("roster-test-{}-{port}.log", std::process::id()));
    let mut cmd = Command::new(BIN);
    clean(&mut cmd)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_DATABASE_URL", database_url)
        .env("ROSTER_WORKERS", "2")
        .envs(env.iter().copied())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("a log file"));
    let child = cmd.spawn().expect("start roster");
    let mut process = Process { child, address: format!("http://127.0.0.1:{port}"), log };
    let client = awc::Client::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/health/ready", process.address)).send().await
            && r.status() == 200
        {
            return process;
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("roster exited ({status}) on {database_url}:\n{}", process.log());
        }
        assert!(Instant::now() < deadline, "roster did not become ready on {database_url}:\n{}", process.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
