//! Bulk writes for import and demo data: many rows per statement, existence checks per batch.
//! The caller owns the transaction; after inserting interactions it calls
//! [`finish_interactions`] so the purchase totals of every customer touched are recomputed once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rapport_domain::customer::CustomerDraft;
use rapport_domain::interaction::{Agent, InteractionDraft};
use uuid::Uuid;

use crate::db::DbConn;
use crate::interactions::{self, Customers};
use crate::schema::{customer_aliases, customer_tags, customers, interactions as ix};
use crate::types::{DbTime, DbUuid};
use crate::StoreResult;

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

/// Runs `f` with the connection tuned for bulk writes, and restores it afterwards (pooled
/// connections are shared):
/// - SQLite: a larger page cache, and no memory map (the process holds what it reads).
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
        DbConn::Sqlite(_) => (
            format!("PRAGMA cache_size = -{BULK_CACHE_KIB}; PRAGMA mmap_size = 0;"),
            format!(
                "PRAGMA cache_size = -2000; PRAGMA mmap_size = {};",
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
    // the foreign key is checked at COMMIT (the switch lasts until the transaction ends). So
    // SQLite keeps no statement journal for them: it copied every page a multi-row statement
    // touched, 10 % of an import's time.
    c.batch_execute("PRAGMA defer_foreign_keys = ON")?;
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
