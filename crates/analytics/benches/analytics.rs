//! Speed targets of issue 3, on synthetic data of the stated sizes:
//! - CLV pipeline: CSV bytes (1 000 000 customers, ~6 000 000 transactions, in date order) →
//!   parse → streaming summary → BG/NBD fit → Gamma-Gamma fit → per-customer predictions
//!   (12-month CLV), target < 2 s;
//! - Markov attribution (first order) on 1 000 000 journeys, target < 1 s;
//! - RFM scores and segments of 1 000 000 customers, target < 200 ms.
//!
//! Run: `cargo bench -p rapport-analytics --bench analytics`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapport_analytics::attribution::{attribute, Journeys, Model};
use rapport_analytics::clv::fit_and_predict;
use rapport_analytics::gamma_gamma::ClvOptions;
use rapport_analytics::parse::{days_from_civil, format_day};
use rapport_analytics::rfm::{self, RfmInput};
use rapport_analytics::sharded::ShardedSummary;
use rapport_analytics::summary::{CustomerSummary, SummaryOptions, TimeUnit};
use std::fmt::Write;
use std::time::Duration;

const CUSTOMERS: u32 = 1_000_000;

/// `customer_id,date,amount` text for a year of purchases, sorted by date. Each customer has a
/// purchase rate drawn from a gamma-like spread and a first purchase in the first half-year.
fn transactions_csv() -> (Vec<u8>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let start = days_from_civil(2024, 1, 1).unwrap_or(0);
    let mut rows: Vec<(i32, u32, u32)> = Vec::with_capacity(6_200_000);
    for c in 0..CUSTOMERS {
        let first = rng.gen_range(0..182);
        // Mean ≈ 6 purchases: 1 + a geometric-ish count with heterogeneous rate.
        let rate: f64 = rng.gen::<f64>() * 15.5;
        let mut n = 1 + (rate * rng.gen::<f64>() * 2.0) as u32;
        if rng.gen_bool(0.3) {
            n = 1;
        }
        let span = 365 - first;
        rows.push((first, c, rng.gen_range(100..20_000)));
        for _ in 1..n {
            rows.push((
                first + rng.gen_range(0..span),
                c,
                rng.gen_range(100..20_000),
            ));
        }
    }
    rows.sort_unstable();
    let mut out = String::with_capacity(rows.len() * 32);
    out.push_str("customer_id,date,amount\n");
    let mut day_str = String::new();
    let mut last_day = i32::MIN;
    for (d, c, a) in &rows {
        if *d != last_day {
            day_str = format_day(start + d);
            last_day = *d;
        }
        let _ = writeln!(out, "cust-{c:07},{day_str},{}.{:02}", a / 100, a % 100);
    }
    (out.into_bytes(), rows.len())
}

fn opts() -> SummaryOptions {
    SummaryOptions::new(days_from_civil(2024, 12, 30).unwrap_or(0), TimeUnit::Week)
}

/// Parse + summary as the CLI streams a file: 16 MiB blocks cut at line ends.
fn summarize_csv(csv: &[u8]) -> Vec<CustomerSummary> {
    let Ok(mut s) = ShardedSummary::new(opts(), 2, rayon::current_num_threads()) else {
        return vec![];
    };
    let mut rest = csv;
    while !rest.is_empty() {
        let cut = if rest.len() <= 1 << 24 {
            rest.len()
        } else {
            rest[..1 << 24]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(rest.len(), |p| p + 1)
        };
        if s.feed(&rest[..cut]).is_err() {
            return vec![];
        }
        rest = &rest[cut..];
    }
    s.finish().0.into_iter().map(|r| r.calibration).collect()
}

fn clv_pipeline(csv: &[u8]) -> usize {
    let summary = summarize_csv(csv);
    match fit_and_predict(&summary, &ClvOptions::default()) {
        Ok(r) => r.customers.len(),
        Err(_) => 0,
    }
}

/// One untimed run with the time of each stage, printed for the record.
fn clv_stages(csv: &[u8]) {
    use std::time::Instant;
    let t0 = Instant::now();
    let summary = summarize_csv(csv);
    let t1 = Instant::now();
    let bg = rapport_analytics::bgnbd::fit(&summary);
    let t2 = Instant::now();
    let gg = rapport_analytics::gamma_gamma::fit(&summary);
    let t3 = Instant::now();
    if let (Ok(bg), Ok(gg)) = (bg, gg) {
        let p = rapport_analytics::clv::predict(
            &bg.params,
            &gg.params,
            &summary,
            &ClvOptions::default(),
        );
        let t4 = Instant::now();
        eprintln!(
            "stages: parse+summary {:?}, bgnbd {:?} ({} evals), gamma-gamma {:?} ({} evals), predict {:?} ({} customers)",
            t1 - t0, t2 - t1, bg.convergence.evaluations, t3 - t2, gg.convergence.evaluations, t4 - t3, p.len()
        );
        eprintln!("bgnbd: {:?} {:?}", bg.params, bg.convergence);
        eprintln!("gamma-gamma: {:?} {:?}", gg.params, gg.convergence);
    }
}

fn journeys() -> Journeys {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut j = Journeys::new((0..12).map(|c| format!("channel-{c}")).collect());
    let mut path = Vec::new();
    for _ in 0..1_000_000 {
        path.clear();
        let len = rng.gen_range(1..=6);
        path.extend((0..len).map(|_| rng.gen_range(0..12u32)));
        let conv = rng.gen_bool(0.05);
        let _ = j.push(
            &path,
            None,
            f64::from(u8::from(conv)),
            if conv { rng.gen_range(5.0..500.0) } else { 0.0 },
            f64::from(u8::from(!conv)),
        );
    }
    j
}

fn rfm_inputs() -> Vec<RfmInput> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    (0..CUSTOMERS)
        .map(|c| RfmInput {
            customer: c,
            last_day: 19_000 + rng.gen_range(0..730),
            frequency: 1 + (rng.gen::<f64>().powi(3) * 40.0) as u32,
            monetary: rng.gen_range(100..5_000_000),
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let (csv, n) = transactions_csv();
    eprintln!(
        "CLV input: {n} transactions, {} MB of CSV",
        csv.len() / 1_000_000
    );
    clv_stages(&csv);
    let mut g = c.benchmark_group("targets");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("clv_pipeline_1m_customers_csv", |b| {
        b.iter(|| black_box(clv_pipeline(&csv)))
    });
    drop(csv);
    let j = journeys();
    g.bench_function("markov_1m_journeys", |b| {
        b.iter(|| black_box(attribute(&j, Model::Markov { order: 1 }).map(|a| a.channels.len())))
    });
    drop(j);
    let inputs = rfm_inputs();
    g.bench_function("rfm_1m_customers", |b| {
        b.iter(|| black_box(rfm::score(&inputs, 19_730).len()))
    });
    g.finish();
}

criterion_group!(analytics, benches);
criterion_main!(analytics);
