//! The API test binary: every behaviour of the contract's core rows, over
//! HTTP, against the real actix app, on each backend (memory and SQLite).

mod helpers;
mod protocol;
mod upsert;
