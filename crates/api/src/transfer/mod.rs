//! Bulk import and export of customers and interactions, as CSV or NDJSON, shared by the HTTP
//! endpoints and the CLI.
//!
//! Import streams: records are read one at a time, validated exactly like a single create, and
//! written in batches inside one transaction, so memory depends on the batch size, not on the
//! file. `all_or_nothing` (the default) keeps validating after the first bad row, to report every
//! error with its line number, and then rolls back; `skip_invalid` writes the good rows. Rows are
//! idempotent through their `external_ref` (per source, for interactions) or their `id`: a row
//! whose record exists already is counted as `existing` and left alone, so importing a file twice
//! leaves the same data as importing it once.
//!
//! CSV columns are the JSON field names; nested fields use dotted names (`address.city`); list
//! fields are `;`-separated (or a JSON array); free-form objects (`custom_attributes`,
//! `metadata`, `social_handles`) are JSON. Export writes the same layout, so an export imports
//! back unchanged, into the same database (nothing happens) or into another (ids are kept).

mod row;

use std::collections::{HashMap, HashSet};
use std::io::Write;

use chrono::{DateTime, Utc};
use rapport_domain::customer::CustomerDraft;
use rapport_domain::interaction::{Agent, InteractionDraft};
use rapport_domain::Draft;
use rapport_store::bulk::{self, NewCustomer, NewInteraction};
use rapport_store::{DbConn, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use row::{parse_row, Columns, Row, LIST_FIELDS};
pub use row::{read_records, Body, ReadResult, Record, Records};

/// Records validated and written per batch.
const BATCH: usize = 2_000;
/// Row errors reported in full; beyond this only counted.
const MAX_REPORTED_ERRORS: usize = 1_000;

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// From a media type: `text/csv`, or `application/x-ndjson` (also `application/ndjson`,
    /// `application/jsonl`).
    pub fn from_media_type(media: &str) -> Option<Self> {
        let m = media.split(';').next()?.trim().to_ascii_lowercase();
        match m.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// From a file name's extension: `.csv`, `.ndjson`, `.jsonl`.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

/// What to do with a file that has bad rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Write nothing if any row is invalid (the default).
    #[default]
    AllOrNothing,
    /// Write the valid rows, report the others.
    SkipInvalid,
}

/// One problem with one row of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// Line number in the file (1-based; the CSV header is line 1).
    pub line: u64,
    /// The field at fault, dotted (`address.country`), or `row` for the whole row.
    pub field: String,
    pub code: String,
    pub message: String,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    pub mode: ImportMode,
    /// Records read.
    pub rows: u64,
    /// Records written.
    pub created: u64,
    /// Records already there (same `id`, or same `external_ref`), left alone.
    pub existing: u64,
    /// Records with at least one error.
    pub invalid: u64,
    /// Whether anything was written: false when `all_or_nothing` met an invalid row.
    pub committed: bool,
    /// The errors, in file order (the first 1 000).
    pub errors: Vec<RowError>,
    /// More errors than listed.
    pub errors_truncated: bool,
}

impl ImportReport {
    fn error(&mut self, line: u64, field: &str, code: &str, message: impl Into<String>) {
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(RowError {
                line,
                field: field.to_owned(),
                code: code.to_owned(),
                message: message.into(),
            });
        } else {
            self.errors_truncated = true;
        }
    }
}

/// Why an import stopped without writing.
enum Abort {
    /// `all_or_nothing` met invalid rows: roll back, report.
    Invalid,
    Store(StoreError),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

impl From<rapport_store::DbError> for Abort {
    fn from(e: rapport_store::DbError) -> Self {
        Abort::Store(StoreError::Db(e))
    }
}

/// Runs `body` in a transaction and turns the outcome into a report.
fn in_transaction(
    conn: &mut DbConn,
    mut report: ImportReport,
    body: impl FnOnce(&mut DbConn, &mut ImportReport) -> Result<(), Abort>,
) -> StoreResult<ImportReport> {
    let result = bulk::bulk_session(conn, |conn| {
        Ok::<_, StoreError>(rapport_store::transaction(conn, |conn| {
            body(conn, &mut report)?;
            // Errors arrive per batch: put them in file order.
            report.errors.sort_by_key(|e| e.line);
            // A file whose header the import cannot read is refused whatever the mode: there
            // are no valid rows to keep.
            let bad_header = report
                .errors
                .iter()
                .any(|e| e.line == 1 && e.field == "header");
            if report.invalid > 0 && (report.mode == ImportMode::AllOrNothing || bad_header) {
                return Err(Abort::Invalid);
            }
            Ok(())
        }))
    })?;
    match result {
        Ok(()) => {
            report.committed = true;
            Ok(report)
        }
        Err(Abort::Invalid) => {
            report.committed = false;
            report.created = 0;
            Ok(report)
        }
        Err(Abort::Store(e)) => Err(e),
    }
}

/// A batch of records, read and validated.
struct Parsed<D> {
    /// Records read, valid or not.
    rows: u64,
    valid: Vec<Row<D>>,
    /// Records with errors.
    invalid: u64,
    errors: Vec<RowError>,
}

/// Batches in flight between the reading thread and the writing one: bounds memory.
const BATCHES_IN_FLIGHT: usize = 2;

/// Reads, parses and validates records on a thread of its own and hands `each` (on this thread,
/// the one holding the database connection) one batch of valid rows at a time, so that parsing
/// the next batch overlaps writing this one.
fn pipeline<D: Draft + Send>(
    records: Records,
    columns: Columns,
    report: &mut ImportReport,
    mut each: impl FnMut(Vec<Row<D>>, &mut ImportReport) -> Result<(), Abort>,
) -> Result<(), Abort> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Parsed<D>>(BATCHES_IN_FLIGHT);
        scope.spawn(move || {
            let mut batch = Parsed {
                rows: 0,
                valid: Vec::with_capacity(BATCH),
                invalid: 0,
                errors: Vec::new(),
            };
            for r in records {
                batch.rows += 1;
                match r.map_err(|e| vec![e]).and_then(|r| parse_row(r, columns)) {
                    Ok(row) => batch.valid.push(row),
                    Err(errors) => {
                        batch.invalid += 1;
                        batch.errors.extend(errors);
                    }
                }
                if batch.rows as usize == BATCH {
                    let next = Parsed {
                        rows: 0,
                        valid: Vec::with_capacity(BATCH),
                        invalid: 0,
                        errors: Vec::new(),
                    };
                    // The writer has stopped (a database error): stop reading.
                    if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                        return;
                    }
                }
            }
            if batch.rows > 0 {
                let _ = tx.send(batch);
            }
        });
        for batch in rx {
            report.rows += batch.rows;
            report.invalid += batch.invalid;
            for e in batch.errors {
                report.error(e.line, &e.field, &e.code, e.message);
            }
            each(batch.valid, report)?;
        }
        Ok(())
    })
}

/// Whether rows may still be written: not after an invalid row in `all_or_nothing`.
fn writing(report: &ImportReport) -> bool {
    report.mode == ImportMode::SkipInvalid || report.invalid == 0
}

/// The rows that are not stored yet; the others are counted as `existing`. A row is stored
/// already when its id or its external key is known, or when an earlier row of this batch had
/// the same id or key (earlier batches are written, so the database knows theirs).
fn only_new<'p, P, K: Eq + std::hash::Hash>(
    rows: &'p [P],
    id: impl Fn(&P) -> Option<Uuid>,
    key: impl Fn(&'p P) -> Option<K>,
    known_ids: &HashSet<Uuid>,
    known_key: impl Fn(&K) -> bool,
    report: &mut ImportReport,
) -> Vec<&'p P> {
    let mut seen_ids = HashSet::new();
    let mut seen_keys = HashSet::new();
    let mut fresh = Vec::with_capacity(rows.len());
    for row in rows {
        let dup_key = key(row).is_some_and(|k| known_key(&k) || !seen_keys.insert(k));
        let dup_id = id(row).is_some_and(|i| known_ids.contains(&i) || !seen_ids.insert(i));
        if dup_key || dup_id {
            report.existing += 1;
        } else {
            fresh.push(row);
        }
    }
    fresh
}

/// Imports customers. `progress` is called with the number of records read so far.
pub fn import_customers(
    conn: &mut DbConn,
    records: Records,
    mode: ImportMode,
    progress: &mut dyn FnMut(u64),
) -> StoreResult<ImportReport> {
    let report = ImportReport {
        mode,
        ..Default::default()
    };
    let now = rapport_domain::now();
    in_transaction(conn, report, |conn, report| {
        pipeline(records, Columns::Customer, report, |batch, report| {
            customers_batch(conn, batch, report, now)?;
            progress(report.rows);
            Ok(())
        })
    })
}

fn customers_batch(
    conn: &mut DbConn,
    rows: Vec<Row<CustomerDraft>>,
    report: &mut ImportReport,
    now: DateTime<Utc>,
) -> Result<(), Abort> {
    // Already there: the same id, or the same external reference (also earlier in this file).
    let ids: Vec<Uuid> = rows.iter().filter_map(|p| p.id).collect();
    let known_ids: HashSet<Uuid> = bulk::customer_targets(conn, &ids)?
        .into_iter()
        .filter(|(old, (now_id, _))| old == now_id)
        .map(|(id, _)| id)
        .collect();
    let refs: Vec<&str> = rows
        .iter()
        .filter_map(|p| p.draft.external_ref.as_deref())
        .collect();
    let known_refs = bulk::customers_by_external_ref(conn, &refs)?;
    let fresh = only_new(
        &rows,
        |p| p.id,
        |p| p.draft.external_ref.as_deref(),
        &known_ids,
        |r| known_refs.contains_key(*r),
        report,
    );
    if writing(report) {
        let new: Vec<NewCustomer<'_>> = fresh
            .iter()
            .map(|p| NewCustomer {
                id: p.id.unwrap_or_else(rapport_domain::new_id),
                draft: &p.draft,
                created_at: now,
            })
            .collect();
        bulk::insert_customers(conn, &new)?;
        report.created += new.len() as u64;
    }
    Ok(())
}

/// Imports interactions, recorded by `agent`. `progress` is called with the records read so far.
pub fn import_interactions(
    conn: &mut DbConn,
    records: Records,
    mode: ImportMode,
    agent: Option<Agent>,
    progress: &mut dyn FnMut(u64),
) -> StoreResult<ImportReport> {
    let report = ImportReport {
        mode,
        ..Default::default()
    };
    let now = rapport_domain::now();
    // Every id made from here on is larger: the totals of the customers touched are recomputed
    // once at the end from "interactions with an id at least this one".
    let first_id = rapport_domain::new_id();
    let mut min_given: Option<Uuid> = None;
    let mut customers = CustomerCache::default();
    in_transaction(conn, report, |conn, report| {
        let deferred = bulk::defer_interaction_indexes(conn)?;
        pipeline(records, Columns::Interaction, report, |batch, report| {
            interactions_batch(
                conn,
                batch,
                report,
                &mut customers,
                agent,
                now,
                &mut min_given,
            )?;
            progress(report.rows);
            Ok(())
        })?;
        bulk::rebuild_interaction_indexes(conn, deferred)?;
        if report.created > 0 {
            // Kept ids (from an export) may be older than `first_id`.
            let since = min_given.map_or(first_id, |g| g.min(first_id));
            bulk::finish_interactions(conn, since)?;
        }
        Ok(())
    })
}

/// Customers an import has looked up already: most files name the same customers over and over.
/// Cleared when full, so memory stays bounded whatever the file.
#[derive(Default)]
struct CustomerCache {
    /// External reference → customer id.
    by_ref: HashMap<String, Uuid>,
    /// Id named → (the customer it is now, archived?).
    targets: HashMap<Uuid, (Uuid, bool)>,
}

/// Entries per map of [`CustomerCache`].
const CUSTOMER_CACHE_ENTRIES: usize = 100_000;

impl CustomerCache {
    /// Looks up the references not cached yet. Unknown ones are not cached: they are errors.
    fn resolve_refs(&mut self, conn: &mut DbConn, refs: &[&str]) -> Result<(), Abort> {
        let mut missing: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|r| !self.by_ref.contains_key(*r))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        if self.by_ref.len() + missing.len() > CUSTOMER_CACHE_ENTRIES {
            self.by_ref.clear();
        }
        self.by_ref
            .extend(bulk::customers_by_external_ref(conn, &missing)?);
        Ok(())
    }

    fn resolve_ids(&mut self, conn: &mut DbConn, ids: &[Uuid]) -> Result<(), Abort> {
        let mut missing: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|i| !self.targets.contains_key(i))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        if self.targets.len() + missing.len() > CUSTOMER_CACHE_ENTRIES {
            self.targets.clear();
        }
        self.targets.extend(bulk::customer_targets(conn, &missing)?);
        Ok(())
    }
}

fn interactions_batch(
    conn: &mut DbConn,
    rows: Vec<Row<InteractionDraft>>,
    report: &mut ImportReport,
    customers: &mut CustomerCache,
    agent: Option<Agent>,
    now: DateTime<Utc>,
    min_given: &mut Option<Uuid>,
) -> Result<(), Abort> {
    // Customers named by external reference.
    let refs: Vec<&str> = rows
        .iter()
        .filter_map(|p| p.customer_ref.as_deref())
        .collect();
    customers.resolve_refs(conn, &refs)?;
    let mut named = Vec::with_capacity(rows.len());
    for mut p in rows {
        if let Some(r) = &p.customer_ref {
            match customers.by_ref.get(r) {
                Some(id) => p.draft.customer_id = *id,
                None => {
                    report.invalid += 1;
                    report.error(
                        p.line,
                        "customer_external_ref",
                        "not_found",
                        "no customer has this external_ref",
                    );
                    continue;
                }
            }
        }
        named.push(p);
    }

    // Customers exist (merged ones lead to their survivor) and are not archived.
    let ids: Vec<Uuid> = named.iter().map(|p| p.draft.customer_id).collect();
    customers.resolve_ids(conn, &ids)?;
    let mut valid = Vec::with_capacity(named.len());
    for mut p in named {
        match customers.targets.get(&p.draft.customer_id) {
            None => {
                report.invalid += 1;
                report.error(p.line, "customer_id", "not_found", "no such customer");
            }
            Some((_, true)) => {
                report.invalid += 1;
                report.error(
                    p.line,
                    "customer_id",
                    "customer_archived",
                    "the customer is archived",
                );
            }
            Some((survivor, false)) => {
                p.draft.customer_id = *survivor;
                valid.push(p);
            }
        }
    }
    if !writing(report) {
        // Nothing will be written: the rest of the file is only validated.
        return Ok(());
    }

    // Already recorded: same id, or same (source, external_ref), also earlier in this file.
    let given: Vec<Uuid> = valid.iter().filter_map(|p| p.id).collect();
    let known_ids = bulk::existing_interaction_ids(conn, &given)?;
    let pairs: Vec<(&str, &str)> = valid
        .iter()
        .filter_map(|p| {
            p.draft
                .external_ref
                .as_deref()
                .map(|r| (p.draft.source(), r))
        })
        .collect();
    let known_refs = bulk::existing_interaction_refs(conn, &pairs)?;
    let fresh = only_new(
        &valid,
        |p| p.id,
        |p| {
            p.draft
                .external_ref
                .as_deref()
                .map(|r| (p.draft.source(), r))
        },
        &known_ids,
        |&(source, r)| known_refs.contains(&(source.to_owned(), r.to_owned())),
        report,
    );
    let new: Vec<NewInteraction<'_>> = fresh
        .iter()
        .map(|p| NewInteraction {
            id: p.id.unwrap_or_else(rapport_domain::new_id),
            draft: &p.draft,
            agent,
            created_at: now,
        })
        .collect();
    for r in &new {
        if min_given.is_none_or(|m| r.id < m) {
            *min_given = Some(r.id);
        }
    }
    let inserted = bulk::insert_interactions(conn, &new)?;
    report.created += inserted;
    report.existing += new.len() as u64 - inserted;
    Ok(())
}

// ---------------------------------------------------------------- export

/// The CSV columns of an export, in order.
pub const CUSTOMER_COLUMNS: &[&str] = &[
    "id",
    "external_ref",
    "given_name",
    "family_name",
    "email",
    "phone",
    "other_emails",
    "other_phones",
    "address.line1",
    "address.line2",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country",
    "birth_date",
    "social_handles",
    "demographics.occupation",
    "demographics.income_band",
    "demographics.education",
    "demographics.household_size",
    "preferences.language",
    "preferences.currency",
    "preferences.channel",
    "preferences.product_categories",
    "tags",
    "custom_attributes",
    "acquisition_channel",
    "lifecycle_stage",
    "created_at",
    "updated_at",
    "archived_at",
    "version",
];

pub const INTERACTION_COLUMNS: &[&str] = &[
    "id",
    "customer_id",
    "channel",
    "kind",
    "direction",
    "occurred_at",
    "subject",
    "body",
    "source",
    "external_ref",
    "metadata",
    "amount_minor",
    "currency",
    "product_category",
    "campaign_id",
    "order_ref",
    "created_at",
    "updated_at",
    "version",
];

/// Writes records as CSV or NDJSON, one at a time.
pub struct ExportWriter {
    format: Format,
    columns: &'static [&'static str],
    header_written: bool,
}

impl ExportWriter {
    pub fn new(format: Format, columns: &'static [&'static str]) -> Self {
        Self {
            format,
            columns,
            header_written: false,
        }
    }

    /// Appends one record to `out`.
    pub fn write<T: Serialize>(&mut self, record: &T, out: &mut Vec<u8>) -> std::io::Result<()> {
        let value = serde_json::to_value(record)?;
        match self.format {
            Format::Ndjson => {
                serde_json::to_writer(&mut *out, &value)?;
                out.push(b'\n');
            }
            Format::Csv => {
                let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
                if !self.header_written {
                    w.write_record(self.columns)?;
                    self.header_written = true;
                }
                w.write_record(self.columns.iter().map(|c| cell(&value, c)))?;
                w.flush()?;
            }
        }
        Ok(())
    }

    /// What an empty export still contains (the CSV header).
    pub fn finish(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        if self.format == Format::Csv && !self.header_written {
            let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
            w.write_record(self.columns)?;
            w.flush()?;
            self.header_written = true;
        }
        Ok(())
    }
}

fn cell(value: &Value, column: &str) -> String {
    let mut v = value;
    for part in column.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if LIST_FIELDS.contains(&column) => {
            if items
                .iter()
                .all(|i| i.as_str().is_some_and(|s| !s.contains(';')))
            {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(";")
            } else {
                v.to_string()
            }
        }
        Value::Object(m) if m.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// Writes an iterator of pages to `out`, flushing after each page.
pub fn write_all<T: Serialize>(
    pages: impl Iterator<Item = StoreResult<Vec<T>>>,
    mut writer: ExportWriter,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut n = 0;
    let mut buf = Vec::with_capacity(1 << 16);
    for page in pages {
        for record in page? {
            writer.write(&record, &mut buf)?;
            n += 1;
        }
        out.write_all(&buf)?;
        buf.clear();
    }
    writer.finish(&mut buf)?;
    out.write_all(&buf)?;
    out.flush()?;
    Ok(n)
}
