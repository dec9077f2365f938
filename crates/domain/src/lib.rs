//! Rapport's domain: the types a CRM talks about, their validation and the business rules that
//! hold whatever the storage or transport. Pure: no I/O, no database, no HTTP.
//!
//! "Parse, don't validate": values arriving from outside are deserialised into the `*Draft`
//! types, checked once with [`validator::Validate`] and normalised; past that boundary the rest of
//! the code trusts them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod customer;
pub mod time;
pub mod validation;

pub use validation::{FieldError, ValidationFailure};

/// A new time-ordered identifier (UUIDv7) for any resource.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// Now, in UTC, truncated to microseconds: both backends store microseconds, so values read back
/// compare equal to the values written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
