//! roster's SeaORM repository: users in SQLite, PostgreSQL or MariaDB.
//!
//! The schema comes from `roster-migrations`; the entities (module `entity`) mirror
//! it and stay private to this crate. The rest of roster sees only
//! [`SeaOrmUserRepository`] (an implementation of the application's
//! [`UserRepository`](roster_application::UserRepository) and
//! [`ClientStore`](roster_application::auth::ClientStore) ports), [`connect`]
//! and its [`DatabaseSettings`].
#![forbid(unsafe_code)]

mod batch;
mod client_store;
mod connect;
mod context;
mod entity;
mod error;
mod lists;
mod postgres;
#[cfg(test)]
mod query_plans;
mod reports;
mod rows;
#[cfg(feature = "testing")]
pub mod testing;
mod user_repository;

pub use connect::{DatabaseSettings, connect};
pub use sea_orm::{DatabaseConnection, DbBackend, DbErr};
pub use user_repository::SeaOrmUserRepository;
