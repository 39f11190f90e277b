//! The persistence model: SeaORM entities mirroring the migrated tables.
//! Private to this crate; the rest of roster sees only domain types.

pub mod auth_clients;
pub mod auth_signing_keys;
pub mod user_telephony;
pub mod users;
