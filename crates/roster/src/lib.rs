//! The roster binary's library half: configuration, telemetry and wiring,
//! shared by `main.rs` and the API tests.
#![forbid(unsafe_code)]

pub mod settings;
pub mod startup;
pub mod telemetry;

pub use settings::Settings;
pub use startup::{Application, StartupError};
