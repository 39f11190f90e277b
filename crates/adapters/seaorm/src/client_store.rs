//! The [`ClientStore`] port on SQL, implemented by [`SeaOrmUserRepository`]:
//! clients and the token signing key live in the same database as the
//! users, on the same pool (and, on SQLite, the same queue of writers).
//!
//! - A duplicate client id is [`RepositoryError::Conflict`]; nothing is written.
//! - Instants are kept to the microsecond (finer digits are dropped before
//!   writing, so every backend stores the same value).
//! - `revoke` of a revoked client says `true` and keeps the first
//!   `revoked_at`.
//! - The signing key is row `id = 1` of `auth_signing_keys`, hex-encoded. A
//!   first call inserts it unless a row is there already (`ON CONFLICT DO
//!   NOTHING`, on MySQL `ON DUPLICATE KEY UPDATE id = id`), then reads what
//!   is stored: of several processes racing, the first writer wins and all
//!   return its key.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use roster_application::RepositoryError;
use roster_application::auth::{Client, ClientStore};
use roster_domain::Namespace;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, SqlErr};

use crate::SeaOrmUserRepository;
use crate::entity::{auth_clients, auth_signing_keys};
use crate::error::{corrupt_value as corrupt, to_repository_error};
use crate::user_repository::with_retries;

/// The primary key of the one signing key.
const SIGNING_KEY_ID: i32 = 1;

/// `at` as stored: to the microsecond, as PostgreSQL and `DATETIME(6)` keep it.
fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

fn is_duplicate(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn to_row(client: &Client) -> auth_clients::ActiveModel {
    auth_clients::ActiveModel {
        client_id: Set(client.id.clone()),
        namespace: Set(client.namespace.as_str().to_owned()),
        name: Set(client.name.clone()),
        secret_hash: Set(client.secret_hash.clone()),
        created_at: Set(stored(client.created_at)),
        revoked_at: Set(client.revoked_at.map(stored)),
    }
}

fn to_client(row: auth_clients::Model) -> Result<Client, RepositoryError> {
    Ok(Client {
        namespace: Namespace::parse(&row.namespace).map_err(|e| corrupt("auth_clients.namespace", e))?,
        id: row.client_id,
        name: row.name,
        secret_hash: row.secret_hash,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    })
}

/// Lower-case hex of `bytes`.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    hex
}

/// The bytes of `hex` (either case); `None` unless it is whole hex digit pairs.
fn from_hex(hex: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let hex = hex.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks_exact(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

impl SeaOrmUserRepository {
    /// On SQLite, this process's turn to write (see the field's comment).
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.sqlite_writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    async fn stored_signing_key(&self) -> Result<Option<Vec<u8>>, RepositoryError> {
        let row = with_retries("signing_key", || auth_signing_keys::Entity::find_by_id(SIGNING_KEY_ID).one(&self.db))
            .await
            .map_err(to_repository_error)?;
        row.map(|r| from_hex(&r.key_hex).ok_or_else(|| corrupt("auth_signing_keys.key_hex", "not hex"))).transpose()
    }
}

#[async_trait]
impl ClientStore for SeaOrmUserRepository {
    #[tracing::instrument(skip_all, fields(client_id = %client.id), err)]
    async fn insert(&self, client: &Client) -> Result<(), RepositoryError> {
        let _writer = self.write_turn().await;
        // A duplicate id is told apart before `with_retries` sees it: on
        // MySQL a duplicate primary key counts as transient (for users).
        let inserted = with_retries("insert client", || async {
            match auth_clients::Entity::insert(to_row(client)).exec_without_returning(&self.db).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate(&e) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(to_repository_error)?;
        if inserted { Ok(()) } else { Err(RepositoryError::Conflict) }
    }

    #[tracing::instrument(skip(self), err)]
    async fn get(&self, id: &str) -> Result<Option<Client>, RepositoryError> {
        let row = with_retries("get client", || auth_clients::Entity::find_by_id(id.to_owned()).one(&self.db))
            .await
            .map_err(to_repository_error)?;
        row.map(to_client).transpose()
    }

    #[tracing::instrument(skip(self), err)]
    async fn list(&self) -> Result<Vec<Client>, RepositoryError> {
        use auth_clients::Column as C;
        let rows = with_retries("list clients", || {
            auth_clients::Entity::find().order_by_asc(C::CreatedAt).order_by_asc(C::ClientId).all(&self.db)
        })
        .await
        .map_err(to_repository_error)?;
        let mut clients = rows.into_iter().map(to_client).collect::<Result<Vec<_>, _>>()?;
        // The database's collation may order ids otherwise (PostgreSQL's
        // locale); the tie-break is byte order on every backend.
        clients.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(clients)
    }

    #[tracing::instrument(skip(self), err)]
    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        use auth_clients::Column as C;
        let updated = {
            let _writer = self.write_turn().await;
            // Only an unrevoked client is updated: the first revocation's time stays.
            with_retries("revoke client", || {
                auth_clients::Entity::update_many()
                    .col_expr(C::RevokedAt, Expr::value(stored(at)))
                    .filter(C::ClientId.eq(id))
                    .filter(C::RevokedAt.is_null())
                    .exec(&self.db)
            })
            .await
            .map_err(to_repository_error)?
        };
        // Nothing updated: an unknown client, or one revoked already.
        Ok(updated.rows_affected > 0 || self.get(id).await?.is_some())
    }

    #[tracing::instrument(skip_all, err)]
    async fn signing_key(&self, candidate: &[u8]) -> Result<Vec<u8>, RepositoryError> {
        if let Some(key) = self.stored_signing_key().await? {
            return Ok(key);
        }
        {
            let _writer = self.write_turn().await;
            let row = auth_signing_keys::ActiveModel {
                id: Set(SIGNING_KEY_ID),
                key_hex: Set(to_hex(candidate)),
                created_at: Set(stored(Utc::now())),
            };
            let keep_the_first = OnConflict::column(auth_signing_keys::Column::Id)
                .do_nothing_on([auth_signing_keys::Column::Id])
                .to_owned();
            with_retries("store signing key", || {
                auth_signing_keys::Entity::insert(row.clone())
                    .on_conflict(keep_the_first.clone())
                    .exec_without_returning(&self.db)
            })
            .await
            .map_err(to_repository_error)?;
        }
        self.stored_signing_key()
            .await?
            .ok_or_else(|| corrupt("auth_signing_keys", "the signing key is gone right after it was stored"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        let hex = to_hex(&bytes);
        assert_eq!(&hex[..8], "00010203");
        assert_eq!(&hex[hex.len() - 4..], "feff");
        assert_eq!(from_hex(&hex), Some(bytes));
        assert_eq!(from_hex("ABcd"), Some(vec![0xab, 0xcd]));
        assert_eq!(from_hex(""), Some(vec![]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("+1"), None);
    }

    #[test]
    fn instants_are_kept_to_the_microsecond() {
        let at = DateTime::from_timestamp(1_800_000_000, 123_456_789).expect("time");
        assert_eq!(stored(at), DateTime::from_timestamp(1_800_000_000, 123_456_000).expect("time"));
    }
}
