//! The calendar: how much busier than usual a day is in a country (its Mother's Day, Black
//! Friday, Christmas, the sales, a quieter August in the south), and which kind of busy period a
//! moment falls in.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

use super::locales::{Country, MothersDay};

/// The largest seasonal multiplier (see [`season_of`]); thinning proposes at this rate.
pub(super) const SEASON_MAX: f32 = 3.2;

/// Which kind of busy period a moment falls in, for the choice of product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SeasonKind {
    Normal,
    MothersDay,
    BlackFriday,
    Christmas,
}

pub(super) fn season_kind(t: DateTime<Utc>, country: &Country) -> SeasonKind {
    let day = t.date_naive();
    let md = mothers_day(country.mothers_day, day.year());
    let bf = black_friday(day.year());
    if day < md && (md - day).num_days() <= 21 {
        SeasonKind::MothersDay
    } else if day >= bf && (day - bf).num_days() <= 3 {
        SeasonKind::BlackFriday
    } else if day.month() == 12 && day.day() <= 24 {
        SeasonKind::Christmas
    } else {
        SeasonKind::Normal
    }
}

/// How much busier than usual a day is in a country (at most [`SEASON_MAX`]).
pub(super) fn season_of(country: &Country, day: NaiveDate) -> f32 {
    let year = day.year();
    let md = mothers_day(country.mothers_day, year);
    let bf = black_friday(year);
    let mut s: f32 = 1.0;
    if day < md {
        let before = (md - day).num_days();
        s = s.max(match before {
            1..=7 => 3.2,
            8..=14 => 2.4,
            15..=21 => 1.8,
            _ => 1.0,
        });
    }
    let from_bf = (day - bf).num_days();
    if (0..=3).contains(&from_bf) {
        s = s.max(3.0);
    } else if (-7..0).contains(&from_bf) {
        s = s.max(1.4);
    }
    match (day.month(), day.day()) {
        (12, 1..=23) => s = s.max(1.8),
        (12, 24) => s = s.max(1.2),
        (12, 25..=31) => s = s.min(0.8),
        (1, 2..=15) => s = s.max(1.3),
        (2, 1..=13) => s = s.max(1.2),
        (8, _) if matches!(country.code, "ES" | "IT" | "FR" | "PT") => s = s.min(0.75),
        _ => {}
    }
    s.min(SEASON_MAX)
}

/// Mother's Day in a country and year.
pub(super) fn mothers_day(rule: MothersDay, year: i32) -> NaiveDate {
    match rule {
        MothersDay::NthSunday { n, month } => nth_weekday(year, month, Weekday::Sun, n),
        MothersDay::Fixed { month, day } => {
            NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
        }
        MothersDay::FourthSundayOfLent => easter(year) - chrono::Duration::days(21),
        MothersDay::FrenchRule => {
            let last = last_weekday(year, 5, Weekday::Sun);
            let pentecost = easter(year) + chrono::Duration::days(49);
            if last == pentecost {
                last + chrono::Duration::days(7)
            } else {
                last
            }
        }
    }
}

/// The day after the fourth Thursday of November.
fn black_friday(year: i32) -> NaiveDate {
    nth_weekday(year, 11, Weekday::Thu, 4) + chrono::Duration::days(1)
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8).unwrap_or(NaiveDate::MIN)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n))
        .unwrap_or(NaiveDate::MIN)
}

/// Easter Sunday (Gregorian; the anonymous algorithm, Meeus/Jones/Butcher).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::super::locales::COUNTRIES;
    use super::*;

    #[test]
    fn mothers_day_follows_each_country() {
        let day = |c: &str, y| {
            let country = COUNTRIES.iter().find(|k| k.code == c).unwrap();
            mothers_day(country.mothers_day, y).to_string()
        };
        assert_eq!(day("ES", 2025), "2025-05-04");
        assert_eq!(day("IT", 2025), "2025-05-11");
        assert_eq!(day("US", 2024), "2024-05-12");
        assert_eq!(day("MX", 2024), "2024-05-10");
        assert_eq!(day("GB", 2025), "2025-03-30");
        assert_eq!(day("GB", 2024), "2024-03-10");
        assert_eq!(day("AR", 2025), "2025-10-19");
        assert_eq!(day("FR", 2025), "2025-05-25");
        // 2024: the last Sunday of May (26) is not Pentecost (19 May); 2023: it was (28 May).
        assert_eq!(day("FR", 2024), "2024-05-26");
        assert_eq!(day("FR", 2023), "2023-06-04");
        assert_eq!(black_friday(2025).to_string(), "2025-11-28");
    }
}
