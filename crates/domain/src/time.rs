//! Timestamps on the wire: RFC 3339 in UTC with microseconds (`2026-11-24T09:30:00.000123Z`).
//! Written by hand because lists serialise thousands of them and chrono's general formatter
//! showed up in profiles; the layout is fixed-width, so it also sorts as text.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

pub fn format(t: &DateTime<Utc>) -> String {
    let mut out = String::with_capacity(27);
    push(&mut out, t);
    out
}

fn push(out: &mut String, t: &DateTime<Utc>) {
    fn digits(out: &mut String, value: u32, width: u32) {
        let mut div = 10u32.pow(width - 1);
        while div > 0 {
            out.push(char::from(b'0' + ((value / div) % 10) as u8));
            div /= 10;
        }
    }
    let year = t.year();
    if (0..=9999).contains(&year) {
        digits(out, year as u32, 4);
    } else {
        out.push_str(&format!("{year:+05}"));
    }
    out.push('-');
    digits(out, t.month(), 2);
    out.push('-');
    digits(out, t.day(), 2);
    out.push('T');
    digits(out, t.hour(), 2);
    out.push(':');
    digits(out, t.minute(), 2);
    out.push(':');
    digits(out, t.second(), 2);
    out.push('.');
    digits(out, t.timestamp_subsec_micros().min(999_999), 6);
    out.push('Z');
}

/// `#[serde(serialize_with = "rapport_domain::time::serialize")]`
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    // Common years fit a stack buffer; others take the general path.
    match fixed_width(t) {
        Some(bytes) => {
            s.serialize_str(std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?)
        }
        None => s.serialize_str(&format(t)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` without allocating, for years 0 to 9999.
fn fixed_width(t: &DateTime<Utc>) -> Option<[u8; 27]> {
    // One conversion to the naive time: each accessor on `DateTime` would redo it.
    let t = t.naive_utc();
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, (t.nanosecond() / 1_000).min(999_999));
    Some(b)
}

/// The same for optional timestamps (`null` when absent).
pub fn serialize_option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fixed_width_utc_and_parses_back() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T09:05:07.000123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format(&t), "2026-03-01T09:05:07.000123Z");
        assert_eq!(DateTime::parse_from_rfc3339(&format(&t)).unwrap(), t);
        let whole = DateTime::parse_from_rfc3339("1999-12-31T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format(&whole), "1999-12-31T23:59:59.000000Z");
        for t in [t, whole] {
            assert_eq!(
                fixed_width(&t).map(|b| String::from_utf8(b.to_vec()).unwrap()),
                Some(format(&t))
            );
        }
    }
}
