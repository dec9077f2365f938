//! The streaming summary equals the sort-based one, whatever the input order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapport_analytics::summary::{summarize, Merge, SummaryBuilder, SummaryOptions, TimeUnit};
use rapport_analytics::Transaction;

#[test]
fn streaming_equals_sorting_for_date_ordered_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut txs: Vec<Transaction> = (0..20_000)
        .map(|_| Transaction {
            customer: rng.gen_range(0..2_000),
            day: rng.gen_range(0..400),
            amount: rng.gen_range(-500..50_000),
        })
        .collect();
    for merge in [Merge::SameDay, Merge::SamePeriod] {
        for unit in [TimeUnit::Day, TimeUnit::Week] {
            let opts = SummaryOptions {
                time_unit: unit,
                merge,
                calibration_end: 250,
                observation_end: 350,
            };
            txs.shuffle(&mut rng);
            let sorted = summarize(&txs, opts).unwrap();
            // Date order across customers (how exports usually come) satisfies the builder.
            let mut by_date = txs.clone();
            by_date.sort_by_key(|t| t.day);
            let mut b = SummaryBuilder::new(opts, 2_000).unwrap();
            for t in by_date {
                b.push(t).unwrap();
            }
            let streamed = b.finish();
            assert_eq!(streamed, sorted);
            for s in &sorted {
                let c = s.calibration;
                assert!(c.recency <= c.t && c.recency >= 0.0);
                assert_eq!(c.frequency == 0, c.recency == 0.0);
            }
        }
    }
}
