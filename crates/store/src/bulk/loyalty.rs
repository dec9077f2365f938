//! Loyalty rows in bulk: the program's versions, rewards and their stock, and ledger entries,
//! lots, consumptions, redemptions and codes as the caller computed them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::loyalty::{EntryKind, EntrySource, Program, RewardDraft};
use uuid::Uuid;

use super::copy::{copy_in, CopyData};
use crate::db::DbConn;
use crate::schema::{
    loyalty_consumptions, loyalty_entries, loyalty_lots, loyalty_programs as programs,
    loyalty_redemptions, loyalty_reward_codes, loyalty_rewards as rewards,
};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

/// Every version of the loyalty program, oldest first (the store's [`crate::loyalty::program`]
/// is the last of them): what a bulk load needs to award each purchase under the version that
/// was in force when it happened.
pub fn loyalty_programs(conn: &mut DbConn) -> StoreResult<Vec<Program>> {
    let rows: Vec<(i64, DbJson, DbTime)> = programs::table
        .order(programs::version)
        .select((
            programs::version,
            programs::definition,
            programs::created_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(version, definition, created_at)| {
            Ok(Program {
                version,
                definition: definition
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("loyalty program {version}: {e}")))?,
                created_at: created_at.0,
            })
        })
        .collect()
}

/// A reward to insert as is: id and creation time chosen by the caller.
pub struct NewReward<'a> {
    pub id: Uuid,
    pub terms: &'a RewardDraft,
    pub created_at: DateTime<Utc>,
}

/// Inserts active rewards, at version 1, as [`crate::loyalty::create_reward`] would.
pub fn insert_rewards(conn: &mut DbConn, rows: &[NewReward<'_>]) -> StoreResult<()> {
    for r in rows {
        let t = r.terms;
        diesel::insert_into(rewards::table)
            .values((
                rewards::id.eq(DbUuid(r.id)),
                rewards::name.eq(&t.name),
                rewards::description.eq(&t.description),
                rewards::kind.eq(t.kind.as_str()),
                rewards::cost_points.eq(t.cost_points),
                rewards::percent_off.eq(t.percent_off),
                rewards::amount_minor.eq(t.amount_minor),
                rewards::currency.eq(&t.currency),
                rewards::partner.eq(&t.partner),
                rewards::quantity.eq(t.quantity),
                rewards::stock.eq(t.stock),
                rewards::active.eq(true),
                rewards::created_at.eq(DbTime(r.created_at)),
                rewards::version.eq(1),
                rewards::updated_at.eq(Some(DbTime(r.created_at))),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Locks these rewards' rows until the transaction ends (PostgreSQL; SQLite serialises writers
/// already), so that the stock read next is still the stock when [`take_reward_stock`] runs.
pub fn lock_rewards(conn: &mut DbConn, ids: &[Uuid]) -> StoreResult<()> {
    if let DbConn::Pg(pg) = conn {
        let keys: Vec<DbUuid> = ids.iter().copied().map(DbUuid).collect();
        rewards::table
            .filter(rewards::id.eq_any(&keys))
            .order(rewards::id)
            .select(rewards::id)
            .for_update()
            .execute(pg)?;
    }
    Ok(())
}

/// Takes `count` units of a stocked reward's stock, as `count` redemptions would (each one
/// bumps the reward's version). `Conflict::RewardOutOfStock` when fewer are left; nothing for a
/// reward without stock.
pub fn take_reward_stock(conn: &mut DbConn, id: Uuid, count: i64) -> StoreResult<()> {
    if count <= 0 {
        return Ok(());
    }
    let stocked: Option<Option<i64>> = rewards::table
        .find(DbUuid(id))
        .select(rewards::stock)
        .first(conn)
        .optional()?;
    match stocked {
        None => return Err(StoreError::MissingReference("reward_id")),
        Some(None) => return Ok(()),
        Some(Some(_)) => {}
    }
    let n = diesel::update(
        rewards::table
            .find(DbUuid(id))
            .filter(rewards::stock.ge(count)),
    )
    .set((
        rewards::stock.eq(rewards::stock - count),
        rewards::version.eq(rewards::version + count),
    ))
    .execute(conn)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::RewardOutOfStock))
    }
}

/// A ledger entry to insert as is.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLoyaltyEntry {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: EntryKind,
    /// Signed, as in the ledger.
    pub points: i64,
    pub reason: Option<Cow<'static, str>>,
    pub source: EntrySource,
    pub reverses_id: Option<Uuid>,
    pub program_version: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A lot to insert as is: `remaining` is what the consumptions inserted with it leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLot {
    /// The awarding entry.
    pub entry_id: Uuid,
    pub customer_id: Uuid,
    pub points: i64,
    pub remaining: i64,
    pub awarded_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Points an entry took from a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsumption {
    pub entry_id: Uuid,
    pub lot_id: Uuid,
    pub points: i64,
}

/// A redemption to insert as is, with its codes; its `redeem` entry and consumptions go in
/// [`LoyaltyRows`] too.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRedemption {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub reward_id: Uuid,
    pub points: i64,
    pub codes: Vec<String>,
    /// The reward's terms when it was redeemed (stock before this redemption took one).
    pub terms: RewardDraft,
    pub entry_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Loyalty rows for [`insert_loyalty`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoyaltyRows {
    pub entries: Vec<NewLoyaltyEntry>,
    pub lots: Vec<NewLot>,
    pub consumptions: Vec<NewConsumption>,
    pub redemptions: Vec<NewRedemption>,
}

impl LoyaltyRows {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.lots.clear();
        self.consumptions.clear();
        self.redemptions.clear();
    }
}

#[derive(Insertable)]
#[diesel(table_name = loyalty_entries, treat_none_as_default_value = false)]
struct EntryRow {
    id: DbUuid,
    customer_id: DbUuid,
    kind: &'static str,
    points: i64,
    reason: Option<Cow<'static, str>>,
    source_type: &'static str,
    source_id: Option<DbUuid>,
    reverses_id: Option<DbUuid>,
    program_version: Option<i64>,
    created_at: DbTime,
}

#[derive(Insertable)]
#[diesel(table_name = loyalty_lots, treat_none_as_default_value = false)]
struct LotRow {
    entry_id: DbUuid,
    customer_id: DbUuid,
    points: i64,
    remaining: i64,
    awarded_at: DbTime,
    expires_at: Option<DbTime>,
}

#[derive(Insertable)]
#[diesel(table_name = loyalty_consumptions)]
struct ConsumptionRow {
    entry_id: DbUuid,
    lot_id: DbUuid,
    points: i64,
}

#[derive(Insertable)]
#[diesel(table_name = loyalty_redemptions, treat_none_as_default_value = false)]
struct RedemptionRow {
    id: DbUuid,
    customer_id: DbUuid,
    reward_id: DbUuid,
    points: i64,
    codes: DbJson,
    terms: DbJson,
    entry_id: DbUuid,
    cancel_entry_id: Option<DbUuid>,
    created_at: DbTime,
    cancelled_at: Option<DbTime>,
}

#[derive(Insertable)]
#[diesel(table_name = loyalty_reward_codes)]
struct CodeRow {
    code: String,
    redemption_id: DbUuid,
}

/// Rows per INSERT of loyalty rows on SQLite (see `interactions::INTERACTIONS_PER_STATEMENT`).
const LOYALTY_ROWS_PER_STATEMENT: usize = 128;

/// SQLite: `INSERT OR IGNORE` of `$rows` in statements of a fixed number of rows (prepared once
/// and kept), then the rest one by one; how many went in.
macro_rules! sqlite_insert_rows {
    ($c:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        let mut inserted = 0usize;
        let (full, rest) = rows.as_chunks::<LOYALTY_ROWS_PER_STATEMENT>();
        for chunk in full {
            inserted += diesel::insert_or_ignore_into($table)
                .values(chunk)
                .execute($c)?;
        }
        for row in rest {
            inserted += diesel::insert_or_ignore_into($table)
                .values(row)
                .execute($c)?;
        }
        inserted
    }};
}

/// Inserts ledger entries, lots, consumptions, redemptions and their codes, all at once (the
/// caller's transaction; on PostgreSQL in foreign-key order, by `COPY`). The rows must be
/// consistent with each other — a lot's `remaining` is its points less its consumptions — and
/// new: an id already stored is `StoreError::Corrupt` on SQLite and a database error on
/// PostgreSQL.
pub fn insert_loyalty(conn: &mut DbConn, rows: &LoyaltyRows) -> StoreResult<()> {
    let c = match conn {
        DbConn::Pg(pg) => return copy_loyalty(pg, rows),
        DbConn::Sqlite(c) => c,
    };
    // As for interactions: nothing may stop halfway (known keys are skipped and counted, the
    // foreign keys are checked at COMMIT), so SQLite keeps no statement journal.
    c.batch_execute("PRAGMA defer_foreign_keys = ON")?;
    let entries: Vec<EntryRow> = rows.entries.iter().map(entry_row).collect();
    let mut inserted = sqlite_insert_rows!(c, loyalty_entries::table, &entries);
    drop(entries);
    let lots: Vec<LotRow> = rows
        .lots
        .iter()
        .map(|l| LotRow {
            entry_id: DbUuid(l.entry_id),
            customer_id: DbUuid(l.customer_id),
            points: l.points,
            remaining: l.remaining,
            awarded_at: DbTime(l.awarded_at),
            expires_at: l.expires_at.map(DbTime),
        })
        .collect();
    inserted += sqlite_insert_rows!(c, loyalty_lots::table, &lots);
    drop(lots);
    let uses: Vec<ConsumptionRow> = rows
        .consumptions
        .iter()
        .map(|u| ConsumptionRow {
            entry_id: DbUuid(u.entry_id),
            lot_id: DbUuid(u.lot_id),
            points: u.points,
        })
        .collect();
    inserted += sqlite_insert_rows!(c, loyalty_consumptions::table, &uses);
    drop(uses);
    let redemptions: Vec<RedemptionRow> = rows
        .redemptions
        .iter()
        .map(|r| RedemptionRow {
            id: DbUuid(r.id),
            customer_id: DbUuid(r.customer_id),
            reward_id: DbUuid(r.reward_id),
            points: r.points,
            codes: DbJson::of(&r.codes),
            terms: DbJson::of(&r.terms),
            entry_id: DbUuid(r.entry_id),
            cancel_entry_id: None,
            created_at: DbTime(r.created_at),
            cancelled_at: None,
        })
        .collect();
    inserted += sqlite_insert_rows!(c, loyalty_redemptions::table, &redemptions);
    let codes: Vec<CodeRow> = rows
        .redemptions
        .iter()
        .flat_map(|r| {
            r.codes.iter().map(|code| CodeRow {
                code: code.clone(),
                redemption_id: DbUuid(r.id),
            })
        })
        .collect();
    inserted += sqlite_insert_rows!(c, loyalty_reward_codes::table, &codes);
    let expected = rows.entries.len()
        + rows.lots.len()
        + rows.consumptions.len()
        + rows.redemptions.len()
        + codes.len();
    if inserted != expected {
        // A row that was there already, or broke a CHECK: `OR IGNORE` skipped it.
        return Err(StoreError::Corrupt(
            "loyalty rows already stored, or inconsistent".into(),
        ));
    }
    Ok(())
}

fn entry_row(e: &NewLoyaltyEntry) -> EntryRow {
    EntryRow {
        id: DbUuid(e.id),
        customer_id: DbUuid(e.customer_id),
        kind: e.kind.as_str(),
        points: e.points,
        reason: e.reason.clone(),
        source_type: e.source.kind.as_str(),
        source_id: e.source.id.map(DbUuid),
        reverses_id: e.reverses_id.map(DbUuid),
        program_version: e.program_version,
        created_at: DbTime(e.created_at),
    }
}

/// PostgreSQL: the loyalty rows as one `COPY` per table, parents first (`COPY` checks foreign
/// keys as it goes).
fn copy_loyalty(pg: &mut diesel::PgConnection, rows: &LoyaltyRows) -> StoreResult<()> {
    use loyalty_consumptions as u;
    use loyalty_entries as e;
    use loyalty_lots as l;
    use loyalty_redemptions as r;
    use loyalty_reward_codes as k;
    if !rows.entries.is_empty() {
        let mut data = CopyData::new(rows.entries.len() * 150);
        for x in &rows.entries {
            data.row(10)
                .uuid(Some(x.id))
                .uuid(Some(x.customer_id))
                .text(Some(x.kind.as_str()))
                .int8(Some(x.points))
                .text(x.reason.as_deref())
                .text(Some(x.source.kind.as_str()))
                .uuid(x.source.id)
                .uuid(x.reverses_id)
                .int8(x.program_version)
                .time(Some(x.created_at));
        }
        copy_in!(
            pg,
            e::table,
            (
                e::id,
                e::customer_id,
                e::kind,
                e::points,
                e::reason,
                e::source_type,
                e::source_id,
                e::reverses_id,
                e::program_version,
                e::created_at,
            ),
            data.finish()
        );
    }
    if !rows.lots.is_empty() {
        let mut data = CopyData::new(rows.lots.len() * 90);
        for x in &rows.lots {
            data.row(6)
                .uuid(Some(x.entry_id))
                .uuid(Some(x.customer_id))
                .int8(Some(x.points))
                .int8(Some(x.remaining))
                .time(Some(x.awarded_at))
                .time(x.expires_at);
        }
        copy_in!(
            pg,
            l::table,
            (
                l::entry_id,
                l::customer_id,
                l::points,
                l::remaining,
                l::awarded_at,
                l::expires_at,
            ),
            data.finish()
        );
    }
    if !rows.consumptions.is_empty() {
        let mut data = CopyData::new(rows.consumptions.len() * 50);
        for x in &rows.consumptions {
            data.row(3)
                .uuid(Some(x.entry_id))
                .uuid(Some(x.lot_id))
                .int8(Some(x.points));
        }
        copy_in!(
            pg,
            u::table,
            (u::entry_id, u::lot_id, u::points),
            data.finish()
        );
    }
    if !rows.redemptions.is_empty() {
        let mut data = CopyData::new(rows.redemptions.len() * 600);
        let mut codes = CopyData::new(rows.redemptions.len() * 60);
        for x in &rows.redemptions {
            data.row(10)
                .uuid(Some(x.id))
                .uuid(Some(x.customer_id))
                .uuid(Some(x.reward_id))
                .int8(Some(x.points))
                .jsonb(&x.codes)
                .jsonb(&x.terms)
                .uuid(Some(x.entry_id))
                .uuid(None)
                .time(Some(x.created_at))
                .time(None);
            for code in &x.codes {
                codes.row(2).text(Some(code)).uuid(Some(x.id));
            }
        }
        copy_in!(
            pg,
            r::table,
            (
                r::id,
                r::customer_id,
                r::reward_id,
                r::points,
                r::codes,
                r::terms,
                r::entry_id,
                r::cancel_entry_id,
                r::created_at,
                r::cancelled_at,
            ),
            data.finish()
        );
        copy_in!(pg, k::table, (k::code, k::redemption_id), codes.finish());
    }
    Ok(())
}
