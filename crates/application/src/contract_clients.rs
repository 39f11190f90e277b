//! The client store contract suite: the behaviour every
//! [`ClientStore`] must have, written once and run against each adapter
//! with [`client_store_contract_tests!`](crate::client_store_contract_tests).
//!
//! What it pins beyond the port's doc comment:
//! - `insert` of a taken id is [`RepositoryError::Conflict`] and leaves the
//!   stored client as it was; ids compare exactly (case-sensitive).
//! - Instants come back as written, to the microsecond.
//! - `list` is oldest first: by `created_at`, then by id (byte order).
//! - `revoke` of a client revoked already says `true` and keeps the first
//!   `revoked_at`.
//! - `signing_key` keeps any bytes (0x00 and 0xff included), and the first
//!   candidate stored wins, even among concurrent first calls.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use roster_domain::Namespace;

use crate::RepositoryError;
use crate::auth::{Client, ClientStore};

/// A fresh, empty client store; dropping it cleans up (drops the test
/// database).
pub trait ClientStoreFixture: Send {
    fn client_store(&self) -> Arc<dyn ClientStore>;
}

/// Generates one `#[tokio::test]` per contract case. `$fixture` is an
/// expression evaluating to a future of a [`ClientStoreFixture`].
#[macro_export]
macro_rules! client_store_contract_tests {
    ($fixture:expr) => {
        $crate::client_store_contract_tests!(@cases $fixture;
            client_inserted_comes_back_whole,
            client_unknown_is_none,
            client_duplicate_id_is_a_conflict,
            client_ids_are_case_sensitive,
            clients_are_listed_oldest_first,
            client_revoke_sets_revoked_at_once,
            signing_key_first_candidate_is_kept,
            signing_key_concurrent_first_calls_agree
        );
    };
    (@cases $fixture:expr; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                let store = $crate::contract::clients::ClientStoreFixture::client_store(&fixture);
                $crate::contract::clients::$case(store).await;
                drop(fixture);
            }
        )+
    };
}

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).expect("namespace")
}

/// 2026-12-04 10:00:00.123456 UTC plus `ms` milliseconds: instants with
/// microseconds, which every store keeps.
fn at(ms: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("time");
    base + Duration::microseconds(123_456) + Duration::milliseconds(ms)
}

/// A client of namespace `acme`, created at `at(ms)`, named, not revoked.
pub fn sample_client(id: &str, ms: i64) -> Client {
    Client {
        id: id.to_owned(),
        namespace: ns("acme"),
        name: Some(format!("Client {id} — Ünïcode ✓")),
        secret_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdC17aWR9${id}aGFzaA"),
        created_at: at(ms),
        revoked_at: None,
    }
}

fn ids(clients: &[Client]) -> Vec<&str> {
    clients.iter().map(|c| c.id.as_str()).collect()
}

pub async fn client_inserted_comes_back_whole(store: Arc<dyn ClientStore>) {
    let named = sample_client("c-1", 0);
    let bare = Client {
        namespace: ns("globex_2-x"),
        name: None,
        revoked_at: Some(at(86_400_000 + 7)),
        ..sample_client("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 1)
    };
    store.insert(&named).await.expect("insert");
    store.insert(&bare).await.expect("insert");
    assert_eq!(store.get("c-1").await.expect("get"), Some(named), "every field, instants to the microsecond");
    assert_eq!(store.get(&bare.id).await.expect("get"), Some(bare), "no name, revoked");
}

pub async fn client_unknown_is_none(store: Arc<dyn ClientStore>) {
    assert_eq!(store.get("nobody").await.expect("get"), None);
    store.insert(&sample_client("c-1", 0)).await.expect("insert");
    assert_eq!(store.get("c-2").await.expect("get"), None);
    assert_eq!(store.get("").await.expect("get"), None);
}

pub async fn client_duplicate_id_is_a_conflict(store: Arc<dyn ClientStore>) {
    let first = sample_client("c-1", 0);
    store.insert(&first).await.expect("insert");
    let second = Client { namespace: ns("globex"), name: None, ..sample_client("c-1", 5) };
    let err = store.insert(&second).await.expect_err("the id is taken");
    assert!(matches!(err, RepositoryError::Conflict), "a taken id is a Conflict, got {err:?}");
    assert_eq!(store.get("c-1").await.expect("get"), Some(first), "the stored client is untouched");
    assert_eq!(store.list().await.expect("list").len(), 1);
}

pub async fn client_ids_are_case_sensitive(store: Arc<dyn ClientStore>) {
    let lower = sample_client("client-a", 0);
    let upper = Client { name: Some("upper".into()), ..sample_client("CLIENT-A", 1) };
    store.insert(&lower).await.expect("insert");
    store.insert(&upper).await.expect("CLIENT-A is another client");
    assert_eq!(store.get("client-a").await.expect("get"), Some(lower));
    assert_eq!(store.get("CLIENT-A").await.expect("get"), Some(upper));
    assert_eq!(store.get("Client-A").await.expect("get"), None);
}

pub async fn clients_are_listed_oldest_first(store: Arc<dyn ClientStore>) {
    assert_eq!(store.list().await.expect("list"), vec![], "no clients yet");
    // inserted in another order than created; ties broken by id
    let clients = [
        sample_client("c-late", 2_000),
        sample_client("c-b", 0),
        sample_client("c-half", 500),
        sample_client("c-a", 0),
        sample_client("c-next-day", 86_400_000),
        sample_client("c-early", -60_000),
        sample_client("c-ms", 1),
    ];
    for c in &clients {
        store.insert(c).await.expect("insert");
    }
    let listed = store.list().await.expect("list");
    assert_eq!(ids(&listed), ["c-early", "c-a", "c-b", "c-ms", "c-half", "c-late", "c-next-day"]);
    let by_id = |id: &str| clients.iter().find(|c| c.id == id).cloned();
    for c in &listed {
        assert_eq!(Some(c.clone()), by_id(&c.id), "listed whole");
    }
}

pub async fn client_revoke_sets_revoked_at_once(store: Arc<dyn ClientStore>) {
    store.insert(&sample_client("c-1", 0)).await.expect("insert");
    store.insert(&sample_client("c-2", 1)).await.expect("insert");
    assert!(!store.revoke("nobody", at(10)).await.expect("revoke"), "an unknown id says false");
    assert!(store.revoke("c-1", at(1_000)).await.expect("revoke"), "a known id says true");
    let revoked = store.get("c-1").await.expect("get").expect("still stored");
    assert_eq!(revoked, Client { revoked_at: Some(at(1_000)), ..sample_client("c-1", 0) }, "only revoked_at changes");
    assert!(store.revoke("c-1", at(5_000)).await.expect("revoke again"), "revoking twice still says true");
    let again = store.get("c-1").await.expect("get").expect("still stored");
    assert_eq!(again.revoked_at, Some(at(1_000)), "the first revocation's time stays");
    assert_eq!(store.get("c-2").await.expect("get"), Some(sample_client("c-2", 1)), "others are untouched");
    assert_eq!(ids(&store.list().await.expect("list")), ["c-1", "c-2"], "a revoked client is still listed");
}

pub async fn signing_key_first_candidate_is_kept(store: Arc<dyn ClientStore>) {
    let first: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).chain([0x00, 0xff, 0x80, 0x7f]).collect();
    let other = vec![0xaa; 64];
    assert_eq!(store.signing_key(&first).await.expect("signing key"), first, "the first candidate is stored");
    assert_eq!(store.signing_key(&other).await.expect("signing key"), first, "later candidates are ignored");
    assert_eq!(store.signing_key(&[]).await.expect("signing key"), first);
}

pub async fn signing_key_concurrent_first_calls_agree(store: Arc<dyn ClientStore>) {
    let candidates: Vec<Vec<u8>> = (0..8u8).map(|i| (0..32u8).map(|b| b ^ (i * 31)).collect()).collect();
    let tasks: Vec<_> = candidates
        .iter()
        .cloned()
        .map(|candidate| {
            let store = store.clone();
            tokio::spawn(async move { store.signing_key(&candidate).await })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.expect("task").expect("every first call succeeds"));
    }
    let winner = keys[0].clone();
    assert!(keys.iter().all(|k| *k == winner), "all calls get the same key: {keys:?}");
    assert!(candidates.contains(&winner), "the key is one of the candidates");
    assert_eq!(store.signing_key(&[1, 2, 3]).await.expect("signing key"), winner, "and it stays");
}
