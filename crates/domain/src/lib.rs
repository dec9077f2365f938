//! Rapport's domain: the types a CRM talks about, their validation and the business rules that
//! hold whatever the storage or transport. Pure: no I/O, no database, no HTTP.
//!
//! "Parse, don't validate": values arriving from outside are deserialised into the `*Draft`
//! types, checked once with [`validator::Validate`] and normalised; past that boundary the rest of
//! the code trusts them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

/// An enum stored and sent as snake_case text, with `ALL`, `as_str` and `parse`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}
pub(crate) use string_enum;

/// The schema of a stored resource that serialises as its draft (`#[serde(flatten)]`) plus a
/// few fields of its own, written as one flat object: utoipa's derive would give
/// `allOf [Draft, …]`, and drafts forbid additional properties.
macro_rules! flat_schema {
    ($stored:ty, $draft:ty, $meta:ty, $description:literal) => {
        impl utoipa::PartialSchema for $stored {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::Schema;
                use utoipa::openapi::RefOr;
                let draft = <$draft as utoipa::PartialSchema>::schema();
                let meta = <$meta as utoipa::PartialSchema>::schema();
                match (draft, meta) {
                    (RefOr::T(Schema::Object(mut d)), RefOr::T(Schema::Object(m))) => {
                        d.additional_properties = None;
                        d.description = Some($description.into());
                        d.properties.extend(m.properties);
                        d.required.extend(m.required);
                        RefOr::T(Schema::Object(d))
                    }
                    (d, _) => d,
                }
            }
        }

        impl utoipa::ToSchema for $stored {
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                <$draft as utoipa::ToSchema>::schemas(schemas);
                <$meta as utoipa::ToSchema>::schemas(schemas);
            }
        }
    };
}
pub(crate) use flat_schema;

pub mod auth;
pub mod codes;
pub mod conflict;
pub mod customer;
pub mod duplicates;
pub mod interaction;
pub mod loyalty;
pub mod shape;
pub mod sla;
pub mod ticket;
pub mod time;
pub mod validation;

pub use validation::{FieldError, ValidationFailure};

/// What a client writes about a resource: deserialised from JSON, then [`Draft::parse`]d
/// (normalised and validated) before anything is stored. A merge patch is applied to a draft.
pub trait Draft: serde::Serialize + serde::de::DeserializeOwned + Sized {
    fn parse(self) -> Result<Self, ValidationFailure>;
}

impl Draft for customer::CustomerDraft {
    fn parse(self) -> Result<Self, ValidationFailure> {
        customer::CustomerDraft::parse(self)
    }
}

impl Draft for loyalty::RewardDraft {
    fn parse(self) -> Result<Self, ValidationFailure> {
        loyalty::RewardDraft::parse(self)
    }
}

impl Draft for ticket::TicketDraft {
    fn parse(self) -> Result<Self, ValidationFailure> {
        ticket::TicketDraft::parse(self)
    }
}

impl Draft for ticket::SlaPolicyDraft {
    fn parse(self) -> Result<Self, ValidationFailure> {
        ticket::SlaPolicyDraft::parse(self)
    }
}

impl Draft for interaction::InteractionDraft {
    fn parse(self) -> Result<Self, ValidationFailure> {
        interaction::InteractionDraft::parse(self)
    }
}

/// A new time-ordered identifier (UUIDv7) for any resource.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// A UUIDv7 stamped with `at` instead of now: for records whose creation time is given (a ticket
/// opened earlier, demo history), so that id order stays creation order.
pub fn new_id_at(at: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        secs,
        at.timestamp_subsec_nanos(),
    ))
}

/// Now, in UTC, truncated to microseconds: both backends store microseconds, so values read back
/// compare equal to the values written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
