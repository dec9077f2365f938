//! Interactions: every contact with a customer, on every channel, purchases among them. The
//! contact history is what lets any employee see what a customer agreed with a colleague weeks
//! earlier; the purchases are what loyalty, segmentation and CLV read.
//!
//! [`InteractionDraft`] is what a client writes (create, import, and the target of a merge patch);
//! [`Interaction`] is a stored one, with who recorded it.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::customer::Channel;
use crate::validation::{self, error, ValidationFailure};

crate::string_enum! {
    /// What happened.
    InteractionKind {
        Note => "note", Call => "call", Meeting => "meeting", Message => "message",
        Purchase => "purchase", Complaint => "complaint", Feedback => "feedback",
        Survey => "survey", SocialMention => "social_mention",
    }
}

crate::string_enum! {
    /// Who started the contact: the customer (`inbound`) or us (`outbound`).
    Direction { Inbound => "inbound", Outbound => "outbound" }
}

/// Where an interaction without an explicit `source` comes from.
pub const DEFAULT_SOURCE: &str = "api";

/// How far in the future `occurred_at` may be (clock skew between systems).
const FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Everything a client may write about an interaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "purchase_rules"))]
pub struct InteractionDraft {
    /// The customer this contact was with.
    pub customer_id: Uuid,
    pub channel: Channel,
    pub kind: InteractionKind,
    /// Absent for things with no direction, such as an internal note.
    pub direction: Option<Direction>,
    /// When it happened (RFC 3339); defaults to now. Not more than 5 minutes in the future.
    #[serde(default = "crate::now", serialize_with = "crate::time::serialize")]
    #[validate(custom(function = "not_in_future"))]
    pub occurred_at: DateTime<Utc>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub body: Option<String>,
    /// The system the record comes from, e.g. `shop` or `zendesk`; `api` when absent. Together
    /// with `external_ref` it identifies the record: creating it again returns the first one.
    #[validate(length(min = 1, max = 50), custom(function = "validation::not_blank"))]
    #[schema(max_length = 50)]
    pub source: Option<String>,
    /// The record's id in `source`; unique per source.
    #[validate(length(min = 1, max = 200), custom(function = "validation::not_blank"))]
    #[schema(max_length = 200)]
    pub external_ref: Option<String>,
    /// Any JSON object, up to 16 KiB.
    #[serde(default)]
    #[validate(custom(function = "validation::small_json_object"))]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Purchases only: the amount in minor units (cents), more than zero and at most 10¹².
    #[validate(range(max = 1_000_000_000_000_i64))]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub amount_minor: Option<i64>,
    /// Purchases only: ISO 4217, e.g. `EUR`.
    #[validate(custom(function = "validation::currency_code"))]
    #[schema(schema_with = crate::codes::optional_currency_schema)]
    pub currency: Option<String>,
    /// Purchases only, e.g. `shoes`.
    #[validate(length(min = 1, max = 100))]
    #[schema(max_length = 100)]
    pub product_category: Option<String>,
    /// The campaign this contact belongs to or this purchase is attributed to.
    pub campaign_id: Option<Uuid>,
    /// Purchases only: the order number in the shop.
    #[validate(length(min = 1, max = 100))]
    #[schema(max_length = 100)]
    pub order_ref: Option<String>,
}

/// Who recorded an interaction: a staff user or an API key (an integration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Agent {
    User(Uuid),
    ApiKey(Uuid),
}

impl Agent {
    pub fn kind(&self) -> &'static str {
        match self {
            Agent::User(_) => "user",
            Agent::ApiKey(_) => "api_key",
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Agent::User(id) | Agent::ApiKey(id) => *id,
        }
    }

    pub fn from_parts(kind: &str, id: Uuid) -> Option<Self> {
        match kind {
            "user" => Some(Agent::User(id)),
            "api_key" => Some(Agent::ApiKey(id)),
            _ => None,
        }
    }
}

/// A stored interaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interaction {
    pub id: Uuid,
    #[serde(flatten)]
    pub draft: InteractionDraft,
    /// Who recorded it (absent for data loaded by the CLI).
    pub agent: Option<Agent>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
    /// Increases on every change; the `ETag` is derived from it.
    pub version: i64,
}

/// The fields a stored interaction adds to its draft (for the schema only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct InteractionMeta {
    id: Uuid,
    agent: Option<Agent>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
}

crate::flat_schema!(
    Interaction,
    InteractionDraft,
    InteractionMeta,
    "A stored interaction."
);

/// A customer's purchases in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencyTotal {
    /// ISO 4217.
    pub currency: String,
    pub purchase_count: i64,
    /// Sum of the purchases' `amount_minor`.
    pub total_minor: i64,
    #[serde(serialize_with = "crate::time::serialize")]
    pub first_purchase_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub last_purchase_at: DateTime<Utc>,
}

/// What a customer has bought: derived from their `purchase` interactions on every write, never
/// edited by hand. Segmentation and CLV read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PurchaseSummary {
    pub customer_id: Uuid,
    pub purchase_count: i64,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub first_purchase_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub last_purchase_at: Option<DateTime<Utc>>,
    /// One entry per currency, by currency code. Amounts in different currencies are never added.
    pub totals: Vec<CurrencyTotal>,
}

impl PurchaseSummary {
    pub fn from_totals(customer_id: Uuid, mut totals: Vec<CurrencyTotal>) -> Self {
        totals.sort_by(|a, b| a.currency.cmp(&b.currency));
        Self {
            customer_id,
            purchase_count: totals.iter().map(|t| t.purchase_count).sum(),
            first_purchase_at: totals.iter().map(|t| t.first_purchase_at).min(),
            last_purchase_at: totals.iter().map(|t| t.last_purchase_at).max(),
            totals,
        }
    }
}

impl InteractionDraft {
    /// Normalises then validates: the only way to a draft that may be stored.
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        self.normalize();
        self.validate()?;
        Ok(self)
    }

    fn normalize(&mut self) {
        for v in [
            &mut self.subject,
            &mut self.body,
            &mut self.source,
            &mut self.external_ref,
            &mut self.currency,
            &mut self.product_category,
            &mut self.order_ref,
        ] {
            if let Some(s) = v {
                let t = s.trim();
                if t.is_empty() {
                    *v = None;
                } else if t.len() != s.len() {
                    *s = t.to_owned();
                }
            }
        }
        if let Some(c) = &mut self.currency {
            *c = c.to_ascii_uppercase();
        }
        if let Some(c) = &mut self.product_category {
            *c = c.to_lowercase();
        }
        if let Some(s) = &mut self.source {
            *s = s.to_lowercase();
        }
        self.occurred_at = self.occurred_at.trunc_subsecs(6);
    }

    /// The source, `api` when none was given.
    pub fn source(&self) -> &str {
        self.source.as_deref().unwrap_or(DEFAULT_SOURCE)
    }

    pub fn is_purchase(&self) -> bool {
        self.kind == InteractionKind::Purchase
    }

    /// Whether `other`, sent with this one's source and `external_ref`, is a retry of the same
    /// event: the same customer, channel, kind, amount and currency. Anything else under a
    /// known reference is a mistake worth refusing (an order sent again with another amount).
    pub fn same_event(&self, other: &InteractionDraft) -> bool {
        (
            self.customer_id,
            self.channel,
            self.kind,
            self.amount_minor,
            self.currency.as_deref(),
        ) == (
            other.customer_id,
            other.channel,
            other.kind,
            other.amount_minor,
            other.currency.as_deref(),
        )
    }
}

fn not_in_future(t: &DateTime<Utc>) -> Result<(), ValidationError> {
    if *t > Utc::now() + FUTURE_SKEW {
        Err(error("not_in_future", "must not be in the future"))
    } else {
        Ok(())
    }
}

/// The fields only a purchase carries.
const PURCHASE_FIELDS: &[&str] = &["amount_minor", "currency", "product_category", "order_ref"];

const fn not_a_purchase(kind: &'static str) -> crate::shape::KindShape {
    crate::shape::KindShape {
        kind,
        required: &[],
        forbidden: PURCHASE_FIELDS,
    }
}

/// A purchase has an amount and a currency; other kinds carry no purchase fields.
pub const INTERACTION_SHAPES: crate::shape::KindShapes = crate::shape::KindShapes {
    schema: "InteractionDraft",
    tag: "kind",
    kinds: &[
        crate::shape::KindShape {
            kind: "purchase",
            required: &["amount_minor", "currency"],
            forbidden: &[],
        },
        not_a_purchase("note"),
        not_a_purchase("call"),
        not_a_purchase("meeting"),
        not_a_purchase("message"),
        not_a_purchase("complaint"),
        not_a_purchase("feedback"),
        not_a_purchase("survey"),
        not_a_purchase("social_mention"),
    ],
};

/// A purchase has a positive amount and a currency; other kinds carry no purchase fields.
fn purchase_rules(d: &InteractionDraft) -> Result<(), ValidationError> {
    let present = |field: &str| match field {
        "amount_minor" => d.amount_minor.is_some(),
        "currency" => d.currency.is_some(),
        "product_category" => d.product_category.is_some(),
        "order_ref" => d.order_ref.is_some(),
        _ => false,
    };
    if d.is_purchase() && d.amount_minor.is_some_and(|a| a <= 0) {
        return Err(error(
            "purchase_amount",
            "a purchase's amount_minor must be more than zero",
        ));
    }
    if INTERACTION_SHAPES.fits(d.kind.as_str(), present) {
        return Ok(());
    }
    if d.is_purchase() {
        Err(error(
            "purchase_amount",
            "a purchase needs amount_minor and currency",
        ))
    } else {
        Err(error(
            "purchase_only",
            "amount_minor, currency, product_category and order_ref are for purchases only",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(v: Value) -> Result<InteractionDraft, ValidationFailure> {
        serde_json::from_value::<InteractionDraft>(v)
            .unwrap()
            .parse()
    }

    const CUSTOMER: &str = "0193a0a0-0000-7000-8000-000000000001";

    #[test]
    fn purchases_need_a_positive_amount_and_a_currency() {
        let ok = draft(
            json!({"customer_id": CUSTOMER, "channel": "web", "kind": "purchase",
            "amount_minor": 1999, "currency": "eur", "product_category": " Shoes "}),
        )
        .unwrap();
        assert_eq!(ok.currency.as_deref(), Some("EUR"));
        assert_eq!(ok.product_category.as_deref(), Some("shoes"));
        for bad in [
            json!({"customer_id": CUSTOMER, "channel": "web", "kind": "purchase", "amount_minor": 0, "currency": "EUR"}),
            json!({"customer_id": CUSTOMER, "channel": "web", "kind": "purchase", "amount_minor": 10}),
            json!({"customer_id": CUSTOMER, "channel": "web", "kind": "purchase", "currency": "EUR"}),
        ] {
            assert_eq!(draft(bad).unwrap_err().0[0].code, "purchase_amount");
        }
    }

    #[test]
    fn other_kinds_carry_no_purchase_fields() {
        let err = draft(
            json!({"customer_id": CUSTOMER, "channel": "phone", "kind": "call", "amount_minor": 5}),
        )
        .unwrap_err();
        assert_eq!(err.0[0].code, "purchase_only");
    }

    #[test]
    fn the_future_and_bad_codes_are_refused() {
        let later = Utc::now() + chrono::Duration::hours(1);
        let err = draft(
            json!({"customer_id": CUSTOMER, "channel": "web", "kind": "purchase",
            "amount_minor": 1, "currency": "EURO", "occurred_at": later}),
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["currency", "occurred_at"]);
    }

    #[test]
    fn agents_serialise_as_type_and_id() {
        let id = Uuid::nil();
        assert_eq!(
            serde_json::to_value(Agent::ApiKey(id)).unwrap(),
            json!({"type": "api_key", "id": id})
        );
    }
}
