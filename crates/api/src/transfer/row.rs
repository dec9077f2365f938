//! Reading an import file: CSV or NDJSON records, and one record into a validated draft.
//!
//! An NDJSON line is deserialised straight into the draft, as a create's body is, through a thin
//! layer ([`Intercept`]) that takes out the columns an import adds to the draft's own fields
//! (`id`, `customer_external_ref`) and skips those an export writes that are the server's to set
//! (`created_at`, `version`, …). No `serde_json::Value` is built for a line: going through one
//! cost two thirds of an import's time. A CSV row is assembled into a JSON object first (its
//! cells are text) and goes through the same layer.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

use rapport_domain::Draft;
use serde::de::{
    self, value::BorrowedStrDeserializer, DeserializeSeed, Deserializer, IgnoredAny,
    IntoDeserializer, MapAccess, Visitor,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Format, RowError};

/// One record of an input file: its line and its content.
#[derive(Debug, Clone)]
pub struct Record {
    pub line: u64,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// An NDJSON line, as read.
    Json(String),
    /// A CSV row, as a JSON object.
    Fields(Map<String, Value>),
}

/// A record, or a line that could not be read as one.
pub type ReadResult = Result<Record, RowError>;

/// Records read from a file, on whichever thread parses them.
pub type Records = Box<dyn Iterator<Item = ReadResult> + Send>;

/// Fields that hold lists of strings: `;`-separated in CSV.
pub(super) const LIST_FIELDS: &[&str] = &[
    "other_emails",
    "other_phones",
    "tags",
    "preferences.product_categories",
];
/// Fields that hold JSON objects: JSON text in CSV.
const OBJECT_FIELDS: &[&str] = &["custom_attributes", "metadata", "social_handles"];
/// Integer fields.
const INTEGER_FIELDS: &[&str] = &["amount_minor", "demographics.household_size", "version"];

/// Columns an export writes that an import ignores (they are the server's to set).
const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "archived_at",
    "version",
    "agent",
];

/// Reads records from CSV or NDJSON, one at a time.
pub fn read_records<R: BufRead + Send + 'static>(input: R, format: Format) -> Records {
    match format {
        Format::Ndjson => Box::new(ndjson_records(input)),
        Format::Csv => Box::new(csv_records(input)),
    }
}

fn row_error(line: u64, field: &str, code: &str, message: impl Into<String>) -> RowError {
    RowError {
        line,
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.into(),
    }
}

fn ndjson_records<R: BufRead>(input: R) -> impl Iterator<Item = ReadResult> {
    input.lines().enumerate().filter_map(|(i, line)| {
        let line_no = i as u64 + 1;
        let text = match line {
            Ok(t) => t,
            Err(e) => {
                return Some(Err(row_error(
                    line_no,
                    "row",
                    "unreadable",
                    format!("the line is not UTF-8 text: {e}"),
                )))
            }
        };
        let start = text.trim_start();
        if start.is_empty() {
            return None;
        }
        if !start.starts_with('{') {
            return Some(Err(row_error(
                line_no,
                "row",
                "not_an_object",
                "each line must be one JSON object",
            )));
        }
        if crate::nul::json_has_nul(text.as_bytes()) {
            return Some(Err(row_error(
                line_no,
                "row",
                "nul_character",
                "text must not contain NUL characters (\\u0000)",
            )));
        }
        Some(Ok(Record {
            line: line_no,
            body: Body::Json(text),
        }))
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
        .map_err(|e| {
            row_error(
                1,
                "header",
                "malformed_csv",
                format!("the header row cannot be read: {e}"),
            )
        });
    // A header that names no column either import knows (a TSV, a file of something else)
    // would otherwise read as rows of nothing, or as empty customers.
    let headers = headers.and_then(|h| {
        let known = |name: &str| {
            let name = name.trim();
            let root = name.split('.').next().unwrap_or(name);
            super::CUSTOMER_COLUMNS
                .iter()
                .chain(super::INTERACTION_COLUMNS)
                .chain(&["customer_external_ref"])
                .any(|c| *c == name || c.split('.').next() == Some(root))
        };
        if h.iter().any(|n| known(n)) {
            Ok(h)
        } else {
            Err(row_error(
                1,
                "header",
                "unknown_columns",
                format!(
                    "the header names no known column ({}); expected field names such as \
                     given_name, email, customer_id, channel, kind, separated by commas",
                    h.join(", ").chars().take(200).collect::<String>()
                ),
            ))
        }
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
                Some(Err(row_error(line, "row", "malformed_csv", e.to_string())))
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
            return Err(row_error(
                line,
                name,
                "nul_character",
                "text must not contain NUL characters",
            ));
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
    Ok(Record {
        line,
        body: Body::Fields(fields),
    })
}

fn json_cell(name: &str, cell: &str, line: u64) -> Result<Value, RowError> {
    serde_json::from_str(cell)
        .map_err(|e| row_error(line, name, "malformed_json", format!("not valid JSON: {e}")))
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

// ---------------------------------------------------------------- a record into a draft

/// A valid record: the draft and what the import adds to it.
#[derive(Debug)]
pub struct Row<D> {
    pub line: u64,
    /// The id to keep (an export's), if the record has one.
    pub id: Option<Uuid>,
    /// The customer named by their `external_ref` (interactions only).
    pub customer_ref: Option<String>,
    pub draft: D,
}

/// Which import columns a kind of record has besides its draft's fields.
#[derive(Debug, Clone, Copy, Default)]
pub enum Columns {
    #[default]
    Customer,
    /// Interactions may name their customer by `customer_external_ref` instead of `customer_id`.
    Interaction,
}

/// Parses and validates a record exactly like a create's body; every problem is reported with
/// the record's line.
pub fn parse_row<D: Draft>(record: Record, columns: Columns) -> Result<Row<D>, Vec<RowError>> {
    let line = record.line;
    let mut taken = Taken {
        columns,
        ..Taken::default()
    };
    let parsed = match record.body {
        Body::Json(text) => {
            let mut de = serde_json::Deserializer::from_str(&text);
            serde_path_to_error::deserialize::<_, D>(Intercept {
                inner: &mut de,
                taken: &mut taken,
            })
            .map_err(|e| (e.path().to_string(), e.into_inner()))
            .and_then(|d| de.end().map(|()| d).map_err(|e| (".".to_owned(), e)))
        }
        Body::Fields(fields) => serde_path_to_error::deserialize::<_, D>(Intercept {
            inner: Value::Object(fields),
            taken: &mut taken,
        })
        .map_err(|e| (e.path().to_string(), e.into_inner())),
    };
    let mut errors = Vec::new();
    let id = match taken.id.take() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Uuid::parse_str(&s) {
            Ok(id) if id.get_version_num() == 7 => Some(id),
            _ => {
                errors.push(row_error(line, "id", "invalid", "id must be a UUIDv7"));
                None
            }
        },
        Some(_) => {
            errors.push(row_error(
                line,
                "id",
                "invalid",
                "id must be a UUIDv7 string",
            ));
            None
        }
    };
    let draft = match parsed {
        Ok(d) => match d.parse() {
            Ok(d) => Some(d),
            Err(failure) => {
                errors.extend(failure.0.into_iter().map(|e| {
                    let field = if e.field == "body" { "row" } else { &e.field };
                    row_error(line, field, &e.code, e.message)
                }));
                None
            }
        },
        Err((path, e)) => {
            errors.push(json_row_error(line, &path, &e));
            None
        }
    };
    match draft {
        Some(draft) if errors.is_empty() => Ok(Row {
            line,
            id,
            customer_ref: taken.customer_ref,
            draft,
        }),
        _ => Err(errors),
    }
}

/// A deserialisation failure as a row error: broken JSON is the row's; a wrong type, a missing
/// or an unknown field names the field (serde's message never shows internals).
fn json_row_error(line: u64, path: &str, e: &serde_json::Error) -> RowError {
    use serde_json::error::Category;
    let message = e.to_string();
    match e.classify() {
        Category::Data => {
            let field = if path == "." || path.is_empty() {
                "row"
            } else {
                path
            };
            let message = message.split(" at line ").next().unwrap_or(&message);
            row_error(line, field, "invalid", message)
        }
        Category::Syntax | Category::Eof | Category::Io => row_error(
            line,
            "row",
            "malformed_json",
            format!("not valid JSON: {message}"),
        ),
    }
}

/// What [`Intercept`] took out of a record.
#[derive(Default)]
struct Taken {
    columns: Columns,
    id: Option<Value>,
    customer_ref: Option<String>,
    saw_customer_id: bool,
    /// The stand-in `customer_id` has been handed to the draft (see [`InterceptMap`]).
    stood_in: bool,
}

/// What to do with a top-level key.
enum Role {
    Id,
    CustomerRef,
    Skip,
    Pass,
}

impl Taken {
    fn role(&self, key: &str) -> Role {
        match key {
            "id" => Role::Id,
            "customer_external_ref" if matches!(self.columns, Columns::Interaction) => {
                Role::CustomerRef
            }
            k if READ_ONLY.contains(&k) => Role::Skip,
            _ => Role::Pass,
        }
    }

    /// An interaction naming its customer only by reference still needs a `customer_id` to
    /// deserialise: a stand-in, replaced once the reference is resolved.
    fn needs_stand_in(&self) -> bool {
        self.customer_ref.is_some() && !self.saw_customer_id && !self.stood_in
    }
}

/// A deserializer that hands a record's top-level object to the draft without the import's own
/// columns.
struct Intercept<'t, D> {
    inner: D,
    taken: &'t mut Taken,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Intercept<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(InterceptVisitor {
            visitor,
            taken: self.taken,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

struct InterceptVisitor<'t, V> {
    visitor: V,
    taken: &'t mut Taken,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for InterceptVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(InterceptMap {
            inner: map,
            taken: self.taken,
            standing_in: false,
        })
    }
}

struct InterceptMap<'t, A> {
    inner: A,
    taken: &'t mut Taken,
    /// The key just handed out was the stand-in `customer_id`: its value is ours too.
    standing_in: bool,
}

/// The nil UUID: a `customer_id` that no customer has.
const STAND_IN: &str = "00000000-0000-0000-0000-000000000000";

impl<'de, A: MapAccess<'de>> MapAccess<'de> for InterceptMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(Key(key)) = self.inner.next_key::<Key<'de>>()? else {
                if self.taken.needs_stand_in() {
                    self.taken.stood_in = true;
                    self.standing_in = true;
                    let name = BorrowedStrDeserializer::new("customer_id");
                    return seed.deserialize(name).map(Some);
                }
                return Ok(None);
            };
            match self.taken.role(&key) {
                Role::Id => self.taken.id = Some(self.inner.next_value()?),
                Role::CustomerRef => {
                    // Only a non-blank string names a customer; anything else is no reference.
                    self.taken.customer_ref = match self.inner.next_value::<Value>()? {
                        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                        _ => None,
                    };
                }
                Role::Skip => {
                    self.inner.next_value::<IgnoredAny>()?;
                }
                Role::Pass => {
                    if key == "customer_id" {
                        self.taken.saw_customer_id = true;
                    }
                    return seed.deserialize(key.into_deserializer()).map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if std::mem::take(&mut self.standing_in) {
            return seed.deserialize(BorrowedStrDeserializer::new(STAND_IN));
        }
        self.inner.next_value_seed(seed)
    }
}

/// A key, borrowed from the input where it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_domain::interaction::InteractionDraft;

    fn json(line: &str) -> Record {
        Record {
            line: 7,
            body: Body::Json(line.to_owned()),
        }
    }

    #[test]
    fn takes_the_import_columns_out_and_keeps_the_rest() {
        let row = parse_row::<InteractionDraft>(
            json(r#"{"id":"019a0000-0000-7000-8000-000000000001","customer_external_ref":" c1 ","channel":"email","kind":"note","version":3,"created_at":"x","agent":{"type":"user"}}"#),
            Columns::Interaction,
        )
        .unwrap();
        assert_eq!(row.customer_ref.as_deref(), Some("c1"));
        assert_eq!(
            row.id.unwrap().to_string(),
            "019a0000-0000-7000-8000-000000000001"
        );
        assert!(row.draft.customer_id.is_nil());
    }

    #[test]
    fn reports_fields_by_path_and_broken_json_as_the_row() {
        let errs = parse_row::<InteractionDraft>(
            json(r#"{"customer_id":"019a0000-0000-7000-8000-000000000001","channel":"fax","kind":"note"}"#),
            Columns::Interaction,
        )
        .unwrap_err();
        assert_eq!((errs[0].line, errs[0].field.as_str()), (7, "channel"));
        let errs = parse_row::<InteractionDraft>(json(r#"{"channel":"#), Columns::Interaction)
            .unwrap_err();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code.as_str()),
            ("row", "malformed_json")
        );
        let errs =
            parse_row::<InteractionDraft>(json(r#"{"customer_id":"019a0000-0000-7000-8000-000000000001","channel":"email","kind":"note"} x"#), Columns::Interaction)
                .unwrap_err();
        assert_eq!(errs[0].code, "malformed_json");
        // A customer column is not an interaction's.
        let errs = parse_row::<rapport_domain::customer::CustomerDraft>(
            json(r#"{"given_name":"A","customer_external_ref":"c1"}"#),
            Columns::Customer,
        )
        .unwrap_err();
        assert_eq!(errs[0].field, "customer_external_ref");
    }

    #[test]
    fn a_bad_id_is_reported_with_the_drafts_own_errors() {
        let errs = parse_row::<InteractionDraft>(
            json(r#"{"id":"not-a-uuid","customer_external_ref":"c1","channel":"email","kind":"purchase"}"#),
            Columns::Interaction,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"id"), "{errs:?}");
        assert!(fields.len() > 1, "{errs:?}");
    }
}
