//! RFM: recency, frequency and monetary quintile scores, and named segments.
//!
//! Hughes, A. M. (1994), *Strategic Database Marketing*: each customer gets a score 1–5 on each of
//! R (days since the last purchase at the as-of date; more recent is better), F (number of
//! purchases) and M (total spend), 5 being the best fifth of the customer base.
//!
//! **Scores and ties.** With n customers, a value's score is
//! `1 + ⌊5 · (customers with a strictly worse value) / n⌋`. Equal values therefore always get the
//! same score (ties go to the lower quintile, like `rank(method="min")`), the result does not
//! depend on the order of the input, and when many customers tie (e.g. one purchase each) the
//! upper quintiles are smaller rather than splitting equals arbitrarily. Computed with four
//! order statistics (`select_nth_unstable`, O(n)) instead of a sort.
//!
//! **Segments** from the R and F scores, the widely used 5×5 grid (the "RFM segmentation" map of
//! the customer-analytics literature and tools such as Putler), with its low-R/low-F corner split
//! into Hibernating (R = 2) and Lost (R = 1) so that all eleven names are used:
//!
//! | R \ F | 1 | 2 | 3 | 4 | 5 |
//! | --- | --- | --- | --- | --- | --- |
//! | 5 | New Customers | Potential Loyalists | Potential Loyalists | Champions | Champions |
//! | 4 | Promising | Potential Loyalists | Potential Loyalists | Loyal Customers | Loyal Customers |
//! | 3 | About To Sleep | About To Sleep | Need Attention | Loyal Customers | Loyal Customers |
//! | 2 | Hibernating | Hibernating | At Risk | At Risk | Can't Lose Them |
//! | 1 | Lost | Lost | At Risk | At Risk | Can't Lose Them |

use crate::{Day, Transaction};
use rayon::prelude::*;

/// The named RFM segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// Bought recently, buy often.
    Champions,
    /// Buy often, fairly recently.
    LoyalCustomers,
    /// Recent, a few purchases.
    PotentialLoyalists,
    /// Bought most recently, once.
    NewCustomers,
    /// Recent, once.
    Promising,
    /// Middle on both.
    NeedAttention,
    /// Middle recency, few purchases.
    AboutToSleep,
    /// Used to buy often, not lately.
    AtRisk,
    /// Bought the most, long ago.
    CantLoseThem,
    /// Few purchases, long ago.
    Hibernating,
    /// Fewest purchases, longest ago.
    Lost,
}

impl Segment {
    /// All segments, best first.
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::LoyalCustomers,
        Segment::PotentialLoyalists,
        Segment::NewCustomers,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CantLoseThem,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Champions => "Champions",
            Self::LoyalCustomers => "Loyal Customers",
            Self::PotentialLoyalists => "Potential Loyalists",
            Self::NewCustomers => "New Customers",
            Self::Promising => "Promising",
            Self::NeedAttention => "Need Attention",
            Self::AboutToSleep => "About To Sleep",
            Self::AtRisk => "At Risk",
            Self::CantLoseThem => "Can't Lose Them",
            Self::Hibernating => "Hibernating",
            Self::Lost => "Lost",
        }
    }

    /// The segment of an (R, F) score pair (see the table in the module doc); scores are 1–5.
    pub fn from_rf(r: u8, f: u8) -> Segment {
        use Segment::*;
        let f = f.clamp(1, 5);
        match r.clamp(1, 5) {
            5 => match f {
                1 => NewCustomers,
                2 | 3 => PotentialLoyalists,
                _ => Champions,
            },
            4 => match f {
                1 => Promising,
                2 | 3 => PotentialLoyalists,
                _ => LoyalCustomers,
            },
            3 => match f {
                1 | 2 => AboutToSleep,
                3 => NeedAttention,
                _ => LoyalCustomers,
            },
            r => match f {
                1 | 2 if r == 2 => Hibernating,
                1 | 2 => Lost,
                3 | 4 => AtRisk,
                _ => CantLoseThem,
            },
        }
    }
}

/// A customer's raw R, F, M at the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmInput {
    /// Customer index.
    pub customer: u32,
    /// Day of the last purchase on or before the as-of date.
    pub last_day: Day,
    /// Purchases on or before the as-of date.
    pub frequency: u32,
    /// Total spend on or before the as-of date, minor units.
    pub monetary: i64,
}

/// A customer's scores and segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmScore {
    /// Customer index.
    pub customer: u32,
    /// Days from the last purchase to the as-of date.
    pub recency_days: i32,
    /// Purchases.
    pub frequency: u32,
    /// Total spend, minor units.
    pub monetary: i64,
    /// Recency score 1–5 (5 = most recent).
    pub r: u8,
    /// Frequency score 1–5.
    pub f: u8,
    /// Monetary score 1–5.
    pub m: u8,
    /// Named segment from (r, f).
    pub segment: Segment,
}

/// Accumulates R, F, M from transactions in any order (O(customers) memory).
#[derive(Debug, Clone, Default)]
pub struct RfmBuilder {
    as_of: Day,
    rows: Vec<RfmInput>,
}

impl RfmBuilder {
    /// Count purchases on or before `as_of`.
    pub fn new(as_of: Day) -> Self {
        Self {
            as_of,
            rows: Vec::new(),
        }
    }

    /// Add one purchase.
    #[inline]
    pub fn push(&mut self, tx: Transaction) {
        if tx.day > self.as_of {
            return;
        }
        let i = tx.customer as usize;
        if i >= self.rows.len() {
            let from = self.rows.len();
            self.rows.extend((from..=i).map(|c| RfmInput {
                customer: c as u32,
                last_day: Day::MIN,
                frequency: 0,
                monetary: 0,
            }));
        }
        let r = &mut self.rows[i];
        r.last_day = r.last_day.max(tx.day);
        r.frequency += 1;
        r.monetary += tx.amount;
    }

    /// Inputs of the customers with at least one purchase, by customer index.
    pub fn finish(self) -> Vec<RfmInput> {
        self.rows.into_iter().filter(|r| r.frequency > 0).collect()
    }
}

/// Quintile score of every value (higher value, higher score; see the module doc for ties).
pub fn quintile_scores(values: &[i64]) -> Vec<u8> {
    let cuts = quintile_cuts(values);
    values.par_iter().map(|&v| score_of(v, &cuts)).collect()
}

#[inline]
fn score_of(v: i64, cuts: &[i64; 4]) -> u8 {
    1 + cuts.iter().filter(|&&c| v > c).count() as u8
}

/// `cuts[j]` is the k-th smallest value, k = ⌈(j+1)·n/5⌉: a value scores above j+1 iff it is
/// strictly greater than `cuts[j]` (then at least k values are strictly smaller).
fn quintile_cuts(values: &[i64]) -> [i64; 4] {
    let n = values.len();
    let mut cuts = [i64::MAX; 4];
    if n == 0 {
        return cuts;
    }
    let mut v = values.to_vec();
    let mut lo = 0;
    for (j, cut) in cuts.iter_mut().enumerate() {
        let k = ((j + 1) * n).div_ceil(5); // ≥ 1
        let idx = k - 1;
        if idx >= lo {
            v[lo..].select_nth_unstable(idx - lo);
            lo = idx;
        }
        *cut = v[idx];
    }
    cuts
}

/// Scores and segments at `as_of` (the day the R counts from).
pub fn score(inputs: &[RfmInput], as_of: Day) -> Vec<RfmScore> {
    let col = |f: fn(&RfmInput) -> i64| inputs.par_iter().map(f).collect::<Vec<i64>>();
    let ((rc, fc), mc) = rayon::join(
        || {
            rayon::join(
                || quintile_cuts(&col(|i| i64::from(i.last_day))),
                || quintile_cuts(&col(|i| i64::from(i.frequency))),
            )
        },
        || quintile_cuts(&col(|i| i.monetary)),
    );
    inputs
        .par_iter()
        .map(|i| {
            let r = score_of(i64::from(i.last_day), &rc);
            let f = score_of(i64::from(i.frequency), &fc);
            let m = score_of(i.monetary, &mc);
            RfmScore {
                customer: i.customer,
                recency_days: as_of.saturating_sub(i.last_day),
                frequency: i.frequency,
                monetary: i.monetary,
                r,
                f,
                m,
                segment: Segment::from_rf(r, f),
            }
        })
        .collect()
}

/// Customers per segment, in [`Segment::ALL`] order.
pub fn segment_counts(scores: &[RfmScore]) -> Vec<(Segment, usize)> {
    let mut counts = [0usize; 11];
    for s in scores {
        if let Some(i) = Segment::ALL.iter().position(|x| *x == s.segment) {
            counts[i] += 1;
        }
    }
    Segment::ALL.iter().copied().zip(counts).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, computed the slow way.
    fn naive(values: &[i64]) -> Vec<u8> {
        let n = values.len();
        values
            .iter()
            .map(|&v| {
                let less = values.iter().filter(|&&w| w < v).count();
                (1 + 5 * less / n) as u8
            })
            .collect()
    }

    #[test]
    fn distinct_values_split_into_equal_fifths() {
        let v: Vec<i64> = (0..10).rev().collect();
        assert_eq!(quintile_scores(&v), vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn ties_share_the_lower_score_and_match_the_definition() {
        let v = vec![1, 1, 1, 1, 1, 1, 2, 2, 3, 10];
        assert_eq!(quintile_scores(&v), vec![1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
        // Pseudo-random values with many ties, several sizes.
        let mut x: u64 = 42;
        for n in [1usize, 2, 3, 7, 11, 100, 1001] {
            let vals: Vec<i64> = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((x >> 33) % 13) as i64
                })
                .collect();
            assert_eq!(quintile_scores(&vals), naive(&vals), "n = {n}");
        }
    }

    #[test]
    fn result_does_not_depend_on_input_order() {
        let v: Vec<i64> = (0..97).map(|i| (i * 37 % 23) as i64).collect();
        let mut rev = v.clone();
        rev.reverse();
        let mut a = quintile_scores(&rev);
        a.reverse();
        assert_eq!(a, quintile_scores(&v));
    }

    #[test]
    fn segment_table() {
        use Segment::*;
        let grid = [
            [Lost, Lost, AtRisk, AtRisk, CantLoseThem],
            [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
            [
                AboutToSleep,
                AboutToSleep,
                NeedAttention,
                LoyalCustomers,
                LoyalCustomers,
            ],
            [
                Promising,
                PotentialLoyalists,
                PotentialLoyalists,
                LoyalCustomers,
                LoyalCustomers,
            ],
            [
                NewCustomers,
                PotentialLoyalists,
                PotentialLoyalists,
                Champions,
                Champions,
            ],
        ];
        for r in 1..=5u8 {
            for f in 1..=5u8 {
                assert_eq!(Segment::from_rf(r, f), grid[r as usize - 1][f as usize - 1]);
            }
        }
        let mut used: Vec<_> = grid.iter().flatten().copied().collect();
        used.sort();
        used.dedup();
        assert_eq!(used.len(), 11);
    }

    #[test]
    fn scores_from_transactions() {
        let t = |customer, day, amount| Transaction {
            customer,
            day,
            amount,
        };
        let mut b = RfmBuilder::new(100);
        for tx in [
            t(0, 99, 500),
            t(0, 90, 500),
            t(0, 80, 500),
            t(1, 10, 50),
            t(2, 60, 5000),
            t(3, 95, 20),
            t(4, 30, 10),
            t(4, 150, 10), // after as-of
        ] {
            b.push(tx);
        }
        let s = score(&b.finish(), 100);
        assert_eq!(s.len(), 5);
        assert_eq!((s[0].r, s[0].f, s[0].m, s[0].recency_days), (5, 5, 4, 1));
        assert_eq!(s[0].segment, Segment::Champions);
        assert_eq!((s[1].r, s[1].f, s[1].segment), (1, 1, Segment::Lost));
        assert_eq!(s[2].m, 5);
        assert_eq!(s[4].frequency, 1);
        let counts = segment_counts(&s);
        assert_eq!(counts.iter().map(|c| c.1).sum::<usize>(), 5);
    }
}
