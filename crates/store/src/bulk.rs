//! Bulk writes for import and demo data: many rows per statement, existence checks per batch.
//! The caller owns the transaction; after inserting interactions it calls
//! [`finish_interactions`] so the purchase totals of every customer touched are recomputed once.
//!
//! Loyalty rows ([`insert_loyalty`]: entries, lots, consumptions, redemptions and codes) go in
//! as the caller computed them, for a history replayed with the domain's rules (the demo seed);
//! the functions of [`crate::loyalty`] that move points one at a time are the live path.

use rapport_domain::conflict::Conflict;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rapport_domain::customer::CustomerDraft;
use rapport_domain::interaction::{Agent, InteractionDraft};
use rapport_domain::loyalty::{EntryKind, EntrySource, Program, RewardDraft};
use uuid::Uuid;

use crate::db::DbConn;
use crate::interactions::{self, Customers};
use crate::schema::{
    customer_aliases, customer_tags, customers, interactions as ix, loyalty_consumptions,
    loyalty_entries, loyalty_lots, loyalty_programs as programs, loyalty_redemptions,
    loyalty_reward_codes, loyalty_rewards as rewards,
};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

/// Runs a multi-row INSERT on the concrete connection: diesel's multi-backend connection has no
/// batch insert, but each backend has one.
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $values:expr) => {
        match $conn {
            DbConn::Pg(c) => diesel::insert_into($table).values($values).execute(c),
            DbConn::Sqlite(c) => diesel::insert_into($table).values($values).execute(c),
        }
    };
}

/// Rows per INSERT: SQLite allows 32 766 bound values per statement; 30 columns × 500 fits.
const ROWS_PER_STATEMENT: usize = 500;

/// A customer to insert as is: id and creation time chosen by the caller.
pub struct NewCustomer<'a> {
    pub id: Uuid,
    pub draft: &'a CustomerDraft,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
struct CustomerRow<'a> {
    id: DbUuid,
    #[diesel(embed)]
    fields: crate::customers::Fields<'a>,
    version: i64,
    created_at: DbTime,
}

pub fn insert_customers(conn: &mut DbConn, rows: &[NewCustomer<'_>]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<CustomerRow<'_>> = chunk
            .iter()
            .map(|c| CustomerRow {
                id: DbUuid(c.id),
                fields: crate::customers::Fields::new(c.draft, c.created_at),
                version: 1,
                created_at: DbTime(c.created_at),
            })
            .collect();
        batch_insert!(conn, customers::table, &values)?;
        let tags: Vec<_> = chunk
            .iter()
            .flat_map(|c| {
                c.draft.tags.iter().map(move |t| {
                    (
                        customer_tags::customer_id.eq(DbUuid(c.id)),
                        customer_tags::tag.eq(t.as_str()),
                    )
                })
            })
            .collect();
        for part in tags.chunks(ROWS_PER_STATEMENT * 4) {
            batch_insert!(conn, customer_tags::table, part)?;
        }
    }
    Ok(())
}

/// Which of these customer external references exist already, and as which customer.
pub fn customers_by_external_ref(
    conn: &mut DbConn,
    refs: &[&str],
) -> StoreResult<HashMap<String, Uuid>> {
    let mut out = HashMap::new();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        let found: Vec<(Option<String>, DbUuid)> = customers::table
            .filter(customers::external_ref.eq_any(chunk))
            .select((customers::external_ref, customers::id))
            .load(conn)?;
        out.extend(found.into_iter().filter_map(|(r, id)| r.map(|r| (r, id.0))));
    }
    Ok(out)
}

/// What an interaction may refer to: the customer's current id (aliases of merged duplicates
/// followed) and whether it is archived. Unknown ids are absent from the map.
pub fn customer_targets(
    conn: &mut DbConn,
    ids: &[Uuid],
) -> StoreResult<HashMap<Uuid, (Uuid, bool)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let keys: Vec<DbUuid> = chunk.iter().copied().map(DbUuid).collect();
        let found: Vec<(DbUuid, Option<DbTime>)> = customers::table
            .filter(customers::id.eq_any(&keys))
            .select((customers::id, customers::archived_at))
            .load(conn)?;
        for (id, archived) in found {
            out.insert(id.0, (id.0, archived.is_some()));
        }
        let missing: Vec<String> = chunk
            .iter()
            .filter(|id| !out.contains_key(id))
            .map(|id| id.hyphenated().to_string())
            .collect();
        if !missing.is_empty() {
            let aliased: Vec<(String, DbUuid)> = customer_aliases::table
                .filter(customer_aliases::kind.eq("id"))
                .filter(customer_aliases::value.eq_any(&missing))
                .select((customer_aliases::value, customer_aliases::customer_id))
                .load(conn)?;
            for (old, survivor) in aliased {
                if let Ok(old) = Uuid::parse_str(&old) {
                    out.insert(old, (survivor.0, false));
                }
            }
        }
    }
    Ok(out)
}

/// Page cache of a SQLite connection doing bulk writes, in KiB. Index inserts land at random
/// places in four B-trees; with SQLite's default 2 MB cache most of an import's time went to
/// spilling and re-reading pages. Bounded, so memory stays flat in the file's size.
const BULK_CACHE_KIB: i64 = 128 * 1024;

/// Page cache while [`rebuild_interaction_indexes`] sorts, in KiB.
const SORT_CACHE_KIB: i64 = 32 * 1024;

/// Runs `f` with the connection tuned for bulk writes, and restores it afterwards (pooled
/// connections are shared):
/// - SQLite: a larger page cache, no memory map (the process holds what it reads), and, when
///   the session starts outside a transaction (the CLI's import, the seed), foreign keys not
///   enforced by SQLite: bulk writers make their references hold themselves. (Inside one, as
///   in the server, whose writer thread runs every write in its batch transaction, SQLite
///   ignores the switch and enforces them as usual.) An import
///   looks every interaction's customer up in its own transaction, and nobody can delete that
///   customer before it commits: SQLite has one writer, and a transaction that read a snapshot
///   cannot write once another has committed after it (`SQLITE_BUSY_SNAPSHOT`), so a merge
///   that slips in makes the import fail, not leave orphans. Tags and the seed's loyalty rows
///   are written with their parents. Enforced, the foreign key made SQLite keep a statement
///   journal for every multi-row `INSERT` (a copy of each page it touched, 10 % of an import)
///   and look the customer up row by row. Sorts (an index built at the end of an import) spill
///   to temporary files, not memory, and use a second thread.
/// - PostgreSQL: no sequential scans. A bulk load runs in one transaction, so the planner's
///   statistics still describe the tables as they were before it (often empty): it then chose
///   sequential scans for each batch's existence checks, and an import slowed down
///   quadratically (793 rows/s over 200 000 rows, against 25 000 with index scans).
pub fn bulk_session<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let (tune, restore) = match conn {
        // `foreign_keys` can only change outside a transaction, hence here.
        DbConn::Sqlite(_) => (
            format!(
                "PRAGMA cache_size = -{BULK_CACHE_KIB}; PRAGMA mmap_size = 0; \
                 PRAGMA foreign_keys = OFF; PRAGMA temp_store = FILE; PRAGMA threads = 2;"
            ),
            format!(
                "PRAGMA cache_size = -2000; PRAGMA mmap_size = {}; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY; PRAGMA threads = 0;",
                crate::db::SQLITE_MMAP_BYTES
            ),
        ),
        DbConn::Pg(_) => (
            "SET enable_seqscan = off".to_owned(),
            "RESET enable_seqscan".to_owned(),
        ),
    };
    conn.batch_execute(&tune)?;
    let result = f(conn);
    // A failure to restore must not hide the work's own result.
    let _ = conn.batch_execute(&restore);
    if matches!(conn, DbConn::Sqlite(_)) && result.is_ok() {
        // A bulk load leaves a write-ahead log as large as what it wrote (5 GB after 10 000 000
        // interactions), which SQLite keeps on disk and the next process to open the file reads
        // through (4 s for that one). Copy it into the database and empty it. Best effort: with
        // readers active it gives up after the busy timeout, and inside a transaction (the
        // server's writer) SQLite refuses it; the log is checkpointed later either way.
        let _ = conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    result
}

/// An interaction to insert as is.
pub struct NewInteraction<'a> {
    pub id: Uuid,
    pub draft: &'a InteractionDraft,
    pub agent: Option<Agent>,
    pub created_at: DateTime<Utc>,
}

/// Rows per INSERT of interactions. A statement over a fixed-size array has a static query id,
/// so diesel prepares it once and keeps it (a statement over a slice of any length is parsed
/// and planned again every time); the last rows of a batch go one by one, also cached.
const INTERACTIONS_PER_STATEMENT: usize = 64;

/// Inserts the rows and says how many went in. Callers leave out rows whose id or
/// `(source, external_ref)` is stored already: SQLite skips such a row anyway (and the count
/// says so), PostgreSQL's `COPY` fails on it.
pub fn insert_interactions(conn: &mut DbConn, rows: &[NewInteraction<'_>]) -> StoreResult<u64> {
    let c = match conn {
        DbConn::Pg(pg) => return copy_interactions(pg, rows),
        DbConn::Sqlite(c) => c,
    };
    let values: Vec<_> = rows
        .iter()
        .map(|i| interactions::NewRow::new(i.id, i.draft, i.agent, i.created_at).into_owned())
        .collect();
    // Nothing in these statements may stop halfway: known keys are skipped (`OR IGNORE`) and
    // the bulk session does not enforce the foreign key (see `bulk_session`). So SQLite keeps
    // no statement journal for them.
    let mut inserted = 0;
    let (full, rest) = values.as_chunks::<INTERACTIONS_PER_STATEMENT>();
    for chunk in full {
        inserted += diesel::insert_or_ignore_into(ix::table)
            .values(chunk)
            .execute(c)?;
    }
    for v in rest {
        inserted += diesel::insert_or_ignore_into(ix::table)
            .values(v)
            .execute(c)?;
    }
    Ok(inserted as u64)
}

/// Columns of an interaction written by [`copy_interactions`].
const COPY_COLUMNS: usize = 21;

/// PostgreSQL: the batch as one `COPY … FROM STDIN` in the binary format. Against multi-row
/// `INSERT`s this saves PostgreSQL the parsing, planning and executor start-up of each statement:
/// on 200 000 rows its CPU time went from ~5 s to ~3 s (most of what is left is index upkeep
/// and the foreign-key check, which `COPY` runs too).
fn copy_interactions(
    conn: &mut diesel::PgConnection,
    rows: &[NewInteraction<'_>],
) -> StoreResult<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut data = Vec::with_capacity(19 + rows.len() * 400 + 2);
    // The binary format's signature, flags and header extension length; the trailer is -1.
    data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    data.extend_from_slice(&0i32.to_be_bytes());
    data.extend_from_slice(&0i32.to_be_bytes());
    for r in rows {
        copy_row(&mut data, r);
    }
    data.extend_from_slice(&(-1i16).to_be_bytes());
    let copied = diesel::copy_from(ix::table)
        .from_raw_data(
            (
                ix::id,
                ix::customer_id,
                ix::channel,
                ix::kind,
                ix::direction,
                ix::occurred_at,
                ix::subject,
                ix::body,
                ix::source,
                ix::external_ref,
                ix::metadata,
                ix::amount_minor,
                ix::currency,
                ix::product_category,
                ix::campaign_id,
                ix::order_ref,
                ix::agent_type,
                ix::agent_id,
                ix::version,
                ix::created_at,
                ix::updated_at,
            ),
            |out: &mut dyn std::io::Write| {
                out.write_all(&data)
                    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
            },
        )
        .with_format(diesel::pg::CopyFormat::Binary)
        .execute(conn)?;
    Ok(copied as u64)
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One tuple of `COPY`'s binary format, columns in the order of [`copy_interactions`]: each
/// field is its length and PostgreSQL's binary form of the value (what `ToSql` sends), so
/// PostgreSQL parses no text.
fn copy_row(out: &mut Vec<u8>, r: &NewInteraction<'_>) {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    fn null(out: &mut Vec<u8>) {
        out.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn text(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => field(out, s.as_bytes()),
            None => null(out),
        }
    }
    fn uuid(out: &mut Vec<u8>, id: Option<Uuid>) {
        match id {
            Some(id) => field(out, id.as_bytes()),
            None => null(out),
        }
    }
    fn time(out: &mut Vec<u8>, t: DateTime<Utc>) {
        field(out, &(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes());
    }
    let d = r.draft;
    out.extend_from_slice(&(COPY_COLUMNS as i16).to_be_bytes());
    uuid(out, Some(r.id));
    uuid(out, Some(d.customer_id));
    text(out, Some(d.channel.as_str()));
    text(out, Some(d.kind.as_str()));
    text(out, d.direction.map(|v| v.as_str()));
    time(out, d.occurred_at);
    text(out, d.subject.as_deref());
    text(out, d.body.as_deref());
    text(out, Some(d.source()));
    text(out, d.external_ref.as_deref());
    // jsonb: a version byte, then the JSON text.
    let mut metadata = vec![1u8];
    if serde_json::to_writer(&mut metadata, &d.metadata).is_err() {
        metadata.truncate(1);
        metadata.extend_from_slice(b"{}");
    }
    field(out, &metadata);
    match d.amount_minor {
        Some(a) => field(out, &a.to_be_bytes()),
        None => null(out),
    }
    text(out, d.currency.as_deref());
    text(out, d.product_category.as_deref());
    uuid(out, d.campaign_id);
    text(out, d.order_ref.as_deref());
    text(out, r.agent.map(|a| a.kind()));
    uuid(out, r.agent.map(|a| a.id()));
    field(out, &1i64.to_be_bytes());
    time(out, r.created_at);
    time(out, r.created_at);
}

/// Which of these interaction ids exist.
pub fn existing_interaction_ids(conn: &mut DbConn, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let keys: Vec<DbUuid> = chunk.iter().copied().map(DbUuid).collect();
        let found: Vec<DbUuid> = ix::table
            .filter(ix::id.eq_any(&keys))
            .select(ix::id)
            .load(conn)?;
        out.extend(found.into_iter().map(|i| i.0));
    }
    Ok(out)
}

/// Which of these `(source, external_ref)` pairs are recorded already.
pub fn existing_interaction_refs(
    conn: &mut DbConn,
    refs: &[(&str, &str)],
) -> StoreResult<HashSet<(String, String)>> {
    let mut out = HashSet::new();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        let wanted: Vec<&str> = chunk.iter().map(|(_, r)| *r).collect();
        let found: Vec<(String, Option<String>)> = ix::table
            .filter(ix::external_ref.eq_any(&wanted))
            .select((ix::source, ix::external_ref))
            .load(conn)?;
        out.extend(found.into_iter().filter_map(|(s, r)| r.map(|r| (s, r))));
    }
    Ok(out)
}

/// Secondary indexes of `interactions` dropped for a bulk load, to build again at its end.
#[must_use = "the indexes must be built again: pass this to `rebuild_interaction_indexes`"]
pub struct DeferredIndexes(Vec<String>);

#[derive(QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sql: String,
}

/// SQLite, into an empty `interactions` table: drops its secondary (non-unique) indexes, so
/// that [`rebuild_interaction_indexes`] builds each once, sorted, at the end. Inserted row by
/// row, rows in time order land at random places of the by-customer indexes; building them
/// afterwards is SQLite's own advice for bulk loads, and halves the B-tree work of a first
/// import. The unique indexes stay: each batch looks up known ids and references in them.
/// Nothing changes for readers: the drop and the rebuild happen inside the import's
/// transaction, and other connections see the indexed table until it commits (a rollback
/// restores it). Not on PostgreSQL, where dropping an index locks out readers of the table for
/// the whole import; nor into a table that holds rows already, whose indexes it would rebuild.
pub fn defer_interaction_indexes(conn: &mut DbConn) -> StoreResult<Option<DeferredIndexes>> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(None);
    };
    let empty = ix::table
        .select(ix::id)
        .first::<DbUuid>(c)
        .optional()?
        .is_none();
    if !empty {
        return Ok(None);
    }
    let indexes: Vec<IndexDef> = diesel::sql_query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'interactions' \
         AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name",
    )
    .load(c)?;
    for i in &indexes {
        c.batch_execute(&format!("DROP INDEX \"{}\"", i.name.replace('"', "\"\"")))?;
    }
    Ok(Some(DeferredIndexes(
        indexes.into_iter().map(|i| i.sql).collect(),
    )))
}

/// Builds again the indexes [`defer_interaction_indexes`] dropped, exactly as they were.
pub fn rebuild_interaction_indexes(
    conn: &mut DbConn,
    deferred: Option<DeferredIndexes>,
) -> StoreResult<()> {
    if let Some(DeferredIndexes(indexes)) = deferred {
        // SQLite sizes a sort's memory by the page cache, and sorts on up to three threads at
        // once: a smaller cache while sorting keeps the peak where the inserts had it.
        conn.batch_execute(&format!("PRAGMA cache_size = -{SORT_CACHE_KIB}"))?;
        for sql in indexes {
            conn.batch_execute(&sql)?;
        }
        conn.batch_execute(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))?;
    }
    Ok(())
}

/// Ends a bulk insert of interactions whose ids are all at least `first_id`: locks the customers
/// touched (PostgreSQL) and recomputes their purchase totals, in set operations whose memory does
/// not grow with the number of rows.
pub fn finish_interactions(conn: &mut DbConn, first_id: Uuid) -> StoreResult<()> {
    if let DbConn::Pg(pg) = conn {
        // The planner's statistics still describe the table before the import (see
        // `bulk_session`); with sequential scans off it recomputed the totals of 1 000 000 new
        // rows through index scans in 3.7 s. ANALYZE inside the transaction samples this
        // import's own rows too; with it the planner hashes, in 0.8 s.
        pg.batch_execute("ANALYZE interactions; RESET enable_seqscan")?;
        let recent = diesel::alias!(ix as recent);
        customers::table
            .filter(
                customers::id.eq_any(
                    recent
                        .filter(recent.field(ix::id).ge(DbUuid(first_id)))
                        .select(recent.field(ix::customer_id)),
                ),
            )
            .order(customers::id)
            .select(customers::id)
            .for_update()
            .execute(pg)?;
    }
    interactions::recompute(conn, Customers::InsertedSince(first_id))
}

// ---------------------------------------------------------------- loyalty

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

/// Rows per INSERT of loyalty rows on SQLite (see [`INTERACTIONS_PER_STATEMENT`]).
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

/// PostgreSQL's binary `COPY` format, a row at a time (see [`copy_row`]).
struct CopyData(Vec<u8>);

impl CopyData {
    fn new(capacity: usize) -> Self {
        let mut data = Vec::with_capacity(19 + capacity + 2);
        data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        data.extend_from_slice(&0i32.to_be_bytes());
        data.extend_from_slice(&0i32.to_be_bytes());
        Self(data)
    }

    fn row(&mut self, columns: i16) -> &mut Self {
        self.0.extend_from_slice(&columns.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    fn null(&mut self) -> &mut Self {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    fn uuid(&mut self, id: Option<Uuid>) -> &mut Self {
        match id {
            Some(id) => self.field(id.as_bytes()),
            None => self.null(),
        }
    }

    fn text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.field(s.as_bytes()),
            None => self.null(),
        }
    }

    fn int8(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.field(&v.to_be_bytes()),
            None => self.null(),
        }
    }

    fn time(&mut self, t: Option<DateTime<Utc>>) -> &mut Self {
        match t {
            Some(t) => self.field(&(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes()),
            None => self.null(),
        }
    }

    /// `jsonb`: a version byte, then the JSON text.
    fn jsonb<T: serde::Serialize>(&mut self, value: &T) -> &mut Self {
        let mut json = vec![1u8];
        if serde_json::to_writer(&mut json, value).is_err() {
            json.truncate(1);
            json.extend_from_slice(b"null");
        }
        self.field(&json)
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

/// Runs one binary `COPY … FROM STDIN` of `$data` into `$columns` of `$table`.
macro_rules! copy_in {
    ($pg:expr, $table:expr, $columns:expr, $data:expr) => {{
        let data: Vec<u8> = $data;
        diesel::copy_from($table)
            .from_raw_data($columns, |out: &mut dyn std::io::Write| {
                out.write_all(&data)
                    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
            })
            .with_format(diesel::pg::CopyFormat::Binary)
            .execute($pg)?
    }};
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
