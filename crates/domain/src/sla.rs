//! The SLA clock of support tickets: business calendars, business-time arithmetic and the state
//! of a first-response or resolution target. Pure: callers pass instants in, get instants out.
//!
//! # Calendars and business time
//!
//! A target ("first response within 240 minutes") counts *business time*: either every second
//! (24/7) or only the seconds inside the opening hours of a [`Calendar`]: working intervals per
//! weekday in local wall-clock time of an IANA time zone, minus whole local holiday dates.
//!
//! - On the wire a ticket policy carries an `Option<Calendar>`: `null` or absent means 24/7.
//!   Before any arithmetic a calendar is checked and compiled once into [`BusinessHours`]
//!   ([`Calendar::compile`], or [`BusinessHours::for_calendar`] for the optional form);
//!   [`BusinessHours::always`] is the 24/7 clock.
//! - Intervals are `open` < `close` within one local day, `HH:MM`; `close` may be `24:00` (end of
//!   the day). Overnight shifts are not supported: split them at midnight (`22:00`–`24:00` on one
//!   day and `00:00`–`06:00` on the next), which the arithmetic joins seamlessly. Several
//!   intervals per day are allowed (a lunch break), they must not overlap (touching is fine).
//! - Business time is *real elapsed time*: each day's local `open`/`close` is converted to UTC for
//!   that date, so an interval spanning a daylight-saving change is an hour shorter or longer.
//! - A local time that does not exist (in the gap when clocks spring forward) is taken as the
//!   first instant after the gap, i.e. the instant of the change; a local time that occurs twice
//!   (when clocks fall back) is taken at its **first** occurrence. Both rules keep the mapping
//!   monotonic, so `open` never lands after `close`; an interval that falls wholly into a gap is
//!   empty that day. Usual office hours (Europe changes at 02:00/03:00) are never affected.
//! - Intervals are half-open: open at `open`, closed at `close`.
//! - Zone rules come from `chrono-tz` (the IANA database it ships); its tables end around 2100,
//!   after which zones keep standard time.
//!
//! # Adding business time
//!
//! [`BusinessHours::add_business`] returns the first instant at which the given amount of
//! business time has elapsed from `start`; if `start` is outside the hours the count starts at
//! the next opening. A positive amount that exactly fills an interval ends at its `close` (a
//! 1-hour target at Friday 16:00 with a 17:00 close is due Friday 17:00, not Monday 09:00).
//! **Zero minutes** returns the next business instant at or after `start`: `start` itself when
//! open, the next opening otherwise (at exactly `close` the office is closed).
//!
//! The walk steps by interval, not by minute, and skips whole weeks at once when the week holds
//! no holiday and no change of UTC offset (a week whose two ends share an offset is taken to hold
//! no change: no zone in force changes its offset twice within a week). It gives up and returns
//! `None` when no business time turns up for [`IDLE_LIMIT_DAYS`] (about ten years; a compiled
//! calendar makes that impossible, as at most 366 holidays can only block 366 working days), when
//! the answer lies more than [`SPAN_LIMIT_DAYS`] (about 1 000 years) ahead, or on overflow.
//!
//! # The clock
//!
//! A [`Clock`] is one target of one ticket: the target in minutes, the start (ticket
//! `created_at`), pauses, and when it was met (first public reply, or solve). Pauses stop the
//! count while they last; callers pass the ticket's `pending`/`on_hold` spans for the resolution
//! clock and no pauses for the first-response clock. [`Clock::state`] reads it at `now`:
//!
//! - `remaining_seconds` = target − business time elapsed between start and `met_at` (or `now`)
//!   outside pauses; negative once the business time used exceeds the target (it can be 0 and
//!   breached, when the due time passed outside hours); frozen once met, and while paused.
//! - `due_at` is when the remaining time runs out: it moves later by the business time spent in
//!   pauses (a pause over a weekend moves it by nothing). While paused, it is **projected as if
//!   the clock resumed now** (more useful to a UI than nothing: it says "if you resume now, due
//!   at …"). Once met it stays as it was at the meeting. `None` only when not computable (see
//!   above).
//! - `breached`: met after `due_at`, or not met and `now` past `due_at`. Meeting exactly at
//!   `due_at` is in time. A pause after the due time does not undo a breach.

use chrono::{
    DateTime, Datelike, Days, FixedOffset, LocalResult, NaiveDate, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{FieldError, ValidationFailure};

/// At most this many holiday dates per calendar.
pub const MAX_HOLIDAYS: usize = 366;
/// At most this many opening-hours entries per calendar.
pub const MAX_HOURS_ENTRIES: usize = 100;
/// [`BusinessHours::add_business`] gives up after this many calendar days without business time.
pub const IDLE_LIMIT_DAYS: i64 = 3_660;
/// [`BusinessHours::add_business`] gives up when the answer lies further ahead than this.
pub const SPAN_LIMIT_DAYS: i64 = 365_250;

crate::string_enum! {
    /// A day of the week, as its lowercase three-letter English name.
    Weekday {
        Mon => "mon", Tue => "tue", Wed => "wed", Thu => "thu", Fri => "fri", Sat => "sat",
        Sun => "sun",
    }
}

impl Weekday {
    /// Monday = 0 … Sunday = 6.
    fn index(self) -> usize {
        match self {
            Weekday::Mon => 0,
            Weekday::Tue => 1,
            Weekday::Wed => 2,
            Weekday::Thu => 3,
            Weekday::Fri => 4,
            Weekday::Sat => 5,
            Weekday::Sun => 6,
        }
    }
}

/// One working interval, repeated on each of `days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// The weekdays it applies to.
    #[schema(example = json!(["mon", "tue", "wed", "thu", "fri"]), min_items = 1)]
    pub days: Vec<Weekday>,
    /// Local opening time, `HH:MM` (00:00 to 23:59).
    #[schema(example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub open: String,
    /// Local closing time, `HH:MM`, later than `open` on the same day; `24:00` is the end of the
    /// day. Overnight shifts are written as two intervals split at midnight.
    #[schema(example = "17:00", pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub close: String,
}

/// A business-hours calendar for SLA targets. Where a calendar is optional, `null` means 24/7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "time_zone": "Europe/Madrid",
    "hours": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"},
        {"days": ["sat"], "open": "10:00", "close": "14:00"}
    ],
    "holidays": ["2026-12-25", "2027-01-01"]
}))]
pub struct Calendar {
    /// IANA time zone the hours and holidays are in.
    #[schema(schema_with = crate::codes::time_zone_schema)]
    pub time_zone: String,
    /// Working intervals; at least one, none overlapping on the same weekday.
    #[schema(min_items = 1, max_items = 100)]
    pub hours: Vec<OpeningHours>,
    /// Local dates without business hours.
    #[serde(default)]
    #[schema(max_items = 366)]
    pub holidays: Vec<NaiveDate>,
}

impl Calendar {
    /// Checks the calendar; every problem is reported with the path of its field.
    pub fn validate(&self) -> Result<(), ValidationFailure> {
        self.compile().map(|_| ())
    }

    /// Validates and compiles the calendar for arithmetic.
    pub fn compile(&self) -> Result<BusinessHours, ValidationFailure> {
        let mut errors = Vec::new();
        let mut push = |field: String, code: &str, message: String| {
            errors.push(FieldError {
                field,
                code: code.into(),
                message,
            })
        };
        let tz = self.time_zone.parse::<Tz>().ok();
        if tz.is_none() {
            push(
                "time_zone".into(),
                "time_zone",
                "must be an IANA time zone name, e.g. Europe/Madrid".into(),
            );
        }
        if self.hours.is_empty() {
            push(
                "hours".into(),
                "required",
                "must have at least one working interval".into(),
            );
        }
        if self.hours.len() > MAX_HOURS_ENTRIES {
            push(
                "hours".into(),
                "length",
                format!("must have at most {MAX_HOURS_ENTRIES} entries"),
            );
        }
        // (open, close, entry) per weekday, Monday first.
        let mut days: [Vec<(u16, u16, usize)>; 7] = Default::default();
        for (i, entry) in self.hours.iter().enumerate() {
            if entry.days.is_empty() {
                push(
                    format!("hours[{i}].days"),
                    "length",
                    "must name at least one day".into(),
                );
            }
            let open = parse_time(&entry.open, false);
            if open.is_none() {
                push(
                    format!("hours[{i}].open"),
                    "time_format",
                    "must be a local time HH:MM from 00:00 to 23:59".into(),
                );
            }
            let close = parse_time(&entry.close, true);
            if close.is_none() {
                push(
                    format!("hours[{i}].close"),
                    "time_format",
                    "must be a local time HH:MM from 00:01 to 24:00".into(),
                );
            }
            if let (Some(open), Some(close)) = (open, close) {
                if open >= close {
                    push(
                        format!("hours[{i}].close"),
                        "interval_order",
                        "must be later than open; overnight shifts are not supported: split them \
                         at midnight"
                            .into(),
                    );
                } else {
                    for day in &entry.days {
                        if let Some(list) = days.get_mut(day.index()) {
                            list.push((open, close, i));
                        }
                    }
                }
            }
        }
        // Overlaps, each pair of entries reported once (on the first weekday it happens).
        let mut reported: Vec<(usize, usize)> = Vec::new();
        for (day, list) in days.iter_mut().enumerate() {
            list.sort_unstable();
            let mut latest: Option<(u16, usize)> = None; // furthest close so far, and its entry
            for &(open, close, entry) in list.iter() {
                if let Some((until, other)) = latest {
                    if open < until && !reported.contains(&(entry, other)) {
                        reported.push((entry, other));
                        let name = Weekday::ALL.get(day).map_or("", |d| d.as_str());
                        push(
                            format!("hours[{entry}]"),
                            "overlap",
                            format!("overlaps hours[{other}] on {name}"),
                        );
                    }
                }
                if latest.is_none_or(|(until, _)| close > until) {
                    latest = Some((close, entry));
                }
            }
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            push(
                "holidays".into(),
                "length",
                format!("must have at most {MAX_HOLIDAYS} dates"),
            );
        }
        let week_minutes: i64 = days
            .iter()
            .flatten()
            .map(|&(open, close, _)| i64::from(close - open))
            .sum();
        match tz {
            Some(tz) if errors.is_empty() && week_minutes > 0 => {
                let mut holidays = self.holidays.clone();
                holidays.sort_unstable();
                holidays.dedup();
                Ok(BusinessHours {
                    schedule: Some(Schedule {
                        tz,
                        days: days.map(|list| list.into_iter().map(|(o, c, _)| (o, c)).collect()),
                        holidays,
                        week: TimeDelta::minutes(week_minutes),
                    }),
                })
            }
            _ => Err(ValidationFailure(errors)),
        }
    }
}

/// `HH:MM` as minutes of the day; `24:00` (1440) only when `end_of_day` is allowed.
fn parse_time(value: &str, end_of_day: bool) -> Option<u16> {
    let b = value.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u16::from(c - b'0'))
    };
    if b.len() != 5 || b.get(2) != Some(&b':') {
        return None;
    }
    let hour = digit(0)? * 10 + digit(1)?;
    let minute = digit(3)? * 10 + digit(4)?;
    match (hour, minute) {
        (0..=23, 0..=59) => Some(hour * 60 + minute),
        (24, 0) if end_of_day => Some(24 * 60),
        _ => None,
    }
}

/// A compiled calendar (or 24/7), ready for business-time arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    /// `None`: 24/7.
    schedule: Option<Schedule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Schedule {
    tz: Tz,
    /// Sorted, non-overlapping `(open, close)` minutes of the local day, Monday first.
    days: [Vec<(u16, u16)>; 7],
    /// Sorted, deduplicated.
    holidays: Vec<NaiveDate>,
    /// Business time of a week without holidays or offset changes; positive.
    week: TimeDelta,
}

impl BusinessHours {
    /// Every second counts.
    pub fn always() -> Self {
        Self { schedule: None }
    }

    /// The business hours of an optional calendar: `None` is 24/7.
    pub fn for_calendar(calendar: Option<&Calendar>) -> Result<Self, ValidationFailure> {
        calendar.map_or_else(|| Ok(Self::always()), Calendar::compile)
    }

    /// Whether every second counts.
    pub fn is_always(&self) -> bool {
        self.schedule.is_none()
    }

    /// The instant when `minutes` of business time have elapsed from `start` (negative counts
    /// as 0; 0 gives the next business instant at or after `start`). `None` on overflow or when
    /// the search gives up (see the module docs).
    pub fn add_business(&self, start: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
        self.add_business_time(start, TimeDelta::try_minutes(minutes.max(0))?)
    }

    /// [`Self::add_business`] in seconds.
    pub fn add_business_seconds(
        &self,
        start: DateTime<Utc>,
        seconds: i64,
    ) -> Option<DateTime<Utc>> {
        self.add_business_time(start, TimeDelta::try_seconds(seconds.max(0))?)
    }

    /// [`Self::add_business`] for any duration (negative counts as zero).
    pub fn add_business_time(
        &self,
        start: DateTime<Utc>,
        amount: TimeDelta,
    ) -> Option<DateTime<Utc>> {
        let amount = amount.max(TimeDelta::zero());
        match &self.schedule {
            None => start.checked_add_signed(amount),
            Some(schedule) => schedule.add(start, amount),
        }
    }

    /// Whole seconds of business time in `[from, to)`; 0 when `to <= from`.
    pub fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.business_time_between(from, to).num_seconds()
    }

    /// Business time in `[from, to)`, exactly; zero when `to <= from`.
    pub fn business_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        match &self.schedule {
            None => to - from,
            Some(schedule) => schedule.between(from, to),
        }
    }

    /// Whether `at` is inside business hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.add_business_time(at, TimeDelta::zero()) == Some(at)
    }
}

impl Schedule {
    /// The UTC instant of a local wall-clock time (`minute` of `date`, 1440 = next midnight),
    /// resolving gaps to the instant of the change and repeated times to their first occurrence.
    fn local_instant(&self, date: NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
        let (date, minute) = if minute >= 24 * 60 {
            (date.succ_opt()?, 0)
        } else {
            (date, minute)
        };
        let local = date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.to_utc()),
            LocalResult::Ambiguous(a, b) => Some(a.to_utc().min(b.to_utc())),
            LocalResult::None => {
                let gap = GapInfo::new(&local, &self.tz)?;
                match (gap.end, gap.begin) {
                    (Some(end), _) => Some(end.to_utc()),
                    // The first missing local time less the offset before it: the change.
                    (None, Some((begin, offset))) => Some((begin - offset.fix()).and_utc()),
                    (None, None) => None,
                }
            }
        }
    }

    fn offset_at(&self, t: DateTime<Utc>) -> FixedOffset {
        self.tz.offset_from_utc_datetime(&t.naive_utc()).fix()
    }

    fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.binary_search(&date).is_ok()
    }

    /// The business intervals of a local date, in UTC, in order.
    fn day(&self, date: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let list: &[(u16, u16)] = if self.is_holiday(date) {
            &[]
        } else {
            self.days
                .get(date.weekday().num_days_from_monday() as usize)
                .map_or(&[], Vec::as_slice)
        };
        list.iter().filter_map(move |&(open, close)| {
            let open = self.local_instant(date, open)?;
            let close = self.local_instant(date, close)?;
            (open < close).then_some((open, close))
        })
    }

    /// When the week of local dates `[date, date + 7)` (starting at the instant `midnight`) has
    /// exactly [`Schedule::week`] of business time, the instant it ends.
    fn plain_week(&self, date: NaiveDate, midnight: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = date.checked_add_days(Days::new(7))?;
        let first_holiday = self.holidays.partition_point(|h| *h < date);
        if self.holidays.get(first_holiday).is_some_and(|h| *h < next) {
            return None;
        }
        let end = self.local_instant(next, 0)?;
        // A second before each end: a midnight in a gap is itself the instant of a change,
        // which shortens the week's first day.
        let second = TimeDelta::seconds(1);
        (self.offset_at(midnight - second) == self.offset_at(end - second)).then_some(end)
    }

    fn add(&self, start: DateTime<Utc>, amount: TimeDelta) -> Option<DateTime<Utc>> {
        let mut left = amount;
        let first = start.with_timezone(&self.tz).date_naive();
        let mut date = first;
        let mut progress = first;
        let mut cursor = start;
        loop {
            if (date - first).num_days() > SPAN_LIMIT_DAYS
                || (date - progress).num_days() > IDLE_LIMIT_DAYS
            {
                return None;
            }
            if left > self.week {
                let midnight = self.local_instant(date, 0)?;
                if cursor <= midnight {
                    if let Some(end) = self.plain_week(date, midnight) {
                        left -= self.week;
                        date = date.checked_add_days(Days::new(7))?;
                        progress = date;
                        cursor = end;
                        continue;
                    }
                }
            }
            for (open, close) in self.day(date) {
                let from = open.max(cursor);
                if from >= close {
                    continue;
                }
                let available = close - from;
                if left <= available {
                    return from.checked_add_signed(left);
                }
                left -= available;
                cursor = close;
                progress = date;
            }
            date = date.succ_opt()?;
        }
    }

    fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        let mut date = from.with_timezone(&self.tz).date_naive();
        loop {
            let Some(midnight) = self.local_instant(date, 0) else {
                return total;
            };
            if midnight >= to {
                return total;
            }
            if midnight >= from
                && to - midnight >= TimeDelta::days(7)
                && self.plain_week(date, midnight).is_some_and(|end| end <= to)
            {
                if let Some(next) = date.checked_add_days(Days::new(7)) {
                    total += self.week;
                    date = next;
                    continue;
                }
            }
            for (open, close) in self.day(date) {
                let (a, b) = (open.max(from), close.min(to));
                if a < b {
                    total += b - a;
                }
            }
            let Some(next) = date.succ_opt() else {
                return total;
            };
            date = next;
        }
    }
}

/// A span during which the clock stood still; `until: None` means it still does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// One SLA target of one ticket (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock<'a> {
    /// Business minutes allowed; negative counts as 0.
    pub target_minutes: i64,
    /// When the clock started: the ticket's `created_at`.
    pub started_at: DateTime<Utc>,
    /// Spans when the clock stood still, in any order, may overlap; parts outside
    /// `[started_at, met_at or now]` are ignored. Empty for first-response clocks.
    pub pauses: &'a [Pause],
    /// When the target was met (first public reply, or solve).
    pub met_at: Option<DateTime<Utc>>,
}

/// An SLA clock read at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClockState {
    /// When the target is (or was) due; moves later by business time spent paused; while paused,
    /// projected as if the clock resumed now. Absent only when it cannot be computed.
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub due_at: Option<DateTime<Utc>>,
    /// Business seconds left; negative when breached; frozen when met or paused.
    pub remaining_seconds: i64,
    /// Met after `due_at`, or not met and past `due_at`.
    pub breached: bool,
    /// Not met and standing still now.
    pub paused: bool,
    /// When the target was met.
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub met_at: Option<DateTime<Utc>>,
}

impl Clock<'_> {
    /// The clock's state as of `now`.
    pub fn state(&self, hours: &BusinessHours, now: DateTime<Utc>) -> ClockState {
        let start = self.started_at;
        let end = self.met_at.unwrap_or(now).max(start);
        let target = TimeDelta::try_minutes(self.target_minutes.max(0)).unwrap_or(TimeDelta::MAX);

        // Pauses clipped to [start, end], an open one running to `end`, sorted and merged.
        let mut pauses: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
            .pauses
            .iter()
            .map(|p| (p.from.max(start), p.until.unwrap_or(end).min(end)))
            .filter(|(from, until)| from < until)
            .collect();
        pauses.sort_unstable();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(pauses.len());
        for (from, until) in pauses {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(until),
                _ => merged.push((from, until)),
            }
        }

        // Business time elapsed outside pauses, and the due time: walk the running stretches
        // [start, p1.from), [p1.until, p2.from), …, [pn.until, ∞) until the target is used up.
        let mut elapsed = TimeDelta::zero();
        let mut due_at = None;
        let mut left = target;
        let mut running_from = start;
        for &(from, until) in &merged {
            let stretch = hours.business_time_between(running_from, from);
            elapsed += stretch;
            if due_at.is_none() {
                // A zero target is due at the first business instant that is not paused.
                due_at = if left.is_zero() {
                    hours
                        .add_business_time(running_from, left)
                        .filter(|t| *t < from)
                } else if left <= stretch {
                    hours.add_business_time(running_from, left)
                } else {
                    None
                };
                left = (left - stretch).max(TimeDelta::zero());
            }
            running_from = until;
        }
        elapsed += hours.business_time_between(running_from, end);
        if due_at.is_none() {
            due_at = hours.add_business_time(running_from, left);
        }

        let met = self.met_at.is_some();
        let paused = !met
            && self
                .pauses
                .iter()
                .any(|p| p.from <= now && p.until.is_none_or(|u| u > now));
        let breached = match (self.met_at, due_at) {
            (Some(met_at), Some(due)) => met_at > due,
            (None, Some(due)) => now > due,
            (_, None) => false,
        };
        let target_seconds = self.target_minutes.max(0).saturating_mul(60);
        ClockState {
            due_at,
            remaining_seconds: target_seconds.saturating_sub(elapsed.num_seconds()),
            breached,
            paused,
            met_at: self.met_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Madrid;
    use serde_json::json;

    /// A Madrid wall-clock time that exists exactly once, in UTC.
    fn madrid(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Madrid
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .to_utc()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    fn calendar(value: serde_json::Value) -> Calendar {
        serde_json::from_value(value).unwrap()
    }

    /// Mon–Fri 09:00–17:00 Europe/Madrid, Christmas and New Year off.
    fn office() -> BusinessHours {
        calendar(json!({
            "time_zone": "Europe/Madrid",
            "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}],
            "holidays": ["2026-12-25", "2027-01-01"]
        }))
        .compile()
        .unwrap()
    }

    /// Mon–Fri 09:00–13:00 and 14:00–18:00, Sat 10:00–14:00, Europe/Madrid.
    fn lunch_break() -> BusinessHours {
        calendar(json!({
            "time_zone": "Europe/Madrid",
            "hours": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "13:00"},
                {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "14:00", "close": "18:00"},
                {"days": ["sat"], "open": "10:00", "close": "14:00"}
            ],
            "holidays": ["2026-05-01", "2026-08-15", "2026-10-12", "2026-12-08"]
        }))
        .compile()
        .unwrap()
    }

    fn codes(failure: ValidationFailure) -> Vec<(String, String)> {
        failure.0.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn friday_afternoon_ticket_is_due_monday_noon() {
        let hours = office();
        // Friday 2026-11-20 16:00 + 4 h: 1 h on Friday, 3 h on Monday.
        let due = hours.add_business(madrid(2026, 11, 20, 16, 0), 240);
        assert_eq!(due, Some(madrid(2026, 11, 23, 12, 0)));
        // An interval filled exactly ends at its close, not at the next opening.
        assert_eq!(
            hours.add_business(madrid(2026, 11, 20, 16, 0), 60),
            Some(madrid(2026, 11, 20, 17, 0))
        );
    }

    #[test]
    fn weekend_and_evening_tickets_start_at_the_next_opening() {
        let hours = office();
        let saturday = madrid(2026, 11, 21, 11, 30);
        assert_eq!(
            hours.add_business(saturday, 0),
            Some(madrid(2026, 11, 23, 9, 0))
        );
        assert_eq!(
            hours.add_business(saturday, 60),
            Some(madrid(2026, 11, 23, 10, 0))
        );
        let tuesday_evening = madrid(2026, 11, 24, 20, 0);
        assert_eq!(
            hours.add_business(tuesday_evening, 60),
            Some(madrid(2026, 11, 25, 10, 0))
        );
        let early = madrid(2026, 11, 25, 6, 15);
        assert_eq!(
            hours.add_business(early, 30),
            Some(madrid(2026, 11, 25, 9, 30))
        );
    }

    #[test]
    fn zero_minutes_is_start_when_open_and_the_next_opening_otherwise() {
        let hours = office();
        let inside = madrid(2026, 11, 24, 10, 17) + TimeDelta::microseconds(123);
        assert_eq!(hours.add_business(inside, 0), Some(inside));
        assert!(hours.is_open(inside));
        // At exactly the close the office is closed.
        let close = madrid(2026, 11, 24, 17, 0);
        assert!(!hours.is_open(close));
        assert_eq!(
            hours.add_business(close, 0),
            Some(madrid(2026, 11, 25, 9, 0))
        );
        assert!(hours.is_open(madrid(2026, 11, 24, 9, 0)));
        // Negative targets count as zero.
        assert_eq!(hours.add_business(inside, -5), Some(inside));
    }

    #[test]
    fn holidays_are_skipped() {
        let hours = office();
        // Thursday 2026-12-24 16:00 + 4 h: Friday 25th is Christmas → Monday 28th 12:00.
        assert_eq!(
            hours.add_business(madrid(2026, 12, 24, 16, 0), 240),
            Some(madrid(2026, 12, 28, 12, 0))
        );
        assert_eq!(
            hours.business_seconds_between(madrid(2026, 12, 24, 0, 0), madrid(2026, 12, 29, 0, 0)),
            (8 + 8) * 3600
        );
        // New Year's Day 2027 is a Friday too: a 3-day target from Wednesday 30th, 09:00.
        assert_eq!(
            hours.add_business(madrid(2026, 12, 30, 9, 0), 3 * 8 * 60),
            Some(madrid(2027, 1, 4, 17, 0))
        );
    }

    #[test]
    fn lunch_break_and_saturday_hours() {
        let hours = lunch_break();
        // Monday 2026-11-23 12:00 + 2 h: 12–13, lunch, 14–15.
        assert_eq!(
            hours.add_business(madrid(2026, 11, 23, 12, 0), 120),
            Some(madrid(2026, 11, 23, 15, 0))
        );
        // Created at lunch: starts at 14:00.
        assert_eq!(
            hours.add_business(madrid(2026, 11, 23, 13, 20), 0),
            Some(madrid(2026, 11, 23, 14, 0))
        );
        // Friday 17:00 + 3 h: 1 h Friday, 2 h Saturday from 10:00.
        assert_eq!(
            hours.add_business(madrid(2026, 11, 27, 17, 0), 180),
            Some(madrid(2026, 11, 28, 12, 0))
        );
        // A full week: 5 × 8 h + 4 h.
        assert_eq!(
            hours.business_seconds_between(madrid(2026, 11, 23, 0, 0), madrid(2026, 11, 30, 0, 0)),
            44 * 3600
        );
        // Monday 12 October 2026 is a holiday.
        assert_eq!(
            hours.add_business(madrid(2026, 10, 9, 18, 0), 60),
            Some(madrid(2026, 10, 10, 11, 0))
        );
        assert_eq!(
            hours.add_business(madrid(2026, 10, 10, 13, 0), 120),
            Some(madrid(2026, 10, 13, 10, 0))
        );
    }

    #[test]
    fn due_times_across_daylight_saving_changes_keep_local_wall_clock() {
        let hours = office();
        // Spring: Sunday 2026-03-29 02:00 CET → 03:00 CEST. Friday 16:00 CET + 4 h is Monday
        // 12:00 CEST = 10:00 UTC (a fixed offset would say 11:00 UTC).
        let due = hours.add_business(madrid(2026, 3, 27, 16, 0), 240).unwrap();
        assert_eq!(due, madrid(2026, 3, 30, 12, 0));
        assert_eq!(due, utc(2026, 3, 30, 10, 0));
        // Autumn: Sunday 2026-10-25 03:00 CEST → 02:00 CET. Monday 12:00 CET = 11:00 UTC.
        let due = hours
            .add_business(madrid(2026, 10, 23, 16, 0), 240)
            .unwrap();
        assert_eq!(due, madrid(2026, 10, 26, 12, 0));
        assert_eq!(due, utc(2026, 10, 26, 11, 0));
        // Whole weeks across the change: 40 h each.
        for (from, to) in [
            (madrid(2026, 3, 23, 0, 0), madrid(2026, 4, 6, 0, 0)),
            (madrid(2026, 10, 19, 0, 0), madrid(2026, 11, 2, 0, 0)),
        ] {
            assert_eq!(hours.business_seconds_between(from, to), 80 * 3600);
        }
        // Three weeks of business time from before the spring change ends at 16:00 local.
        assert_eq!(
            hours.add_business(madrid(2026, 3, 20, 16, 0), 3 * 40 * 60),
            Some(madrid(2026, 4, 10, 16, 0))
        );
    }

    #[test]
    fn intervals_spanning_a_change_count_real_time_and_resolve_gaps_and_repeats() {
        let night = calendar(json!({
            "time_zone": "Europe/Madrid",
            "hours": [{"days": ["sun"], "open": "01:00", "close": "05:00"}]
        }))
        .compile()
        .unwrap();
        let spring = (madrid(2026, 3, 29, 0, 0), madrid(2026, 3, 30, 0, 0));
        let autumn = (madrid(2026, 10, 25, 0, 0), madrid(2026, 10, 26, 0, 0));
        assert_eq!(night.business_seconds_between(spring.0, spring.1), 3 * 3600);
        assert_eq!(night.business_seconds_between(autumn.0, autumn.1), 5 * 3600);
        assert_eq!(
            night.add_business(spring.0, 4 * 60),
            Some(madrid(2026, 4, 5, 2, 0))
        );

        // Opening in the spring gap (02:30 does not exist): opens at the change, 03:00 CEST.
        // Opening at a repeated time (02:30 occurs twice in autumn): the first one, in CEST.
        let gap = calendar(json!({
            "time_zone": "Europe/Madrid",
            "hours": [{"days": ["sun"], "open": "02:30", "close": "04:00"}]
        }))
        .compile()
        .unwrap();
        assert_eq!(gap.add_business(spring.0, 0), Some(utc(2026, 3, 29, 1, 0)));
        assert_eq!(gap.business_seconds_between(spring.0, spring.1), 3600);
        assert_eq!(
            gap.add_business(autumn.0, 0),
            Some(utc(2026, 10, 25, 0, 30))
        );
        assert_eq!(gap.business_seconds_between(autumn.0, autumn.1), 150 * 60);

        // An interval wholly inside the gap is empty that day only.
        let lost = calendar(json!({
            "time_zone": "Europe/Madrid",
            "hours": [{"days": ["sun"], "open": "02:10", "close": "02:50"}]
        }))
        .compile()
        .unwrap();
        assert_eq!(lost.business_seconds_between(spring.0, spring.1), 0);
        assert_eq!(
            lost.add_business(spring.0, 10),
            Some(madrid(2026, 4, 5, 2, 20))
        );
    }

    #[test]
    fn split_overnight_shifts_join_at_midnight() {
        let hours = calendar(json!({
            "time_zone": "America/New_York",
            "hours": [
                {"days": ["mon"], "open": "22:00", "close": "24:00"},
                {"days": ["tue"], "open": "00:00", "close": "06:00"}
            ]
        }))
        .compile()
        .unwrap();
        let ny = |d, h| {
            chrono_tz::America::New_York
                .with_ymd_and_hms(2026, 11, d, h, 0, 0)
                .single()
                .unwrap()
                .to_utc()
        };
        assert_eq!(hours.add_business(ny(23, 23), 180), Some(ny(24, 2)));
        assert_eq!(
            hours.add_business(ny(24, 6), 1),
            Some(ny(30, 22) + TimeDelta::minutes(1))
        );
    }

    #[test]
    fn around_the_clock() {
        let hours = BusinessHours::for_calendar(None).unwrap();
        assert!(hours.is_always());
        let start = utc(2026, 11, 21, 23, 30);
        assert_eq!(hours.add_business(start, 90), Some(utc(2026, 11, 22, 1, 0)));
        assert_eq!(hours.add_business(start, 0), Some(start));
        assert_eq!(
            hours.business_seconds_between(start, utc(2026, 11, 22, 1, 0)),
            5400
        );
        assert_eq!(hours.business_seconds_between(start, start), 0);
        assert_eq!(
            hours.business_seconds_between(start, utc(2026, 1, 1, 0, 0)),
            0
        );
        assert!(hours.is_open(start));
        assert_eq!(hours.add_business(start, i64::MAX), None);
        // A calendar open all week is 24/7 in effect.
        let all_week = calendar(json!({
            "time_zone": "UTC",
            "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                       "open": "00:00", "close": "24:00"}]
        }))
        .compile()
        .unwrap();
        assert_eq!(
            all_week.add_business(start, 100_000),
            hours.add_business(start, 100_000)
        );
    }

    #[test]
    fn large_targets_are_fast_and_exact() {
        let hours = office();
        let start = madrid(2026, 11, 20, 16, 0);
        // 100 000 minutes = 208 days and 2 h 40 min of 8-hour days.
        let due = hours.add_business(start, 100_000).unwrap();
        assert_eq!(hours.business_seconds_between(start, due), 6_000_000);
        assert!(due > start + TimeDelta::days(290));
        // A year of business minutes on a 40-hour week: 219 weeks, and some holidays.
        let due = hours.add_business(start, 525_600).unwrap();
        assert_eq!(hours.business_seconds_between(start, due), 525_600 * 60);
        assert_eq!(due.with_timezone(&Madrid).date_naive().year(), 2031);
        // Beyond a thousand years: gives up rather than walking on.
        assert_eq!(hours.add_business(start, 1_000_000_000_000), None);
        assert_eq!(hours.add_business(start, i64::MAX), None);
    }

    #[test]
    fn the_search_gives_up_when_nothing_is_ever_open() {
        // Not reachable through `compile` (at most 366 holidays): Mondays only, every Monday
        // for twelve years a holiday.
        let first = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let holidays = (0..12 * 53)
            .map(|w| first + Days::new(7 * w))
            .collect::<Vec<_>>();
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        days[0].push((9 * 60, 17 * 60));
        let hours = BusinessHours {
            schedule: Some(Schedule {
                tz: Madrid,
                days,
                holidays,
                week: TimeDelta::hours(8),
            }),
        };
        assert_eq!(hours.add_business(madrid(2026, 11, 20, 16, 0), 60), None);
    }

    /// A small linear congruential generator: reproducible without a dependency.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }

        fn instant(&mut self) -> DateTime<Utc> {
            // Any second from 2026 to 2028, plus some microseconds now and then.
            utc(2026, 1, 1, 0, 0)
                + TimeDelta::seconds(self.below(3 * 365 * 86_400) as i64)
                + TimeDelta::microseconds(self.below(4) as i64 * 250_000)
        }
    }

    fn calendars() -> Vec<BusinessHours> {
        vec![
            office(),
            lunch_break(),
            BusinessHours::always(),
            // Half-hour daylight saving, at 02:00 local.
            calendar(json!({
                "time_zone": "Australia/Lord_Howe",
                "hours": [
                    {"days": ["sun"], "open": "01:00", "close": "03:00"},
                    {"days": ["mon", "wed"], "open": "08:30", "close": "12:00"}
                ]
            }))
            .compile()
            .unwrap(),
            // Changes at midnight.
            calendar(json!({
                "time_zone": "America/Santiago",
                "hours": [{"days": ["sat", "sun"], "open": "00:00", "close": "24:00"}],
                "holidays": ["2026-04-04", "2026-09-05"]
            }))
            .compile()
            .unwrap(),
        ]
    }

    #[test]
    fn adding_and_measuring_agree() {
        let mut rng = Lcg(0x5EED);
        for hours in calendars() {
            for _ in 0..300 {
                let start = rng.instant();
                let minutes = match rng.below(3) {
                    0 => rng.below(600),
                    1 => rng.below(20_000),
                    _ => rng.below(200_000),
                } as i64;
                let due = hours.add_business(start, minutes).unwrap();
                assert!(due >= start);
                assert_eq!(
                    hours.business_seconds_between(start, due),
                    minutes * 60,
                    "{hours:?} from {start} + {minutes} min = {due}"
                );
                // The first such instant: a second earlier the target was not yet reached.
                if minutes > 0 {
                    let before = hours.business_time_between(start, due - TimeDelta::seconds(1));
                    assert_eq!(before, TimeDelta::minutes(minutes) - TimeDelta::seconds(1));
                } else {
                    assert!(hours.is_open(due));
                    assert_eq!(hours.business_seconds_between(start, due), 0);
                }
            }
        }
    }

    #[test]
    fn measuring_is_additive() {
        let mut rng = Lcg(42);
        for hours in calendars() {
            for _ in 0..200 {
                let mut t = [rng.instant(), rng.instant(), rng.instant()];
                t.sort();
                let [a, b, c] = t;
                assert_eq!(
                    hours.business_time_between(a, c),
                    hours.business_time_between(a, b) + hours.business_time_between(b, c),
                    "{hours:?} {a} {b} {c}"
                );
            }
        }
    }

    #[test]
    fn week_skipping_matches_walking_day_by_day() {
        let mut rng = Lcg(2026);
        for hours in calendars() {
            let Some(schedule) = &hours.schedule else {
                continue;
            };
            for _ in 0..100 {
                let from = rng.instant();
                let to = from + TimeDelta::seconds(rng.below(400 * 86_400) as i64);
                let mut walked = TimeDelta::zero();
                let mut date = from.with_timezone(&schedule.tz).date_naive();
                while schedule.local_instant(date, 0).unwrap() < to {
                    for (open, close) in schedule.day(date) {
                        let (a, b) = (open.max(from), close.min(to));
                        if a < b {
                            walked += b - a;
                        }
                    }
                    date = date.succ_opt().unwrap();
                }
                assert_eq!(hours.business_time_between(from, to), walked, "{from} {to}");
            }
        }
    }

    #[test]
    fn measuring_matches_a_minute_by_minute_count() {
        // Wall-clock reference: open when the local weekday and time are inside an interval
        // and the local date is no holiday. Exact for these hours, which no change touches.
        let hours = lunch_break();
        let holidays = ["2026-05-01", "2026-08-15", "2026-10-12", "2026-12-08"]
            .map(|d| d.parse::<NaiveDate>().unwrap());
        let open = |t: DateTime<Utc>| {
            let local = t.with_timezone(&Madrid);
            let minute = local.hour() * 60 + local.minute();
            let weekday = local.weekday().num_days_from_monday();
            !holidays.contains(&local.date_naive())
                && match weekday {
                    0..=4 => (540..780).contains(&minute) || (840..1080).contains(&minute),
                    5 => (600..840).contains(&minute),
                    _ => false,
                }
        };
        use chrono::Timelike;
        let mut rng = Lcg(7);
        let mut starts: Vec<DateTime<Utc>> = (0..12)
            .map(|_| utc(2026, 1, 1, 0, 0) + TimeDelta::minutes(rng.below(365 * 1440) as i64))
            .collect();
        // Around both changes and the holidays.
        starts.extend([
            madrid(2026, 3, 20, 11, 11),
            madrid(2026, 10, 18, 0, 0),
            madrid(2026, 4, 28, 9, 0),
            madrid(2026, 12, 1, 17, 59),
        ]);
        for start in starts {
            let days = 3 + rng.below(15) as i64;
            let end = start + TimeDelta::days(days);
            let mut count = 0;
            let mut t = start;
            while t < end {
                count += i64::from(open(t));
                t += TimeDelta::minutes(1);
            }
            assert_eq!(
                hours.business_seconds_between(start, end),
                count * 60,
                "{start}"
            );
        }
    }

    fn state(
        hours: &BusinessHours,
        target_minutes: i64,
        started_at: DateTime<Utc>,
        pauses: &[Pause],
        met_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> ClockState {
        Clock {
            target_minutes,
            started_at,
            pauses,
            met_at,
        }
        .state(hours, now)
    }

    #[test]
    fn running_clock_counts_down_and_breaches_after_the_due_time() {
        let hours = office();
        let created = madrid(2026, 11, 20, 16, 0);
        let s = state(&hours, 240, created, &[], None, madrid(2026, 11, 21, 12, 0));
        assert_eq!(
            s,
            ClockState {
                due_at: Some(madrid(2026, 11, 23, 12, 0)),
                remaining_seconds: 3 * 3600,
                breached: false,
                paused: false,
                met_at: None,
            }
        );
        let s = state(&hours, 240, created, &[], None, madrid(2026, 11, 23, 12, 0));
        assert_eq!((s.remaining_seconds, s.breached), (0, false));
        let s = state(
            &hours,
            240,
            created,
            &[],
            None,
            madrid(2026, 11, 23, 13, 30),
        );
        assert_eq!((s.remaining_seconds, s.breached), (-5400, true));
        // Past due outside hours: breached, remaining stays where the day ended.
        let s = state(&hours, 240, created, &[], None, madrid(2026, 11, 24, 7, 0));
        assert_eq!((s.remaining_seconds, s.breached), (-5 * 3600, true));
    }

    #[test]
    fn met_clocks_freeze() {
        let hours = office();
        let created = madrid(2026, 11, 20, 16, 0);
        let later = madrid(2026, 12, 10, 12, 0);
        let in_time = madrid(2026, 11, 23, 11, 0);
        let s = state(&hours, 240, created, &[], Some(in_time), later);
        assert_eq!(
            s,
            ClockState {
                due_at: Some(madrid(2026, 11, 23, 12, 0)),
                remaining_seconds: 3600,
                breached: false,
                paused: false,
                met_at: Some(in_time),
            }
        );
        let on_the_dot = madrid(2026, 11, 23, 12, 0);
        let s = state(&hours, 240, created, &[], Some(on_the_dot), later);
        assert_eq!((s.remaining_seconds, s.breached), (0, false));
        let late = madrid(2026, 11, 23, 12, 0) + TimeDelta::seconds(1);
        let s = state(&hours, 240, created, &[], Some(late), later);
        assert_eq!((s.remaining_seconds, s.breached), (-1, true));
        // 24/7: the same ticket was due Friday 20:00.
        let s = state(
            &BusinessHours::always(),
            240,
            created,
            &[],
            Some(in_time),
            later,
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 20, 20, 0)));
        assert!(s.breached);
        assert_eq!(s.remaining_seconds, (4 - 67) * 3600);
    }

    #[test]
    fn pauses_shift_the_due_time_by_business_time_only() {
        let hours = office();
        let created = madrid(2026, 11, 23, 9, 0); // Monday
        let due = madrid(2026, 11, 23, 17, 0); // 8 business hours
        let now = madrid(2026, 12, 14, 9, 0);
        assert_eq!(
            state(&hours, 480, created, &[], None, now).due_at,
            Some(due)
        );
        // Paused Monday 10:00–11:30: due 1.5 h later, on Tuesday.
        let pause = Pause {
            from: madrid(2026, 11, 23, 10, 0),
            until: Some(madrid(2026, 11, 23, 11, 30)),
        };
        let s = state(
            &hours,
            480,
            created,
            &[pause],
            Some(madrid(2026, 11, 24, 10, 0)),
            now,
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 24, 10, 30)));
        assert_eq!((s.remaining_seconds, s.breached), (1800, false));
        // Paused from Friday 17:00 to Monday 09:00: the weekend shifts nothing.
        let created = madrid(2026, 11, 27, 15, 0);
        let weekend = Pause {
            from: madrid(2026, 11, 27, 17, 0),
            until: Some(madrid(2026, 11, 30, 9, 0)),
        };
        let plain = state(&hours, 240, created, &[], None, now);
        let paused = state(&hours, 240, created, &[weekend], None, now);
        assert_eq!(plain.due_at, Some(madrid(2026, 11, 30, 11, 0)));
        assert_eq!(paused.due_at, plain.due_at);
        assert_eq!(paused.remaining_seconds, plain.remaining_seconds);
        // Overlapping and out-of-order pauses count once; a pause before creation is ignored.
        let pauses = [
            Pause {
                from: madrid(2026, 11, 30, 10, 0),
                until: Some(madrid(2026, 11, 30, 11, 0)),
            },
            Pause {
                from: madrid(2026, 11, 27, 16, 0),
                until: Some(madrid(2026, 11, 30, 10, 30)),
            },
            Pause {
                from: madrid(2026, 11, 1, 0, 0),
                until: Some(madrid(2026, 11, 2, 0, 0)),
            },
        ];
        // Running 15:00–16:00 Friday, then from Monday 11:00: 3 more hours → 14:00.
        let s = state(
            &hours,
            240,
            created,
            &pauses,
            None,
            madrid(2026, 11, 30, 12, 0),
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 30, 14, 0)));
        assert_eq!(s.remaining_seconds, 2 * 3600);
    }

    #[test]
    fn a_paused_clock_holds_its_remaining_time_and_projects_from_now() {
        let hours = office();
        let created = madrid(2026, 11, 23, 9, 0);
        let pause = Pause {
            from: madrid(2026, 11, 23, 12, 0),
            until: None,
        };
        // Paused since Monday 12:00 with 5 of 8 hours left; read on Wednesday 10:00.
        let now = madrid(2026, 11, 25, 10, 0);
        let s = state(&hours, 480, created, &[pause], None, now);
        assert_eq!(
            s,
            ClockState {
                due_at: Some(madrid(2026, 11, 25, 15, 0)),
                remaining_seconds: 5 * 3600,
                breached: false,
                paused: true,
                met_at: None,
            }
        );
        // Read on Saturday: resuming now would start Monday.
        let s = state(
            &hours,
            480,
            created,
            &[pause],
            None,
            madrid(2026, 11, 28, 10, 0),
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 30, 14, 0)));
        assert_eq!((s.remaining_seconds, s.paused), (5 * 3600, true));
        // Paused after the due time: stays breached, due time unchanged.
        let late = Pause {
            from: madrid(2026, 11, 24, 11, 0),
            until: None,
        };
        let s = state(
            &hours,
            480,
            created,
            &[late],
            None,
            madrid(2026, 11, 27, 10, 0),
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 23, 17, 0)));
        assert_eq!(
            (s.remaining_seconds, s.breached, s.paused),
            (-2 * 3600, true, true)
        );
        // Solved while still marked pending: met, not paused, the pause ends at the solve.
        let solved = madrid(2026, 11, 26, 9, 0);
        let s = state(&hours, 480, created, &[pause], Some(solved), now);
        assert_eq!(
            (s.remaining_seconds, s.breached, s.paused),
            (5 * 3600, false, false)
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 26, 14, 0)));
        // A zero target is due at the first business instant not paused: while the pause
        // lasts that is now (the projection), once it ended, its end.
        let created = madrid(2026, 11, 23, 9, 30);
        let open = [Pause {
            from: created,
            until: None,
        }];
        let s = state(&hours, 0, created, &open, None, madrid(2026, 11, 23, 9, 45));
        assert_eq!(s.due_at, Some(madrid(2026, 11, 23, 9, 45)));
        assert_eq!(
            (s.remaining_seconds, s.breached, s.paused),
            (0, false, true)
        );
        let closed = [Pause {
            from: created,
            until: Some(madrid(2026, 11, 23, 10, 0)),
        }];
        let s = state(
            &hours,
            0,
            created,
            &closed,
            None,
            madrid(2026, 11, 23, 10, 30),
        );
        assert_eq!(s.due_at, Some(madrid(2026, 11, 23, 10, 0)));
        assert_eq!(
            (s.remaining_seconds, s.breached, s.paused),
            (-1800, true, false)
        );
    }

    #[test]
    fn clock_state_serialises_for_the_api() {
        let s = ClockState {
            due_at: Some(utc(2026, 11, 23, 11, 0)),
            remaining_seconds: -60,
            breached: true,
            paused: false,
            met_at: None,
        };
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            json!({"due_at": "2026-11-23T11:00:00.000000Z", "remaining_seconds": -60,
                   "breached": true, "paused": false, "met_at": null})
        );
    }

    #[test]
    fn the_documented_calendar_round_trips() {
        let value = json!({
            "time_zone": "Europe/Madrid",
            "hours": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"},
                {"days": ["sat"], "open": "10:00", "close": "14:00"}
            ],
            "holidays": ["2026-12-25", "2027-01-01"]
        });
        let cal = calendar(value.clone());
        assert_eq!(serde_json::to_value(&cal).unwrap(), value);
        assert!(cal.validate().is_ok());
        let none: Option<Calendar> = serde_json::from_value(json!(null)).unwrap();
        assert!(BusinessHours::for_calendar(none.as_ref())
            .unwrap()
            .is_always());
        // Holidays may be left out; unknown fields and day names are rejected.
        assert!(serde_json::from_value::<Calendar>(json!({
            "time_zone": "UTC", "hours": [{"days": ["sun"], "open": "09:00", "close": "10:00"}]
        }))
        .is_ok());
        assert!(serde_json::from_value::<Calendar>(json!({
            "time_zone": "UTC", "hours": [], "weekends": true
        }))
        .is_err());
        assert!(serde_json::from_value::<Calendar>(json!({
            "time_zone": "UTC", "hours": [{"days": ["monday"], "open": "09:00", "close": "10:00"}]
        }))
        .is_err());
    }

    #[test]
    fn validation_reports_each_problem_with_its_field() {
        let bad_zone = calendar(json!({
            "time_zone": "Europe/Atlantis",
            "hours": [{"days": ["mon"], "open": "09:00", "close": "17:00"}]
        }));
        assert_eq!(
            codes(bad_zone.validate().unwrap_err()),
            [("time_zone".into(), "time_zone".into())]
        );
        let no_hours = calendar(json!({"time_zone": "Europe/Madrid", "hours": []}));
        assert_eq!(
            codes(no_hours.validate().unwrap_err()),
            [("hours".into(), "required".into())]
        );
        let no_days = calendar(json!({
            "time_zone": "UTC",
            "hours": [{"days": [], "open": "09:00", "close": "17:00"}]
        }));
        assert_eq!(
            codes(no_days.validate().unwrap_err()),
            [("hours[0].days".into(), "length".into())]
        );
        let formats = calendar(json!({
            "time_zone": "UTC",
            "hours": [
                {"days": ["mon"], "open": "9:00", "close": "17:00"},
                {"days": ["tue"], "open": "09:00", "close": "17:60"},
                {"days": ["wed"], "open": "24:00", "close": "24:00"},
                {"days": ["thu"], "open": "09h00", "close": "25:00"},
                {"days": ["fri"], "open": "00:00", "close": "24:00"}
            ]
        }));
        assert_eq!(
            codes(formats.validate().unwrap_err()),
            [
                ("hours[0].open".into(), "time_format".into()),
                ("hours[1].close".into(), "time_format".into()),
                ("hours[2].open".into(), "time_format".into()),
                ("hours[3].open".into(), "time_format".into()),
                ("hours[3].close".into(), "time_format".into()),
            ]
        );
        let order = calendar(json!({
            "time_zone": "UTC",
            "hours": [
                {"days": ["mon"], "open": "17:00", "close": "09:00"},
                {"days": ["tue"], "open": "09:00", "close": "09:00"}
            ]
        }));
        assert_eq!(
            codes(order.validate().unwrap_err()),
            [
                ("hours[0].close".into(), "interval_order".into()),
                ("hours[1].close".into(), "interval_order".into()),
            ]
        );
        let overlap = calendar(json!({
            "time_zone": "UTC",
            "hours": [
                {"days": ["mon", "tue"], "open": "09:00", "close": "18:00"},
                {"days": ["mon", "tue"], "open": "10:00", "close": "11:00"},
                {"days": ["tue"], "open": "12:00", "close": "13:00"},
                {"days": ["wed", "wed"], "open": "09:00", "close": "10:00"},
                {"days": ["thu"], "open": "09:00", "close": "13:00"},
                {"days": ["thu"], "open": "13:00", "close": "17:00"}
            ]
        }));
        let failure = overlap.validate().unwrap_err();
        assert_eq!(
            failure.0[0].message, "overlaps hours[0] on mon",
            "{failure:?}"
        );
        assert_eq!(
            codes(failure),
            [
                ("hours[1]".into(), "overlap".into()),
                ("hours[2]".into(), "overlap".into()),
                ("hours[3]".into(), "overlap".into()),
            ]
        );
        let holidays: Vec<String> = (0..367)
            .map(|d| (NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Days::new(d)).to_string())
            .collect();
        let too_many = calendar(json!({
            "time_zone": "UTC",
            "hours": [{"days": ["mon"], "open": "09:00", "close": "17:00"}],
            "holidays": holidays
        }));
        assert_eq!(
            codes(too_many.validate().unwrap_err()),
            [("holidays".into(), "length".into())]
        );
        let entries: Vec<_> = (0..101)
            .map(|_| json!({"days": [], "open": "09:00", "close": "17:00"}))
            .collect();
        let failure = calendar(json!({"time_zone": "UTC", "hours": entries}))
            .validate()
            .unwrap_err();
        assert_eq!(failure.0[0].field, "hours");
        // Several problems at once are all reported.
        let many = calendar(json!({
            "time_zone": "Mars/Olympus",
            "hours": [{"days": ["mon"], "open": "18:00", "close": "08:00"}]
        }));
        assert_eq!(many.validate().unwrap_err().0.len(), 2);
    }
}
