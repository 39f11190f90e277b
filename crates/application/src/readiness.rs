//! `CheckReadiness`: is the store reachable?

use std::sync::Arc;

use crate::{RepositoryError, UserRepository};

pub struct CheckReadiness {
    repository: Arc<dyn UserRepository>,
}

impl CheckReadiness {
    pub fn new(repository: Arc<dyn UserRepository>) -> Self {
        CheckReadiness { repository }
    }

    /// `Ok` when the store answers.
    pub async fn execute(&self) -> Result<(), RepositoryError> {
        self.repository.ping().await
    }
}
