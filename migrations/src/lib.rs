//! roster's database migrations, portable to SQLite, PostgreSQL and MariaDB.
//!
//! Each migration is frozen in time: it names its own tables and columns with
//! local `DeriveIden` enums and never imports the adapter's entities, so a later
//! change of the entities can't rewrite history.
//!
//! String lengths are chosen so every index key fits MariaDB's 3072-byte limit
//! with utf8mb4 (4 bytes a character).
#![forbid(unsafe_code)]

pub use sea_orm_migration;
use sea_orm_migration::prelude::*;

mod m20261204_100000_create_users;
mod m20261204_100100_create_user_roles;
mod m20261204_100200_create_user_teams;
mod m20261204_100300_create_user_telephony;
mod m20261204_100400_postgres_save_user;
mod m20261204_100500_key_first_unique_indexes;

/// Every migration of roster's schema, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_100000_create_users::Migration),
            Box::new(m20261204_100100_create_user_roles::Migration),
            Box::new(m20261204_100200_create_user_teams::Migration),
            Box::new(m20261204_100300_create_user_telephony::Migration),
            Box::new(m20261204_100400_postgres_save_user::Migration),
            Box::new(m20261204_100500_key_first_unique_indexes::Migration),
        ]
    }
}
