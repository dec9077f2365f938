//! Support tickets: a service desk's cases, their state machine, the conversation on them, the
//! SLA policies that set their targets, and customer satisfaction.
//!
//! The seeds' support CRM: when a customer asks for help with a phone or a computer, the agent
//! looks the customer up and sees the product model and every earlier technical problem. A ticket
//! therefore carries the product (`model`, `serial`, when it was bought, optionally the purchase
//! interaction), and the customer's earlier tickets about the same model are one request away.
//!
//! [`TicketDraft`] is what a client writes (create, and the target of a merge patch); a status
//! change goes through [`TicketStatus::can_become`], and the ticket's SLA clocks are computed by
//! [`crate::sla`] from the policy snapshot the ticket carries and the time it spent paused.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::customer::{dedup_labels, short_labels, Channel};
use crate::sla::Calendar;
use crate::validation::{self, error, ValidationFailure};

crate::string_enum! {
    /// How urgent a ticket is; SLA policies are chosen by it.
    Priority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" }
}

// The enum comes from `string_enum!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for Priority {
    fn default() -> Self {
        Priority::Normal
    }
}

crate::string_enum! {
    /// Where a ticket stands: `new → open → pending → solved → closed`, with `on_hold` while
    /// waiting on a third party. A solved ticket may be reopened within the desk's reopen window;
    /// a closed one is final.
    TicketStatus {
        New => "new", Open => "open", Pending => "pending", OnHold => "on_hold",
        Solved => "solved", Closed => "closed",
    }
}

// The enum comes from `string_enum!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for TicketStatus {
    fn default() -> Self {
        TicketStatus::New
    }
}

impl TicketStatus {
    /// The statuses this one may move to (a solved ticket's `open` is a reopen, subject to the
    /// window).
    pub fn next(self) -> &'static [TicketStatus] {
        use TicketStatus::*;
        match self {
            New => &[Open, Pending, OnHold, Solved],
            Open => &[Pending, OnHold, Solved],
            Pending => &[Open, OnHold, Solved],
            OnHold => &[Open, Pending, Solved],
            Solved => &[Open, Closed],
            Closed => &[],
        }
    }

    pub fn can_become(self, to: TicketStatus) -> bool {
        self == to || self.next().contains(&to)
    }

    /// Whether the resolution clock stands still in this status: waiting on the customer
    /// (`pending`) or on a third party (`on_hold`), and once solved or closed.
    pub fn pauses_resolution(self) -> bool {
        matches!(
            self,
            TicketStatus::Pending
                | TicketStatus::OnHold
                | TicketStatus::Solved
                | TicketStatus::Closed
        )
    }

    /// Solved or closed: the customer's problem is dealt with.
    pub fn is_done(self) -> bool {
        matches!(self, TicketStatus::Solved | TicketStatus::Closed)
    }
}

/// Statuses a ticket may be created with.
pub const INITIAL_STATUSES: &[TicketStatus] = &[TicketStatus::New, TicketStatus::Open];

/// The product a ticket is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Model name or number, e.g. `Pixel 9 Pro`; earlier tickets about the same model are found by it.
    #[validate(length(min = 1, max = 200), custom(function = "validation::not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "\\S",
        example = "Pixel 9 Pro"
    )]
    pub model: Option<String>,
    #[validate(length(min = 1, max = 200), custom(function = "validation::not_blank"))]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub serial: Option<String>,
    /// When the customer bought it (RFC 3339); not in the future, not before 1970.
    #[serde(default, serialize_with = "crate::time::serialize_option")]
    #[validate(custom(function = "not_in_future"))]
    #[schema(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub purchased_at: Option<DateTime<Utc>>,
    /// The purchase interaction it came from; it must belong to the ticket's customer.
    pub purchase_interaction_id: Option<Uuid>,
}

/// Not in the future (5 minutes of clock skew allowed), and not before 1970.
fn not_in_future(at: &DateTime<Utc>) -> Result<(), ValidationError> {
    if *at > crate::now() + chrono::Duration::minutes(5) {
        Err(error("not_in_future", "must not be in the future"))
    } else if at.timestamp() < 0 {
        Err(error("too_early", "must not be before 1970"))
    } else {
        Ok(())
    }
}

fn default_channel() -> Channel {
    Channel::Web
}

/// Everything a client may write about a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketDraft {
    /// Who asked for help.
    pub customer_id: Uuid,
    #[validate(length(min = 1, max = 200), custom(function = "validation::not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "\\S",
        example = "Phone restarts by itself"
    )]
    pub subject: String,
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// Where the request came in (default `web`).
    #[serde(default = "default_channel")]
    pub channel: Channel,
    /// The desk's own classification, e.g. `hardware` or `billing`; SLA policies may be per category.
    #[validate(length(min = 1, max = 100), custom(function = "validation::not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "\\S",
        example = "hardware"
    )]
    pub category: Option<String>,
    /// Free labels; stored in lower case, without duplicates.
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "short_labels"))]
    #[schema(value_type = Vec<crate::codes::Label>, max_items = 50)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub priority: Priority,
    /// On create, `new` (default) or `open`. A change must follow the state machine: 409 names
    /// the statuses allowed from the current one.
    #[serde(default)]
    pub status: TicketStatus,
    /// The staff user working it.
    pub assignee_id: Option<Uuid>,
    #[validate(nested)]
    pub product: Option<Product>,
    /// Any JSON object, up to 16 KiB.
    #[serde(default)]
    #[validate(custom(function = "validation::small_json_object"))]
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    /// When the customer asked for help (RFC 3339): for a ticket recorded later, or brought
    /// over from another desk; defaults to now, may not be in the future, and cannot change
    /// afterwards; not before 1970. The SLA clocks start here.
    #[serde(default, serialize_with = "crate::time::serialize_option")]
    #[validate(custom(function = "not_in_future"))]
    #[schema(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub opened_at: Option<DateTime<Utc>>,
}

impl TicketDraft {
    /// Normalises (trims, lower-cases tags, drops an empty product) and validates.
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        self.subject = self.subject.trim().to_owned();
        if let Some(c) = &mut self.category {
            *c = c.trim().to_owned();
        }
        dedup_labels(&mut self.tags);
        if let Some(p) = &mut self.product {
            for v in [&mut p.model, &mut p.serial].into_iter().flatten() {
                *v = v.trim().to_owned();
            }
        }
        if self
            .product
            .as_ref()
            .is_some_and(|p| *p == Product::default())
        {
            self.product = None;
        }
        self.validate()?;
        Ok(self)
    }

    /// What `q` searches: subject and description, lower-cased (Unicode, so `ÉCRAN` finds `écran`).
    pub fn search_text(&self) -> String {
        let mut text = self.subject.to_lowercase();
        if let Some(d) = &self.description {
            text.push('\n');
            text.push_str(&d.to_lowercase());
        }
        text
    }

    pub fn product_model(&self) -> Option<&str> {
        self.product.as_ref().and_then(|p| p.model.as_deref())
    }
}

/// Who did something on a ticket: a staff user, an API key, or the customer (through a
/// customer-facing key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    User(Uuid),
    ApiKey(Uuid),
    /// The customer, writing through a `tickets:portal` key (the id is the customer's).
    Customer(Uuid),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::Customer(_) => "customer",
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Actor::User(id) | Actor::ApiKey(id) | Actor::Customer(id) => *id,
        }
    }

    pub fn from_parts(kind: &str, id: Uuid) -> Option<Self> {
        match kind {
            "user" => Some(Actor::User(id)),
            "api_key" => Some(Actor::ApiKey(id)),
            "customer" => Some(Actor::Customer(id)),
            _ => None,
        }
    }

    /// Staff (a user or an agent's key), as opposed to the customer.
    pub fn is_agent(&self) -> bool {
        !matches!(self, Actor::Customer(_))
    }
}

/// One SLA clock of a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SlaClock {
    /// The target, in (business) minutes.
    pub target_minutes: i64,
    /// When the target falls due. While the clock is paused, when it would fall due if it
    /// resumed now.
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub due_at: Option<DateTime<Utc>>,
    /// When it was met (first public agent reply; the ticket solved).
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub met_at: Option<DateTime<Utc>>,
    /// Business seconds left (negative once breached); frozen when met.
    pub remaining_seconds: i64,
    pub breached: bool,
    /// Standing still: the ticket is pending, on hold, solved or closed.
    pub paused: bool,
}

/// The targets a ticket runs against: the policy chosen for its priority and category when it was
/// created or last re-prioritised or re-categorised, copied onto it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlaTerms {
    pub policy_id: Uuid,
    pub policy_name: String,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
    /// Business hours; absent: 24/7.
    pub calendar: Option<Calendar>,
}

/// A ticket's SLA: the terms and both clocks.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketSla {
    pub policy_id: Uuid,
    pub policy_name: String,
    /// `true` when business hours apply, `false` for 24/7.
    pub business_hours: bool,
    pub first_response: SlaClock,
    pub resolution: SlaClock,
    /// Either clock breached.
    pub breached: bool,
}

/// A customer's satisfaction rating of a solved ticket (once per ticket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsatDraft {
    /// 1 (very unhappy) to 5 (very happy).
    #[validate(range(min = 1, max = 5))]
    #[schema(minimum = 1, maximum = 5, example = 5)]
    pub rating: i64,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// A recorded rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Csat {
    pub rating: i64,
    pub comment: Option<String>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub rated_at: DateTime<Utc>,
}

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub id: Uuid,
    #[serde(flatten)]
    pub draft: TicketDraft,
    /// Absent when no SLA policy matches the ticket's priority and category.
    pub sla: Option<TicketSla>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub first_responded_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub solved_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub closed_at: Option<DateTime<Utc>>,
    pub csat: Option<Csat>,
    /// Who opened it.
    pub created_by: Option<Actor>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
    /// Increases on every change; the `ETag` is derived from it.
    pub version: i64,
}

/// The fields a stored ticket adds to its draft (for the schema only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct TicketMeta {
    id: Uuid,
    sla: Option<TicketSla>,
    first_responded_at: Option<DateTime<Utc>>,
    solved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    csat: Option<Csat>,
    created_by: Option<Actor>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
}

crate::flat_schema!(Ticket, TicketDraft, TicketMeta, "A stored ticket.");

crate::string_enum! {
    /// Who may read a message: everyone on the ticket (`public`, a reply the customer sees) or
    /// staff only (`internal`, a note).
    Visibility { Public => "public", Internal => "internal" }
}

// The enum comes from `string_enum!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for Visibility {
    fn default() -> Self {
        Visibility::Public
    }
}

/// A reply or a note, as a client writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageDraft {
    #[validate(
        length(min = 1, max = 50000),
        custom(function = "validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 50000, pattern = "\\S")]
    pub body: String,
    /// `public` (default) or `internal`. A customer-facing key can only write public replies.
    #[serde(default)]
    pub visibility: Visibility,
}

/// A message on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub visibility: Visibility,
    pub author: Actor,
    pub body: String,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
}

crate::string_enum! {
    /// What a ticket event records.
    TicketEventKind {
        Created => "created", Status => "status", Priority => "priority",
        Assignee => "assignee", Category => "category", FirstResponse => "first_response",
        Rated => "rated",
    }
}

/// One change on a ticket: who, when, from, to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketEvent {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub customer_id: Uuid,
    pub kind: TicketEventKind,
    /// The value before (absent for `created`, or an unset assignee or category).
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    pub actor: Option<Actor>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub at: DateTime<Utc>,
}

/// An SLA policy as an administrator writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyDraft {
    #[validate(length(min = 1, max = 200), custom(function = "validation::not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "\\S",
        example = "Urgent hardware"
    )]
    pub name: String,
    /// The priority it applies to.
    pub priority: Priority,
    /// Only tickets of this category; absent: every category without a policy of its own.
    #[validate(length(min = 1, max = 100), custom(function = "validation::not_blank"))]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub category: Option<String>,
    /// Minutes (of business time) to the first public agent reply.
    #[validate(range(min = 1, max = 525_600))]
    #[schema(minimum = 1, maximum = 525_600, example = 60)]
    pub first_response_minutes: i64,
    /// Minutes (of business time) to solving, not counting time spent pending or on hold.
    #[validate(range(min = 1, max = 5_256_000))]
    #[schema(minimum = 1, maximum = 5_256_000, example = 480)]
    pub resolution_minutes: i64,
    /// Business hours; absent or null: the clocks run 24/7.
    pub calendar: Option<Calendar>,
}

impl SlaPolicyDraft {
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        self.name = self.name.trim().to_owned();
        if let Some(c) = &mut self.category {
            *c = c.trim().to_owned();
        }
        let mut failures = match self.validate() {
            Ok(()) => Vec::new(),
            Err(e) => ValidationFailure::from(e).0,
        };
        if let Some(c) = &self.calendar {
            if let Err(e) = c.validate() {
                failures.extend(e.0.into_iter().map(|mut f| {
                    f.field = format!("calendar.{}", f.field);
                    f
                }));
            }
        }
        if failures.is_empty() {
            Ok(self)
        } else {
            Err(ValidationFailure(failures))
        }
    }

    pub fn terms(&self, policy_id: Uuid) -> SlaTerms {
        SlaTerms {
            policy_id,
            policy_name: self.name.clone(),
            first_response_minutes: self.first_response_minutes,
            resolution_minutes: self.resolution_minutes,
            calendar: self.calendar.clone(),
        }
    }
}

/// A stored SLA policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaPolicy {
    pub id: Uuid,
    #[serde(flatten)]
    pub draft: SlaPolicyDraft,
    pub version: i64,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct SlaPolicyMeta {
    id: Uuid,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

crate::flat_schema!(
    SlaPolicy,
    SlaPolicyDraft,
    SlaPolicyMeta,
    "A stored SLA policy."
);

/// The desk's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeskSettings {
    /// How long after solving a customer or agent may reopen a ticket (hours, 0 to 8 760).
    #[validate(range(min = 0, max = 8760))]
    #[schema(minimum = 0, maximum = 8760, example = 168)]
    pub reopen_window_hours: i64,
}

impl Default for DeskSettings {
    fn default() -> Self {
        DeskSettings {
            reopen_window_hours: 168,
        }
    }
}

/// Why a status change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// Not an edge of the state machine; the statuses allowed from `from`.
    Illegal {
        from: TicketStatus,
        to: TicketStatus,
    },
    /// A solved ticket past the reopen window.
    ReopenWindowClosed {
        solved_at: DateTime<Utc>,
        hours: i64,
    },
}

impl std::fmt::Display for TransitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransitionError::Illegal { from, to } => {
                let allowed: Vec<&str> = from.next().iter().map(|s| s.as_str()).collect();
                let article = if from.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                write!(
                    f,
                    "{article} {} ticket cannot become {}; allowed: {}",
                    from.as_str(),
                    to.as_str(),
                    if allowed.is_empty() {
                        "none (closed is final)".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                )
            }
            TransitionError::ReopenWindowClosed { solved_at, hours } => write!(
                f,
                "the ticket was solved at {} and can only be reopened within {hours} hours of \
                 that; allowed now: closed (open a new ticket instead)",
                solved_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// Checks a status change, with the reopen window for a solved ticket.
pub fn check_transition(
    from: TicketStatus,
    to: TicketStatus,
    solved_at: Option<DateTime<Utc>>,
    settings: &DeskSettings,
    now: DateTime<Utc>,
) -> Result<(), TransitionError> {
    if !from.can_become(to) {
        return Err(TransitionError::Illegal { from, to });
    }
    if from == TicketStatus::Solved && to == TicketStatus::Open {
        if let Some(solved_at) = solved_at {
            if now - solved_at > chrono::Duration::hours(settings.reopen_window_hours) {
                return Err(TransitionError::ReopenWindowClosed {
                    solved_at,
                    hours: settings.reopen_window_hours,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_state_machine_allows_exactly_its_edges() {
        use TicketStatus::*;
        let legal = [
            (New, Open),
            (New, Pending),
            (New, OnHold),
            (New, Solved),
            (Open, Pending),
            (Open, OnHold),
            (Open, Solved),
            (Pending, Open),
            (Pending, OnHold),
            (Pending, Solved),
            (OnHold, Open),
            (OnHold, Pending),
            (OnHold, Solved),
            (Solved, Open),
            (Solved, Closed),
        ];
        for &from in TicketStatus::ALL {
            for &to in TicketStatus::ALL {
                let expected = from == to || legal.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn reopening_is_refused_after_the_window_and_names_the_allowed_statuses() {
        let solved = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let s = DeskSettings {
            reopen_window_hours: 24,
        };
        let open = TicketStatus::Open;
        let ok = check_transition(
            TicketStatus::Solved,
            open,
            Some(solved),
            &s,
            solved + chrono::Duration::hours(24),
        );
        assert!(ok.is_ok());
        let late = check_transition(
            TicketStatus::Solved,
            open,
            Some(solved),
            &s,
            solved + chrono::Duration::hours(25),
        );
        assert!(matches!(
            late,
            Err(TransitionError::ReopenWindowClosed { .. })
        ));
        let e = check_transition(TicketStatus::Closed, open, None, &s, solved).unwrap_err();
        assert!(e.to_string().contains("closed is final"), "{e}");
        let e = check_transition(TicketStatus::Open, TicketStatus::Closed, None, &s, solved)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("an open ticket cannot become closed"),
            "{e}"
        );
        let e = check_transition(
            TicketStatus::Pending,
            TicketStatus::Closed,
            None,
            &s,
            solved,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a pending ticket cannot become closed; allowed: open, on_hold, solved"
        );
    }

    #[test]
    fn drafts_are_normalised() {
        let d: TicketDraft = serde_json::from_value(serde_json::json!({
            "customer_id": Uuid::nil(), "subject": "  Broken ", "tags": ["Screen", "screen "],
            "product": {}
        }))
        .unwrap();
        let d = d.parse().unwrap();
        assert_eq!(
            (d.subject.as_str(), d.tags.clone(), d.product.clone()),
            ("Broken", vec!["screen".to_owned()], None)
        );
        assert_eq!(
            (d.priority, d.status, d.channel),
            (Priority::Normal, TicketStatus::New, Channel::Web)
        );
        let bad: TicketDraft =
            serde_json::from_value(serde_json::json!({"customer_id": Uuid::nil(), "subject": " "}))
                .unwrap();
        assert!(bad.parse().is_err());
    }
}

// ---------------------------------------------------------------- stats

/// The facts of one ticket that the desk's stats are computed from.
#[derive(Debug, Clone)]
pub struct TicketFacts {
    pub status: TicketStatus,
    pub category: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub has_sla: bool,
    /// Either SLA clock breached, as of the stats' `now`.
    pub breached: bool,
    pub csat: Option<i64>,
}

crate::string_enum! {
    /// The length of `by_period` buckets (UTC; weeks start on Monday).
    StatsPeriod { Day => "day", Week => "week", Month => "month" }
}

/// A duration's median over the tickets that have one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DurationStats {
    /// Tickets with this duration (responded to; solved).
    pub count: u64,
    /// Median in seconds of wall-clock time (the mean of the two middle values for an even count).
    pub median_seconds: Option<f64>,
}

/// Satisfaction ratings.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CsatStats {
    pub count: u64,
    pub average: Option<f64>,
    /// Ratings 1 to 5: how many of each (index 0 is rating 1).
    pub distribution: [u64; 5],
}

/// SLA compliance.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SlaStats {
    /// Tickets with an SLA policy.
    pub tickets: u64,
    pub breached: u64,
    /// `breached / tickets`; absent with no such tickets.
    pub breach_rate: Option<f64>,
}

/// The numbers for one group of tickets.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GroupStats {
    pub tickets: u64,
    /// Counts for every status (all six keys are present).
    #[schema(value_type = Object)]
    pub by_status: std::collections::BTreeMap<String, u64>,
    pub first_response: DurationStats,
    pub resolution: DurationStats,
    pub sla: SlaStats,
    pub csat: CsatStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgentStats {
    /// Absent for unassigned tickets.
    pub assignee_id: Option<Uuid>,
    #[serde(flatten)]
    pub stats: GroupStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CategoryStats {
    /// Absent for tickets without a category.
    pub category: Option<String>,
    #[serde(flatten)]
    pub stats: GroupStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodStats {
    /// First day of the bucket (UTC).
    pub period_start: chrono::NaiveDate,
    #[serde(flatten)]
    pub stats: GroupStats,
}

/// The desk's report over the tickets created in a time range.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketStats {
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub from: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub to: Option<DateTime<Utc>>,
    pub period: StatsPeriod,
    #[serde(flatten)]
    pub all: GroupStats,
    pub by_agent: Vec<AgentStats>,
    pub by_category: Vec<CategoryStats>,
    pub by_period: Vec<PeriodStats>,
}

fn median(mut values: Vec<i64>) -> DurationStats {
    values.sort_unstable();
    let n = values.len();
    let median_seconds = match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2] as f64),
        _ => Some((values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0),
    };
    DurationStats {
        count: n as u64,
        median_seconds,
    }
}

fn group(facts: &[&TicketFacts]) -> GroupStats {
    let mut by_status: std::collections::BTreeMap<String, u64> = TicketStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    let mut first = Vec::new();
    let mut resolution = Vec::new();
    let (mut with_sla, mut breached) = (0u64, 0u64);
    let mut distribution = [0u64; 5];
    for f in facts {
        *by_status.entry(f.status.as_str().to_owned()).or_default() += 1;
        if let Some(r) = f.first_responded_at {
            first.push((r - f.created_at).num_seconds());
        }
        if let Some(s) = f.solved_at {
            resolution.push((s - f.created_at).num_seconds());
        }
        if f.has_sla {
            with_sla += 1;
            breached += u64::from(f.breached);
        }
        if let Some(r) = f.csat.filter(|r| (1..=5).contains(r)) {
            distribution[(r - 1) as usize] += 1;
        }
    }
    let rated: u64 = distribution.iter().sum();
    let points: u64 = distribution
        .iter()
        .enumerate()
        .map(|(i, n)| (i as u64 + 1) * n)
        .sum();
    GroupStats {
        tickets: facts.len() as u64,
        by_status,
        first_response: median(first),
        resolution: median(resolution),
        sla: SlaStats {
            tickets: with_sla,
            breached,
            breach_rate: (with_sla > 0).then(|| breached as f64 / with_sla as f64),
        },
        csat: CsatStats {
            count: rated,
            average: (rated > 0).then(|| points as f64 / rated as f64),
            distribution,
        },
    }
}

fn period_start(at: DateTime<Utc>, period: StatsPeriod) -> chrono::NaiveDate {
    use chrono::Datelike;
    let d = at.date_naive();
    match period {
        StatsPeriod::Day => d,
        StatsPeriod::Week => {
            d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
        }
        StatsPeriod::Month => d.with_day(1).unwrap_or(d),
    }
}

/// The report over `facts` (the tickets created in `[from, to)`).
pub fn stats(
    facts: &[TicketFacts],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    period: StatsPeriod,
) -> TicketStats {
    use std::collections::BTreeMap;
    let all: Vec<&TicketFacts> = facts.iter().collect();
    let mut agents: BTreeMap<Option<Uuid>, Vec<&TicketFacts>> = BTreeMap::new();
    let mut categories: BTreeMap<Option<String>, Vec<&TicketFacts>> = BTreeMap::new();
    let mut periods: BTreeMap<chrono::NaiveDate, Vec<&TicketFacts>> = BTreeMap::new();
    for f in facts {
        agents.entry(f.assignee_id).or_default().push(f);
        categories.entry(f.category.clone()).or_default().push(f);
        periods
            .entry(period_start(f.created_at, period))
            .or_default()
            .push(f);
    }
    TicketStats {
        from,
        to,
        period,
        all: group(&all),
        by_agent: agents
            .into_iter()
            .map(|(assignee_id, f)| AgentStats {
                assignee_id,
                stats: group(&f),
            })
            .collect(),
        by_category: categories
            .into_iter()
            .map(|(category, f)| CategoryStats {
                category,
                stats: group(&f),
            })
            .collect(),
        by_period: periods
            .into_iter()
            .map(|(period_start, f)| PeriodStats {
                period_start,
                stats: group(&f),
            })
            .collect(),
    }
}
