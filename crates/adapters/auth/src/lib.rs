//! roster's authentication crypto (SPEC §6): the adapters behind the
//! application's [`Credentials`] and [`TokenCodec`] ports.
//!
//! - [`Argon2Credentials`]: client secrets are 32 random bytes, base64url,
//!   stored only as an Argon2id PHC string (the `argon2` crate's default
//!   parameters: m=19456 KiB, t=2, p=1).
//! - [`JwtCodec`]: bearer tokens are HS256 JSON Web Tokens signed with a
//!   server key of at least [`MIN_KEY_LEN`] bytes; the algorithm is the
//!   server's, never the token's.

#![forbid(unsafe_code)]

use std::sync::Arc;

use tokio::sync::Semaphore;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roster_application::auth::{Claims, Credentials, TokenCodec, TokenError};
use serde::{Deserialize, Serialize};

/// Random bytes in a client secret (before base64url: 43 characters).
pub const SECRET_LEN: usize = 32;
/// Shortest token signing key [`JwtCodec::new`] accepts, in bytes (the
/// HS256 output size, as RFC 7518 §3.2 asks).
pub const MIN_KEY_LEN: usize = 32;
/// The `iss` claim of every token roster issues, and the only one it accepts.
pub const ISSUER: &str = "roster";

/// Largest Argon2 costs [`Argon2Credentials::verify`] will compute with: a
/// stored hash asking for more (a corrupted or planted row) matches nothing
/// rather than taking the process's memory or time.
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// `n` bytes from the operating system's random number generator.
///
/// # Panics
/// If the OS RNG fails, which leaves nothing safe to do.
fn os_random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

/// A fresh random token signing key of [`MIN_KEY_LEN`] bytes from the OS
/// RNG, for when none is configured (see `ClientStore::signing_key`).
///
/// # Panics
/// If the OS RNG fails.
#[must_use]
pub fn random_key() -> Vec<u8> {
    os_random(MIN_KEY_LEN)
}

/// Client secrets hashed with Argon2id (v19, the `argon2` crate's default
/// parameters), as PHC strings: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`
/// with a 16-byte random salt per hash.
///
/// Verification takes its parameters from the stored hash, so hashes made
/// with other (bounded) parameters still verify.
///
/// Verifications run on tokio's blocking pool, at most one per CPU at once
/// (the rest wait their turn), so a flood of token requests can't stall the
/// async workers serving everything else.
#[derive(Debug, Clone)]
pub struct Argon2Credentials {
    argon2: Argon2<'static>,
    verifying: Arc<Semaphore>,
}

impl Default for Argon2Credentials {
    fn default() -> Self {
        Self::new()
    }
}

impl Argon2Credentials {
    /// Argon2id with the default parameters (the same as the application's
    /// `DUMMY_HASH`).
    #[must_use]
    pub fn new() -> Self {
        let cpus = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        Argon2Credentials { argon2: Argon2::default(), verifying: Arc::new(Semaphore::new(cpus)) }
    }

    /// [`Credentials::verify`], here and now, on the calling thread.
    #[must_use]
    pub fn verify_now(&self, secret: &str, hash: &str) -> bool {
        parse_bounded(hash).is_some_and(|parsed| self.argon2.verify_password(secret.as_bytes(), &parsed).is_ok())
    }
}

/// The parsed `hash`, if it is a well-formed Argon2 PHC string whose costs
/// are within bounds.
fn parse_bounded(hash: &str) -> Option<PasswordHash> {
    let parsed = PasswordHash::new(hash).ok()?;
    Argon2Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    let within = params.m_cost() <= MAX_M_COST_KIB && params.t_cost() <= MAX_T_COST && params.p_cost() <= MAX_P_COST;
    within.then_some(parsed)
}

#[async_trait::async_trait]
impl Credentials for Argon2Credentials {
    /// [`SECRET_LEN`] random bytes, base64url without padding: only
    /// `A–Z a–z 0–9 - _`, so safe in HTTP Basic credentials, form bodies and
    /// shells.
    fn new_secret(&self) -> String {
        URL_SAFE_NO_PAD.encode(os_random(SECRET_LEN))
    }

    /// # Panics
    /// If the OS RNG fails (for the salt); the default parameters cannot
    /// otherwise fail.
    fn hash(&self, secret: &str) -> String {
        self.argon2.hash_password(secret.as_bytes()).expect("argon2 hashing with the default parameters").to_string()
    }

    /// `false` for a wrong secret and for a malformed, non-Argon2 or
    /// unreasonably costly hash; never panics.
    async fn verify(&self, secret: &str, hash: &str) -> bool {
        let Ok(_turn) = self.verifying.acquire().await else {
            return false;
        };
        let (this, secret, hash) = (self.clone(), secret.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || this.verify_now(&secret, &hash)).await.unwrap_or(false)
    }
}

/// The token's JSON payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    iss: String,
    sub: String,
    ns: String,
    iat: i64,
    exp: i64,
}

/// Bearer tokens as HS256 JWTs:
/// header `{"typ":"JWT","alg":"HS256"}`, payload
/// `{"iss":"roster","sub":<client id>,"ns":<namespace>,"iat":<s>,"exp":<s>}`.
///
/// [`decode`](TokenCodec::decode) accepts only a token that
/// - says `alg: HS256` and carries a good HMAC-SHA256 signature under this
///   codec's key (`none`, `HS384`/`HS512`, `RS256`, … are refused whatever
///   their signature: the algorithm is the server's, never the token's);
/// - has all of `iss`, `sub`, `ns`, `iat` and `exp` with the right types, no
///   `aud`, and `iss == "roster"`;
/// - has `exp > now`, where `now` is the caller's clock (not the system
///   time), with **no leeway**: the same service issues and checks tokens,
///   so there is no clock skew between issuer and verifier to allow for.
///
/// Expiry gives [`TokenError::Expired`]; anything else wrong gives
/// [`TokenError::Invalid`].
#[derive(Clone)]
pub struct JwtCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec").field("algorithm", &Algorithm::HS256).finish_non_exhaustive()
    }
}

impl JwtCodec {
    /// A codec signing with `key`.
    ///
    /// # Errors
    /// If `key` is shorter than [`MIN_KEY_LEN`] bytes.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_KEY_LEN {
            return Err(format!(
                "the token signing key is {} bytes long; at least {MIN_KEY_LEN} are needed",
                key.len()
            ));
        }
        let encoding = EncodingKey::from_secret(key).map_err(|e| format!("unusable token signing key: {e}"))?;
        let decoding = DecodingKey::from_secret(key).map_err(|e| format!("unusable token signing key: {e}"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is judged in `decode` against the caller's clock; the crate
        // would use the system time. The claims are still required.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        Ok(JwtCodec { encoding, decoding, validation })
    }
}

impl TokenCodec for JwtCodec {
    /// # Panics
    /// Never in practice: HS256 signing with a key checked by
    /// [`JwtCodec::new`] of a plain JSON payload cannot fail.
    fn encode(&self, claims: &Claims) -> String {
        let payload = Payload {
            iss: ISSUER.to_owned(),
            sub: claims.client_id.clone(),
            ns: claims.namespace.clone(),
            iat: claims.issued_at,
            exp: claims.expires_at,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &self.encoding)
            .expect("HS256 signing of the token payload")
    }

    fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Payload>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        // Belt and braces: `decode` already refused any other algorithm.
        if data.header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let payload = data.claims;
        if payload.iss != ISSUER {
            return Err(TokenError::Invalid);
        }
        if payload.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(Claims { client_id: payload.sub, namespace: payload.ns, issued_at: payload.iat, expires_at: payload.exp })
    }
}

#[cfg(test)]
mod tests;
