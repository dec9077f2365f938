//! Transactions → the per-customer summary the probability models take.
//!
//! Definitions follow Fader, Hardie & Lee (2005), "Counting your customers the easy way", and the
//! conventions of the `lifetimes` Python package (`summary_data_from_transaction_data`,
//! `calibration_and_holdout_data`), which analysts use as the reference:
//!
//! - purchases in the same *period* merge into one (their amounts add up);
//! - `frequency` x = number of periods with a purchase, minus the first one (repeat purchases);
//! - `recency` tₓ = time from the first to the last purchase period;
//! - `T` = time from the first purchase period to the end of the calibration period;
//! - `monetary_value` = mean amount of the *repeat* purchase periods (the first is excluded, as in
//!   `lifetimes`), 0 when x = 0; in minor units.
//!
//! Time is measured in a [`TimeUnit`] (day or week). With [`Merge::SameDay`] (the papers'
//! convention for CDNOW: repeat purchases counted by day, time measured in weeks) recency and T
//! are exact day differences divided by the unit (38.86 weeks, ...). With [`Merge::SamePeriod`]
//! purchases merge within a calendar period of the unit (ISO weeks, Monday first) and times are
//! whole periods, like `lifetimes` with `freq="W"`.
//!
//! A calibration/holdout split counts, for customers whose first purchase falls in the calibration
//! period (day ≤ `calibration_end`), the purchase periods in `(calibration_end, observation_end]`.
//! Customers first seen after the calibration end are left out, as `lifetimes` does.
//!
//! Memory: [`SummaryBuilder`] streams transactions and keeps a fixed-size accumulator per customer
//! (no transaction is stored) provided each customer's purchases arrive in date order (files sorted
//! by date or by customer do). Otherwise it says so ([`AnalyticsError::OutOfOrder`]) and
//! [`summarize`] — which sorts a copy — is the exact fallback.

use crate::{AnalyticsError, Day, Transaction};
use rayon::slice::ParallelSliceMut;

/// The unit in which recency, T and predictions horizons are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// Days.
    Day,
    /// Weeks of 7 days.
    #[default]
    Week,
}

impl TimeUnit {
    /// Length of one unit in days.
    pub fn days(self) -> i32 {
        match self {
            Self::Day => 1,
            Self::Week => 7,
        }
    }

    /// Units per month, as in `lifetimes.customer_lifetime_value` (30 days, 4.345 weeks).
    pub fn per_month(self) -> f64 {
        match self {
            Self::Day => 30.0,
            Self::Week => 4.345,
        }
    }
}

/// Which purchases count as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Merge {
    /// Purchases on the same day merge; recency and T are day differences over the unit.
    #[default]
    SameDay,
    /// Purchases in the same period of the unit merge; recency and T are whole periods.
    SamePeriod,
}

/// Options of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryOptions {
    /// Unit of recency and T.
    pub time_unit: TimeUnit,
    /// Which purchases merge.
    pub merge: Merge,
    /// Last day (inclusive) of the calibration period.
    pub calibration_end: Day,
    /// Last day (inclusive) of the observation; purchases after it are ignored. Equal to
    /// `calibration_end` for a plain summary with no holdout.
    pub observation_end: Day,
}

impl SummaryOptions {
    /// A summary without holdout ending on `end`.
    pub fn new(end: Day, time_unit: TimeUnit) -> Self {
        Self {
            time_unit,
            merge: Merge::SameDay,
            calibration_end: end,
            observation_end: end,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), AnalyticsError> {
        if self.observation_end < self.calibration_end {
            return Err(AnalyticsError::InvalidInput(
                "observation end is before calibration end".into(),
            ));
        }
        Ok(())
    }

    /// Tick (day or period index) of a day, and ticks per unit.
    fn tick(&self, day: Day) -> i64 {
        match self.merge {
            Merge::SameDay => i64::from(day),
            // 1970-01-05 (day 4) was a Monday: periods start on Mondays for weeks.
            Merge::SamePeriod => i64::from(day - 4).div_euclid(i64::from(self.time_unit.days())),
        }
    }

    fn ticks_per_unit(&self) -> f64 {
        match self.merge {
            Merge::SameDay => f64::from(self.time_unit.days()),
            Merge::SamePeriod => 1.0,
        }
    }
}

/// Calibration-period summary of one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerSummary {
    /// Customer index.
    pub customer: u32,
    /// Repeat purchase periods x.
    pub frequency: u32,
    /// tₓ, in the time unit.
    pub recency: f64,
    /// T, in the time unit.
    pub t: f64,
    /// Mean amount of the repeat purchase periods (minor units); 0 when `frequency` is 0.
    pub monetary_value: f64,
}

impl CustomerSummary {
    /// A summary from its parts (e.g. for published summaries such as CDNOW's).
    pub fn new(customer: u32, frequency: u32, recency: f64, t: f64, monetary_value: f64) -> Self {
        Self {
            customer,
            frequency,
            recency,
            t,
            monetary_value,
        }
    }
}

/// Calibration summary plus what happened in the holdout period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationHoldout {
    /// Calibration-period summary.
    pub calibration: CustomerSummary,
    /// Purchase periods in the holdout.
    pub holdout_frequency: u32,
    /// Mean amount per holdout purchase period (minor units); 0 when none.
    pub holdout_monetary_value: f64,
    /// Length of the holdout in the time unit.
    pub holdout_duration: f64,
}

/// Per-customer accumulator of the streaming summary: 40 bytes, no transaction kept.
///
/// Ticks are days ([`Merge::SameDay`]) or period indices ([`Merge::SamePeriod`]); both fit an
/// `i32` for any [`Day`]. Amounts of the first calibration tick are not kept: only the repeat
/// ticks' total is needed (monetary value excludes the first purchase period).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Acc {
    /// First calibration tick (valid when `HAS_FIRST`).
    first: i32,
    /// Last calibration tick with a purchase.
    cal_last: i32,
    /// Tick of the last purchase seen (valid when `HAS_LAST`; holdout flag in `LAST_HOLD`).
    last_tick: i32,
    flags: u32,
    cal_periods: u32,
    hold_periods: u32,
    /// Total of the calibration purchases after the first tick.
    repeat_amount: i64,
    hold_amount: i64,
}

const HAS_FIRST: u32 = 1;
const HAS_LAST: u32 = 2;
const LAST_HOLD: u32 = 4;

/// Out of date order for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfOrder;

impl SummaryOptions {
    /// Add one purchase of `day` to `acc`.
    #[inline]
    pub(crate) fn accumulate(
        &self,
        acc: &mut Acc,
        day: Day,
        amount: i64,
    ) -> Result<(), OutOfOrder> {
        if day > self.observation_end {
            return Ok(());
        }
        let holdout = day > self.calibration_end;
        let tick = self.tick(day) as i32;
        let key = (tick, holdout);
        let last = (acc.last_tick, acc.flags & LAST_HOLD != 0);
        let has_last = acc.flags & HAS_LAST != 0;
        if has_last && key < last {
            return Err(OutOfOrder);
        }
        let new_period = !has_last || key != last;
        acc.last_tick = tick;
        acc.flags = (acc.flags & !LAST_HOLD) | HAS_LAST | if holdout { LAST_HOLD } else { 0 };
        if holdout {
            if acc.flags & HAS_FIRST == 0 {
                // First seen after calibration: not part of the cohort. Keep the order check.
                return Ok(());
            }
            acc.hold_amount = acc.hold_amount.wrapping_add(amount);
            if new_period {
                acc.hold_periods += 1;
            }
        } else {
            if acc.flags & HAS_FIRST == 0 {
                acc.flags |= HAS_FIRST;
                acc.first = tick;
            }
            if tick != acc.first {
                acc.repeat_amount = acc.repeat_amount.wrapping_add(amount);
            }
            if new_period {
                acc.cal_periods += 1;
                acc.cal_last = tick;
            }
        }
        Ok(())
    }

    /// The summary of customer `customer` from its accumulator, or `None` when the customer was
    /// first seen after the calibration end (or never).
    #[inline]
    pub(crate) fn finish_one(&self, customer: u32, acc: &Acc) -> Option<CalibrationHoldout> {
        if acc.flags & HAS_FIRST == 0 {
            return None;
        }
        let tpu = self.ticks_per_unit();
        let end_tick = self.tick(self.calibration_end);
        let holdout_duration = f64::from(self.observation_end - self.calibration_end)
            / f64::from(self.time_unit.days());
        let frequency = acc.cal_periods.saturating_sub(1);
        let monetary_value = if frequency > 0 {
            acc.repeat_amount as f64 / f64::from(frequency)
        } else {
            0.0
        };
        let first = i64::from(acc.first);
        Some(CalibrationHoldout {
            calibration: CustomerSummary {
                customer,
                frequency,
                recency: (i64::from(acc.cal_last) - first) as f64 / tpu,
                t: (end_tick - first) as f64 / tpu,
                monetary_value,
            },
            holdout_frequency: acc.hold_periods,
            holdout_monetary_value: if acc.hold_periods > 0 {
                acc.hold_amount as f64 / f64::from(acc.hold_periods)
            } else {
                0.0
            },
            holdout_duration,
        })
    }
}

/// Streaming summary: O(customers) memory, one pass, per-customer date order required.
#[derive(Debug, Clone)]
pub struct SummaryBuilder {
    opts: SummaryOptions,
    accs: Vec<Acc>,
}

impl SummaryBuilder {
    /// A builder; `customers` is a capacity hint.
    pub fn new(opts: SummaryOptions, customers: usize) -> Result<Self, AnalyticsError> {
        opts.validate()?;
        Ok(Self {
            opts,
            accs: Vec::with_capacity(customers),
        })
    }

    /// Add one purchase. Fails if the customer's purchases go back in time.
    #[inline]
    pub fn push(&mut self, tx: Transaction) -> Result<(), AnalyticsError> {
        if tx.day > self.opts.observation_end {
            return Ok(());
        }
        let i = tx.customer as usize;
        if i >= self.accs.len() {
            self.accs.resize(i + 1, Acc::default());
        }
        self.opts
            .accumulate(&mut self.accs[i], tx.day, tx.amount)
            .map_err(|OutOfOrder| AnalyticsError::OutOfOrder {
                customer: tx.customer,
            })
    }

    /// Summaries of the customers first seen in the calibration period, by customer index.
    pub fn finish(self) -> Vec<CalibrationHoldout> {
        let o = self.opts;
        self.accs
            .iter()
            .enumerate()
            .filter_map(|(i, a)| o.finish_one(i as u32, a))
            .collect()
    }

    /// Calibration summaries only.
    pub fn finish_summary(self) -> Vec<CustomerSummary> {
        self.finish().into_iter().map(|c| c.calibration).collect()
    }
}

/// Summaries from transactions in any order (sorts a copy by customer and day).
pub fn summarize(
    transactions: &[Transaction],
    opts: SummaryOptions,
) -> Result<Vec<CalibrationHoldout>, AnalyticsError> {
    let mut sorted = transactions.to_vec();
    sorted.par_sort_unstable_by_key(|t| (t.customer, t.day));
    let customers = sorted.last().map_or(0, |t| t.customer as usize + 1);
    let mut b = SummaryBuilder::new(opts, customers)?;
    for tx in sorted {
        b.push(tx)?;
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(customer: u32, day: Day, amount: i64) -> Transaction {
        Transaction {
            customer,
            day,
            amount,
        }
    }

    #[test]
    fn merges_same_day_purchases_and_excludes_the_first_from_spend() {
        // Customer 0: days 0 (10 + 5), 7 (20), 14 (30 + 10); end 27.
        let txs = [
            tx(0, 0, 10),
            tx(0, 0, 5),
            tx(0, 7, 20),
            tx(0, 14, 30),
            tx(0, 14, 10),
            tx(1, 20, 99),
        ];
        let s = summarize(&txs, SummaryOptions::new(27, TimeUnit::Day)).unwrap();
        let c = s[0].calibration;
        assert_eq!(c.frequency, 2);
        assert_eq!(c.recency, 14.0);
        assert_eq!(c.t, 27.0);
        assert_eq!(c.monetary_value, 30.0); // (20 + 40) / 2
        let c1 = s[1].calibration;
        assert_eq!(
            (c1.frequency, c1.recency, c1.t, c1.monetary_value),
            (0, 0.0, 7.0, 0.0)
        );

        let w = summarize(&txs, SummaryOptions::new(27, TimeUnit::Week)).unwrap();
        assert_eq!(w[0].calibration.recency, 2.0);
        assert!((w[0].calibration.t - 27.0 / 7.0).abs() < 1e-15);
    }

    #[test]
    fn same_period_merge_uses_iso_weeks() {
        // 1970-01-05 (day 4) is a Monday. Days 4 and 10 are one ISO week; 11 is the next.
        let txs = [tx(0, 4, 1), tx(0, 10, 2), tx(0, 11, 3)];
        let mut o = SummaryOptions::new(25, TimeUnit::Week);
        o.merge = Merge::SamePeriod;
        let c = summarize(&txs, o).unwrap()[0].calibration;
        assert_eq!((c.frequency, c.recency, c.t), (1, 1.0, 3.0));
        assert_eq!(c.monetary_value, 3.0);
    }

    #[test]
    fn calibration_holdout_split() {
        let txs = [
            tx(0, 0, 10),
            tx(0, 5, 10),
            tx(0, 12, 7),
            tx(0, 12, 3),
            tx(0, 15, 4),
            tx(0, 40, 1000), // after observation end: ignored
            tx(1, 11, 5),    // first purchase in holdout: not in the cohort
        ];
        let o = SummaryOptions {
            time_unit: TimeUnit::Day,
            merge: Merge::SameDay,
            calibration_end: 10,
            observation_end: 20,
        };
        let s = summarize(&txs, o).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].calibration.frequency, 1);
        assert_eq!(s[0].calibration.t, 10.0);
        assert_eq!(s[0].holdout_frequency, 2);
        assert_eq!(s[0].holdout_monetary_value, 7.0);
        assert_eq!(s[0].holdout_duration, 10.0);
    }

    #[test]
    fn streaming_builder_rejects_out_of_order_and_summarize_does_not() {
        let txs = [tx(0, 5, 1), tx(0, 2, 1)];
        let mut b = SummaryBuilder::new(SummaryOptions::new(10, TimeUnit::Day), 1).unwrap();
        b.push(txs[0]).unwrap();
        assert_eq!(
            b.push(txs[1]),
            Err(AnalyticsError::OutOfOrder { customer: 0 })
        );
        let s = summarize(&txs, SummaryOptions::new(10, TimeUnit::Day)).unwrap();
        assert_eq!(
            (s[0].calibration.frequency, s[0].calibration.recency),
            (1, 3.0)
        );
    }
}
