//! Who may do what: API-key scopes and the staff roles that grant them.
//!
//! A scope is `resource:action`. `admin` grants everything. Special-category personal data (GDPR
//! art. 9: health, political opinions…) has its own scope, `customers:sensitive`, which no role
//! but admin has by default: customers are often only partly aware such data is kept, so reading it
//! is a deliberate grant.

use serde::{Deserialize, Serialize};

macro_rules! scopes {
    ($($variant:ident => $name:literal: $doc:literal),* $(,)?) => {
        /// A permission carried by an API key or granted by a staff role.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Scope {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)*
        }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name,)* }
            }

            pub fn parse(value: &str) -> Option<Scope> {
                match value { $($name => Some(Scope::$variant),)* _ => None }
            }
        }
    };
}

scopes! {
    Admin => "admin": "Everything, including API keys and users.",
    CustomersRead => "customers:read": "Read customers.",
    CustomersWrite => "customers:write": "Create, change and archive customers.",
    CustomersSensitive => "customers:sensitive": "Read and write special-category personal data.",
    InteractionsRead => "interactions:read": "Read interactions.",
    InteractionsWrite => "interactions:write": "Record interactions and purchases.",
    LoyaltyRead => "loyalty:read": "Read loyalty accounts and ledgers.",
    LoyaltyWrite => "loyalty:write": "Move loyalty points.",
    TicketsRead => "tickets:read": "Read support tickets.",
    TicketsWrite => "tickets:write": "Create and work support tickets.",
    TicketsPortal => "tickets:portal": "Customer-facing: read tickets and their public replies, open tickets, reply and rate as the customer.",
    CampaignsRead => "campaigns:read": "Read campaigns and segments.",
    CampaignsWrite => "campaigns:write": "Manage campaigns and segments.",
    AnalyticsRead => "analytics:read": "Run segmentation, CLV and attribution.",
}

// Written by hand: the derive does not see the names the macro gives to serde.
impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Scope::ALL.iter().map(|s| s.as_str())))
            .description(Some(
                "A permission: `resource:action`, or `admin` for everything.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Scope {}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, as held by a caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    /// Parses a space-separated list (OAuth style); unknown names are an error naming them.
    pub fn parse_list(value: &str) -> Result<Self, String> {
        value
            .split_whitespace()
            .map(|s| Scope::parse(s).ok_or_else(|| s.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    pub fn allows(&self, needed: Scope) -> bool {
        self.0.iter().any(|&s| s == needed || s == Scope::Admin)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    /// Space-separated, as stored.
    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Staff roles. Each maps to a fixed set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Agent,
    Marketer,
    Analyst,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Agent => "agent",
            Role::Marketer => "marketer",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::Manager,
            Role::Agent,
            Role::Marketer,
            Role::Analyst,
            Role::Viewer,
        ]
        .into_iter()
        .find(|r| r.as_str() == value)
    }

    pub fn scopes(self) -> Scopes {
        use Scope::*;
        let reads = [
            CustomersRead,
            InteractionsRead,
            LoyaltyRead,
            TicketsRead,
            CampaignsRead,
        ];
        let mut s: Vec<Scope> = match self {
            Role::Admin => vec![Admin],
            Role::Manager => vec![
                CustomersWrite,
                InteractionsWrite,
                LoyaltyWrite,
                TicketsWrite,
                CampaignsWrite,
                AnalyticsRead,
            ],
            Role::Agent => vec![
                CustomersWrite,
                InteractionsWrite,
                LoyaltyWrite,
                TicketsWrite,
            ],
            Role::Marketer => vec![CampaignsWrite, AnalyticsRead, InteractionsWrite],
            Role::Analyst => vec![AnalyticsRead],
            Role::Viewer => vec![],
        };
        if self != Role::Admin {
            s.extend(reads);
        }
        Scopes::new(s)
    }
}

/// An API key as listed: never the secret itself, which is shown once at creation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: uuid::Uuid,
    pub name: String,
    /// The first characters of the key, to tell keys apart (`rk_AbCd1234`).
    pub prefix: String,
    pub scopes: Vec<Scope>,
    /// Who created it: `cli`, `bootstrap`, or `user:<id>` / `api_key:<id>`.
    pub created_by: Option<String>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Updated at most every few seconds, not on every request, and not a change of the key:
    /// it moves without a new `version` (or `ETag`).
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Bumped by every change; the `ETag` is `"v{version}"`.
    pub version: i64,
}

/// A staff user (password hash excluded).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Bumped by every change; the `ETag` is `"v{version}"`.
    pub version: i64,
}

impl User {
    /// What an administrator may change, as it stands: the document a merge patch applies to.
    pub fn settings(&self) -> UserSettings {
        UserSettings {
            name: self.name.clone(),
            role: self.role,
            disabled: self.disabled_at.is_some(),
        }
    }
}

/// The part of a staff user an administrator changes with a merge patch (`PATCH /users/{id}`);
/// the e-mail and the password are not in it. A patch is applied to the current settings and
/// the result parsed again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    pub role: Role,
    /// `true` disables the account and revokes its refresh tokens; `false` enables it.
    pub disabled: bool,
}

impl crate::Draft for UserSettings {
    fn parse(self) -> Result<Self, crate::ValidationFailure> {
        let mut errors = Vec::new();
        check_user_name(&self.name, &mut errors);
        if !errors.is_empty() {
            return Err(crate::ValidationFailure(errors));
        }
        Ok(UserSettings {
            name: self.name.trim().to_owned(),
            ..self
        })
    }
}

/// A new staff user, as a client sends it (`POST /users`) or the CLI reads it
/// (`rapport users create`): both go through [`UserDraft::parse`].
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateUser)]
pub struct UserDraft {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    pub role: Role,
    /// 12 to 256 characters. Stored as an argon2 hash only.
    #[schema(min_length = 12, max_length = 256, format = Password)]
    pub password: String,
}

/// A user draft that passed every rule, normalised: the only way to a new user.
#[derive(Debug, Clone)]
pub struct ParsedUser {
    /// Trimmed and lower-cased.
    pub email: String,
    /// Trimmed.
    pub name: String,
    pub role: Role,
    pub password: String,
}

/// A staff user's display name: 1 to 100 characters, not only spaces.
pub fn check_user_name(name: &str, errors: &mut Vec<crate::FieldError>) {
    if name.trim().is_empty() || name.chars().count() > 100 {
        errors.push(crate::FieldError {
            field: "name".into(),
            code: "length".into(),
            message: "must be 1 to 100 characters".into(),
        });
    }
}

impl UserDraft {
    pub fn parse(self) -> Result<ParsedUser, crate::ValidationFailure> {
        use validator::ValidateEmail;
        let email = self.email.trim().to_lowercase();
        let mut errors = Vec::new();
        if !email.validate_email() || email.len() > 254 {
            errors.push(crate::FieldError {
                field: "email".into(),
                code: "email".into(),
                message: "must be a valid e-mail address".into(),
            });
        }
        check_user_name(&self.name, &mut errors);
        if !(12..=256).contains(&self.password.chars().count()) {
            errors.push(crate::FieldError {
                field: "password".into(),
                code: "length".into(),
                message: "must be 12 to 256 characters".into(),
            });
        }
        if !errors.is_empty() {
            return Err(crate::ValidationFailure(errors));
        }
        Ok(ParsedUser {
            email,
            name: self.name.trim().to_owned(),
            role: self.role,
            password: self.password,
        })
    }
}

/// A new API key, as a client sends it (`POST /api-keys`) or the CLI reads it
/// (`rapport keys create`): both go through [`ApiKeyDraft::parse`].
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateApiKey)]
pub struct ApiKeyDraft {
    /// What the key is for, e.g. "Shop integration".
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// At least one scope.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Optional expiry, in the future.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ApiKey {
    /// What an administrator may change, as it stands: the document a merge patch applies to.
    pub fn settings(&self) -> ApiKeySettings {
        ApiKeySettings {
            name: self.name.clone(),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// The part of an API key an administrator changes with a merge patch (`PATCH /api-keys/{id}`):
/// its name, its scopes (they take effect on every server within the key cache's few seconds,
/// as a revocation does) and its expiry (`null` removes it). The secret never changes: make a
/// new key for that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// A new expiry must lie in the future; `null` removes it.
    #[serde(default, serialize_with = "crate::time::serialize_option")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl crate::Draft for ApiKeySettings {
    fn parse(self) -> Result<Self, crate::ValidationFailure> {
        let mut errors = Vec::new();
        let name = self.name.trim().to_owned();
        check_key_name(&name, &mut errors);
        check_key_scopes(&self.scopes, &mut errors);
        if !errors.is_empty() {
            return Err(crate::ValidationFailure(errors));
        }
        Ok(ApiKeySettings {
            name,
            scopes: Scopes::new(self.scopes).as_slice().to_vec(),
            expires_at: self.expires_at,
        })
    }
}

fn check_key_name(name: &str, errors: &mut Vec<crate::FieldError>) {
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(crate::FieldError {
            field: "name".into(),
            code: "length".into(),
            message: "must be 1 to 100 characters".into(),
        });
    }
}

fn check_key_scopes(scopes: &[Scope], errors: &mut Vec<crate::FieldError>) {
    if scopes.is_empty() {
        errors.push(crate::FieldError {
            field: "scopes".into(),
            code: "required".into(),
            message: "give at least one scope".into(),
        });
    }
}

/// An expiry a client sets must lie after `now`.
pub fn check_key_expiry(
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    errors: &mut Vec<crate::FieldError>,
) {
    if expires_at.is_some_and(|e| e <= now) {
        errors.push(crate::FieldError {
            field: "expires_at".into(),
            code: "not_in_past".into(),
            message: "must be in the future".into(),
        });
    }
}

/// An API key draft that passed every rule.
#[derive(Debug, Clone)]
pub struct ParsedApiKey {
    /// Trimmed.
    pub name: String,
    pub scopes: Scopes,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ApiKeyDraft {
    /// Checks the draft as of `now` (an expiry must lie after it).
    pub fn parse(
        self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ParsedApiKey, crate::ValidationFailure> {
        let mut errors = Vec::new();
        let name = self.name.trim().to_owned();
        check_key_name(&name, &mut errors);
        check_key_scopes(&self.scopes, &mut errors);
        check_key_expiry(self.expires_at, now, &mut errors);
        if !errors.is_empty() {
            return Err(crate::ValidationFailure(errors));
        }
        Ok(ParsedApiKey {
            name,
            scopes: Scopes::new(self.scopes),
            expires_at: self.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_and_viewer_only_reads() {
        assert!(Role::Admin.scopes().allows(Scope::CustomersSensitive));
        assert!(Role::Viewer.scopes().allows(Scope::CustomersRead));
        assert!(!Role::Viewer.scopes().allows(Scope::CustomersWrite));
        assert!(!Role::Manager.scopes().allows(Scope::CustomersSensitive));
    }

    #[test]
    fn scope_lists_round_trip_and_reject_unknown_names() {
        let s = Scopes::parse_list("customers:write customers:read customers:read").unwrap();
        assert_eq!(s.to_list(), "customers:read customers:write");
        assert_eq!(
            Scopes::parse_list("customers:read bogus"),
            Err("bogus".to_owned())
        );
    }
}
