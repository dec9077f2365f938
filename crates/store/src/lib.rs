//! Rapport's storage: the diesel schema, the queries and the migrations, for SQLite and
//! PostgreSQL through one connection type ([`db::DbConn`]).
//!
//! Functions here take a `&mut DbConn` and return domain types; the row structs stay private.
//! They are blocking: the HTTP layer runs them on the blocking thread pool.
//!
//! Error policy: [`StoreError`] says what went wrong in storage terms (not found, conflict,
//! stale version, unavailable). Database error text never leaves this crate's logs: the HTTP
//! layer maps the kind, not the message.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api_keys;
pub mod bulk;
pub mod conn;
pub mod customers;
pub mod db;
pub mod idempotency;
pub mod interactions;
pub mod loyalty;
pub mod merge;
pub mod page;
pub mod schema;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tickets;
pub mod timeline;
mod types;
pub mod users;
mod writer;

pub use db::{transaction, Backend, Db, DbConn, PoolOptions};
/// The database driver's error, for callers of [`transaction`] with their own error type.
pub use diesel::result::Error as DbError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A business rule refused the write given the state of what it touches. Reads as the API's
    /// detail does (the CLI prints it).
    #[error("{} ({})", .0.detail(), .0.code())]
    Conflict(rapport_domain::conflict::Conflict),
    /// The row changed since the caller read it (optimistic concurrency).
    #[error("version mismatch")]
    VersionMismatch,
    /// A field names something that does not exist (e.g. an interaction's `customer_id`).
    #[error("no such {0}")]
    MissingReference(&'static str),
    /// A field that cannot change after creation was changed.
    #[error("{0} cannot change")]
    Immutable(&'static str),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("could not connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Maps unique violations to a named conflict; everything else stays a database error.
    pub(crate) fn unique(
        rule: rapport_domain::conflict::Conflict,
    ) -> impl FnOnce(diesel::result::Error) -> StoreError {
        move |e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => StoreError::Conflict(rule),
            other => StoreError::Db(other),
        }
    }

    /// True when the database (not the request) is at fault and a retry later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Pool(_) | StoreError::Connect(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
