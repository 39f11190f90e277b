//! Authentication (SPEC §6): clients registered for one namespace trade
//! their id and secret for a short-lived bearer token bound to that
//! namespace; every API call presents it.
//!
//! The rules live here; the crypto (password hashing, token signing) and
//! the storage are ports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_domain::Namespace;

use crate::{Clock, IdGenerator, RepositoryError};

/// A client registered for one namespace.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub namespace: Namespace,
    pub name: Option<String>,
    /// The secret's password hash (PHC string); the secret itself is never kept.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Client {
    /// Everything but the secret's hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Where clients and the token signing key are kept.
///
/// Contract (pinned by `contract::clients` on every adapter):
/// - `insert` then `get` gives the client back; ids are unique.
/// - `revoke` sets `revoked_at` once; it says `false` for an unknown id.
/// - `signing_key` returns the stored key; when none is stored yet it stores
///   `candidate` and returns it. Concurrent first calls (several processes)
///   all get the same key: the first writer wins.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    async fn insert(&self, client: &Client) -> Result<(), RepositoryError>;
    async fn get(&self, id: &str) -> Result<Option<Client>, RepositoryError>;
    /// Every client, oldest first.
    async fn list(&self) -> Result<Vec<Client>, RepositoryError>;
    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<bool, RepositoryError>;
    async fn signing_key(&self, candidate: &[u8]) -> Result<Vec<u8>, RepositoryError>;
}

/// Secrets: made at random, stored only as a slow password hash.
#[async_trait]
pub trait Credentials: Send + Sync + 'static {
    /// A new random secret, printable.
    fn new_secret(&self) -> String;
    fn hash(&self, secret: &str) -> String;
    /// Whether `secret` matches `hash`; a malformed hash matches nothing.
    /// Slow by design: an implementation keeps it off the async workers and
    /// bounds how many run at once.
    async fn verify(&self, secret: &str, hash: &str) -> bool;
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub client_id: String,
    pub namespace: String,
    /// Seconds since the epoch.
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is malformed, forged or signed with another algorithm")]
    Invalid,
}

/// Signs and checks tokens. The algorithm is the codec's, never the token's.
pub trait TokenCodec: Send + Sync + 'static {
    fn encode(&self, claims: &Claims) -> String;
    /// The claims of a well-signed, unexpired token (`now`: seconds since
    /// the epoch).
    fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError>;
}

/// A token handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenRequestError {
    /// Unknown client, wrong secret, revoked, or registered for another
    /// namespace — one answer for all, so nothing is learnt from it.
    #[error("client authentication failed")]
    InvalidClient,
    /// Too many failed attempts for this client id lately.
    #[error("too many failed attempts; try again in {retry_after:?}")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] RepositoryError),
}

/// Who is calling, once the token is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: String,
    pub namespace: String,
}

/// Why a call is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("{0}")]
    Invalid(TokenError),
    /// The client was revoked after the token was issued.
    #[error("the client has been revoked")]
    Revoked,
    /// A good token for another namespace.
    #[error("the token is for namespace {token_namespace}, not {path_namespace}")]
    WrongNamespace { token_namespace: String, path_namespace: String },
    #[error(transparent)]
    Store(#[from] RepositoryError),
}

/// How many failed secrets a client id may have in [`FAILURE_WINDOW`]
/// before further attempts are refused (429) until the window has passed.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long a client's revocation status is remembered by a process.
pub const REVOCATION_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Most client ids tracked for throttling or revocation at once.
const TRACKED: usize = 10_000;
/// Client ids are at most 64 characters (the store's column); secrets this
/// long are not ours either.
const MAX_CLIENT_ID_CHARS: usize = 64;
const MAX_SECRET_BYTES: usize = 1024;

/// An id that could be a client's: 1–64 characters, no control characters.
fn plausible_client_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_CLIENT_ID_CHARS && !id.chars().any(char::is_control)
}

/// The authentication use cases: issuing tokens and checking them.
pub struct Authenticate {
    clients: Arc<dyn ClientStore>,
    credentials: Arc<dyn Credentials>,
    codec: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    failures: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
    revoked: Mutex<HashMap<String, (bool, DateTime<Utc>)>>,
}

impl Authenticate {
    pub fn new(
        clients: Arc<dyn ClientStore>,
        credentials: Arc<dyn Credentials>,
        codec: Arc<dyn TokenCodec>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
    ) -> Self {
        Authenticate { clients, credentials, codec, clock, ttl, failures: Mutex::default(), revoked: Mutex::default() }
    }

    /// The client-credentials grant at `…/{namespace}/token`.
    ///
    /// Guessing is bounded per client: each attempt at a known client's
    /// secret takes a slot in its failure window *before* the (slow) hash is
    /// checked — so concurrent attempts count too — and gives it back when
    /// the secret was right. Unknown ids cost the same hash check and are not
    /// tracked (nothing can be guessed there).
    pub async fn issue_token(
        &self,
        namespace: Option<&Namespace>,
        client_id: &str,
        secret: &str,
    ) -> Result<IssuedToken, TokenRequestError> {
        let now = self.clock.now();
        if !plausible_client_id(client_id) || secret.len() > MAX_SECRET_BYTES {
            return Err(TokenRequestError::InvalidClient);
        }
        let Some(client) = self.clients.get(client_id).await? else {
            let _ = self.credentials.verify(secret, DUMMY_HASH).await;
            return Err(TokenRequestError::InvalidClient);
        };
        let slot =
            self.begin_attempt(client_id, now).map_err(|retry_after| TokenRequestError::Throttled { retry_after })?;
        if !self.credentials.verify(secret, &client.secret_hash).await {
            return Err(TokenRequestError::InvalidClient);
        }
        self.forgive(client_id, slot);
        if client.revoked_at.is_some() || namespace.is_some_and(|ns| ns != &client.namespace) {
            return Err(TokenRequestError::InvalidClient);
        }
        let issued_at = now.timestamp();
        let ttl = self.ttl.as_secs().max(1);
        let claims = Claims {
            client_id: client.id,
            namespace: client.namespace.as_str().to_owned(),
            issued_at,
            expires_at: issued_at.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        };
        Ok(IssuedToken { access_token: self.codec.encode(&claims), expires_in: ttl })
    }

    /// Checks the bearer token of a call on `namespace`.
    pub async fn authorize(&self, namespace: &str, token: Option<&str>) -> Result<Principal, AuthError> {
        let token = token.ok_or(AuthError::Missing)?;
        let now = self.clock.now();
        let claims = self.codec.decode(token, now.timestamp()).map_err(AuthError::Invalid)?;
        if self.is_revoked(&claims.client_id, now).await? {
            return Err(AuthError::Revoked);
        }
        if claims.namespace != namespace {
            return Err(AuthError::WrongNamespace {
                token_namespace: claims.namespace,
                path_namespace: namespace.to_owned(),
            });
        }
        Ok(Principal { client_id: claims.client_id, namespace: claims.namespace })
    }

    /// Takes a slot in `client_id`'s failure window, or says how long to
    /// wait when the window is full. When too many clients are tracked at
    /// once, attempts are refused rather than let through untracked.
    fn begin_attempt(&self, client_id: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Duration> {
        let window = chrono::Duration::from_std(FAILURE_WINDOW).unwrap_or_default();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= TRACKED && !failures.contains_key(client_id) {
            failures.retain(|_, times| {
                times.retain(|t| now - *t < window);
                !times.is_empty()
            });
            if failures.len() >= TRACKED {
                return Err(FAILURE_WINDOW);
            }
        }
        let recent = failures.entry(client_id.to_owned()).or_default();
        recent.retain(|t| now - *t < window);
        if recent.len() >= MAX_FAILURES {
            let oldest = recent.iter().min().copied().unwrap_or(now);
            let wait = (oldest + window - now).to_std().unwrap_or_default();
            return Err(wait.max(Duration::from_secs(1)));
        }
        recent.push(now);
        Ok(now)
    }

    /// Gives back the slot of an attempt whose secret was right.
    fn forgive(&self, client_id: &str, slot: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(recent) = failures.get_mut(client_id) {
            if let Some(i) = recent.iter().position(|t| *t == slot) {
                recent.swap_remove(i);
            }
            if recent.is_empty() {
                failures.remove(client_id);
            }
        }
    }

    async fn is_revoked(&self, client_id: &str, now: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let fresh = chrono::Duration::from_std(REVOCATION_CHECK_EVERY).unwrap_or_default();
        {
            let cache = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((revoked, at)) = cache.get(client_id)
                && now - *at < fresh
            {
                return Ok(*revoked);
            }
        }
        let revoked = self.clients.get(client_id).await?.is_none_or(|c| c.revoked_at.is_some());
        let mut cache = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= TRACKED {
            cache.retain(|_, (_, at)| now - *at < fresh);
        }
        cache.insert(client_id.to_owned(), (revoked, now));
        Ok(revoked)
    }
}

/// An argon2 hash of a secret nobody has, verified for unknown client ids
/// so they take as long as known ones.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$vp1tStltXOxzGbLDg2Mb2w$+Cb4ufdI1Dxc9xQbDfy2QAI0OfUNl0K5tFIL7KGFhN8";

/// Registering, listing and revoking clients (`roster clients …`).
pub struct ManageClients {
    clients: Arc<dyn ClientStore>,
    credentials: Arc<dyn Credentials>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl ManageClients {
    pub fn new(
        clients: Arc<dyn ClientStore>,
        credentials: Arc<dyn Credentials>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        ManageClients { clients, credentials, clock, ids }
    }

    /// A new client of `namespace`, and its secret — the only time the
    /// secret is seen.
    pub async fn add(&self, namespace: Namespace, name: Option<String>) -> Result<(Client, String), RepositoryError> {
        let secret = self.credentials.new_secret();
        let client = Client {
            id: self.ids.new_id(),
            namespace,
            name,
            secret_hash: self.credentials.hash(&secret),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.clients.insert(&client).await?;
        Ok((client, secret))
    }

    pub async fn list(&self) -> Result<Vec<Client>, RepositoryError> {
        self.clients.list().await
    }

    pub async fn revoke(&self, id: &str) -> Result<bool, RepositoryError> {
        self.clients.revoke(id, self.clock.now()).await
    }
}
