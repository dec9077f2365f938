//! Rust ↔ SQL mappings for the three column types that differ per backend. Each Rust newtype
//! serialises natively on PostgreSQL and, on SQLite, as a 16-byte blob (UUIDs) or as text
//! (times, JSON); all are usable through the multi-backend connection. They stay inside this crate: callers see `uuid::Uuid`,
//! `chrono::DateTime<Utc>` and `serde_json::Value`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, Text};
use diesel::sqlite::{Sqlite, SqliteType, SqliteValue};

use crate::db::{MultiBackend, MultiRawValue};
use crate::schema::sql_types::{JsonType, TimestampType, UuidType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = UuidType)]
pub struct DbUuid(pub uuid::Uuid);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = TimestampType)]
pub struct DbTime(pub DateTime<Utc>);

/// JSON as its text, so rows deserialise straight into typed fields (no `Value` tree between).
#[derive(Debug, Clone, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = JsonType)]
pub struct DbJson(pub Vec<u8>);

impl DbJson {
    pub fn of<T: serde::Serialize>(value: &T) -> Self {
        DbJson(serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()))
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.0)
    }
}

/// PostgreSQL's binary `jsonb` format: a version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

/// SQLite timestamps: fixed width with microseconds, so text order is time order.
const SQLITE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

// --- PostgreSQL: delegate to diesel's native impls. ---

impl ToSql<UuidType, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<UuidType, Pg> for DbUuid {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(bytes).map(DbUuid)
    }
}
impl ToSql<TimestampType, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<diesel::sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<TimestampType, Pg> for DbTime {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<diesel::sql_types::Timestamptz, Pg>>::from_sql(bytes).map(DbTime)
    }
}
impl ToSql<JsonType, Pg> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        use std::io::Write;
        out.write_all(&[JSONB_VERSION])?;
        out.write_all(&self.0)?;
        Ok(IsNull::No)
    }
}
impl FromSql<JsonType, Pg> for DbJson {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        match bytes.as_bytes().split_first() {
            Some((&JSONB_VERSION, text)) => Ok(DbJson(text.to_vec())),
            _ => Err("unsupported jsonb encoding version".into()),
        }
    }
}

// --- SQLite: UUIDs as 16-byte blobs, the rest as text. ---
//
// A blob UUID is less than half the size of its 36-byte text: every primary key, foreign key and
// index entry shrinks with it, and so does an import's B-tree work (measured: see
// docs/benchmarks.md). Blobs compare byte by byte, which is the order of the lowercase hyphenated
// text, so keyset pages and `ORDER BY id` are unchanged. Migration 000009 converted the text ids of
// databases made before it (a text id still decodes, but lookups bind blobs).

fn sqlite_text(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<String> {
    <String as FromSql<Text, Sqlite>>::from_sql(bytes)
}

impl ToSql<UuidType, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_bytes().as_slice());
        Ok(IsNull::No)
    }
}
impl FromSql<UuidType, Sqlite> for DbUuid {
    fn from_sql(mut bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        match bytes.value_type() {
            Some(SqliteType::Text) => Ok(DbUuid(uuid::Uuid::parse_str(bytes.read_text())?)),
            _ => Ok(DbUuid(uuid::Uuid::from_slice(bytes.read_blob())?)),
        }
    }
}
impl ToSql<TimestampType, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(format_sqlite_time(&self.0));
        Ok(IsNull::No)
    }
}
impl FromSql<TimestampType, Sqlite> for DbTime {
    fn from_sql(mut bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = bytes.read_text();
        match parse_sqlite_time(text) {
            Some(t) => Ok(DbTime(t)),
            // Anything written by hand in another layout still reads, just slower.
            None => Ok(DbTime(
                NaiveDateTime::parse_from_str(text, SQLITE_TIME_FORMAT)?.and_utc(),
            )),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, written without the general formatter (it is on every row).
fn format_sqlite_time(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_micros().min(999_999)
    )
}

/// The fixed layout above, parsed by position.
fn parse_sqlite_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 27
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        num(20..26)?,
    )?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_times_round_trip_and_sort_as_text() {
        let a = DateTime::parse_from_rfc3339("2026-03-01T09:05:07.000123Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (ta, tb) = (format_sqlite_time(&a), format_sqlite_time(&b));
        assert_eq!(ta, "2026-03-01T09:05:07.000123Z");
        assert_eq!(parse_sqlite_time(&ta), Some(a));
        assert_eq!(parse_sqlite_time(&tb), Some(b));
        assert!(ta < tb);
        assert_eq!(
            NaiveDateTime::parse_from_str(&ta, SQLITE_TIME_FORMAT)
                .unwrap()
                .and_utc(),
            a
        );
        assert_eq!(parse_sqlite_time("2026-13-01T00:00:00.000000Z"), None);
    }
}
impl ToSql<JsonType, Sqlite> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(std::str::from_utf8(&self.0)?);
        Ok(IsNull::No)
    }
}
impl FromSql<JsonType, Sqlite> for DbJson {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbJson(sqlite_text(bytes)?.into_bytes()))
    }
}

// --- The multi-backend: dispatch to whichever backend the connection is. ---

macro_rules! multi_backend {
    ($($sql:ident => $rust:ty),*) => {$(
        impl HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }
        impl FromSql<$sql, MultiBackend> for $rust {
            fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql>()
            }
        }
        impl ToSql<$sql, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value(($sql, self));
                Ok(IsNull::No)
            }
        }
    )*};
}

multi_backend!(UuidType => DbUuid, TimestampType => DbTime, JsonType => DbJson);

/// Borrowed access to text and JSON columns, so rows can be decoded without an owned `String`
/// per column.
pub(crate) trait RawText: diesel::backend::Backend {
    /// Calls `f` with the column's text.
    fn with_text<R>(value: Self::RawValue<'_>, f: impl FnOnce(&str) -> R)
        -> deserialize::Result<R>;
    /// Calls `f` with the JSON text of a `JsonType` column.
    fn with_json<R>(value: Self::RawValue<'_>, f: impl FnOnce(&str) -> R)
        -> deserialize::Result<R>;
}

impl RawText for Sqlite {
    fn with_text<R>(
        mut value: SqliteValue<'_, '_, '_>,
        f: impl FnOnce(&str) -> R,
    ) -> deserialize::Result<R> {
        Ok(f(value.read_text()))
    }
    fn with_json<R>(
        value: SqliteValue<'_, '_, '_>,
        f: impl FnOnce(&str) -> R,
    ) -> deserialize::Result<R> {
        Self::with_text(value, f)
    }
}

impl RawText for Pg {
    fn with_text<R>(value: PgValue<'_>, f: impl FnOnce(&str) -> R) -> deserialize::Result<R> {
        Ok(f(std::str::from_utf8(value.as_bytes())?))
    }
    fn with_json<R>(value: PgValue<'_>, f: impl FnOnce(&str) -> R) -> deserialize::Result<R> {
        match value.as_bytes().split_first() {
            Some((&JSONB_VERSION, text)) => Ok(f(std::str::from_utf8(text)?)),
            _ => Err("unsupported jsonb encoding version".into()),
        }
    }
}

impl RawText for MultiBackend {
    fn with_text<R>(value: MultiRawValue<'_>, f: impl FnOnce(&str) -> R) -> deserialize::Result<R> {
        match value {
            MultiRawValue::Pg(v) => Pg::with_text(v, f),
            MultiRawValue::Sqlite(v) => Sqlite::with_text(v, f),
        }
    }
    fn with_json<R>(value: MultiRawValue<'_>, f: impl FnOnce(&str) -> R) -> deserialize::Result<R> {
        match value {
            MultiRawValue::Pg(v) => Pg::with_json(v, f),
            MultiRawValue::Sqlite(v) => Sqlite::with_json(v, f),
        }
    }
}
