//! Interactions in bulk: inserts (`COPY` on PostgreSQL), existence checks, the indexes deferred
//! during a first import, and the purchase totals recomputed at the end.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rapport_domain::interaction::{Agent, InteractionDraft};
use uuid::Uuid;

use super::copy::PG_EPOCH_MICROS;
use super::session::BULK_CACHE_KIB;
use super::ROWS_PER_STATEMENT;
use crate::db::DbConn;
use crate::interactions::{self, Customers};
use crate::schema::{customers, interactions as ix};
use crate::types::DbUuid;
use crate::StoreResult;

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
/// `INSERT`s this saves PostgreSQL the parsing, planning and executor start-up of each statement
/// (measured: see docs/benchmarks.md); most of what is left is index upkeep and the foreign-key
/// check, which `COPY` runs too.
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

/// SQLite, into an empty `interactions` table: drops its secondary (non-unique) indexes, so that
/// [`rebuild_interaction_indexes`] builds each once, sorted, at the end. Inserted row by row, rows
/// in time order land at random places of the by-customer indexes; building them afterwards is
/// SQLite's own advice for bulk loads, and cuts the B-tree work of a first import (measured: see
/// docs/benchmarks.md). The unique indexes stay: each batch looks up known ids and references in
/// them. Nothing changes for readers: the drop and the rebuild happen inside the import's
/// transaction, and other connections see the indexed table until it commits (a rollback restores
/// it). Not on PostgreSQL, where dropping an index locks out readers of the table for the whole
/// import; nor into a table that holds rows already, whose indexes it would rebuild.
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

/// Page cache while [`rebuild_interaction_indexes`] sorts, in KiB.
const SORT_CACHE_KIB: i64 = 32 * 1024;

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
        // `bulk_session`); with sequential scans off it recomputed the totals of a large import
        // through index scans. ANALYZE inside the transaction samples this import's own rows
        // too; with it the planner hashes, several times faster (measured: see
        // docs/benchmarks.md).
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
