//! roster's developer chores: `cargo xtask openapi [--check]`, `cargo xtask bench upsert|bulk`.
#![forbid(unsafe_code)]

mod bench;
mod bench_bulk;

/// The same allocator as roster, so the echo baseline of `bench upsert`
/// differs from roster only by roster's own work.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  cargo xtask openapi [--check]   write openapi/openapi.json from the code (--check: fail if it differs)
  cargo xtask bench upsert        load-test single-user upserts (see xtask/src/bench.rs), options:
      [--only all|sqlite|memory|postgres]   which stores (all; postgres also runs pgbench beside roster)
      [--duration SECS] [--connections N]   each run's length (10) and wrk's connections for sqlite/memory (64)
      [--postgres URL]                      admin URL of the PostgreSQL server (postgres://postgres@127.0.0.1:5432/postgres)
      [--pool N] [--pg-connections LIST]    roster's pool on PostgreSQL (10, its default), the connection counts (1,8,64)
  cargo xtask bench bulk          time bulk imports, dry run and commit (see xtask/src/bench_bulk.rs), options:
      [--only all|sqlite|postgres|copy]     which stores (all; postgres also times psql's \\copy of the same rows;
                                            copy: only that baseline)
      [--users N]                           users in the import (100000)
      [--postgres URL]                      admin URL of the PostgreSQL server (postgres://postgres@127.0.0.1:5432/postgres)
      [--pool N]                            roster's pool on PostgreSQL (10, its default)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["openapi"] => openapi(false),
        ["openapi", "--check"] => openapi(true),
        ["bench", "bulk", rest @ ..] => bench_bulk::run(rest),
        ["bench", rest @ ..] => bench::run(rest),
        ["echo-server", address] => bench::echo_server(address),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn openapi(check: bool) -> Result<(), String> {
    let path = workspace_root().join("openapi/openapi.json");
    let fresh = roster_openapi::document_json();
    if check {
        let committed = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if committed != fresh {
            return Err(format!(
                "{} is out of date with the code: run `cargo xtask openapi` and commit the result",
                path.display()
            ));
        }
        println!("{} matches the code", path.display());
    } else {
        std::fs::write(&path, fresh).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
