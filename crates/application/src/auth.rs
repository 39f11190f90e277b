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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub namespace: Namespace,
    pub name: Option<String>,
    /// The secret's password hash (PHC string); the secret itself is never kept.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
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
pub trait Credentials: Send + Sync + 'static {
    /// A new random secret, printable.
    fn new_secret(&self) -> String;
    fn hash(&self, secret: &str) -> String;
    /// Whether `secret` matches `hash`; a malformed hash matches nothing.
    fn verify(&self, secret: &str, hash: &str) -> bool;
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
    pub async fn issue_token(
        &self,
        namespace: Option<&Namespace>,
        client_id: &str,
        secret: &str,
    ) -> Result<IssuedToken, TokenRequestError> {
        let now = self.clock.now();
        if let Some(retry_after) = self.throttled(client_id, now) {
            return Err(TokenRequestError::Throttled { retry_after });
        }
        let client = self.clients.get(client_id).await?;
        let good = match &client {
            // The hash is checked even for a client that would be refused
            // anyway, so the time taken tells nothing.
            Some(c) => {
                self.credentials.verify(secret, &c.secret_hash)
                    && c.revoked_at.is_none()
                    && namespace.is_none_or(|ns| ns == &c.namespace)
            }
            None => {
                let _ = self.credentials.verify(secret, DUMMY_HASH);
                false
            }
        };
        let Some(client) = client.filter(|_| good) else {
            self.record_failure(client_id, now);
            return Err(TokenRequestError::InvalidClient);
        };
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

    fn throttled(&self, client_id: &str, now: DateTime<Utc>) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let window = chrono::Duration::from_std(FAILURE_WINDOW).unwrap_or_default();
        let recent = failures.get_mut(client_id)?;
        recent.retain(|t| now - *t < window);
        if recent.len() < MAX_FAILURES {
            return None;
        }
        let oldest = recent.iter().min().copied().unwrap_or(now);
        let wait = (oldest + window - now).to_std().unwrap_or_default();
        Some(wait.max(Duration::from_secs(1)))
    }

    fn record_failure(&self, client_id: &str, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= TRACKED && !failures.contains_key(client_id) {
            let window = chrono::Duration::from_std(FAILURE_WINDOW).unwrap_or_default();
            failures.retain(|_, times| times.iter().any(|t| now - *t < window));
            if failures.len() >= TRACKED {
                return;
            }
        }
        failures.entry(client_id.to_owned()).or_default().push(now);
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
