//! How long `upsert_context` and `save` take on SQLite, with a namespace of
//! 10,000 users. Not a pass/fail test: run it on demand, in release:
//! `cargo test --release -p roster-store-seaorm --test sqlite_timing -- --ignored --nocapture`.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{TimeZone, Utc};
use roster_application::contract::sample_user;
use roster_application::{UpsertContextQuery, UserRepository};
use roster_domain::{Namespace, UserId};
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};

const USERS: usize = 10_000;
const CALLS: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing, run on demand"]
async fn upsert_context_and_save_timing() {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let path: PathBuf = std::env::temp_dir().join(format!("roster-timing-{}-{nanos}.db", std::process::id()));
    let settings = DatabaseSettings { url: format!("sqlite://{}?mode=rwc", path.display()), ..Default::default() };
    let db = connect(&settings).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    let repo = SeaOrmUserRepository::new(db);
    let ns = Namespace::parse("acme").expect("ns");
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("time");

    let users: Vec<_> = (0..USERS)
        .map(|i| {
            sample_user(
                &format!("u-{i}"),
                Some(&format!("u{i}@example.com")),
                &[&format!("{i}a"), &format!("{i}b")],
                &[],
            )
        })
        .collect();
    let started = Instant::now();
    for u in &users {
        repo.save(&ns, u, at).await.expect("save");
    }
    let save = started.elapsed() / USERS as u32;

    let id = |s: String| UserId::parse(&s).expect("id");
    let queries: Vec<_> = (0..CALLS)
        .map(|k| {
            let i = (k * 7919) % USERS;
            let u = &users[i];
            UpsertContextQuery {
                user_id: u.user_id.clone(),
                references: vec![id(format!("u-{}", (i + 1) % USERS)), id(format!("u-{}", (i + 2) % USERS))],
                email: Some(format!("u{i}@example.com")),
                identities: u.profile.telephony_configurations.iter().map(|c| c.identity()).collect(),
            }
        })
        .collect();
    let started = Instant::now();
    for q in &queries {
        let ctx = repo.upsert_context(&ns, q).await.expect("context");
        assert!(ctx.existing.is_some());
    }
    let existing = started.elapsed() / CALLS as u32;

    let new_queries: Vec<_> = queries
        .iter()
        .enumerate()
        .map(|(k, q)| UpsertContextQuery { user_id: id(format!("new-{k}")), ..q.clone() })
        .collect();
    let started = Instant::now();
    for q in &new_queries {
        let ctx = repo.upsert_context(&ns, q).await.expect("context");
        assert!(ctx.existing.is_none());
    }
    let new = started.elapsed() / CALLS as u32;

    let started = Instant::now();
    for _ in 0..CALLS {
        repo.ping().await.expect("ping");
    }
    let ping = started.elapsed() / CALLS as u32;
    let started = Instant::now();
    for q in &queries {
        repo.find(&ns, &q.user_id).await.expect("find").expect("found");
    }
    let find = started.elapsed() / CALLS as u32;

    println!("ping (SELECT 1): {ping:?} per call");
    println!("find: {find:?} per call");
    println!("save (sequential, {USERS} users): {save:?} per user");
    println!("upsert_context, existing user with 2 refs, email, 2 identities: {existing:?} per call");
    println!("upsert_context, new user, same neighbours: {new:?} per call");
    drop(repo);
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
