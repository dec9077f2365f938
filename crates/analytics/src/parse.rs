//! Byte-level parsers for the CSV text the CLI reads — pure functions over `&[u8]`, no I/O, so the
//! whole pipeline can be benchmarked from bytes in memory and the CLI only moves bytes.
//!
//! - Transactions: a header naming `customer_id`, `date` and `amount` (any order, other columns
//!   ignored); dates `YYYY-MM-DD` or RFC 3339 (converted to the UTC day); amounts decimal
//!   currency units (`12.34`, `-5`, `7.5`) converted *exactly* to integer minor units — no float
//!   is involved, more decimals than the minor unit has are an error, not a rounding.
//! - Attribution paths: `path,total_conversions,total_conversion_value,total_null`, where `path` is
//!   channels joined by `>` (R's ChannelAttribution format, `A > B > C`).
//!
//! Fields may be double-quoted (RFC 4180, `""` for a quote). Errors name the line (1 = header).

use crate::{Day, Transaction};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::fmt;

/// A bad row, with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`), or
/// `None` for an invalid date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Option<Day> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Day::try_from(era * 146_097 + doe - 719_468).ok()
}

/// The civil date of a day (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = i64::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// `YYYY-MM-DD` of a day.
pub fn format_day(day: Day) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')))
}

/// A date `YYYY-MM-DD`, or an RFC 3339 timestamp (`2024-03-01T23:30:00-05:00`, `...Z`, fractional
/// seconds allowed, `T` or space), as its UTC day.
pub fn parse_date(s: &[u8]) -> Result<Day, String> {
    let s = s.trim_ascii();
    let bad = || {
        format!(
            "invalid date {:?} (want YYYY-MM-DD or RFC 3339)",
            String::from_utf8_lossy(s)
        )
    };
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return Err(bad());
    }
    let (y, m, d) = match (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10])) {
        (Some(y), Some(m), Some(d)) => (y as i32, m, d),
        _ => return Err(bad()),
    };
    let day = days_from_civil(y, m, d).ok_or_else(bad)?;
    if s.len() == 10 {
        return Ok(day);
    }
    // RFC 3339 time part: [Tt ]HH:MM:SS[.frac](Z|±HH:MM)
    let t = &s[10..];
    if t.len() < 10 || !matches!(t[0], b'T' | b't' | b' ') || t[3] != b':' || t[6] != b':' {
        return Err(bad());
    }
    let (hh, mm, ss) = match (digits(&t[1..3]), digits(&t[4..6]), digits(&t[7..9])) {
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s <= 60 => (h, m, s),
        _ => return Err(bad()),
    };
    let mut rest = &t[9..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(bad());
        }
        rest = &rest[1 + n..];
    }
    let offset_min: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            match (digits(&[*h1, *h2]), digits(&[*m1, *m2])) {
                (Some(h), Some(m)) if h < 24 && m < 60 => {
                    let v = i64::from(h * 60 + m);
                    if *sign == b'-' {
                        -v
                    } else {
                        v
                    }
                }
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    let local_min = i64::from(day) * 1440 + i64::from(hh * 60 + mm) + i64::from(ss / 60);
    let utc = local_min - offset_min;
    Day::try_from(utc.div_euclid(1440)).map_err(|_| bad())
}

/// A decimal amount (`-12.34`, `+7`, `0.5`) as an integer number of `10^-scale` units, exactly.
/// More significant decimals than `scale` (`1.234` at scale 2) is an error; trailing zeros are fine.
pub fn parse_decimal(s: &[u8], scale: u32) -> Result<i64, String> {
    let s = s.trim_ascii();
    let bad = |why: &str| format!("invalid amount {:?}: {why}", String::from_utf8_lossy(s));
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &body[..0]),
    };
    if (int.is_empty() && frac.is_empty()) || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return Err(bad("not a decimal number"));
    }
    let mut v: i64 = 0;
    let overflow = || bad("too large");
    for &c in int {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(c - b'0')))
            .ok_or_else(overflow)?;
    }
    for i in 0..scale as usize {
        let digit = frac.get(i).map_or(0, |c| i64::from(c - b'0'));
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or_else(overflow)?;
    }
    if frac.iter().skip(scale as usize).any(|&c| c != b'0') {
        return Err(bad(&format!("more than {scale} decimal places")));
    }
    Ok(if neg { -v } else { v })
}

/// Split one CSV record into fields (RFC 4180 quoting). Quoted fields are unescaped into
/// `scratch`; the returned ranges index either the line or the scratch buffer.
fn split_fields<'a>(
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
    out: &mut Vec<&'a [u8]>,
) -> Result<(), String> {
    out.clear();
    if !line.contains(&b'"') {
        out.extend(line.split(|&c| c == b','));
        return Ok(());
    }
    scratch.clear();
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    loop {
        let start = scratch.len();
        if line.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match line.get(i) {
                    None => return Err("unterminated quoted field".into()),
                    Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                        scratch.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        scratch.push(c);
                        i += 1;
                    }
                }
            }
            if !matches!(line.get(i), None | Some(b',')) {
                return Err("text after a closing quote".into());
            }
        } else {
            while let Some(&c) = line.get(i) {
                if c == b',' {
                    break;
                }
                scratch.push(c);
                i += 1;
            }
        }
        bounds.push((start, scratch.len()));
        if line.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }
    let s: &'a [u8] = scratch;
    out.extend(bounds.into_iter().map(|(a, b)| &s[a..b]));
    Ok(())
}

/// A purchase amount must be above zero: the models are of spend, and a zero or a refund would
/// bend them without a word (net refunds into their purchases, or leave them out).
fn positive(amount: i64) -> Result<i64, String> {
    if amount > 0 {
        Ok(amount)
    } else {
        Err("amount must be above zero; leave refunds and zero rows out".to_owned())
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn column(header: &[&[u8]], name: &str) -> Option<usize> {
    header
        .iter()
        .position(|h| h.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
}

/// An id stored inline when it is short (no pointer to chase on lookup), on the heap otherwise.
#[derive(Debug, Clone)]
enum Key {
    Inline(u8, [u8; 22]),
    Heap(Box<[u8]>),
}

impl Key {
    fn new(id: &[u8]) -> Self {
        if id.len() <= 22 {
            let mut b = [0u8; 22];
            b[..id.len()].copy_from_slice(id);
            Key::Inline(id.len() as u8, b)
        } else {
            Key::Heap(id.into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline(n, b) => &b[..*n as usize],
            Key::Heap(b) => b,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

/// Maps external ids (bytes) to dense indices `0..n` in order of first appearance.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: FxHashMap<Key, u32>,
    last: Vec<u8>,
    last_index: Option<u32>,
}

impl Interner {
    /// Index of `id`, adding it if new.
    #[inline]
    pub fn intern(&mut self, id: &[u8]) -> u32 {
        // Files are often grouped by customer: skip the hash lookup for a repeated id.
        if let Some(i) = self.last_index {
            if self.last == id {
                return i;
            }
        }
        let i = match self.map.get(id) {
            Some(&i) => i,
            None => {
                let i = self.map.len() as u32;
                self.map.insert(Key::new(id), i);
                i
            }
        };
        self.last.clear();
        self.last.extend_from_slice(id);
        self.last_index = Some(i);
        i
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no id was seen.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The ids, by index.
    pub fn into_ids(self) -> Vec<String> {
        let mut ids = vec![String::new(); self.map.len()];
        for (k, i) in self.map {
            ids[i as usize] = String::from_utf8_lossy(k.bytes()).into_owned();
        }
        ids
    }
}

/// Parses transaction CSV lines.
#[derive(Debug, Clone)]
pub struct TransactionParser {
    scale: u32,
    cols: Option<[usize; 3]>,
    width: usize,
    /// Customer ids seen so far.
    pub customers: Interner,
    scratch: Vec<u8>,
}

impl TransactionParser {
    /// A parser for amounts with `scale` decimals (2 for cents).
    pub fn new(scale: u32) -> Self {
        Self {
            scale,
            cols: None,
            width: 0,
            customers: Interner::default(),
            scratch: Vec::new(),
        }
    }

    /// Parse line `line_no` (1-based; line 1 must be the header). Returns `None` for the header
    /// and blank lines.
    pub fn parse_line(
        &mut self,
        line_no: u64,
        line: &[u8],
    ) -> Result<Option<Transaction>, ParseError> {
        let line = trim_eol(line);
        if line.trim_ascii().is_empty() {
            return Ok(None);
        }
        if self.cols.is_some() && self.width <= 8 && !line.contains(&b'"') {
            // Fast path: no quoting, few columns — fields on the stack, no allocation.
            let mut fields: [&[u8]; 8] = [&[]; 8];
            let mut n = 0;
            for f in line.split(|&c| c == b',') {
                if n < 8 {
                    fields[n] = f;
                }
                n += 1;
            }
            if n != self.width {
                return Err(ParseError {
                    line: line_no,
                    message: format!("{n} fields, the header has {}", self.width),
                });
            }
            return self
                .record(&fields[..n.min(8)])
                .map_err(|message| ParseError {
                    line: line_no,
                    message,
                });
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut fields: Vec<&[u8]> = Vec::with_capacity(4);
        let result = match split_fields(line, &mut scratch, &mut fields) {
            Ok(()) => self.record(&fields).map_err(|message| ParseError {
                line: line_no,
                message,
            }),
            Err(message) => Err(ParseError {
                line: line_no,
                message,
            }),
        };
        drop(fields);
        self.scratch = scratch;
        result
    }

    fn record(&mut self, fields: &[&[u8]]) -> Result<Option<Transaction>, String> {
        let Some([c, d, a]) = self.cols else {
            let find = |n: &str| {
                column(fields, n).ok_or_else(|| {
                    format!("header has no `{n}` column (want customer_id,date,amount)")
                })
            };
            self.cols = Some([find("customer_id")?, find("date")?, find("amount")?]);
            self.width = fields.len();
            return Ok(None);
        };
        // A field too many is as wrong as one too few: `c1,2025-01-01,12,50` is a decimal comma,
        // not 12.
        if fields.len() != self.width {
            return Err(format!(
                "{} fields, the header has {}",
                fields.len(),
                self.width
            ));
        }
        let id = fields[c].trim_ascii();
        if id.is_empty() {
            return Err("empty customer_id".into());
        }
        let day = parse_date(fields[d])?;
        let amount = positive(parse_decimal(fields[a], self.scale)?)?;
        let customer = self.customers.intern(id);
        Ok(Some(Transaction {
            customer,
            day,
            amount,
        }))
    }
}

/// Parse a whole CSV text (header first) and hand every transaction to `sink`.
pub fn parse_transactions<E>(
    bytes: &[u8],
    parser: &mut TransactionParser,
    mut sink: impl FnMut(Transaction) -> Result<(), E>,
) -> Result<(), ParseOrSink<E>> {
    for (i, line) in bytes.split_inclusive(|&c| c == b'\n').enumerate() {
        if let Some(tx) = parser
            .parse_line(i as u64 + 1, line)
            .map_err(ParseOrSink::Parse)?
        {
            sink(tx).map_err(ParseOrSink::Sink)?;
        }
    }
    Ok(())
}

/// Error of [`parse_transactions`]: a bad line, or the sink's own error.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseOrSink<E> {
    /// A bad line.
    Parse(ParseError),
    /// The sink refused a transaction.
    Sink(E),
}

impl<E: fmt::Display> fmt::Display for ParseOrSink<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => e.fmt(f),
            Self::Sink(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ParseOrSink<E> {}

/// One aggregated path row.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRow {
    /// Channel indices, in order.
    pub channels: Vec<u32>,
    /// Conversions of journeys that took this path.
    pub conversions: f64,
    /// Their total value (currency units).
    pub value: f64,
    /// Journeys on this path that did not convert.
    pub nulls: f64,
}

/// Parses ChannelAttribution-style path CSV lines.
#[derive(Debug, Clone, Default)]
pub struct PathParser {
    cols: Option<[Option<usize>; 4]>,
    /// Channel names seen so far.
    pub channels: Interner,
    scratch: Vec<u8>,
}

impl PathParser {
    /// A parser expecting a header first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse line `line_no` (1-based; line 1 must be the header). `None` for header and blanks.
    pub fn parse_line(&mut self, line_no: u64, line: &[u8]) -> Result<Option<PathRow>, ParseError> {
        let line = trim_eol(line);
        if line.trim_ascii().is_empty() {
            return Ok(None);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut fields: Vec<&[u8]> = Vec::with_capacity(4);
        let result = match split_fields(line, &mut scratch, &mut fields) {
            Ok(()) => self.record(&fields).map_err(|message| ParseError {
                line: line_no,
                message,
            }),
            Err(message) => Err(ParseError {
                line: line_no,
                message,
            }),
        };
        drop(fields);
        self.scratch = scratch;
        result
    }

    fn record(&mut self, fields: &[&[u8]]) -> Result<Option<PathRow>, String> {
        let Some(cols) = self.cols else {
            let path = column(fields, "path");
            let conv = column(fields, "total_conversions");
            if path.is_none() || conv.is_none() {
                return Err("header needs `path` and `total_conversions` (and optionally total_conversion_value, total_null)".into());
            }
            self.cols = Some([
                path,
                conv,
                column(fields, "total_conversion_value"),
                column(fields, "total_null"),
            ]);
            return Ok(None);
        };
        let number = |col: Option<usize>, name: &str| -> Result<f64, String> {
            let Some(c) = col else { return Ok(0.0) };
            let f = fields
                .get(c)
                .ok_or_else(|| format!("missing `{name}` field"))?
                .trim_ascii();
            let v: f64 = std::str::from_utf8(f)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    format!("`{name}` is not a number: {:?}", String::from_utf8_lossy(f))
                })?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("`{name}` must be a non-negative number"));
            }
            Ok(v)
        };
        let conversions = number(cols[1], "total_conversions")?;
        let value = number(cols[2], "total_conversion_value")?;
        let nulls = number(cols[3], "total_null")?;
        let path = cols[0]
            .and_then(|c| fields.get(c))
            .ok_or("missing `path` field")?;
        let mut channels = Vec::new();
        for ch in path.split(|&c| c == b'>') {
            let ch = ch.trim_ascii();
            if ch.is_empty() {
                return Err("empty channel name in path".into());
            }
            channels.push(self.channels.intern(ch));
        }
        Ok(Some(PathRow {
            channels,
            conversions,
            value,
            nulls,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_amounts_agree_with_the_exact_parser() {
        for a in [
            &b"0"[..],
            b"7",
            b"12.5",
            b"12.34",
            b".99",
            b"5.",
            b"0001.10",
            b"999999999999999.99",
            b"9999999999999999.99",
            b"1.234",
            b"1.230",
            b".",
            b"",
            b"-3.20",
            b"+4",
            b" 7.10 ",
            b"1e3",
            b"1..2",
        ] {
            if let Some(v) = parse_amount_fast(a, 2) {
                assert_eq!(Ok(v), parse_decimal(a, 2), "{}", String::from_utf8_lossy(a));
            }
        }
        assert_eq!(parse_amount_fast(b"12.5", 2), Some(1250));
        assert_eq!(parse_amount_fast(b"1.234", 2), None);
        assert_eq!(parse_amount_fast(b"-1", 2), None);
    }

    /// A large file (many parse pieces per block, table growth), long and short ids, quoted ids,
    /// CRLF and blank lines, signed and padded amounts, timestamps: the sharded summary equals
    /// the sequential parse + sort + summary, whatever the shard count and block cuts.
    #[test]
    fn sharded_summary_on_a_large_mixed_file() {
        use crate::summary::{summarize, SummaryOptions, TimeUnit};
        let mut csv = String::from("customer_id,note,date,amount\r\n");
        let mut x: u64 = 3;
        for i in 0..40_000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = (x >> 33) % 5_000;
            let id = match c % 5 {
                0 => format!("customer-with-a-long-identifier-{c:06}"),
                1 => format!("\"q,{c}\""),
                2 => format!("exactly15bytes{}", c % 10),
                _ => format!("c{c}"),
            };
            let day = format_day(19_000 + (i / 100) as i32);
            let date = if i % 7 == 0 {
                format!("{day}T10:00:00Z")
            } else {
                day
            };
            let amount = match i % 4 {
                0 => format!("{}.{:02}", c % 300 + 1, i % 100),
                1 => format!("{}.5", c % 10),
                2 => format!(" {} ", c % 50 + 1),
                _ => format!("+{}.25", c % 20),
            };
            let eol = if i % 3 == 0 { "\r\n" } else { "\n" };
            csv.push_str(&format!("{id},n{i},{date},{amount}{eol}"));
            if i % 997 == 0 {
                csv.push('\n');
            }
        }
        let opts = SummaryOptions {
            time_unit: TimeUnit::Week,
            merge: crate::summary::Merge::SameDay,
            calibration_end: 19_250,
            observation_end: 19_350,
        };
        let mut p = TransactionParser::new(2);
        let mut txs = vec![];
        parse_transactions::<()>(csv.as_bytes(), &mut p, |t| {
            txs.push(t);
            Ok(())
        })
        .unwrap();
        let ids = p.customers.into_ids();
        let key = |ids: &[String], r: &crate::summary::CalibrationHoldout| {
            let c = r.calibration;
            (
                ids[c.customer as usize].clone(),
                c.frequency,
                c.recency.to_bits(),
                c.t.to_bits(),
                c.monetary_value.to_bits(),
                r.holdout_frequency,
                r.holdout_monetary_value.to_bits(),
            )
        };
        let mut want: Vec<_> = summarize(&txs, opts)
            .unwrap()
            .iter()
            .map(|r| key(&ids, r))
            .collect();
        want.sort();
        let bytes = csv.as_bytes();
        for (shards, cuts) in [(1, 1), (2, 3), (5, 7)] {
            let mut sharded = ShardedSummary::new(opts, 2, shards).unwrap();
            let mut rest = bytes;
            for k in 0..cuts {
                let cut = if k + 1 == cuts {
                    rest.len()
                } else {
                    rest[..rest.len() / 2]
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(0, |p| p + 1)
                };
                sharded.feed(&rest[..cut]).unwrap();
                rest = &rest[cut..];
            }
            let (rows, ids2) = sharded.finish();
            assert_eq!(ids2.len(), ids.len());
            let mut got: Vec<_> = rows.iter().map(|r| key(&ids2, r)).collect();
            got.sort();
            assert_eq!(got, want, "{shards} shards");
        }
    }

    #[test]
    fn sharded_errors_name_the_earliest_bad_line() {
        use crate::summary::{SummaryOptions, TimeUnit};
        let opts = SummaryOptions::new(19_500, TimeUnit::Day);
        let mut csv = String::from("customer_id,date,amount\n");
        for i in 0..20_000 {
            csv.push_str(&format!(
                "c{},{},1.00\n",
                i % 300,
                format_day(19_000 + i / 100)
            ));
        }
        let good = csv;
        // A bad amount on line 15 002 (header = line 1), far into a later parse piece.
        let mut lines: Vec<&str> = good.lines().collect();
        lines[15_001] = "c1,2024-01-01,12.345";
        let bad = lines.join("\n");
        let mut s = ShardedSummary::new(opts, 2, 2).unwrap();
        match s.feed(bad.as_bytes()) {
            Err(ParseOrSink::Parse(e)) => {
                assert_eq!(e.line, 15_002, "{e}");
                assert!(e.message.contains("decimal places"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // Line numbers continue across blocks.
        let mut s = ShardedSummary::new(opts, 2, 2).unwrap();
        let (head, tail) = bad.split_at(bad.find("c0,").unwrap());
        s.feed(head.as_bytes()).unwrap();
        match s.feed(tail.as_bytes()) {
            Err(ParseOrSink::Parse(e)) => assert_eq!(e.line, 15_002, "{e}"),
            other => panic!("{other:?}"),
        }
        // A customer going back in time before the bad line: that is reported.
        let mut lines: Vec<&str> = good.lines().collect();
        lines[15_001] = "c1,2024-01-01,12.345";
        lines[9_000] = "c77,1970-01-02,1.00";
        let both = lines.join("\n");
        let mut s = ShardedSummary::new(opts, 2, 3).unwrap();
        assert!(matches!(
            s.feed(both.as_bytes()),
            Err(ParseOrSink::Sink(crate::AnalyticsError::OutOfOrder { .. }))
        ));
    }

    #[test]
    fn a_field_too_many_and_a_non_positive_amount_are_errors_with_their_line() {
        use crate::summary::{SummaryOptions, TimeUnit};
        let cases = [
            // A decimal comma: four fields, not 12.
            ("c1,2025-01-01,12,50", "4 fields, the header has 3"),
            ("c1,2025-01-01,0", "above zero"),
            ("c1,2025-01-01,-3.50", "above zero"),
            ("\"c,1\",2025-01-01,12,50", "4 fields, the header has 3"),
        ];
        for (row, message) in cases {
            let csv = format!("customer_id,date,amount\nc0,2025-01-01,5\n{row}\n");
            let mut p = TransactionParser::new(2);
            match parse_transactions::<()>(csv.as_bytes(), &mut p, |_| Ok(())) {
                Err(ParseOrSink::Parse(e)) => {
                    assert_eq!(e.line, 3, "{row}: {e}");
                    assert!(e.message.contains(message), "{row}: {e}");
                }
                other => panic!("{row}: {other:?}"),
            }
            let mut s =
                ShardedSummary::new(SummaryOptions::new(20_500, TimeUnit::Day), 2, 2).unwrap();
            match s.feed(csv.as_bytes()) {
                Err(ParseOrSink::Parse(e)) => {
                    assert_eq!(e.line, 3, "{row}: {e}");
                    assert!(e.message.contains(message), "{row}: {e}");
                }
                other => panic!("{row}: {other:?}"),
            }
        }
    }

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2024, 2, 29), Some(19_782));
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), Some(d));
        }
        assert_eq!(format_day(19_782), "2024-02-29");
    }

    #[test]
    fn dates_and_timestamps() {
        let d = days_from_civil(2024, 3, 1).unwrap();
        assert_eq!(parse_date(b"2024-03-01"), Ok(d));
        assert_eq!(parse_date(b"2024-03-01T10:00:00Z"), Ok(d));
        assert_eq!(parse_date(b"2024-03-01T23:30:00-05:00"), Ok(d + 1));
        assert_eq!(parse_date(b"2024-03-01 00:30:00.123+01:00"), Ok(d - 1));
        for bad in [
            &b"2024-13-01"[..],
            b"2024-02-30",
            b"01/03/2024",
            b"2024-03-01T25:00:00Z",
            b"2024-03-01T10:00:00",
        ] {
            assert!(parse_date(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn amounts_are_exact_minor_units() {
        assert_eq!(parse_decimal(b"12.34", 2), Ok(1234));
        assert_eq!(parse_decimal(b"-0.5", 2), Ok(-50));
        assert_eq!(parse_decimal(b"+7", 2), Ok(700));
        assert_eq!(parse_decimal(b".99", 2), Ok(99));
        assert_eq!(parse_decimal(b"1.230", 2), Ok(123));
        // 0.1 + 0.2 style values stay exact.
        assert_eq!(parse_decimal(b"0.29", 2), Ok(29));
        assert_eq!(parse_decimal(b"92233720368547758.07", 2), Ok(i64::MAX));
        for bad in [
            &b"1.234"[..],
            b"1e3",
            b"",
            b"-",
            b"12,5",
            b"92233720368547758.08",
        ] {
            assert!(
                parse_decimal(bad, 2).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn transactions_with_quotes_any_column_order_and_line_numbers() {
        let csv = b"amount,customer_id,date,note\r\n12.50,\"c,1\",2024-01-02,x\n\n3,c2,2024-01-03,\"say \"\"hi\"\"\"\n1,c2,2024-01-04,y\n";
        let mut p = TransactionParser::new(2);
        let mut got = vec![];
        parse_transactions::<()>(csv, &mut p, |t| {
            got.push(t);
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].customer, got[0].amount), (0, 1250));
        assert_eq!(got[2].customer, 1);
        assert_eq!(
            p.customers.clone().into_ids(),
            vec!["c,1".to_string(), "c2".into()]
        );

        let bad = b"customer_id,date,amount\na,2024-01-01,1\nb,2024-01-01,abc\n";
        let e =
            parse_transactions::<()>(bad, &mut TransactionParser::new(2), |_| Ok(())).unwrap_err();
        match e {
            ParseOrSink::Parse(e) => {
                assert_eq!(e.line, 3);
                assert!(e.to_string().starts_with("line 3: invalid amount"), "{e}");
            }
            ParseOrSink::Sink(()) => panic!("sink"),
        }
        let e = TransactionParser::new(2)
            .parse_line(1, b"id,date,amount")
            .unwrap_err();
        assert!(e.message.contains("customer_id"));
    }

    #[test]
    fn sharded_summary_equals_the_sequential_one() {
        use crate::summary::{summarize, SummaryOptions, TimeUnit};
        let mut csv = String::from("customer_id,date,amount\n");
        let mut x: u64 = 7;
        for i in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = (x >> 40) % 300;
            let id = if c % 7 == 1 {
                format!("\"q,{c}\"")
            } else {
                format!("c{c}")
            };
            csv.push_str(&format!(
                "{id},{},{}.{:02}\n",
                format_day(19_000 + i / 10),
                c,
                i % 100
            ));
            if i % 500 == 0 {
                csv.push('\n');
            }
        }
        let opts = SummaryOptions::new(19_250, TimeUnit::Week);
        let mut p = TransactionParser::new(2);
        let mut txs = vec![];
        parse_transactions::<()>(csv.as_bytes(), &mut p, |t| {
            txs.push(t);
            Ok(())
        })
        .unwrap();
        let ids = p.customers.into_ids();
        let mut want: Vec<_> = summarize(&txs, opts)
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    ids[r.calibration.customer as usize].clone(),
                    r.calibration.frequency,
                    r.calibration.monetary_value,
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sharded = ShardedSummary::new(opts, 2, 3).unwrap();
        let (head, tail) = csv.as_bytes().split_at(csv.find("\nc").unwrap() + 1);
        sharded.feed(head).unwrap();
        sharded.feed(tail).unwrap();
        let (rows, ids2) = sharded.finish();
        let mut got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    ids2[r.calibration.customer as usize].clone(),
                    r.calibration.frequency,
                    r.calibration.monetary_value,
                )
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);

        let mut bad = ShardedSummary::new(opts, 2, 2).unwrap();
        let e = bad.feed(b"customer_id,date,amount\na,2024-01-01,1\nb,2024-01-01,1\n\"c,2024-01-01,x\nd,2024-13-01,1\n").unwrap_err();
        assert!(
            matches!(e, ParseOrSink::Parse(ParseError { line: 4, .. })),
            "{e:?}"
        );
    }

    #[test]
    fn path_rows() {
        let mut p = PathParser::new();
        assert_eq!(
            p.parse_line(
                1,
                b"path,total_conversions,total_conversion_value,total_null\n"
            ),
            Ok(None)
        );
        let r = p
            .parse_line(2, b"\"email > search > email\",3,30.5,10\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.channels, vec![0, 1, 0]);
        assert_eq!((r.conversions, r.value, r.nulls), (3.0, 30.5, 10.0));
        assert!(p.parse_line(3, b"a >> b,1,1,1").is_err());
        assert_eq!(p.parse_line(4, b"a,-1,0,0").unwrap_err().line, 4);
    }
}

/// Transactions CSV → calibration/holdout summary, in parallel and in O(customers) memory.
///
/// Each block is processed in two parallel phases, with no locking:
///
/// 1. *Parse*: the block is cut at line ends into pieces, one task per piece; every line is
///    split, its date and amount parsed (a date equal to the previous line's reuses its day:
///    date-ordered files repeat dates) and its customer id hashed. The hash picks the id's
///    shard; the row (hash, where the id is, day, amount) goes to that shard's list, in file order.
/// 2. *Accumulate*: one task per shard walks its rows in file order, finds (or adds) the customer
///    in the shard's own open-addressing table and updates the customer's accumulator in place.
///    A table slot is one 64-byte cache line holding the id (inline up to 15 bytes) and the
///    accumulator, so a row costs one cache miss; the rows are known in advance, so the slots of
///    the next rows are loaded in batches, letting the misses overlap.
///
/// Feed the text in blocks that end at a line boundary; the first line of the first block must be
/// the header. Customer indices in the result are per shard in order of first appearance, then
/// concatenated (not in global order of first appearance); `finish` returns the ids by index.
/// Memory: one slot per customer (tables at most half full) plus the rows of one block.
#[derive(Debug)]
pub struct ShardedSummary {
    opts: crate::summary::SummaryOptions,
    header: TransactionParser,
    shards: Vec<Table>,
    pieces: Vec<Piece>,
    next_line: u64,
}

/// 64-bit hash of an id (folded 64×64→128-bit multiplications, as in wyhash).
#[inline]
fn hash_id(id: &[u8]) -> u64 {
    const K0: u64 = 0x9E37_79B9_7F4A_7C15;
    const K1: u64 = 0xBF58_476D_1CE4_E5B9;
    #[inline]
    fn fold_mul(a: u64, b: u64) -> u64 {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    }
    let mut h = (id.len() as u64) ^ K0;
    let mut words = id.chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fold_mul(h ^ u64::from_le_bytes(w), K1);
    }
    let r = words.remainder();
    let mut w = [0u8; 8];
    w[..r.len()].copy_from_slice(r);
    fold_mul(h ^ u64::from_le_bytes(w), K0)
}

/// Shard of a hash: the high 32 bits scaled to `0..shards`.
#[inline]
fn shard_of_hash(h: u64, shards: usize) -> usize {
    (((h >> 32) * shards as u64) >> 32) as usize
}

/// Inline key length marker for ids longer than 15 bytes (stored in the table's arena).
const LONG_KEY: u8 = 0xFF;

/// One customer: tag (0 = empty), order of first appearance, id, accumulator. One cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot {
    tag: u32,
    seq: u32,
    /// `[len, bytes...]` for ids up to 15 bytes; `[LONG_KEY, _, _, _, len (u32), offset (u64)]`
    /// into the arena otherwise.
    key: [u8; 16],
    acc: crate::summary::Acc,
}

/// Open-addressing (linear probing) table of one shard's customers.
#[derive(Debug, Default)]
struct Table {
    slots: Vec<Slot>,
    len: usize,
    arena: Vec<u8>,
}

/// An id as a slot key: `[len, bytes..., 0...]` when shorter than 16 bytes (compared as a whole),
/// `[LONG_KEY, 0...]` otherwise (the table then stores its length and place in the arena).
#[inline]
fn inline_key(id: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    if id.len() < 16 {
        key[0] = id.len() as u8;
        key[1..1 + id.len()].copy_from_slice(id);
    } else {
        key[0] = LONG_KEY;
    }
    key
}

#[inline]
fn tag_of(h: u64) -> u32 {
    (h >> 32) as u32 | 1
}

impl Table {
    #[inline]
    fn key<'a>(slot: &'a Slot, arena: &'a [u8]) -> &'a [u8] {
        if slot.key[0] == LONG_KEY {
            let mut l = [0u8; 4];
            l.copy_from_slice(&slot.key[4..8]);
            let mut o = [0u8; 8];
            o.copy_from_slice(&slot.key[8..16]);
            let (len, off) = (
                u32::from_le_bytes(l) as usize,
                u64::from_le_bytes(o) as usize,
            );
            &arena[off..off + len]
        } else {
            &slot.key[1..1 + usize::from(slot.key[0])]
        }
    }

    /// Index of the slot of `id` (hash `h`, [`inline_key`] `key`), inserted if new.
    #[inline]
    fn find_or_insert(&mut self, h: u64, key: &[u8; 16], id: &[u8]) -> usize {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let tag = tag_of(h);
        let short = key[0] != LONG_KEY;
        let mut i = h as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.tag == 0 {
                break;
            }
            if s.tag == tag
                && (if short {
                    s.key == *key
                } else {
                    s.key[0] == LONG_KEY && Self::key(s, &self.arena) == id
                })
            {
                return i;
            }
            i = (i + 1) & mask;
        }
        let mut key = *key;
        if !short {
            key[4..8].copy_from_slice(&(id.len() as u32).to_le_bytes());
            key[8..16].copy_from_slice(&(self.arena.len() as u64).to_le_bytes());
            self.arena.extend_from_slice(id);
        }
        self.slots[i] = Slot {
            tag,
            seq: self.len as u32,
            key,
            acc: Default::default(),
        };
        self.len += 1;
        i
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap]);
        let mask = cap - 1;
        for s in old.into_iter().filter(|s| s.tag != 0) {
            let mut i = hash_id(Self::key(&s, &self.arena)) as usize & mask;
            while self.slots[i].tag != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Load the home slots of upcoming rows so that their cache misses overlap.
    #[inline]
    fn touch(&self, rows: &[Row]) {
        let mask = self.slots.len().wrapping_sub(1);
        if self.slots.is_empty() {
            return;
        }
        let mut t = [0u32; TOUCH];
        for (t, r) in t.iter_mut().zip(rows) {
            *t = self.slots[r.hash as usize & mask].tag;
        }
        std::hint::black_box(&t);
    }
}

/// Rows loaded ahead of use in [`Table::touch`].
const TOUCH: usize = 16;

/// A parsed row waiting for its shard. The id is `block[id..id+len]`, or the piece's `extra`
/// buffer (unquoted ids) when `len` has [`IN_EXTRA`] set.
#[derive(Debug, Clone, Copy)]
struct Row {
    hash: u64,
    amount: i64,
    /// The id as a table key when it is short ([`inline_key`]).
    key: [u8; 16],
    /// Offset of the line in the block (for error line numbers).
    line: u32,
    id: u32,
    len: u32,
    day: Day,
}

const IN_EXTRA: u32 = 1 << 31;

/// Output of the parse phase for one piece of a block.
#[derive(Debug, Default)]
struct Piece {
    /// Rows by shard, in file order.
    rows: Vec<Vec<Row>>,
    /// Unescaped ids of quoted lines.
    extra: Vec<u8>,
    /// Line-end characters seen.
    newlines: u64,
    /// First bad line: (its offset in the block, message).
    error: Option<(usize, String)>,
}

/// Columns and scale: what the parse phase needs.
#[derive(Debug, Clone, Copy)]
struct Layout {
    cols: [usize; 3],
    width: usize,
    scale: u32,
    shards: usize,
}

/// `digits[.digits]` with at most `scale` decimals and at most 18 digits, fast; `None` for
/// anything else (signs, blanks, errors), which [`parse_decimal`] then handles.
#[inline]
fn parse_amount_fast(s: &[u8], scale: u32) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || scale > 9 {
        return None;
    }
    let mut v: i64 = 0;
    let mut frac: Option<u32> = None;
    for &c in s {
        match c {
            b'0'..=b'9' => {
                v = v * 10 + i64::from(c - b'0');
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac.is_none() => frac = Some(0),
            _ => return None,
        }
    }
    let f = frac.unwrap_or(0);
    if f > scale || s.len() == usize::from(frac.is_some()) || s.len() + (scale - f) as usize > 18 {
        return None;
    }
    Some(v * 10i64.pow(scale - f))
}

impl Layout {
    /// Parse the lines of `block[range]` into `out`.
    fn parse_piece(&self, block: &[u8], range: std::ops::Range<usize>, out: &mut Piece) {
        for r in &mut out.rows {
            r.clear();
        }
        out.rows.resize_with(self.shards, Vec::new);
        out.extra.clear();
        out.newlines = 0;
        out.error = None;
        let [c, d, a] = self.cols;
        // Previous unquoted line's date field and its day.
        let mut last_date: Option<&[u8]> = None;
        let mut last_day: Day = 0;
        let mut pos = range.start;
        let end = range.end;
        while pos < end {
            // One pass over the line: commas (fields c, d, a), quotes and the line end.
            let line_start = pos;
            let mut f = [(0usize, 0usize); 3];
            let mut field = 0usize;
            let mut fstart = pos;
            let mut quoted = false;
            let mut i = pos;
            while i < end {
                match block[i] {
                    b',' => {
                        if field == c {
                            f[0] = (fstart, i);
                        }
                        if field == d {
                            f[1] = (fstart, i);
                        }
                        if field == a {
                            f[2] = (fstart, i);
                        }
                        field += 1;
                        fstart = i + 1;
                    }
                    b'\n' => break,
                    b'"' => quoted = true,
                    _ => {}
                }
                i += 1;
            }
            let line_end = i;
            if i < end {
                out.newlines += 1;
            }
            pos = i + 1;
            let line = trim_eol(&block[line_start..line_end]);
            if line.trim_ascii().is_empty() {
                continue;
            }
            let fail = |out: &mut Piece, message: String| {
                out.error = Some((line_start, message));
            };
            let mut scratch = Vec::new();
            let mut fields: Vec<&[u8]> = Vec::new();
            let (id, date, amount, id_ref) = if quoted {
                if let Err(message) = split_fields(line, &mut scratch, &mut fields) {
                    return fail(out, message);
                }
                if fields.len() != self.width {
                    return fail(
                        out,
                        format!("{} fields, the header has {}", fields.len(), self.width),
                    );
                }
                let id = fields[c].trim_ascii();
                let at = out.extra.len();
                out.extra.extend_from_slice(id);
                (
                    id,
                    fields[d],
                    fields[a],
                    (at as u32, id.len() as u32 | IN_EXTRA),
                )
            } else {
                if field == c {
                    f[0] = (fstart, line_start + line.len());
                }
                if field == d {
                    f[1] = (fstart, line_start + line.len());
                }
                if field == a {
                    f[2] = (fstart, line_start + line.len());
                }
                if field + 1 != self.width {
                    return fail(
                        out,
                        format!("{} fields, the header has {}", field + 1, self.width),
                    );
                }
                let raw = &block[f[0].0..f[0].1];
                let id = raw.trim_ascii();
                let lead = raw.len() - raw.trim_ascii_start().len();
                (
                    id,
                    &block[f[1].0..f[1].1],
                    &block[f[2].0..f[2].1],
                    ((f[0].0 + lead) as u32, id.len() as u32),
                )
            };
            if id.is_empty() {
                return fail(out, "empty customer_id".into());
            }
            let day = if !quoted && last_date == Some(date) {
                last_day
            } else {
                match parse_date(date) {
                    Ok(day) => {
                        if !quoted {
                            last_date = Some(&block[f[1].0..f[1].1]);
                        }
                        last_day = day;
                        day
                    }
                    Err(message) => return fail(out, message),
                }
            };
            let amount = match parse_amount_fast(amount, self.scale) {
                Some(v) => Ok(v),
                None => parse_decimal(amount, self.scale),
            };
            let amount = match amount.and_then(positive) {
                Ok(v) => v,
                Err(message) => return fail(out, message),
            };
            let hash = hash_id(id);
            out.rows[shard_of_hash(hash, self.shards)].push(Row {
                hash,
                amount,
                key: inline_key(id),
                line: line_start as u32,
                id: id_ref.0,
                len: id_ref.1,
                day,
            });
        }
    }
}

impl ShardedSummary {
    /// A summary over `shards` threads' worth of shards, amounts with `scale` decimals.
    pub fn new(
        opts: crate::summary::SummaryOptions,
        scale: u32,
        shards: usize,
    ) -> Result<Self, crate::AnalyticsError> {
        opts.validate()?;
        Ok(Self {
            opts,
            header: TransactionParser::new(scale),
            shards: (0..shards.max(1)).map(|_| Table::default()).collect(),
            pieces: Vec::new(),
            next_line: 1,
        })
    }

    /// Feed complete lines.
    pub fn feed(&mut self, block: &[u8]) -> Result<(), ParseOrSink<crate::AnalyticsError>> {
        // Row offsets are u32: feed huge blocks in halves cut at a line end.
        const MAX_BLOCK: usize = 1 << 31;
        if block.len() > MAX_BLOCK {
            let cut = block[..MAX_BLOCK / 2]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(MAX_BLOCK / 2, |p| p + 1);
            self.feed(&block[..cut])?;
            return self.feed(&block[cut..]);
        }
        let mut rest = 0;
        // Header (and blank lines before it), sequentially.
        while self.header.cols.is_none() && rest < block.len() {
            let end = block[rest..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(block.len(), |p| rest + p + 1);
            self.header
                .parse_line(self.next_line, &block[rest..end])
                .map_err(ParseOrSink::Parse)?;
            self.next_line += 1;
            rest = end;
        }
        let Some(cols) = self.header.cols else {
            return Ok(());
        };
        if rest >= block.len() {
            return Ok(());
        }
        let layout = Layout {
            cols,
            width: self.header.width,
            scale: self.header.scale,
            shards: self.shards.len(),
        };
        // Phase 1: parse pieces cut at line ends.
        let body = &block[rest..];
        let want = (rayon::current_num_threads() * 4).clamp(1, (body.len() >> 16).max(1));
        let mut bounds = vec![rest];
        for k in 1..want {
            let target = rest + body.len() * k / want;
            let prev = bounds.last().copied().unwrap_or(rest);
            let cut = block[target.max(prev)..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(block.len(), |p| target.max(prev) + p + 1);
            if cut < block.len() && cut > prev {
                bounds.push(cut);
            }
        }
        bounds.push(block.len());
        let n = bounds.len() - 1;
        self.pieces
            .resize_with(n.max(self.pieces.len()), Piece::default);
        self.pieces[..n]
            .par_iter_mut()
            .enumerate()
            .for_each(|(k, piece)| layout.parse_piece(block, bounds[k]..bounds[k + 1], piece));
        let pieces = &self.pieces[..n];
        let first = self.next_line;
        let line_of = |offset: usize| {
            first + block[rest..offset].iter().filter(|&&c| c == b'\n').count() as u64
        };
        // Rows after the first bad line are not accumulated (the error is reported either way).
        let parse_error = pieces
            .iter()
            .find_map(|p| p.error.as_ref().map(|(at, m)| (*at, m.clone())));
        let limit = parse_error.as_ref().map_or(usize::MAX, |e| e.0);
        // Phase 2: each shard accumulates its rows, in file order.
        let opts = self.opts;
        let sink_errors: Vec<Option<(usize, u32)>> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(s, table)| {
                for piece in pieces {
                    let rows = &piece.rows[s];
                    for (b, batch) in rows.chunks(TOUCH).enumerate() {
                        if let Some(next) = rows.get((b + 1) * TOUCH..) {
                            table.touch(next);
                        }
                        for row in batch {
                            if row.line as usize >= limit {
                                return None;
                            }
                            let (at, len) = (row.id as usize, (row.len & !IN_EXTRA) as usize);
                            let id = if row.len & IN_EXTRA != 0 {
                                &piece.extra[at..at + len]
                            } else {
                                &block[at..at + len]
                            };
                            let i = table.find_or_insert(row.hash, &row.key, id);
                            let slot = &mut table.slots[i];
                            if opts.accumulate(&mut slot.acc, row.day, row.amount).is_err() {
                                return Some((row.line as usize, slot.seq));
                            }
                        }
                    }
                }
                None
            })
            .collect();
        let sink_error = sink_errors.into_iter().flatten().min_by_key(|e| e.0);
        match (parse_error, sink_error) {
            (Some((at, message)), s) if s.is_none_or(|s| at < s.0) => {
                return Err(ParseOrSink::Parse(ParseError {
                    line: line_of(at),
                    message,
                }))
            }
            (_, Some((_, customer))) => {
                return Err(ParseOrSink::Sink(crate::AnalyticsError::OutOfOrder {
                    customer,
                }))
            }
            _ => {}
        }
        let newlines: u64 = pieces.iter().map(|p| p.newlines).sum();
        self.next_line += newlines + u64::from(block.last() != Some(&b'\n'));
        Ok(())
    }

    /// The summaries and the customer ids by index.
    pub fn finish(self) -> (Vec<crate::summary::CalibrationHoldout>, Vec<String>) {
        let opts = self.opts;
        let parts: Vec<(Vec<crate::summary::CalibrationHoldout>, Vec<String>)> = self
            .shards
            .into_par_iter()
            .map(|table| {
                let mut order = vec![0u32; table.len];
                for (i, s) in table.slots.iter().enumerate() {
                    if s.tag != 0 {
                        order[s.seq as usize] = i as u32;
                    }
                }
                let mut rows = Vec::with_capacity(table.len);
                let mut ids = Vec::with_capacity(table.len);
                for (seq, &i) in order.iter().enumerate() {
                    let s = &table.slots[i as usize];
                    rows.extend(opts.finish_one(seq as u32, &s.acc));
                    ids.push(String::from_utf8_lossy(Table::key(s, &table.arena)).into_owned());
                }
                (rows, ids)
            })
            .collect();
        let mut rows = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
        let mut ids = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
        for (r, i) in parts {
            let offset = ids.len() as u32;
            rows.extend(r.into_iter().map(|mut r| {
                r.calibration.customer += offset;
                r
            }));
            ids.extend(i);
        }
        (rows, ids)
    }
}
