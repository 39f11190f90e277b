//! The ports: what the use cases need from the outside world.

use std::collections::HashMap;
use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_domain::{Namespace, TelephonyIdentity, User, UserId};

type Source = Box<dyn StdError + Send + Sync>;

/// What a repository can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A unique value (email, telephony identity) belongs to another user of
    /// the namespace. Nothing was written.
    #[error("the email or a telephony identity belongs to another user")]
    Conflict,
    /// The store can't be reached or did not answer in time. Nothing was
    /// written; trying again later may succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] Source),
    /// The store answered with something this adapter can't make sense of.
    #[error("the store failed")]
    Internal(#[source] Source),
}

impl RepositoryError {
    /// The same error for another caller (a batch's failure goes to each
    /// of its callers): the source is kept as text.
    pub fn shared(&self) -> RepositoryError {
        let text = |e: &Source| -> Source { crate::error_chain(e.as_ref()).into() };
        match self {
            RepositoryError::Conflict => RepositoryError::Conflict,
            RepositoryError::Unavailable(e) => RepositoryError::Unavailable(text(e)),
            RepositoryError::Internal(e) => RepositoryError::Internal(text(e)),
        }
    }
}

/// What planning the upsert of one user needs to know about its neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertContextQuery {
    /// The user being upserted.
    pub user_id: UserId,
    /// Users it names (`supervisorId`, `coachId`).
    pub references: Vec<UserId>,
    /// Its email, normalised (lower-case).
    pub email: Option<String>,
    /// Its telephony identities.
    pub identities: Vec<TelephonyIdentity>,
}

/// A user named as a reference, with the name `supervisorName` is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
}

/// The answer to an [`UpsertContextQuery`], as stored now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpsertContext {
    /// The stored version of the user, if any.
    pub existing: Option<User>,
    /// Those of the referenced users that exist.
    pub references: Vec<UserRef>,
    /// Who holds the email now (possibly the user itself).
    pub email_owner: Option<UserId>,
    /// Who holds each of the identities now (possibly the user itself); an
    /// identity nobody holds is absent.
    pub identity_owners: Vec<(TelephonyIdentity, UserId)>,
}

/// What planning a batch of upserts (a chunk of a bulk import) needs: the
/// union of the users' [`UpsertContextQuery`]s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchContextQuery {
    /// The users being upserted.
    pub user_ids: Vec<UserId>,
    /// Users they name.
    pub references: Vec<UserId>,
    /// Their emails, normalised.
    pub emails: Vec<String>,
    /// Their telephony identities.
    pub identities: Vec<TelephonyIdentity>,
}

impl BatchContextQuery {
    /// Asks also what `query` asks.
    pub fn add(&mut self, query: &UpsertContextQuery) {
        self.user_ids.push(query.user_id.clone());
        self.references.extend(query.references.iter().cloned());
        self.emails.extend(query.email.iter().cloned());
        self.identities.extend(query.identities.iter().cloned());
    }
}

/// The answer to a [`BatchContextQuery`], as stored now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchContext {
    /// The stored versions of those of `user_ids` that exist.
    pub existing: HashMap<UserId, User>,
    /// Those of `references` that exist.
    pub references: HashMap<UserId, UserRef>,
    /// Who holds each of the asked emails that somebody holds.
    pub email_owners: HashMap<String, UserId>,
    /// Who holds each of the asked identities that somebody holds.
    pub identity_owners: HashMap<TelephonyIdentity, UserId>,
}

impl BatchContext {
    /// The answer to `query`, one of the queries this context was read for
    /// (see [`BatchContextQuery::add`]).
    pub fn context_of(&self, query: &UpsertContextQuery) -> UpsertContext {
        UpsertContext {
            existing: self.existing.get(&query.user_id).cloned(),
            references: query.references.iter().filter_map(|id| self.references.get(id)).cloned().collect(),
            email_owner: query.email.as_ref().and_then(|e| self.email_owners.get(e)).cloned(),
            identity_owners: query
                .identities
                .iter()
                .filter_map(|i| self.identity_owners.get(i).map(|owner| (i.clone(), owner.clone())))
                .collect(),
        }
    }
}

/// Where users are kept, per namespace.
///
/// Contract (pinned by `contract::` and run against every adapter):
/// - `save` writes a user whole — its fields, roles, teams and telephony
///   configurations — in one transaction, replacing any stored version, or
///   writes nothing.
/// - `save` returns [`RepositoryError::Conflict`] when the email
///   (case-insensitive) or a telephony identity (platform case-insensitive,
///   agent id exact) belongs to another user of the namespace. The store's
///   unique indexes decide, so this holds under concurrency.
/// - Lists come back in the order they were saved.
/// - Namespaces are disjoint.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// The stored user, `None` if the namespace has no such user.
    async fn find(&self, namespace: &Namespace, user_id: &UserId) -> Result<Option<User>, RepositoryError>;

    /// Everything planning an upsert needs, read in as few round trips as the
    /// store allows.
    async fn upsert_context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError>;

    /// [`upsert_context`](Self::upsert_context) for many users at once, in
    /// as few round trips as the store allows.
    async fn batch_context(
        &self,
        namespace: &Namespace,
        query: &BatchContextQuery,
    ) -> Result<BatchContext, RepositoryError>;

    /// Stores `user` whole, replacing the stored version; `at` is recorded
    /// as the time of the write.
    async fn save(&self, namespace: &Namespace, user: &User, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// [`save`](Self::save) for each of `users` (distinct user ids), in
    /// their order, with one result per user: each user is written whole or
    /// not at all, and one user's [`Conflict`](RepositoryError::Conflict)
    /// leaves the others to be written. A store may write them together
    /// (one transaction) and, if that is refused, one by one; the default
    /// saves them one by one.
    async fn save_each(
        &self,
        namespace: &Namespace,
        users: &[User],
        at: DateTime<Utc>,
    ) -> Vec<Result<(), RepositoryError>> {
        let mut results = Vec::with_capacity(users.len());
        for user in users {
            results.push(self.save(namespace, user, at).await);
        }
        results
    }

    /// [`save_each`](Self::save_each), keeping `reports[i]` — the report
    /// answered for `users[i]` if it is written — in the same transaction as
    /// that user, so a kept report is one whose write committed, with one
    /// commit for both. For a store that also is the
    /// [`ReportStore`](crate::ReportStore) of the upserts. `None` (the
    /// default): this store does not keep reports along, nothing was
    /// written, and the caller saves and keeps them apart.
    async fn save_each_reporting(
        &self,
        _namespace: &Namespace,
        _users: &[User],
        _reports: &[crate::Report],
        _at: DateTime<Utc>,
    ) -> Option<Vec<Result<(), RepositoryError>>> {
        None
    }

    /// `Ok` when the store answers.
    async fn ping(&self) -> Result<(), RepositoryError>;
}

/// The time now. Use cases never read the system clock themselves.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always says the same time, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// New identifiers (report ids).
pub trait IdGenerator: Send + Sync + 'static {
    fn new_id(&self) -> String;
}
