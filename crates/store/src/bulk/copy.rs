//! PostgreSQL's binary `COPY` format: the encoder, and the macro that runs a `COPY … FROM STDIN`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
pub(super) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// PostgreSQL's binary `COPY` format, a row at a time (see `interactions::copy_row`).
pub(super) struct CopyData(Vec<u8>);

impl CopyData {
    pub(super) fn new(capacity: usize) -> Self {
        let mut data = Vec::with_capacity(19 + capacity + 2);
        data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        data.extend_from_slice(&0i32.to_be_bytes());
        data.extend_from_slice(&0i32.to_be_bytes());
        Self(data)
    }

    pub(super) fn row(&mut self, columns: i16) -> &mut Self {
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

    pub(super) fn uuid(&mut self, id: Option<Uuid>) -> &mut Self {
        match id {
            Some(id) => self.field(id.as_bytes()),
            None => self.null(),
        }
    }

    pub(super) fn text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.field(s.as_bytes()),
            None => self.null(),
        }
    }

    pub(super) fn int8(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.field(&v.to_be_bytes()),
            None => self.null(),
        }
    }

    pub(super) fn time(&mut self, t: Option<DateTime<Utc>>) -> &mut Self {
        match t {
            Some(t) => self.field(&(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes()),
            None => self.null(),
        }
    }

    /// `jsonb`: a version byte, then the JSON text.
    pub(super) fn jsonb<T: serde::Serialize>(&mut self, value: &T) -> &mut Self {
        let mut json = vec![1u8];
        if serde_json::to_writer(&mut json, value).is_err() {
            json.truncate(1);
            json.extend_from_slice(b"null");
        }
        self.field(&json)
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
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

pub(super) use copy_in;
