//! roster's domain: the user, its value types and the validation rules of
//! SPEC §3. Pure — no I/O, no framework, no database types.
//!
//! Raw input arrives as a [`RawValue`] (an untyped document: the HTTP adapter
//! builds it from JSON, the bulk importer from CSV). [`parse_user`] turns it into
//! a [`UserDraft`] whose every field is a typed value, or into the complete list
//! of [`Issue`]s, each with its field path and a code from the closed set
//! [`IssueCode`].
#![forbid(unsafe_code)]

mod issue;
mod namespace;
mod parse;
mod raw;
mod raw_serde;
mod user;
mod values;

pub use issue::{Issue, IssueCode, Severity};
pub use namespace::Namespace;
pub use parse::{ParsedUser, parse_user};
pub use raw::RawValue;
pub use user::{FIELD_NAMES, User, UserDraft, UserProfile};
pub use values::{
    CalendarDate, Email, Extension, MAX_ITEMS, MAX_TELEPHONY, MAX_TEXT, MAX_USER_ID, Pilot, Status,
    TelephonyConfiguration, TelephonyIdentity, Text, UserId, ValueError, WorkFromHome,
};
