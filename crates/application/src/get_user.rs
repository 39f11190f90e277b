//! `GetUser`: read one stored user.

use std::sync::Arc;

use roster_domain::{Namespace, User, UserId};

use crate::{RepositoryError, UserRepository};

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    #[error("{0}")]
    InvalidNamespace(String),
    #[error("namespace '{namespace}' has no user '{user_id}'")]
    NotFound { namespace: String, user_id: String },
    #[error("the store is unavailable")]
    Unavailable(#[source] RepositoryError),
}

pub struct GetUser {
    repository: Arc<dyn UserRepository>,
}

impl GetUser {
    pub fn new(repository: Arc<dyn UserRepository>) -> Self {
        GetUser { repository }
    }

    /// The stored user. A `userId` that could never be stored is simply not found.
    pub async fn execute(&self, namespace: &str, user_id: &str) -> Result<User, GetUserError> {
        let ns = Namespace::parse(namespace).map_err(GetUserError::InvalidNamespace)?;
        let not_found = || GetUserError::NotFound { namespace: namespace.to_owned(), user_id: user_id.to_owned() };
        let id = UserId::parse(user_id).map_err(|_| not_found())?;
        self.repository.find(&ns, &id).await.map_err(GetUserError::Unavailable)?.ok_or_else(not_found)
    }
}
