//! `rapport seed demo`: realistic, reproducible demo data.
//!
//! Every customer `n` (1-based) is generated from its own random stream (ChaCha8 seeded with
//! `--seed`, stream `n`), so the data depends only on the seed, `n` and `--until`: the same
//! command gives the same rows, ids included, and a customer that already exists can be skipped
//! without changing the others.
//!
//! The model:
//! - customers from ten countries, with names, e-mail, phone, address, language and currency of
//!   their country; adult-skewed birth dates; demographics; preferences; tags;
//! - about a third never buy (leads and prospects). Buyers belong to a latent class (one-off,
//!   occasional, regular, loyal) with, as in BG/NBD, a purchase rate λ ~ Gamma and a probability
//!   p ~ Beta of dropping out after each purchase; spend per purchase is Gamma around a
//!   per-customer mean (Gamma-Gamma), in the customer's currency, by product category;
//! - purchases follow the calendar: the three weeks before each country's Mother's Day, Black
//!   Friday to Cyber Monday, December before Christmas and the January sales are busier, August
//!   quieter in southern Europe;
//! - other interactions around purchases on every channel: order confirmations, shipping
//!   messages, surveys, complaints with the staff note that closed them, feedback, support calls,
//!   social mentions, chats before buying, win-back messages after a customer lapsed;
//! - loyalty ([`loyalty`]): a supermarket-like program, put in place when there is none and
//!   dated at the start of the history (one point per whole euro, pound or dollar, and as much
//!   per peso or real as the demo's prices make comparable; bronze, silver and gold by the
//!   points of the last 365 days, earning ×1, ×1.25 and ×1.5; points expire after 365 days), and a rewards catalog (10 % off at 1 000 points, 5 off at 500,
//!   pairs of partner restaurant, cinema and hotel vouchers at 5 000, two of them in limited
//!   stock). Each customer's purchases earn exactly as the API would have made them earn when
//!   recorded (the program version in force, the tier multiplier of the moment, rounding, a lot
//!   expiring with the program); some customers redeem when they have the points, taking from
//!   the lots that expire first; the server's hourly expiry run expires what is left of lots
//!   past their date, up to `--until`. The ledger is replayed per customer in time order with
//!   the domain's rules, in the writer thread (it needs the rewards' stock), and bulk-inserted
//!   with the customer's interactions, in the same transaction.
//!
//! - a service desk ([`tickets`]): SLA policies (urgent and high in business hours, the others
//!   24/7) when there are none, six agents, and tickets about what customers bought (electronics
//!   most often), each lived through the store's own ticket calls at its simulated times:
//!   answered, sometimes pending on the customer, solved, sometimes reopened, mostly closed,
//!   often rated.
//!
//! Rows carry `source = "demo"` and external references `demo-<n>` (customers) and
//! `demo-<n>-<k>` (interactions): seeding a database again skips the customers it already has,
//! and their loyalty with them. The program is only written when there is none
//! (`changed_by = "seed:demo"`; an existing program is used as it is, each purchase under the
//! version in force at its time), the demo rewards only when the catalog has none of that name.
//!
//! Ids are UUIDv7 stamped with the day before `--until` (when the data was "loaded", as for an
//! import; `created_at` and `occurred_at` carry the history's times) whose other bits grow with
//! `(n, k)`: every transaction's interaction ids are above those of the one before, which is
//! what [`finish_interactions`] needs to recompute only the customers it touched, and both
//! customers and interactions are appended to their id-ordered indexes instead of scattered
//! through them (measured: see docs/benchmarks.md). Loyalty entries (and their
//! lots) are numbered the same way, in the customer's ledger order. Redemptions are UUIDv7
//! stamped with their own time, as the API makes them: redemptions are listed by id. Reward
//! codes, like every random choice, come from the seed.

mod calendar;
mod content;
mod generator;
mod locales;
pub mod loyalty;
pub mod tickets;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::Connection;
use rapport_domain::customer::CustomerDraft;
use rapport_domain::interaction::InteractionDraft;
use rapport_store::bulk::{
    bulk_session, customers_by_external_ref, finish_interactions, insert_customers,
    insert_interactions, insert_loyalty, LoyaltyRows, NewCustomer, NewInteraction,
};
use rapport_store::{Db, DbConn, StoreError};
use uuid::Uuid;

pub use generator::Generator;
use loyalty::Loyalty;

/// The `source` of every demo interaction.
pub const SOURCE: &str = "demo";

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub customers: u64,
    pub seed: u64,
    /// The end of the history (exclusive); the history covers the four years before it.
    pub until: DateTime<Utc>,
    /// Customers generated at a time (what is held in memory, twice over).
    pub chunk: usize,
    /// Customers per transaction (rounded up to whole chunks).
    pub per_transaction: u64,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

impl DemoOptions {
    pub fn new(customers: u64, seed: u64, until: DateTime<Utc>) -> Self {
        Self {
            customers,
            seed,
            until,
            chunk: 5_000,
            per_transaction: 5_000,
            progress: false,
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Customers inserted.
    pub customers: u64,
    /// Customers that were there already (`demo-<n>` exists) and were left alone.
    pub skipped: u64,
    /// Interactions inserted, purchases included.
    pub interactions: u64,
    pub purchases: u64,
    /// Loyalty ledger entries inserted (earn, redeem, expire).
    pub loyalty_entries: u64,
    /// Rewards redeemed.
    pub redemptions: u64,
    /// Support tickets opened.
    pub tickets: u64,
    pub elapsed: Duration,
}

impl DemoSummary {
    fn add(&mut self, other: &DemoSummary) {
        self.customers += other.customers;
        self.skipped += other.skipped;
        self.interactions += other.interactions;
        self.purchases += other.purchases;
        self.loyalty_entries += other.loyalty_entries;
        self.redemptions += other.redemptions;
        self.tickets += other.tickets;
    }
}

/// One generated customer with its history.
#[derive(Debug, Clone)]
pub struct DemoCustomer {
    pub n: u64,
    pub id: Uuid,
    pub external_ref: String,
    pub created_at: DateTime<Utc>,
    pub draft: CustomerDraft,
    /// In time order; ids increase with the index.
    pub interactions: Vec<(Uuid, InteractionDraft)>,
}

/// Today at 00:00 UTC: the default `--until`, so that runs on the same day agree.
pub fn default_until() -> DateTime<Utc> {
    Utc::now().date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_until(value: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    Ok(DateTime::parse_from_rfc3339(value)
        .with_context(|| format!("`{value}` is neither YYYY-MM-DD nor RFC 3339"))?
        .with_timezone(&Utc))
}

/// Generates and writes the demo data: one thread generates while this one writes, one
/// transaction per chunk of customers.
pub fn seed_demo(db: &Db, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let started = Instant::now();
    anyhow::ensure!(
        options.customers < (1 << 32),
        "at most 4 294 967 295 customers"
    );
    anyhow::ensure!(
        options.until <= Utc::now(),
        "--until must not be in the future"
    );
    let mut conn = db.conn()?;
    let mut summary = bulk_session(&mut conn, |conn| generate_and_write(conn, options))?;
    summary.elapsed = started.elapsed();
    tracing::info!(
        entries = summary.loyalty_entries,
        redemptions = summary.redemptions,
        "demo loyalty written"
    );
    Ok(summary)
}

fn generate_and_write(conn: &mut DbConn, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let generator = Generator::new(options.seed, options.until)?;
    let mut loyalty =
        conn.transaction(|c| Loyalty::prepare(c, options.seed, generator.start, options.until))?;
    let loyalty = &mut loyalty;
    let desk = conn.transaction(|c| tickets::Desk::prepare(c, options.seed, options.until))?;
    let desk = &desk;
    let chunk = options.chunk.max(1) as u64;
    let per_transaction = options.per_transaction.max(1);
    let bar = progress_bar(options);
    let mut summary = DemoSummary::default();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<anyhow::Result<Vec<DemoCustomer>>>(2);
        let generator = &generator;
        scope.spawn(move || {
            let mut start = 1;
            let mut busy = Duration::ZERO;
            while start <= options.customers {
                let end = (start + chunk - 1).min(options.customers);
                let t = Instant::now();
                let batch = (start..=end).map(|n| generator.customer(n)).collect();
                busy += t.elapsed();
                if tx.send(batch).is_err() {
                    return; // the writer stopped
                }
                start = end + 1;
            }
            tracing::debug!(seconds = busy.as_secs_f64(), "demo data generated");
        });
        let mut busy = Duration::ZERO;
        let mut batches = rx.into_iter().peekable();
        while batches.peek().is_some() {
            let t = Instant::now();
            let written = conn.transaction(|c| -> anyhow::Result<DemoSummary> {
                let mut written = DemoSummary::default();
                let mut first_id: Option<Uuid> = None;
                let mut customers = 0;
                while customers < per_transaction {
                    let Some(batch) = batches.next() else { break };
                    let batch = batch?;
                    let (w, first) = write_batch(c, &batch, loyalty, desk)?;
                    written.add(&w);
                    first_id = match (first_id, first) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    customers += batch.len() as u64;
                    bar.inc(batch.len() as u64);
                }
                if let Some(first) = first_id {
                    finish_interactions(c, first)?;
                }
                Ok(written)
            })?;
            busy += t.elapsed();
            summary.add(&written);
        }
        tracing::debug!(seconds = busy.as_secs_f64(), "demo data written");
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(summary)
}

fn progress_bar(options: &DemoOptions) -> indicatif::ProgressBar {
    if !options.progress || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(options.customers);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} customers ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Writes the customers of `batch` that are not there yet, with their interactions and their
/// loyalty history; returns the smallest interaction id written.
fn write_batch(
    c: &mut DbConn,
    batch: &[DemoCustomer],
    loyalty: &mut Loyalty,
    desk: &tickets::Desk,
) -> Result<(DemoSummary, Option<Uuid>), StoreError> {
    let refs: Vec<&str> = batch.iter().map(|c| c.external_ref.as_str()).collect();
    {
        let existing = customers_by_external_ref(c, &refs)?;
        let fresh: Vec<&DemoCustomer> = batch
            .iter()
            .filter(|d| !existing.contains_key(&d.external_ref))
            .collect();
        let customers: Vec<NewCustomer<'_>> = fresh
            .iter()
            .map(|d| NewCustomer {
                id: d.id,
                draft: &d.draft,
                created_at: d.created_at,
            })
            .collect();
        insert_customers(c, &customers)?;
        let interactions: Vec<NewInteraction<'_>> = fresh
            .iter()
            .flat_map(|d| d.interactions.iter())
            .map(|(id, draft)| NewInteraction {
                id: *id,
                draft,
                agent: None,
                created_at: draft.occurred_at,
            })
            .collect();
        insert_interactions(c, &interactions)?;
        let first = interactions.iter().map(|i| i.id).min();
        let mut rows = LoyaltyRows::default();
        let mut redemptions = 0;
        if !fresh.is_empty() {
            loyalty.lock_catalog(c)?;
            for d in &fresh {
                redemptions += loyalty.customer(d, &mut rows);
            }
            insert_loyalty(c, &rows)?;
            loyalty.take_stock(c)?;
        }
        let mut opened = 0;
        for d in &fresh {
            opened += desk.customer(c, d)?;
        }
        let written = DemoSummary {
            customers: customers.len() as u64,
            skipped: (batch.len() - customers.len()) as u64,
            interactions: interactions.len() as u64,
            purchases: interactions
                .iter()
                .filter(|i| i.draft.is_purchase())
                .count() as u64,
            loyalty_entries: rows.entries.len() as u64,
            redemptions,
            tickets: opened,
            elapsed: Duration::ZERO,
        };
        Ok((written, first))
    }
}

/// A UUIDv7 at `millis` whose remaining bits order by `(n, k)`: 32 bits of `n`, 16 of `k`, 26
/// random.
fn ordered_id(millis: u64, n: u64, k: u64, random: u32) -> Uuid {
    let rand_a = (n >> 20) & 0xFFF;
    let rand_b = ((n & 0xF_FFFF) << 42) | ((k & 0xFFFF) << 26) | u64::from(random & 0x3FF_FFFF);
    let mut bytes = [0u8; 10];
    bytes[0] = (rand_a >> 8) as u8;
    bytes[1] = (rand_a & 0xFF) as u8;
    bytes[2..].copy_from_slice(&rand_b.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interaction_ids_are_v7_and_grow_with_customer_and_index() {
        let ids: Vec<Uuid> = [(1, 0), (1, 1), (1, 300), (2, 0), (1 << 20, 0), (1 << 31, 5)]
            .iter()
            .map(|&(n, k)| ordered_id(1_700_000_000_000, n, k, u32::MAX))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(ids.iter().all(|i| i.get_version_num() == 7));
    }
}
