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
pub(crate) fn split_fields<'a>(
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
pub(crate) fn positive(amount: i64) -> Result<i64, String> {
    if amount > 0 {
        Ok(amount)
    } else {
        Err("amount must be above zero; leave refunds and zero rows out".to_owned())
    }
}

pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
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
    pub(crate) scale: u32,
    pub(crate) cols: Option<[usize; 3]>,
    pub(crate) width: usize,
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
