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

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use rapport_domain::customer::CustomerDraft;
use rapport_domain::interaction::{Agent, InteractionDraft};
use rapport_domain::Draft;
use rapport_store::bulk::{self, NewCustomer, NewInteraction};
use rapport_store::{DbConn, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

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

/// One record of an input file: its line and its fields as JSON.
#[derive(Debug, Clone)]
pub struct Record {
    pub line: u64,
    pub fields: Map<String, Value>,
}

/// A record, or a line that could not be read as one.
pub type ReadResult = Result<Record, RowError>;

/// Fields that hold lists of strings: `;`-separated in CSV.
const LIST_FIELDS: &[&str] = &[
    "other_emails",
    "other_phones",
    "tags",
    "preferences.product_categories",
];
/// Fields that hold JSON objects: JSON text in CSV.
const OBJECT_FIELDS: &[&str] = &["custom_attributes", "metadata", "social_handles"];
/// Integer fields.
const INTEGER_FIELDS: &[&str] = &["amount_minor", "demographics.household_size", "version"];

/// Reads records from CSV or NDJSON, one at a time.
pub fn read_records<R: BufRead + 'static>(
    input: R,
    format: Format,
) -> Box<dyn Iterator<Item = ReadResult>> {
    match format {
        Format::Ndjson => Box::new(ndjson_records(input)),
        Format::Csv => Box::new(csv_records(input)),
    }
}

fn ndjson_records<R: BufRead>(input: R) -> impl Iterator<Item = ReadResult> {
    input.lines().enumerate().filter_map(|(i, line)| {
        let line_no = i as u64 + 1;
        let text = match line {
            Ok(t) => t,
            Err(e) => {
                return Some(Err(RowError {
                    line: line_no,
                    field: "row".into(),
                    code: "unreadable".into(),
                    message: format!("the line is not UTF-8 text: {e}"),
                }))
            }
        };
        if text.trim().is_empty() {
            return None;
        }
        if crate::extract::json_has_nul(text.as_bytes()) {
            return Some(Err(RowError {
                line: line_no,
                field: "row".into(),
                code: "nul_character".into(),
                message: "text must not contain NUL characters (\\u0000)".into(),
            }));
        }
        Some(match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(fields)) => Ok(Record {
                line: line_no,
                fields,
            }),
            Ok(_) => Err(RowError {
                line: line_no,
                field: "row".into(),
                code: "not_an_object".into(),
                message: "each line must be one JSON object".into(),
            }),
            Err(e) => Err(RowError {
                line: line_no,
                field: "row".into(),
                code: "malformed_json".into(),
                message: format!("not valid JSON: {e}"),
            }),
        })
    })
}

fn csv_records<R: BufRead>(input: R) -> impl Iterator<Item = ReadResult> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::Fields)
        .from_reader(input);
    let headers: Result<Vec<String>, RowError> = reader
        .headers()
        .map(|h| h.iter().map(str::to_owned).collect())
        .map_err(|e| RowError {
            line: 1,
            field: "row".into(),
            code: "malformed_csv".into(),
            message: format!("the header row cannot be read: {e}"),
        });
    let mut header_error = None;
    let headers = match headers {
        Ok(h) => h,
        Err(e) => {
            header_error = Some(e);
            Vec::new()
        }
    };
    let mut record = csv::StringRecord::new();
    let mut done = false;
    std::iter::from_fn(move || {
        if let Some(e) = header_error.take() {
            done = true;
            return Some(Err(e));
        }
        if done {
            return None;
        }
        match reader.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                Some(csv_row(&headers, &record, line))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                // A broken quote or a row of the wrong width: report it and go on.
                Some(Err(RowError {
                    line,
                    field: "row".into(),
                    code: "malformed_csv".into(),
                    message: e.to_string(),
                }))
            }
        }
    })
}

fn csv_row(headers: &[String], record: &csv::StringRecord, line: u64) -> ReadResult {
    let mut fields = Map::new();
    for (name, cell) in headers.iter().zip(record.iter()) {
        if cell.is_empty() {
            continue;
        }
        if cell.contains('\0') {
            return Err(RowError {
                line,
                field: name.clone(),
                code: "nul_character".into(),
                message: "text must not contain NUL characters".into(),
            });
        }
        let value = if LIST_FIELDS.contains(&name.as_str()) {
            if cell.starts_with('[') {
                json_cell(name, cell, line)?
            } else {
                Value::Array(
                    cell.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                )
            }
        } else if OBJECT_FIELDS.contains(&name.as_str()) {
            json_cell(name, cell, line)?
        } else if INTEGER_FIELDS.contains(&name.as_str()) {
            // Not a number: left as text, so the type error names the field.
            cell.parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(cell.to_owned()))
        } else {
            Value::String(cell.to_owned())
        };
        insert_dotted(&mut fields, name, value);
    }
    Ok(Record { line, fields })
}

fn json_cell(name: &str, cell: &str, line: u64) -> Result<Value, RowError> {
    serde_json::from_str(cell).map_err(|e| RowError {
        line,
        field: name.to_owned(),
        code: "malformed_json".into(),
        message: format!("not valid JSON: {e}"),
    })
}

fn insert_dotted(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = map
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert_dotted(child, rest, value);
            }
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

/// Deserialises and validates a record as a draft; reports every problem on its line.
fn draft_of<D: Draft>(
    line: u64,
    fields: Map<String, Value>,
    report: &mut ImportReport,
) -> Option<D> {
    let de = Value::Object(fields);
    let draft: D = match serde_path_to_error::deserialize(de) {
        Ok(d) => d,
        Err(e) => {
            let field = e.path().to_string();
            let field = if field == "." {
                "row".to_owned()
            } else {
                field
            };
            report.error(line, &field, "invalid", e.into_inner().to_string());
            return None;
        }
    };
    match draft.parse() {
        Ok(d) => Some(d),
        Err(failure) => {
            for e in failure.0 {
                let field = if e.field == "body" {
                    "row".into()
                } else {
                    e.field
                };
                report.error(line, &field, &e.code, e.message);
            }
            None
        }
    }
}

/// Takes an optional `id` column: a UUID that the record keeps.
fn take_id(
    line: u64,
    fields: &mut Map<String, Value>,
    report: &mut ImportReport,
) -> Result<Option<Uuid>, ()> {
    match fields.remove("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match Uuid::parse_str(&s) {
            Ok(id) if id.get_version_num() == 7 => Ok(Some(id)),
            _ => {
                report.error(line, "id", "invalid", "id must be a UUIDv7");
                Err(())
            }
        },
        Some(_) => {
            report.error(line, "id", "invalid", "id must be a UUIDv7 string");
            Err(())
        }
    }
}

fn take_string(fields: &mut Map<String, Value>, name: &str) -> Option<String> {
    match fields.remove(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Columns an export writes that an import ignores (they are the server's to set).
const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "archived_at",
    "version",
    "agent",
];

fn drop_read_only(fields: &mut Map<String, Value>) {
    for k in READ_ONLY {
        fields.remove(*k);
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
            // Unreadable lines are reported as met, the rest per batch: put them in file order.
            report.errors.sort_by_key(|e| e.line);
            if report.invalid > 0 && report.mode == ImportMode::AllOrNothing {
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

/// Counts records and unreadable lines, in batches.
fn batches(
    records: impl Iterator<Item = ReadResult>,
    report: &mut ImportReport,
    mut each: impl FnMut(Vec<Record>, &mut ImportReport) -> Result<(), Abort>,
) -> Result<(), Abort> {
    let mut batch = Vec::with_capacity(BATCH);
    for r in records {
        report.rows += 1;
        match r {
            Ok(rec) => batch.push(rec),
            Err(e) => {
                report.invalid += 1;
                report.error(e.line, &e.field, &e.code, e.message);
            }
        }
        if batch.len() == BATCH {
            each(std::mem::take(&mut batch), report)?;
        }
    }
    if !batch.is_empty() {
        each(batch, report)?;
    }
    Ok(())
}

/// Whether rows may still be written: not after an invalid row in `all_or_nothing`.
fn writing(report: &ImportReport) -> bool {
    report.mode == ImportMode::SkipInvalid || report.invalid == 0
}

/// The rows that are not stored yet; the others are counted as `existing`. A row is stored
/// already when its id or its external key is known, or when an earlier row of this file had the
/// same id or key.
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
    records: impl Iterator<Item = ReadResult>,
    mode: ImportMode,
    progress: &mut dyn FnMut(u64),
) -> StoreResult<ImportReport> {
    let report = ImportReport {
        mode,
        ..Default::default()
    };
    let now = rapport_domain::now();
    in_transaction(conn, report, |conn, report| {
        batches(records, report, |batch, report| {
            customers_batch(conn, batch, report, now)?;
            progress(report.rows);
            Ok(())
        })
    })
}

struct PendingCustomer {
    id: Option<Uuid>,
    draft: CustomerDraft,
}

fn customers_batch(
    conn: &mut DbConn,
    batch: Vec<Record>,
    report: &mut ImportReport,
    now: DateTime<Utc>,
) -> Result<(), Abort> {
    let mut pending = Vec::with_capacity(batch.len());
    for Record { line, mut fields } in batch {
        drop_read_only(&mut fields);
        let Ok(id) = take_id(line, &mut fields, report) else {
            report.invalid += 1;
            continue;
        };
        match draft_of::<CustomerDraft>(line, fields, report) {
            Some(draft) => pending.push(PendingCustomer { id, draft }),
            None => report.invalid += 1,
        }
    }
    // Already there: the same id, or the same external reference (also earlier in this file).
    let ids: Vec<Uuid> = pending.iter().filter_map(|p| p.id).collect();
    let known_ids: HashSet<Uuid> = bulk::customer_targets(conn, &ids)?
        .into_iter()
        .filter(|(old, (now_id, _))| old == now_id)
        .map(|(id, _)| id)
        .collect();
    let refs: Vec<&str> = pending
        .iter()
        .filter_map(|p| p.draft.external_ref.as_deref())
        .collect();
    let known_refs = bulk::customers_by_external_ref(conn, &refs)?;
    let fresh = only_new(
        &pending,
        |p| p.id,
        |p| p.draft.external_ref.as_deref(),
        &known_ids,
        |r| known_refs.contains_key(*r),
        report,
    );
    if writing(report) {
        let rows: Vec<NewCustomer<'_>> = fresh
            .iter()
            .map(|p| NewCustomer {
                id: p.id.unwrap_or_else(rapport_domain::new_id),
                draft: &p.draft,
                created_at: now,
            })
            .collect();
        bulk::insert_customers(conn, &rows)?;
        report.created += rows.len() as u64;
    }
    Ok(())
}

/// Imports interactions, recorded by `agent`. `progress` is called with the records read so far.
pub fn import_interactions(
    conn: &mut DbConn,
    records: impl Iterator<Item = ReadResult>,
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
    in_transaction(conn, report, |conn, report| {
        batches(records, report, |batch, report| {
            interactions_batch(conn, batch, report, agent, now, &mut min_given)?;
            progress(report.rows);
            Ok(())
        })?;
        if report.created > 0 {
            // Kept ids (from an export) may be older than `first_id`.
            let since = min_given.map_or(first_id, |g| g.min(first_id));
            bulk::finish_interactions(conn, since)?;
        }
        Ok(())
    })
}

struct PendingInteraction {
    line: u64,
    id: Option<Uuid>,
    customer_ref: Option<String>,
    draft: InteractionDraft,
}

fn interactions_batch(
    conn: &mut DbConn,
    batch: Vec<Record>,
    report: &mut ImportReport,
    agent: Option<Agent>,
    now: DateTime<Utc>,
    min_given: &mut Option<Uuid>,
) -> Result<(), Abort> {
    let mut pending = Vec::with_capacity(batch.len());
    for Record { line, mut fields } in batch {
        drop_read_only(&mut fields);
        let Ok(id) = take_id(line, &mut fields, report) else {
            report.invalid += 1;
            continue;
        };
        // A customer may be named by our id or by their external reference.
        let customer_ref = take_string(&mut fields, "customer_external_ref");
        if customer_ref.is_some() && !fields.contains_key("customer_id") {
            fields.insert("customer_id".into(), Value::String(Uuid::nil().to_string()));
        }
        match draft_of::<InteractionDraft>(line, fields, report) {
            Some(draft) => pending.push(PendingInteraction {
                line,
                id,
                customer_ref,
                draft,
            }),
            None => report.invalid += 1,
        }
    }

    // Customers named by external reference.
    let refs: Vec<&str> = pending
        .iter()
        .filter_map(|p| p.customer_ref.as_deref())
        .collect();
    let by_ref = if refs.is_empty() {
        HashMap::new()
    } else {
        bulk::customers_by_external_ref(conn, &refs)?
    };
    let mut ok = Vec::with_capacity(pending.len());
    for mut p in pending {
        if let Some(r) = &p.customer_ref {
            match by_ref.get(r) {
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
        ok.push(p);
    }

    // Customers exist (merged ones lead to their survivor) and are not archived.
    let mut ids: Vec<Uuid> = ok.iter().map(|p| p.draft.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let targets = bulk::customer_targets(conn, &ids)?;
    let mut valid = Vec::with_capacity(ok.len());
    for mut p in ok {
        match targets.get(&p.draft.customer_id) {
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
                .map(|r| (p.draft.source().to_owned(), r.to_owned()))
        },
        &known_ids,
        |key| known_refs.contains(key),
        report,
    );
    if writing(report) {
        let rows: Vec<NewInteraction<'_>> = fresh
            .iter()
            .map(|p| NewInteraction {
                id: p.id.unwrap_or_else(rapport_domain::new_id),
                draft: &p.draft,
                agent,
                created_at: now,
            })
            .collect();
        for r in &rows {
            if Some(r.id) < *min_given || min_given.is_none() {
                *min_given = Some(r.id);
            }
        }
        bulk::insert_interactions(conn, &rows)?;
        report.created += rows.len() as u64;
    }
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
