//! roster's in-memory repository: the same guarantees as the SQL stores
//! (whole writes, unique email and telephony identity per namespace), kept
//! in a map behind one lock. It is also the in-memory
//! [`ClientStore`](roster_application::auth::ClientStore). Nothing survives a
//! restart: neither users, nor clients, nor the signing key.
#![forbid(unsafe_code)]

mod reports;

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_application::auth::{Client, ClientStore};
use roster_application::{
    BatchContext, BatchContextQuery, RepositoryError, UpsertContext, UpsertContextQuery, UserRef, UserRepository,
};
use roster_domain::{Namespace, TelephonyIdentity, User, UserId};

/// B-trees, not hash maps: a hash map that grows rehashes all of its
/// entries at once, under the write lock, which stalled every request for
/// hundreds of ms once a namespace held a few hundred thousand users.
#[derive(Default)]
struct Tenant {
    users: BTreeMap<UserId, User>,
    /// normalised email → owner
    emails: BTreeMap<String, UserId>,
    identities: BTreeMap<TelephonyIdentity, UserId>,
}

impl Tenant {
    /// Saves `user` whole, or nothing on a conflict; gives the version it
    /// replaced.
    fn save(&mut self, user: &User) -> Result<Option<User>, RepositoryError> {
        let id = &user.user_id;
        let email = user.profile.email.as_ref().map(|e| e.normalized());
        let identities: Vec<_> = user.profile.telephony_configurations.iter().map(|c| c.identity()).collect();
        // Check every unique value before touching anything: all or nothing.
        let taken = |owner: Option<&UserId>| owner.is_some_and(|o| o != id);
        if email.as_ref().is_some_and(|e| taken(self.emails.get(e)))
            || identities.iter().any(|i| taken(self.identities.get(i)))
        {
            return Err(RepositoryError::Conflict);
        }
        let before = self.remove(id);
        if let Some(e) = email {
            self.emails.insert(e, id.clone());
        }
        for i in identities {
            self.identities.insert(i, id.clone());
        }
        self.users.insert(id.clone(), user.clone());
        Ok(before)
    }

    /// Removes a user and releases its unique values.
    fn remove(&mut self, id: &UserId) -> Option<User> {
        let before = self.users.remove(id)?;
        if let Some(e) = &before.profile.email {
            self.emails.remove(&e.normalized());
        }
        for c in &before.profile.telephony_configurations {
            self.identities.remove(&c.identity());
        }
        Some(before)
    }

    /// Saves `users` in order, all or none.
    fn save_all(&mut self, users: &[User]) -> Result<(), RepositoryError> {
        let mut undo: Vec<(UserId, Option<User>)> = Vec::with_capacity(users.len());
        for user in users {
            match self.save(user) {
                Ok(before) => undo.push((user.user_id.clone(), before)),
                Err(e) => {
                    for (id, before) in undo.into_iter().rev() {
                        self.remove(&id);
                        if let Some(before) = before {
                            // it held these values a moment ago
                            let _ = self.save(&before);
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Registered clients and the token signing key.
#[derive(Default)]
struct Auth {
    /// client id → client
    clients: BTreeMap<String, Client>,
    signing_key: Option<Vec<u8>>,
}

/// The in-memory [`UserRepository`] and [`ClientStore`].
#[derive(Default)]
pub struct InMemoryUserRepository {
    tenants: RwLock<HashMap<Namespace, Tenant>>,
    auth: RwLock<Auth>,
    reports: std::sync::Mutex<reports::Reports>,
}

fn poisoned<T>(_: T) -> RepositoryError {
    RepositoryError::Internal("the in-memory store's lock is poisoned".into())
}

#[async_trait]
impl UserRepository for InMemoryUserRepository {
    async fn find(&self, namespace: &Namespace, user_id: &UserId) -> Result<Option<User>, RepositoryError> {
        let tenants = self.tenants.read().map_err(poisoned)?;
        Ok(tenants.get(namespace).and_then(|t| t.users.get(user_id)).cloned())
    }

    async fn upsert_context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError> {
        let tenants = self.tenants.read().map_err(poisoned)?;
        let Some(t) = tenants.get(namespace) else {
            return Ok(UpsertContext::default());
        };
        Ok(UpsertContext {
            existing: t.users.get(&query.user_id).cloned(),
            references: query
                .references
                .iter()
                .filter_map(|id| t.users.get(id))
                .map(|u| UserRef {
                    user_id: u.user_id.clone(),
                    first_name: u.profile.first_name.to_string(),
                    last_name: u.profile.last_name.to_string(),
                })
                .collect(),
            email_owner: query.email.as_ref().and_then(|e| t.emails.get(e)).cloned(),
            identity_owners: query
                .identities
                .iter()
                .filter_map(|i| t.identities.get(i).map(|owner| (i.clone(), owner.clone())))
                .collect(),
        })
    }

    async fn batch_context(
        &self,
        namespace: &Namespace,
        query: &BatchContextQuery,
    ) -> Result<BatchContext, RepositoryError> {
        let tenants = self.tenants.read().map_err(poisoned)?;
        let Some(t) = tenants.get(namespace) else {
            return Ok(BatchContext::default());
        };
        let user_ref = |u: &User| UserRef {
            user_id: u.user_id.clone(),
            first_name: u.profile.first_name.to_string(),
            last_name: u.profile.last_name.to_string(),
        };
        Ok(BatchContext {
            existing: query
                .user_ids
                .iter()
                .filter_map(|id| t.users.get(id))
                .map(|u| (u.user_id.clone(), u.clone()))
                .collect(),
            references: query
                .references
                .iter()
                .filter_map(|id| t.users.get(id))
                .map(|u| (u.user_id.clone(), user_ref(u)))
                .collect(),
            email_owners: query.emails.iter().filter_map(|e| t.emails.get(e).map(|o| (e.clone(), o.clone()))).collect(),
            identity_owners: query
                .identities
                .iter()
                .filter_map(|i| t.identities.get(i).map(|o| (i.clone(), o.clone())))
                .collect(),
        })
    }

    async fn save(&self, namespace: &Namespace, user: &User, _at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let mut tenants = self.tenants.write().map_err(poisoned)?;
        let t = tenants.entry(namespace.clone()).or_default();
        t.save(user).map(|_| ())
    }

    async fn ping(&self) -> Result<(), RepositoryError> {
        self.tenants.read().map(|_| ()).map_err(poisoned)
    }
}

/// A duplicate client id is [`RepositoryError::Conflict`]; revoking a
/// revoked client says `true` and keeps the first `revoked_at`.
#[async_trait]
impl ClientStore for InMemoryUserRepository {
    async fn insert(&self, client: &Client) -> Result<(), RepositoryError> {
        let mut auth = self.auth.write().map_err(poisoned)?;
        if auth.clients.contains_key(&client.id) {
            return Err(RepositoryError::Conflict);
        }
        auth.clients.insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Client>, RepositoryError> {
        Ok(self.auth.read().map_err(poisoned)?.clients.get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<Client>, RepositoryError> {
        let mut clients: Vec<Client> = self.auth.read().map_err(poisoned)?.clients.values().cloned().collect();
        clients.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(clients)
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let mut auth = self.auth.write().map_err(poisoned)?;
        let Some(client) = auth.clients.get_mut(id) else {
            return Ok(false);
        };
        client.revoked_at.get_or_insert(at);
        Ok(true)
    }

    async fn signing_key(&self, candidate: &[u8]) -> Result<Vec<u8>, RepositoryError> {
        let mut auth = self.auth.write().map_err(poisoned)?;
        Ok(auth.signing_key.get_or_insert_with(|| candidate.to_vec()).clone())
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use roster_application::UserRepository;
    use roster_application::contract::Fixture;

    use super::InMemoryUserRepository;

    struct Memory(Arc<InMemoryUserRepository>);

    impl Fixture for Memory {
        fn repository(&self) -> Arc<dyn UserRepository> {
            self.0.clone()
        }
    }

    async fn fixture() -> Memory {
        Memory(Arc::new(InMemoryUserRepository::default()))
    }

    roster_application::repository_contract_tests!(fixture());
}

#[cfg(test)]
mod client_contract {
    use std::sync::Arc;

    use roster_application::auth::ClientStore;
    use roster_application::contract::clients::ClientStoreFixture;

    use super::InMemoryUserRepository;

    struct Memory(Arc<InMemoryUserRepository>);

    impl ClientStoreFixture for Memory {
        fn client_store(&self) -> Arc<dyn ClientStore> {
            self.0.clone()
        }
    }

    async fn fixture() -> Memory {
        Memory(Arc::new(InMemoryUserRepository::default()))
    }

    roster_application::client_store_contract_tests!(fixture());
}

#[cfg(test)]
mod report_contract {
    use std::sync::Arc;

    use roster_application::contract::reports::ReportStoreFixture;
    use roster_application::{ReportStore, UserRepository};

    use super::InMemoryUserRepository;

    struct Memory(Arc<InMemoryUserRepository>);

    impl ReportStoreFixture for Memory {
        fn report_store(&self) -> Arc<dyn ReportStore> {
            self.0.clone()
        }

        fn users(&self) -> Arc<dyn UserRepository> {
            self.0.clone()
        }
    }

    async fn fixture() -> Memory {
        Memory(Arc::new(InMemoryUserRepository::default()))
    }

    roster_application::report_store_contract_tests!(fixture());
}
