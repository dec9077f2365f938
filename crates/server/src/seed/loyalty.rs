//! The demo's loyalty: the program and rewards catalog the seed puts in place, and every seeded
//! customer's ledger as the live API would have written it.
//!
//! A purchase recorded through the API earns at once ([`rapport_store::loyalty`]'s
//! `earn_for_purchase`, run by `interactions::insert`), under the program version in force, at
//! the multiplier of the customer's tier at that moment; the server's expiry run (hourly, on by
//! default) writes `expire` entries for what is left of lots past their date; a redemption takes
//! its cost from the lots that expire first. The seed bulk-inserts its interactions instead, so
//! it replays that history here, per customer and in time order, with the domain's own rules
//! ([`ProgramDraft::points_for`], [`ProgramDraft::multiplier_for`], [`ProgramDraft::expiry_of`],
//! [`rapport_domain::loyalty::consume`]), and bulk-inserts the entries, lots, consumptions,
//! redemptions and codes that result. Each customer's decisions (whether and when to redeem,
//! what) come from a random stream of its own, so they depend only on `--seed`, the customer and
//! the stock left of stocked rewards (taken in customer order).

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Exp1;
use rapport_domain::loyalty::{
    consume, EarnRule, EntryKind, EntrySource, OpenLot, Program, ProgramDraft, Reward, RewardDraft,
    RewardKind, Rounding, SourceType, Tier,
};
use rapport_store::bulk::{
    insert_rewards, lock_rewards, loyalty_programs, take_reward_stock, LoyaltyRows, NewConsumption,
    NewLot, NewLoyaltyEntry, NewRedemption, NewReward,
};
use rapport_store::{DbConn, StoreError};
use uuid::Uuid;

use super::{ordered_id, DemoCustomer};

/// Who wrote the program version the seed puts in place (`changed_by`).
pub const CHANGED_BY: &str = "seed:demo";

/// Random streams of customers' loyalty decisions: `LOYALTY_STREAM | n` (customers' own
/// streams are `n < 2^32`).
const LOYALTY_STREAM: u64 = 1 << 32;

/// The server's expiry run: every hour (`--loyalty-expiry-every`'s default), on the hour here.
const EXPIRY_RUN_MICROS: i64 = 3_600_000_000;

/// The seeds' supermarket, put in place when there is no program: one point per whole unit of
/// the euro, the pound and the dollar, and as much per peso or real as their value in the demo's
/// prices makes comparable (one point per 14 Mexican pesos, per 900 Argentine pesos, two per 7
/// Brazilian reais); bronze, silver and gold by the points of the last 365 days; points expire
/// after 365 days.
pub fn demo_program() -> ProgramDraft {
    let rule = |currency: &str, points_per_unit, per_units| EarnRule {
        currency: currency.to_owned(),
        points_per_unit,
        per_units,
    };
    let tier = |name: &str, min_points, earn_multiplier_percent| Tier {
        name: name.to_owned(),
        min_points,
        earn_multiplier_percent,
    };
    ProgramDraft {
        earn_rules: vec![
            rule("EUR", 1, 1),
            rule("GBP", 1, 1),
            rule("USD", 1, 1),
            rule("MXN", 1, 14),
            rule("ARS", 1, 900),
            rule("BRL", 2, 7),
        ],
        rounding: Rounding::Down,
        tiers: vec![
            tier("bronze", 0, 100),
            tier("silver", 500, 125),
            tier("gold", 2_000, 150),
        ],
        tier_window_days: Some(365),
        expiry_days: Some(365),
    }
}

/// The demo's rewards catalog: 10 % off at 1 000 points, 5 off in each earning currency at 500,
/// and two partner vouchers at 5 000 (cinema and hotel with limited stock).
pub fn demo_catalog() -> Vec<RewardDraft> {
    let reward = |name: &str, description: &str, kind, cost_points| RewardDraft {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        kind,
        cost_points,
        percent_off: None,
        amount_minor: None,
        currency: None,
        partner: None,
        quantity: 1,
        stock: None,
    };
    let fixed = |symbol: &str, currency: &str| RewardDraft {
        amount_minor: Some(500),
        currency: Some(currency.to_owned()),
        ..reward(
            &format!("{symbol}5 off"),
            &format!("{symbol}5 off your next purchase."),
            RewardKind::FixedDiscount,
            500,
        )
    };
    let voucher = |name: &str, description: &str, partner: &str, stock| RewardDraft {
        partner: Some(partner.to_owned()),
        quantity: 2,
        stock,
        ..reward(name, description, RewardKind::Voucher, 5_000)
    };
    vec![
        RewardDraft {
            percent_off: Some(10),
            ..reward(
                "10 % off a purchase",
                "10 % off one purchase, in store or online.",
                RewardKind::PercentDiscount,
                1_000,
            )
        },
        fixed("€", "EUR"),
        fixed("£", "GBP"),
        fixed("$", "USD"),
        voucher(
            "Dinner for two",
            "Two vouchers for a set menu at a partner restaurant.",
            "Partner restaurants",
            None,
        ),
        voucher(
            "Two cinema tickets",
            "Two tickets for any screening at a partner cinema.",
            "Partner cinemas",
            Some(400),
        ),
        voucher(
            "A night for two",
            "Two vouchers for a night with breakfast at a partner hotel.",
            "Partner hotels",
            Some(60),
        ),
    ]
}

/// The demo reward `k` of the catalog: a UUIDv7 at the history's start.
fn reward_id(start: DateTime<Utc>, k: u64) -> Uuid {
    ordered_id(start.timestamp_millis() as u64, 0, k, 0)
}

/// What the seed needs to replay loyalty: the program's versions and the demo catalog as
/// stored (stock as of the current transaction).
pub struct Loyalty {
    seed: u64,
    until: DateTime<Utc>,
    id_millis: u64,
    versions: Vec<Program>,
    rewards: Vec<Reward>,
    /// Redemptions of each reward planned since [`Loyalty::lock_catalog`].
    taken: Vec<i64>,
}

impl Loyalty {
    /// Puts the demo program in place when there is none (dated `start`, the history's
    /// beginning, so that every demo purchase falls under it), and the demo rewards that are not
    /// in the catalog (by name or id). Runs in its own transaction, before the customers.
    pub fn prepare(
        conn: &mut DbConn,
        seed: u64,
        start: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let mut versions = loyalty_programs(conn)?;
        if versions.is_empty() {
            versions.push(rapport_store::loyalty::put_program(
                conn,
                &demo_program(),
                Some(0),
                Some(CHANGED_BY.to_owned()),
                start,
            )?);
        }
        let stored = all_rewards(conn)?;
        let catalog = demo_catalog();
        let ids: Vec<Uuid> = (0..catalog.len() as u64)
            .map(|k| reward_id(start, k))
            .collect();
        let missing: Vec<NewReward<'_>> = catalog
            .iter()
            .zip(&ids)
            .filter(|(terms, id)| {
                !stored
                    .iter()
                    .any(|r| r.id == **id || r.terms.name == terms.name)
            })
            .map(|(terms, id)| NewReward {
                id: *id,
                terms,
                created_at: start,
            })
            .collect();
        insert_rewards(conn, &missing)?;
        let mut rewards = all_rewards(conn)?;
        rewards.retain(|r| catalog.iter().any(|t| t.name == r.terms.name));
        Ok(Self {
            seed,
            until,
            id_millis: (until - Duration::days(1)).timestamp_millis() as u64,
            versions,
            taken: vec![0; rewards.len()],
            rewards,
        })
    }

    /// The program in force at `t`: the latest version written by then, what the store's
    /// `program()` would have read.
    fn program_at(&self, t: DateTime<Utc>) -> Option<&Program> {
        self.versions.iter().rev().find(|p| p.created_at <= t)
    }

    /// Locks the demo rewards and reads their stock and state afresh, for this transaction's
    /// redemptions.
    pub fn lock_catalog(&mut self, conn: &mut DbConn) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = self.rewards.iter().map(|r| r.id).collect();
        lock_rewards(conn, &ids)?;
        for r in &mut self.rewards {
            *r = rapport_store::loyalty::reward(conn, r.id)?;
        }
        self.taken.iter_mut().for_each(|t| *t = 0);
        Ok(())
    }

    /// Takes the stock the redemptions planned since [`Loyalty::lock_catalog`] used.
    pub fn take_stock(&mut self, conn: &mut DbConn) -> Result<(), StoreError> {
        for (r, taken) in self.rewards.iter().zip(&mut self.taken) {
            take_reward_stock(conn, r.id, *taken)?;
            *taken = 0;
        }
        Ok(())
    }

    /// Appends customer `c`'s loyalty history to `rows`; how many redemptions it has.
    pub fn customer(&mut self, c: &DemoCustomer, rows: &mut LoyaltyRows) -> u64 {
        let purchases: Vec<Purchase<'_>> = c
            .interactions
            .iter()
            .filter(|(_, i)| i.is_purchase())
            .filter_map(|(id, i)| {
                Some(Purchase {
                    id: *id,
                    at: i.occurred_at,
                    amount_minor: i.amount_minor?,
                    currency: i.currency.as_deref()?,
                })
            })
            .collect();
        if purchases.is_empty() || self.versions.is_empty() {
            return 0;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(LOYALTY_STREAM | c.n);
        let habits = Habits {
            redeems: rng.gen_bool(0.55),
            eagerness: rng.gen_range(0.3..0.9),
            likes_vouchers: rng.gen_bool(0.5),
        };
        let mut history = History {
            customer_id: c.id,
            n: c.n,
            currency: purchases[0].currency,
            habits,
            rng,
            lots: Vec::new(),
            next_entry: 0,
            pending: None,
            redemptions: 0,
        };
        for p in &purchases {
            self.settle(&mut history, rows, p.at, false);
            self.earn(&mut history, rows, p);
        }
        self.settle(&mut history, rows, self.until, true);
        // The lots as their consumptions left them.
        rows.lots.extend(history.lots.iter().map(|l| NewLot {
            entry_id: l.id,
            customer_id: c.id,
            points: l.points,
            remaining: l.remaining,
            awarded_at: l.awarded_at,
            expires_at: l.expires_at,
        }));
        history.redemptions
    }

    /// Runs what happened before `limit` (up to and including it when `inclusive`): the
    /// expiry runs and the pending redemption, in time order.
    fn settle(
        &mut self,
        h: &mut History<'_>,
        rows: &mut LoyaltyRows,
        limit: DateTime<Utc>,
        inclusive: bool,
    ) {
        let before = |t: DateTime<Utc>| if inclusive { t <= limit } else { t < limit };
        loop {
            let run = h
                .lots
                .iter()
                .filter(|l| l.remaining > 0)
                .filter_map(|l| l.expires_at)
                .min()
                .filter(|due| *due <= self.until)
                .map(|due| expiry_run_after(due).min(self.until))
                .filter(|t| before(*t));
            let redemption = h.pending.filter(|t| before(*t));
            match (run, redemption) {
                (Some(run), Some(r)) if r < run => self.redeem(h, rows, r),
                (Some(run), _) => self.expire(h, rows, run),
                (None, Some(r)) => self.redeem(h, rows, r),
                (None, None) => return,
            }
        }
    }

    /// A purchase earns, as `earn_for_purchase` would have when it was recorded; then the
    /// customer may plan to redeem.
    fn earn(&mut self, h: &mut History<'_>, rows: &mut LoyaltyRows, p: &Purchase<'_>) {
        let Some(program) = self.program_at(p.at) else {
            return;
        };
        let rules = &program.definition;
        let qualifying: i64 = match rules.tier_window_days {
            Some(days) => {
                let since = p.at - Duration::days(days);
                h.lots
                    .iter()
                    .filter(|l| l.awarded_at > since)
                    .map(|l| l.points)
                    .sum()
            }
            None => h.lots.iter().map(|l| l.points).sum(),
        };
        let multiplier = rules.multiplier_for(qualifying);
        let points = rules.points_for(p.amount_minor, p.currency, multiplier);
        if points <= 0 {
            return;
        }
        let id = h.entry_id(self.id_millis);
        let expires_at = rules.expiry_of(p.at);
        rows.entries.push(NewLoyaltyEntry {
            id,
            customer_id: h.customer_id,
            kind: EntryKind::Earn,
            points,
            reason: Some(Cow::Borrowed("purchase")),
            source: EntrySource {
                kind: SourceType::Interaction,
                id: Some(p.id),
            },
            reverses_id: None,
            program_version: Some(program.version),
            created_at: p.at,
        });
        h.lots.push(Lot {
            id,
            points,
            remaining: points,
            awarded_at: p.at,
            expires_at,
        });
        // With enough points for something, a customer who redeems may plan to: at the till
        // right after paying, or some days later.
        if !h.habits.redeems || h.pending.is_some() {
            return;
        }
        let spendable = h.spendable(p.at);
        if !self
            .rewards
            .iter()
            .any(|r| self.affordable(h, r, spendable))
        {
            return;
        }
        if !h.rng.gen_bool(h.habits.eagerness) {
            return;
        }
        let delay = if h.rng.gen_bool(0.35) {
            h.rng.gen_range(60.0..1_200.0)
        } else {
            3_600.0 + h.rng.sample::<f64, _>(Exp1) * 14.0 * 86_400.0
        };
        let at = p.at + Duration::milliseconds((delay * 1_000.0) as i64);
        if at < self.until {
            h.pending = Some(at);
        }
    }

    /// Whether `h` can redeem `r` now: active, in stock, affordable, and a fixed discount only
    /// in the customer's currency.
    fn affordable(&self, h: &History<'_>, r: &Reward, spendable: i64) -> bool {
        r.active
            && r.terms.stock.is_none_or(|s| s > 0)
            && r.terms.cost_points <= spendable
            && r.terms.currency.as_deref().is_none_or(|c| c == h.currency)
    }

    /// The planned redemption at `at`: a voucher for those who like them, else 10 % off, else a
    /// fixed discount; nothing when the points went (expired) in the meantime.
    fn redeem(&mut self, h: &mut History<'_>, rows: &mut LoyaltyRows, at: DateTime<Utc>) {
        h.pending = None;
        let spendable = h.spendable(at);
        let candidates: Vec<usize> = (0..self.rewards.len())
            .filter(|&i| self.affordable(h, &self.rewards[i], spendable))
            .collect();
        let of_kind = |kind: RewardKind| -> Vec<usize> {
            candidates
                .iter()
                .copied()
                .filter(|&i| self.rewards[i].terms.kind == kind)
                .collect()
        };
        let vouchers = of_kind(RewardKind::Voucher);
        let choice = if h.habits.likes_vouchers && !vouchers.is_empty() {
            vouchers
        } else if !of_kind(RewardKind::PercentDiscount).is_empty() {
            of_kind(RewardKind::PercentDiscount)
        } else if !of_kind(RewardKind::FixedDiscount).is_empty() {
            of_kind(RewardKind::FixedDiscount)
        } else {
            candidates
        };
        if choice.is_empty() {
            return;
        }
        let ix = choice[h.rng.gen_range(0..choice.len())];
        let program_version = self.program_at(at).map(|p| p.version);
        let reward = &mut self.rewards[ix];
        let cost = reward.terms.cost_points;
        let open: Vec<OpenLot> = h
            .lots
            .iter()
            .filter(|l| l.remaining > 0 && l.expires_at.is_none_or(|e| e > at))
            .map(|l| OpenLot {
                id: l.id,
                remaining: l.remaining,
                awarded_at: l.awarded_at,
                expires_at: l.expires_at,
            })
            .collect();
        let Ok(taken) = consume(open, cost) else {
            return;
        };
        // The redemption's id is stamped with its time: redemptions are listed by id.
        let mut random = [0u8; 10];
        h.rng.fill(&mut random);
        let redemption_id =
            uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis() as u64, &random)
                .into_uuid();
        let entry_id = h.entry_id(self.id_millis);
        let terms = reward.terms.clone();
        if let Some(stock) = &mut reward.terms.stock {
            *stock -= 1;
            self.taken[ix] += 1;
        }
        rows.entries.push(NewLoyaltyEntry {
            id: entry_id,
            customer_id: h.customer_id,
            kind: EntryKind::Redeem,
            points: -cost,
            reason: Some(Cow::Owned(terms.name.clone())),
            source: EntrySource {
                kind: SourceType::Redemption,
                id: Some(redemption_id),
            },
            reverses_id: None,
            program_version,
            created_at: at,
        });
        for u in &taken {
            h.take(u.lot_id, u.points);
            rows.consumptions.push(NewConsumption {
                entry_id,
                lot_id: u.lot_id,
                points: u.points,
            });
        }
        let codes = (0..terms.quantity).map(|_| code(&mut h.rng)).collect();
        rows.redemptions.push(NewRedemption {
            id: redemption_id,
            customer_id: h.customer_id,
            reward_id: reward.id,
            points: cost,
            codes,
            terms,
            entry_id,
            created_at: at,
        });
        h.redemptions += 1;
    }

    /// The expiry run at `now`: one `expire` entry per lot due, for what is left of it, in the
    /// order `expire` takes them.
    fn expire(&mut self, h: &mut History<'_>, rows: &mut LoyaltyRows, now: DateTime<Utc>) {
        let program_version = self.program_at(now).map(|p| p.version);
        let mut due: Vec<&Lot> = h
            .lots
            .iter()
            .filter(|l| l.remaining > 0 && l.expires_at.is_some_and(|e| e <= now))
            .collect();
        due.sort_by_key(|l| (l.expires_at, l.awarded_at, l.id));
        let due: Vec<(Uuid, i64)> = due.iter().map(|l| (l.id, l.remaining)).collect();
        for (lot_id, remaining) in due {
            let id = h.entry_id(self.id_millis);
            rows.entries.push(NewLoyaltyEntry {
                id,
                customer_id: h.customer_id,
                kind: EntryKind::Expire,
                points: -remaining,
                reason: Some(Cow::Borrowed("points expired")),
                source: EntrySource {
                    kind: SourceType::System,
                    id: None,
                },
                reverses_id: None,
                program_version,
                created_at: now,
            });
            rows.consumptions.push(NewConsumption {
                entry_id: id,
                lot_id,
                points: remaining,
            });
            h.take(lot_id, remaining);
        }
    }
}

/// The first expiry run at or after `due`: on the hour.
fn expiry_run_after(due: DateTime<Utc>) -> DateTime<Utc> {
    let micros = due.timestamp_micros();
    let run = micros.div_euclid(EXPIRY_RUN_MICROS) * EXPIRY_RUN_MICROS;
    let run = if run < micros {
        run + EXPIRY_RUN_MICROS
    } else {
        run
    };
    DateTime::from_timestamp_micros(run).unwrap_or(due)
}

/// The whole catalog, inactive rewards included.
fn all_rewards(conn: &mut DbConn) -> Result<Vec<Reward>, StoreError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = rapport_store::loyalty::rewards_page(conn, true, cursor.as_deref(), 200)?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Letters of reward codes, as the API's: Crockford's base 32.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A reward code as the API makes them (16 characters, 80 bits, in groups of four), from the
/// customer's stream.
fn code(rng: &mut ChaCha8Rng) -> String {
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(CODE_ALPHABET[rng.gen_range(0..32)]));
    }
    out
}

struct Purchase<'a> {
    id: Uuid,
    at: DateTime<Utc>,
    amount_minor: i64,
    currency: &'a str,
}

/// How a customer uses the program.
struct Habits {
    /// Some never redeem.
    redeems: bool,
    /// The chance that a purchase which leaves enough points is followed by a redemption.
    eagerness: f64,
    /// Prefers a partner voucher when there are points for one.
    likes_vouchers: bool,
}

struct Lot {
    id: Uuid,
    points: i64,
    remaining: i64,
    awarded_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

/// One customer's replay.
struct History<'a> {
    customer_id: Uuid,
    n: u64,
    currency: &'a str,
    habits: Habits,
    rng: ChaCha8Rng,
    /// In award order.
    lots: Vec<Lot>,
    next_entry: u64,
    /// When the customer will redeem.
    pending: Option<DateTime<Utc>>,
    redemptions: u64,
}

impl History<'_> {
    /// The next entry id: ordered after the customer's previous ones, like interactions'.
    fn entry_id(&mut self, id_millis: u64) -> Uuid {
        let k = self.next_entry;
        self.next_entry += 1;
        ordered_id(id_millis, self.n, k, self.rng.gen())
    }

    /// Points that can be spent at `at`.
    fn spendable(&self, at: DateTime<Utc>) -> i64 {
        self.lots
            .iter()
            .filter(|l| l.expires_at.is_none_or(|e| e > at))
            .map(|l| l.remaining)
            .sum()
    }

    fn take(&mut self, lot_id: Uuid, points: i64) {
        if let Some(l) = self.lots.iter_mut().find(|l| l.id == lot_id) {
            l.remaining -= points;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_program_and_catalog_pass_the_apis_validation() {
        assert_eq!(demo_program().parse().unwrap(), demo_program());
        for r in demo_catalog() {
            assert_eq!(r.clone().parse().unwrap(), r);
        }
        let names: std::collections::BTreeSet<String> =
            demo_catalog().into_iter().map(|r| r.name).collect();
        assert_eq!(
            names.len(),
            demo_catalog().len(),
            "rewards are found by name"
        );
    }

    #[test]
    fn expiry_runs_are_on_the_hour() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            expiry_run_after(t("2025-03-04T10:00:00Z")),
            t("2025-03-04T10:00:00Z")
        );
        assert_eq!(
            expiry_run_after(t("2025-03-04T10:00:00.001Z")),
            t("2025-03-04T11:00:00Z")
        );
        assert_eq!(
            expiry_run_after(t("2025-12-31T23:59:59Z")),
            t("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn codes_look_like_the_apis() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = code(&mut rng);
        assert_eq!(c.len(), 19);
        assert_eq!(c.split('-').count(), 4);
        assert!(c.bytes().all(|b| b == b'-' || CODE_ALPHABET.contains(&b)));
        assert_ne!(code(&mut rng), c);
    }
}
