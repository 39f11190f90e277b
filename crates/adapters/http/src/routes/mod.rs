pub mod bulk;
pub mod health;
pub mod token;
pub mod user;
