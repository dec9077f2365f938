//! Loyalty: the program (earn rules, tiers, expiry), ledger entries, lots of points and the rule
//! by which taking points consumes lots. Pure: the store keeps them, the API shows them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::validation::{self, ValidationFailure};

/// How many points a purchase earns, per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarnRule {
    /// ISO 4217, e.g. `USD`.
    #[validate(custom(function = "validation::currency_code"))]
    #[schema(schema_with = crate::codes::currency_schema)]
    pub currency: String,
    /// Points per whole unit of the currency (per dollar, not per cent), or per `per_units`
    /// units, before the tier's multiplier.
    #[validate(range(min = 1, max = 10_000))]
    #[schema(minimum = 1, maximum = 10_000)]
    pub points_per_unit: i64,
    /// How many whole units earn `points_per_unit` (default 1): for currencies worth little,
    /// e.g. one point per 20 Mexican pesos is `points_per_unit: 1, per_units: 20`.
    #[serde(default = "one_unit")]
    #[validate(range(min = 1, max = 1_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000, default = 1)]
    pub per_units: i64,
}

fn one_unit() -> i64 {
    1
}

crate::string_enum! {
    /// How fractional points are rounded when a purchase earns.
    Rounding { Down => "down", Nearest => "nearest", Up => "up" }
}

/// A tier: reached with at least `min_points` qualifying points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    #[validate(length(min = 1, max = 50), custom(function = "validation::not_blank"))]
    #[schema(example = "gold", min_length = 1, max_length = 50, pattern = "\\S")]
    pub name: String,
    /// Qualifying points needed (see `tier_window_days`).
    #[validate(range(min = 0, max = 1_000_000_000_000_i64))]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub min_points: i64,
    /// Earn multiplier in percent: 100 earns as is, 150 earns half as much again.
    #[validate(range(min = 100, max = 1_000))]
    #[schema(minimum = 100, maximum = 1_000, example = 150)]
    pub earn_multiplier_percent: i64,
}

/// A loyalty program as an administrator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "program_rules"))]
pub struct ProgramDraft {
    /// What purchases earn, one rule per currency; purchases in other currencies earn nothing.
    #[validate(nested, length(max = 50))]
    #[serde(default)]
    #[schema(max_items = 50)]
    pub earn_rules: Vec<EarnRule>,
    #[serde(default = "default_rounding")]
    pub rounding: Rounding,
    /// Tiers in ascending order of `min_points`. A customer below the first has no tier.
    #[validate(nested, length(max = 20))]
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Which points qualify for a tier: those awarded in the last N days (a rolling window: a
    /// customer moves down when old awards leave it), or, when absent, all points ever awarded.
    #[validate(range(min = 1, max = 3_650))]
    #[schema(minimum = 1, maximum = 3_650, example = 365)]
    pub tier_window_days: Option<i64>,
    /// Points expire this many days after they were awarded; when absent, never.
    #[validate(range(min = 1, max = 3_650))]
    #[schema(minimum = 1, maximum = 3_650, example = 365)]
    pub expiry_days: Option<i64>,
}

fn default_rounding() -> Rounding {
    Rounding::Down
}

fn program_rules(p: &ProgramDraft) -> Result<(), ValidationError> {
    let mut currencies: Vec<&str> = p.earn_rules.iter().map(|r| r.currency.as_str()).collect();
    currencies.sort_unstable();
    if currencies.windows(2).any(|w| w[0] == w[1]) {
        return Err(validation::error(
            "duplicate_currency",
            "at most one earn rule per currency",
        ));
    }
    if p.tiers
        .windows(2)
        .any(|w| w[0].min_points >= w[1].min_points)
    {
        return Err(validation::error(
            "tier_order",
            "tiers must be in strictly ascending order of min_points",
        ));
    }
    let mut names: Vec<String> = p.tiers.iter().map(|t| t.name.to_lowercase()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(validation::error(
            "duplicate_tier",
            "tier names must be unique",
        ));
    }
    Ok(())
}

impl ProgramDraft {
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        for r in &mut self.earn_rules {
            r.currency = r.currency.trim().to_ascii_uppercase();
        }
        for t in &mut self.tiers {
            t.name = t.name.trim().to_owned();
        }
        self.validate()?;
        Ok(self)
    }

    /// The tier reached with these qualifying points, and the next one with the points it needs.
    pub fn tier_for(&self, qualifying: i64) -> (Option<&Tier>, Option<&Tier>) {
        let reached = self.tiers.iter().rposition(|t| qualifying >= t.min_points);
        let next = match reached {
            Some(i) => self.tiers.get(i + 1),
            None => self.tiers.first(),
        };
        (reached.map(|i| &self.tiers[i]), next)
    }

    /// Points a purchase earns: `amount_minor` in whole currency units times the currency's
    /// rate, times the tier's multiplier, rounded as the program says. Nothing for a currency
    /// without an earn rule.
    pub fn points_for(&self, amount_minor: i64, currency: &str, multiplier_percent: i64) -> i64 {
        let Some(rule) = self.earn_rules.iter().find(|r| r.currency == currency) else {
            return 0;
        };
        let exponent = iso_currency::Currency::from_code(currency)
            .and_then(|c| c.exponent())
            .unwrap_or(0);
        // points = amount_minor / 10^exponent × rate / per_units × multiplier / 100, in exact
        // integers.
        let numerator = i128::from(amount_minor.max(0))
            * i128::from(rule.points_per_unit)
            * i128::from(multiplier_percent);
        let denominator = 100 * 10i128.pow(u32::from(exponent)) * i128::from(rule.per_units.max(1));
        let points = match self.rounding {
            Rounding::Down => numerator / denominator,
            Rounding::Nearest => (numerator + denominator / 2) / denominator,
            Rounding::Up => (numerator + denominator - 1) / denominator,
        };
        i64::try_from(points).unwrap_or(i64::MAX)
    }

    /// The earn multiplier of the tier reached with these qualifying points (100 without one).
    pub fn multiplier_for(&self, qualifying: i64) -> i64 {
        self.tier_for(qualifying)
            .0
            .map_or(100, |t| t.earn_multiplier_percent)
    }

    /// When points awarded at `at` expire.
    pub fn expiry_of(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expiry_days.map(|d| at + Duration::days(d))
    }
}

/// A program as stored: the draft plus its version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Program {
    /// Starts at 1; every change makes the next.
    pub version: i64,
    #[serde(flatten)]
    pub definition: ProgramDraft,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
}

/// The fields a stored program adds to its draft (for the schema only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ProgramMeta {
    /// Starts at 1; every change makes the next.
    version: i64,
    created_at: DateTime<Utc>,
}

crate::flat_schema!(
    Program,
    ProgramDraft,
    ProgramMeta,
    "The loyalty program in force: its definition and version."
);

crate::string_enum! {
    /// What a ledger entry did.
    EntryKind {
        Earn => "earn", Redeem => "redeem", Adjust => "adjust", Expire => "expire",
        Reverse => "reverse",
    }
}

crate::string_enum! {
    /// What produced a ledger entry.
    SourceType {
        Interaction => "interaction", Redemption => "redemption", User => "user",
        ApiKey => "api_key", System => "system",
    }
}

/// What produced a ledger entry, and its id (absent for the system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntrySource {
    #[serde(rename = "type")]
    pub kind: SourceType,
    pub id: Option<Uuid>,
}

/// A staff or integration correction: points given (positive) or taken (negative).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentDraft {
    /// Non-zero; taking more than the customer has is refused.
    #[validate(range(min = -1_000_000_000_i64, max = 1_000_000_000_i64), custom(function = "non_zero"))]
    #[schema(schema_with = crate::codes::nonzero_points_schema)]
    pub points: i64,
    /// Why, for the record.
    #[validate(length(min = 1, max = 500), custom(function = "validation::not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "\\S",
        example = "Goodwill for a late delivery"
    )]
    pub reason: String,
}

fn non_zero(points: i64) -> Result<(), ValidationError> {
    if points == 0 {
        Err(validation::error("non_zero", "points must not be zero"))
    } else {
        Ok(())
    }
}

impl AdjustmentDraft {
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        self.reason = self.reason.trim().to_owned();
        self.validate()?;
        Ok(self)
    }
}

/// Points taken from one lot by an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LotUse {
    /// The lot: the id of the entry that awarded it.
    pub lot_id: Uuid,
    pub points: i64,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Entry {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: EntryKind,
    /// Signed: positive adds to the balance, negative takes from it.
    pub points: i64,
    pub reason: Option<String>,
    pub source: EntrySource,
    /// For `reverse`: the entry it reverses.
    pub reverses_id: Option<Uuid>,
    /// The program version in force when the entry was written.
    pub program_version: Option<i64>,
    /// For an award: when its points expire (absent: never).
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub expires_at: Option<DateTime<Utc>>,
    /// For an entry that took points: the lots it took them from.
    pub lots: Vec<LotUse>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A lot with points left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenLot {
    pub id: Uuid,
    pub remaining: i64,
    pub awarded_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Not enough points: what there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insufficient {
    pub available: i64,
}

/// Which lots `points` are taken from: the earliest to expire first (lots that never expire
/// last), then the oldest. All or nothing.
pub fn consume(mut lots: Vec<OpenLot>, points: i64) -> Result<Vec<LotUse>, Insufficient> {
    let available: i64 = lots.iter().map(|l| l.remaining).sum();
    if points > available {
        return Err(Insufficient { available });
    }
    lots.sort_by_key(|l| (l.expires_at.is_none(), l.expires_at, l.awarded_at, l.id));
    let mut left = points;
    let mut uses = Vec::new();
    for lot in lots {
        if left == 0 {
            break;
        }
        let take = lot.remaining.min(left);
        if take > 0 {
            uses.push(LotUse {
                lot_id: lot.id,
                points: take,
            });
            left -= take;
        }
    }
    Ok(uses)
}

/// Points that expire within a horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Expiring {
    pub within_30_days: i64,
    pub within_60_days: i64,
    pub within_90_days: i64,
}

impl Expiring {
    pub fn of(lots: &[OpenLot], now: DateTime<Utc>) -> Self {
        let within = |days: i64| -> i64 {
            let until = now + Duration::days(days);
            lots.iter()
                .filter(|l| l.expires_at.is_some_and(|e| e <= until))
                .map(|l| l.remaining)
                .sum()
        };
        Self {
            within_30_days: within(30),
            within_60_days: within(60),
            within_90_days: within(90),
        }
    }
}

/// A tier as shown on an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierStatus {
    pub name: String,
    pub earn_multiplier_percent: i64,
}

/// The next tier and how far it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NextTier {
    pub name: String,
    pub min_points: i64,
    /// Qualifying points still needed.
    pub points_needed: i64,
}

/// A customer's loyalty account, derived from the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Account {
    pub customer_id: Uuid,
    /// Points that can be spent: the sum of the ledger.
    pub balance: i64,
    /// Points ever awarded, less what was reversed.
    pub lifetime_points: i64,
    /// Points that count for the tier: lifetime, or awarded within the program's window.
    pub qualifying_points: i64,
    pub tier: Option<TierStatus>,
    pub next_tier: Option<NextTier>,
    pub expiring: Expiring,
    /// The program version the tier was computed with (absent: no program yet).
    pub program_version: Option<i64>,
}

impl Account {
    pub fn new(
        customer_id: Uuid,
        balance: i64,
        lifetime_points: i64,
        qualifying_points: i64,
        open_lots: &[OpenLot],
        program: Option<&Program>,
        now: DateTime<Utc>,
    ) -> Self {
        let (tier, next) =
            program.map_or((None, None), |p| p.definition.tier_for(qualifying_points));
        Self {
            customer_id,
            balance,
            lifetime_points,
            qualifying_points,
            tier: tier.map(|t| TierStatus {
                name: t.name.clone(),
                earn_multiplier_percent: t.earn_multiplier_percent,
            }),
            next_tier: next.map(|t| NextTier {
                name: t.name.clone(),
                min_points: t.min_points,
                points_needed: (t.min_points - qualifying_points).max(0),
            }),
            expiring: Expiring::of(open_lots, now),
            program_version: program.map(|p| p.version),
        }
    }
}

crate::string_enum! {
    /// What a reward gives.
    RewardKind {
        PercentDiscount => "percent_discount", FixedDiscount => "fixed_discount",
        Voucher => "voucher",
    }
}

/// A reward in the catalog, as an administrator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "reward_rules"))]
pub struct RewardDraft {
    #[validate(length(min = 1, max = 200), custom(function = "validation::not_blank"))]
    #[schema(
        example = "10 % off a purchase",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: String,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub kind: RewardKind,
    /// Points one redemption costs.
    #[validate(range(min = 1, max = 1_000_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000_000, example = 1000)]
    pub cost_points: i64,
    /// `percent_discount` only: 1 to 100.
    #[validate(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100, example = 10)]
    pub percent_off: Option<i64>,
    /// `fixed_discount` only: the amount off, in minor units.
    #[validate(range(min = 1, max = 1_000_000_000_000_i64))]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub amount_minor: Option<i64>,
    /// `fixed_discount` only: ISO 4217.
    #[validate(custom(function = "validation::currency_code"))]
    #[schema(schema_with = crate::codes::optional_currency_schema)]
    pub currency: Option<String>,
    /// `voucher`: who honours it, e.g. a partner restaurant, cinema or hotel.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub partner: Option<String>,
    /// Codes issued per redemption (two vouchers: 2).
    #[serde(default = "one")]
    #[validate(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100, default = 1)]
    pub quantity: i64,
    /// Redemptions left; absent: unlimited.
    #[validate(range(min = 0, max = 1_000_000_000))]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub stock: Option<i64>,
}

fn one() -> i64 {
    1
}

/// What each kind of reward carries: a percent discount its `percent_off`, a fixed discount its
/// `amount_minor` and `currency`; a voucher neither discount.
pub const REWARD_SHAPES: crate::shape::KindShapes = crate::shape::KindShapes {
    schema: "RewardDraft",
    tag: "kind",
    kinds: &[
        crate::shape::KindShape {
            kind: "percent_discount",
            required: &["percent_off"],
            forbidden: &["amount_minor", "currency"],
        },
        crate::shape::KindShape {
            kind: "fixed_discount",
            required: &["amount_minor", "currency"],
            forbidden: &["percent_off"],
        },
        crate::shape::KindShape {
            kind: "voucher",
            required: &[],
            forbidden: &["percent_off", "amount_minor"],
        },
    ],
};

fn reward_rules(r: &RewardDraft) -> Result<(), ValidationError> {
    let present = |field: &str| match field {
        "percent_off" => r.percent_off.is_some(),
        "amount_minor" => r.amount_minor.is_some(),
        "currency" => r.currency.is_some(),
        _ => false,
    };
    if REWARD_SHAPES.fits(r.kind.as_str(), present) {
        Ok(())
    } else {
        Err(validation::error(
            "reward_terms",
            "percent_discount needs percent_off; fixed_discount needs amount_minor and currency; \
             a voucher has neither",
        ))
    }
}

impl RewardDraft {
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        self.name = self.name.trim().to_owned();
        if let Some(c) = &mut self.currency {
            *c = c.trim().to_ascii_uppercase();
        }
        self.validate()?;
        Ok(self)
    }
}

/// A reward in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reward {
    pub id: Uuid,
    #[serde(flatten)]
    pub terms: RewardDraft,
    /// Inactive rewards cannot be redeemed.
    pub active: bool,
    /// Bumped by every change, redemptions' stock included; the ETag.
    pub version: i64,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// The fields a stored reward adds to its terms (for the schema only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct RewardMeta {
    id: Uuid,
    /// Inactive rewards cannot be redeemed.
    active: bool,
    /// Bumped by every change, redemptions' stock included; the ETag.
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

crate::flat_schema!(Reward, RewardDraft, RewardMeta, "A reward in the catalog.");

crate::string_enum! {
    /// Where a redemption stands.
    RedemptionStatus { Issued => "issued", Cancelled => "cancelled" }
}

/// A customer's request for a reward.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionDraft {
    pub reward_id: Uuid,
}

/// A reward bought with points.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Redemption {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub reward_id: Uuid,
    /// The reward's terms when it was redeemed.
    pub terms: RewardDraft,
    pub points: i64,
    /// One code per unit of the reward: random, unique, to be shown at the till or the partner.
    pub codes: Vec<String>,
    pub status: RedemptionStatus,
    /// The `redeem` ledger entry that paid for it.
    pub entry_id: Uuid,
    /// When cancelled: the `reverse` entry that gave the points back.
    pub cancel_entry_id: Option<Uuid>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub cancelled_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    fn lot(n: u128, remaining: i64, awarded: u32, expires: Option<u32>) -> OpenLot {
        OpenLot {
            id: Uuid::from_u128(n),
            remaining,
            awarded_at: at(awarded),
            expires_at: expires.map(at),
        }
    }

    #[test]
    fn consumes_the_earliest_expiring_lots_first_then_the_oldest() {
        let lots = vec![
            lot(1, 100, 1, None),
            lot(2, 100, 2, Some(20)),
            lot(3, 100, 3, Some(10)),
            lot(4, 100, 1, Some(20)),
        ];
        let uses = consume(lots, 250).unwrap();
        let order: Vec<(u128, i64)> = uses
            .iter()
            .map(|u| (u.lot_id.as_u128(), u.points))
            .collect();
        assert_eq!(order, vec![(3, 100), (4, 100), (2, 50)]);
    }

    #[test]
    fn refuses_more_than_there_is_and_takes_nothing() {
        let lots = vec![lot(1, 30, 1, None), lot(2, 20, 2, Some(5))];
        assert_eq!(consume(lots, 51), Err(Insufficient { available: 50 }));
    }

    fn program(v: serde_json::Value) -> Result<ProgramDraft, ValidationFailure> {
        serde_json::from_value::<ProgramDraft>(v).unwrap().parse()
    }

    #[test]
    fn a_program_needs_tiers_in_order_and_one_rule_per_currency() {
        let ok = program(json!({
            "earn_rules": [{"currency": "usd", "points_per_unit": 1}],
            "tiers": [
                {"name": "bronze", "min_points": 0, "earn_multiplier_percent": 100},
                {"name": "silver", "min_points": 1000, "earn_multiplier_percent": 125},
                {"name": "gold", "min_points": 5000, "earn_multiplier_percent": 150}
            ],
            "expiry_days": 365
        }))
        .unwrap();
        assert_eq!(ok.earn_rules[0].currency, "USD");
        let (tier, next) = ok.tier_for(1200);
        assert_eq!(
            (tier.unwrap().name.as_str(), next.unwrap().name.as_str()),
            ("silver", "gold")
        );
        assert_eq!(ok.tier_for(9000).1, None);

        let unordered = program(json!({"tiers": [
            {"name": "gold", "min_points": 5000, "earn_multiplier_percent": 150},
            {"name": "silver", "min_points": 1000, "earn_multiplier_percent": 125}
        ]}))
        .unwrap_err();
        assert_eq!(unordered.0[0].code, "tier_order");
        let twice = program(json!({"earn_rules": [
            {"currency": "USD", "points_per_unit": 1},
            {"currency": "usd", "points_per_unit": 2}
        ]}))
        .unwrap_err();
        assert_eq!(twice.0[0].code, "duplicate_currency");
        let bad = program(json!({"earn_rules": [{"currency": "XXQ", "points_per_unit": 0}]}))
            .unwrap_err();
        let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["earn_rules[0].currency", "earn_rules[0].points_per_unit"]
        );
    }

    #[test]
    fn purchases_earn_per_whole_unit_times_the_tier_multiplier() {
        let mut p = program(json!({"earn_rules": [
            {"currency": "USD", "points_per_unit": 1},
            {"currency": "JPY", "points_per_unit": 1}
        ]}))
        .unwrap();
        assert_eq!(
            p.points_for(123_456, "USD", 100),
            1234,
            "$1 234.56 earns 1 234"
        );
        assert_eq!(
            p.points_for(123_456, "USD", 125),
            1543,
            "×1.25, rounded down"
        );
        assert_eq!(
            p.points_for(1_500, "JPY", 100),
            1500,
            "the yen has no minor unit"
        );
        assert_eq!(p.points_for(10_000, "EUR", 100), 0, "no rule for EUR");
        p.rounding = Rounding::Nearest;
        assert_eq!(p.points_for(150, "USD", 100), 2);
        p.rounding = Rounding::Up;
        assert_eq!(p.points_for(101, "USD", 100), 2);
        assert_eq!(
            p.points_for(i64::MAX, "USD", 1_000),
            i64::MAX / 10 + 1,
            "no overflow"
        );
    }

    #[test]
    fn currencies_worth_little_earn_per_several_units() {
        let p = program(json!({"earn_rules": [
            {"currency": "MXN", "points_per_unit": 1, "per_units": 20},
            {"currency": "BRL", "points_per_unit": 2, "per_units": 7}
        ]}))
        .unwrap();
        assert_eq!(
            p.points_for(39_999, "MXN", 100),
            19,
            "399.99 pesos: 19 whole twenties"
        );
        assert_eq!(p.points_for(40_000, "MXN", 150), 30, "×1.5");
        assert_eq!(
            p.points_for(7_000, "BRL", 100),
            20,
            "70 reais: 2 points per 7"
        );
        assert_eq!(
            p.points_for(i64::MAX, "MXN", 1_000),
            i64::MAX / 200,
            "no overflow"
        );
        let bad = program(
            json!({"earn_rules": [{"currency": "MXN", "points_per_unit": 1, "per_units": 0}]}),
        )
        .unwrap_err();
        assert_eq!(bad.0[0].field, "earn_rules[0].per_units");
    }

    #[test]
    fn expiring_points_are_counted_by_horizon() {
        let now = at(1);
        let lots = vec![lot(1, 10, 1, Some(20)), lot(2, 5, 1, None)];
        let e = Expiring::of(&lots, now);
        assert_eq!((e.within_30_days, e.within_90_days), (10, 10));
    }
}
