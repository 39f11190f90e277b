//! The API test binary: every behaviour of the contract's core rows, over
//! HTTP, against the real actix app, on each backend (memory, SQLite, and —
//! when `ROSTER_TEST_POSTGRES_URL` / `ROSTER_TEST_MYSQL_URL` name a server —
//! PostgreSQL and MariaDB, each test on a database of its own); plus races
//! between two rosters on one store, and the database going away under load.

mod auth;
mod bulk;
mod concurrency;
mod faults;
mod helpers;
mod protocol;
mod proxy;
mod upsert;
