//! Gamma-Gamma model of spend per transaction, and predicted CLV.
//!
//! Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for
//! Customer Base Analysis. *Journal of Marketing Research* 42(4), 415–430; and Fader & Hardie
//! (2013), "The Gamma-Gamma Model of Monetary Value" (note), whose notation we follow.
//!
//! A customer's transaction values are Gamma(p, ν); ν varies across customers as Gamma(q, γ).
//! The mean m̄ₓ of x transactions then has density (note eq. 3)
//!
//! ```text
//! f(m̄ₓ | p,q,γ,x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q m̄ₓ^(px-1) x^(px) / (γ + m̄ₓx)^(px+q)
//! ```
//!
//! fitted by maximum likelihood on the customers with x ≥ 1 repeat purchases and a positive mean
//! (the model is for positive spend; others are skipped and counted). Gradient in (p, q, γ):
//!
//! ```text
//! ∂/∂p = x·(ψ(px+q) - ψ(px) + ln m̄ₓ + ln x - ln(γ+m̄ₓx))
//! ∂/∂q = ψ(px+q) - ψ(q) + ln γ - ln(γ+m̄ₓx)
//! ∂/∂γ = q/γ - (px+q)/(γ+m̄ₓx)
//! ```
//!
//! Evaluated without cancellation when q and γ are huge (the fit drifts there on data where all
//! customers share one mean spend): `q ln γ − (px+q) ln(γ+m̄ₓx) = −px ln(γ+m̄ₓx) − q ln(1+m̄ₓx/γ)`,
//! and `ln Γ(px+q) − ln Γ(q)`, `ψ(px+q) − ψ(q)` by their Stirling expansions above q = 10⁴.
//! Customers with equal (x, m̄ₓ) are one weighted row; above 200 000 customers the search starts
//! from a seeded random subsample's estimate, as for BG/NBD.
//!
//! Conditional expected average spend (note eq. 5):
//! `E[M | p,q,γ,m̄ₓ,x] = p(γ + m̄ₓx) / (px + q - 1)`, a weighted mean of the population mean
//! pγ/(q-1) and the customer's own m̄ₓ.
//!
//! **CLV convention** (the one of `lifetimes.customer_lifetime_value`): the horizon is a number of
//! *months*; a month is 30 days or 4.345 weeks in the model's time unit; the discount rate is
//! *monthly*; month m's cash flow is spend × (E[Y(m)] − E[Y(m−1)]) from the BG/NBD model,
//! discounted by (1+d)^m, optionally times a margin rate:
//!
//! ```text
//! CLV = margin · Σ_{m=1..H} E[M] · (E[Y(m·u)] - E[Y((m-1)·u)]) / (1+d)^m,   u = units per month
//! ```
//!
//! A horizon that is not a whole number of months (39 weeks is 8.98 months) adds one last,
//! shorter step from ⌊H⌋ to H, discounted by (1+d)^H; for whole months the sum is the one above.

use crate::bgnbd::BgNbdParams;
use crate::optim::{minimize, Convergence};
use crate::special::{digamma, ln_gamma};
use crate::summary::{CustomerSummary, TimeUnit};
use crate::AnalyticsError;
use rayon::prelude::*;

/// Gamma-Gamma parameters (in the data's money unit: γ scales with it, p and q do not).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction gamma.
    pub p: f64,
    /// Shape of the across-customer gamma of ν.
    pub q: f64,
    /// Rate of the across-customer gamma of ν (a money amount).
    pub gamma: f64,
}

/// A fitted Gamma-Gamma model.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaGammaFit {
    /// Maximum-likelihood parameters.
    pub params: GammaGammaParams,
    /// Total log-likelihood (density of m̄ₓ) at the estimate.
    pub log_likelihood: f64,
    /// Customers fitted (x ≥ 1, positive mean spend).
    pub customers: usize,
    /// Customers skipped (x = 0 or mean spend ≤ 0).
    pub skipped: usize,
    /// How the optimisation ended.
    pub convergence: Convergence,
}

/// A weighted distinct (x, m̄ₓ) of the eligible customers.
#[derive(Debug, Clone, Copy)]
struct Row {
    x: u32,
    m: f64,
    ln_m: f64,
    weight: f64,
}

/// The eligible customers as weighted distinct rows sorted by (x, m̄ₓ), so that the fit does not
/// depend on the order of the customers.
fn rows(data: &[CustomerSummary]) -> Vec<Row> {
    let mut keys: Vec<(u32, u64)> = data
        .par_iter()
        .filter(|d| d.frequency > 0 && d.monetary_value > 0.0 && d.monetary_value.is_finite())
        .map(|d| (d.frequency, d.monetary_value.to_bits()))
        .collect();
    keys.par_sort_unstable();
    let mut rows: Vec<Row> = Vec::with_capacity(keys.len());
    for (x, m) in keys {
        match rows.last_mut() {
            Some(r) if r.x == x && r.m.to_bits() == m => r.weight += 1.0,
            _ => {
                let m = f64::from_bits(m);
                rows.push(Row {
                    x,
                    m,
                    ln_m: m.ln(),
                    weight: 1.0,
                });
            }
        }
    }
    rows
}

/// Above this q, `ln Γ(q+s) − ln Γ(q)` and `ψ(q+s) − ψ(q)` use their Stirling expansions
/// (truncation error below 1e-40 there) instead of differences of huge, nearly equal values.
const STIRLING_Q: f64 = 1e4;

/// `(ln Γ(q+s) − ln Γ(q), ψ(q+s) − ψ(q))` without cancellation when q is large (q → ∞ is
/// where the fit drifts on data whose customers all share one mean spend).
fn gamma_differences(q: f64, s: f64) -> (f64, f64) {
    if q < STIRLING_Q {
        return (ln_gamma(q + s) - ln_gamma(q), digamma(q + s) - digamma(q));
    }
    // ln Γ(z) = (z−½)ln z − z + ½ln 2π + 1/(12z) − 1/(360z³) + 1/(1260z⁵) − 1/(1680z⁷) + …
    // ψ(z) = ln z − 1/(2z) − 1/(12z²) + 1/(120z⁴) − 1/(252z⁶) + …
    let z = q + s;
    let l = (s / q).ln_1p();
    let lg_series = |z: f64| {
        1.0 / (12.0 * z) - 1.0 / (360.0 * z.powi(3)) + 1.0 / (1260.0 * z.powi(5))
            - 1.0 / (1680.0 * z.powi(7))
    };
    let psi_series = |z: f64| {
        -1.0 / (2.0 * z) - 1.0 / (12.0 * z * z) + 1.0 / (120.0 * z.powi(4))
            - 1.0 / (252.0 * z.powi(6))
    };
    let lg = (q - 0.5) * l + s * z.ln() - s + (lg_series(z) - lg_series(q));
    let psi = l + (psi_series(z) - psi_series(q));
    (lg, psi)
}

/// Log-likelihood and gradient of a block of rows, written so that nothing cancels when q and γ
/// are huge: `q ln γ − (px+q) ln(γ+m̄x) = −px ln(γ+m̄x) − q ln(1+m̄x/γ)`.
fn block_ll(p: &GammaGammaParams, rows: &[Row]) -> (f64, [f64; 3]) {
    let GammaGammaParams { p, q, gamma } = *p;
    let ln_gamma_ = gamma.ln();
    let inv_gamma = 1.0 / gamma;
    let mut cur = u32::MAX;
    let (mut c0, mut ln_x, mut psi_pxq_px, mut dpsi_q) = (0.0, 0.0, 0.0, 0.0);
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for row in rows {
        let x = f64::from(row.x);
        let px = p * x;
        if row.x != cur {
            cur = row.x;
            ln_x = x.ln();
            let (lg_diff, psi_diff) = gamma_differences(q, px);
            // ln Γ(px+q) − ln Γ(px) − ln Γ(q) + px ln x
            c0 = lg_diff - ln_gamma(px) + px * ln_x;
            psi_pxq_px = digamma(px + q) - digamma(px);
            dpsi_q = psi_diff;
        }
        let w = row.weight;
        let mx = row.m * x;
        let l1p = (mx * inv_gamma).ln_1p();
        let ln_gm = ln_gamma_ + l1p;
        ll += w * (c0 + (px - 1.0) * row.ln_m - px * ln_gm - q * l1p);
        g[0] += w * (x * (psi_pxq_px + row.ln_m + ln_x - ln_gm));
        g[1] += w * (dpsi_q - l1p);
        // q/γ − (px+q)/(γ+m̄x) = x(q·m̄/γ − p)/(γ+m̄x)
        g[2] += w * (x * (q * row.m * inv_gamma - p) / (gamma + mx));
    }
    (ll, g)
}

fn total_ll(p: &GammaGammaParams, rows: &[Row]) -> (f64, [f64; 3]) {
    let parts: Vec<_> = rows.par_chunks(8192).map(|c| block_ll(p, c)).collect();
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for (l, gg) in parts {
        ll += l;
        for i in 0..3 {
            g[i] += gg[i];
        }
    }
    (ll, g)
}

/// Above this many customers the fit starts from the fit of a random subsample of about
/// [`SUBSAMPLE_CUSTOMERS`] customers (see [`crate::bgnbd`]).
const WARM_START_CUSTOMERS: f64 = 200_000.0;
const SUBSAMPLE_CUSTOMERS: f64 = 50_000.0;

fn fit_rows(rows: &[Row], x0: Vec<f64>) -> (Vec<f64>, f64, Convergence) {
    let n: f64 = rows.iter().map(|r| r.weight).sum();
    let objective = |v: &[f64]| {
        let p = GammaGammaParams {
            p: v[0].exp(),
            q: v[1].exp(),
            gamma: v[2].exp(),
        };
        let (ll, g) = total_ll(&p, rows);
        let theta = [p.p, p.q, p.gamma];
        ((-ll / n), (0..3).map(|i| -g[i] * theta[i] / n).collect())
    };
    minimize(&objective, x0, 30.0)
}

impl GammaGammaParams {
    /// Total log-likelihood over the eligible customers of `data`.
    pub fn log_likelihood(&self, data: &[CustomerSummary]) -> f64 {
        total_ll(self, &rows(data)).0
    }

    /// Expected mean spend per transaction of a customer with `frequency` repeat purchases of
    /// mean `monetary_value` (for x = 0, the population mean pγ/(q-1)). Infinite when the
    /// population mean does not exist (q ≤ 1) and the customer has no repeat purchase.
    pub fn conditional_expected_average_spend(&self, frequency: u32, monetary_value: f64) -> f64 {
        let x = f64::from(frequency);
        let m = if frequency > 0 { monetary_value } else { 0.0 };
        let den = self.p * x + self.q - 1.0;
        if den <= 0.0 {
            return f64::INFINITY;
        }
        self.p * (self.gamma + m * x) / den
    }
}

/// Maximum-likelihood fit of p, q, γ on the repeat customers of `data`.
pub fn fit(data: &[CustomerSummary]) -> Result<GammaGammaFit, AnalyticsError> {
    fit_from(data, WARM_START_CUSTOMERS, SUBSAMPLE_CUSTOMERS)
}

/// [`fit`], starting from a subsample of about `sample` customers when there are more than
/// `warm_above`.
fn fit_from(
    data: &[CustomerSummary],
    warm_above: f64,
    sample: f64,
) -> Result<GammaGammaFit, AnalyticsError> {
    let rows = rows(data);
    let n: f64 = rows.iter().map(|r| r.weight).sum();
    if n < 2.0 {
        return Err(AnalyticsError::NotEnoughData(
            "Gamma-Gamma needs customers with repeat purchases and positive spend".into(),
        ));
    }
    // Start at p = q = 2 and γ matching the mean spend: E[m] = pγ/(q-1) = 2γ.
    let mean = rows.iter().map(|r| r.weight * r.m).sum::<f64>() / n;
    let mut x0 = vec![2f64.ln(), 2f64.ln(), (mean / 2.0).max(1e-9).ln()];
    let mut warm = None;
    if n > warm_above {
        let mut rng = crate::optim::subsample_rng();
        let sub: Vec<Row> = rows
            .iter()
            .filter_map(|r| {
                let w = crate::optim::thin(r.weight, sample / n, &mut rng);
                (w > 0.0).then_some(Row { weight: w, ..*r })
            })
            .collect();
        if sub.len() >= 2 {
            let (v, _, c) = fit_rows(&sub, x0.clone());
            if v.iter().all(|v| v.is_finite()) {
                x0 = v;
                warm = Some((sub.iter().map(|r| r.weight).sum::<f64>(), c.evaluations));
            }
        }
    }
    let (v, mean_nll, mut convergence) = fit_rows(&rows, x0);
    if let Some((m, e)) = warm {
        convergence.message = format!(
            "{} (started from the fit of a random subsample of {m} customers, {e} evaluations)",
            convergence.message
        );
    }
    let customers = n as usize;
    Ok(GammaGammaFit {
        params: GammaGammaParams {
            p: v[0].exp(),
            q: v[1].exp(),
            gamma: v[2].exp(),
        },
        log_likelihood: -mean_nll * n,
        customers,
        skipped: data.len() - customers,
        convergence,
    })
}

/// How to value the future.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvOptions {
    /// Horizon in months (30 days or 4.345 weeks each); need not be whole.
    pub months: f64,
    /// Monthly discount rate (0.01 = 1 % a month).
    pub monthly_discount_rate: f64,
    /// Margin rate applied to spend (1.0 = revenue).
    pub margin: f64,
    /// The time unit the BG/NBD model was fitted in.
    pub time_unit: TimeUnit,
}

impl ClvOptions {
    /// The months at which cumulative purchases are taken: 0, 1, …, ⌊H⌋, and H when it is not
    /// whole.
    pub fn month_grid(&self) -> Vec<f64> {
        let h = self.months.max(0.0);
        let whole = h.floor();
        let mut grid: Vec<f64> = (0..=whole as u32).map(f64::from).collect();
        if h - whole > 1e-9 {
            grid.push(h);
        }
        grid
    }

    /// The grid in the model's time unit.
    pub fn time_grid(&self) -> Vec<f64> {
        let per_month = self.time_unit.per_month();
        self.month_grid().iter().map(|m| m * per_month).collect()
    }
}

impl Default for ClvOptions {
    fn default() -> Self {
        Self {
            months: 12.0,
            monthly_discount_rate: 0.01,
            margin: 1.0,
            time_unit: TimeUnit::Week,
        }
    }
}

/// Discounted CLV of one customer (see the module doc for the convention), in spend units.
pub fn customer_lifetime_value(
    bgnbd: &BgNbdParams,
    expected_spend: f64,
    summary: &CustomerSummary,
    opts: &ClvOptions,
) -> f64 {
    let ts = opts.time_grid();
    let mut cum = vec![0.0; ts.len()];
    bgnbd.conditional_expected_purchases_multi(
        &ts,
        summary.frequency,
        summary.recency,
        summary.t,
        &mut cum,
    );
    clv_from_cumulative(&cum, expected_spend, opts)
}

/// CLV from cumulative expected purchases at the months of [`ClvOptions::month_grid`].
pub(crate) fn clv_from_cumulative(cum: &[f64], expected_spend: f64, opts: &ClvOptions) -> f64 {
    let grid = opts.month_grid();
    let mut clv = 0.0;
    for m in 1..cum.len().min(grid.len()) {
        let disc = (1.0 + opts.monthly_discount_rate).powf(-grid[m]);
        clv += (cum[m] - cum[m - 1]) * disc;
    }
    opts.margin * expected_spend * clv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let rows = [
            Row {
                x: 1,
                m: 20.0,
                ln_m: 20f64.ln(),
                weight: 1.0,
            },
            Row {
                x: 3,
                m: 35.5,
                ln_m: 35.5f64.ln(),
                weight: 2.0,
            },
            Row {
                x: 3,
                m: 12.0,
                ln_m: 12f64.ln(),
                weight: 1.0,
            },
            Row {
                x: 10,
                m: 50.0,
                ln_m: 50f64.ln(),
                weight: 1.0,
            },
        ];
        let p = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let (_, g) = total_ll(&p, &rows);
        let f = |v: [f64; 3]| {
            total_ll(
                &GammaGammaParams {
                    p: v[0],
                    q: v[1],
                    gamma: v[2],
                },
                &rows,
            )
            .0
        };
        for i in 0..3 {
            let h = 1e-6;
            let mut up = [p.p, p.q, p.gamma];
            let mut dn = up;
            up[i] += h;
            dn[i] -= h;
            let num = (f(up) - f(dn)) / (2.0 * h);
            assert!(
                (num - g[i]).abs() < 1e-5 * (1.0 + num.abs()),
                "{i}: {num} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn density_integrates_to_one() {
        // ∫₀^∞ f(m | p,q,γ,x) dm = 1, by Simpson on m = γ·u/(1-u), u ∈ (0,1).
        let p = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        for x in [1u32, 4] {
            let n = 20_000;
            let mut s = 0.0;
            for i in 1..n {
                let u = f64::from(i) / f64::from(n);
                let m = p.gamma * u / (1.0 - u);
                let dm = p.gamma / (1.0 - u).powi(2);
                let ll = block_ll(
                    &p,
                    &[Row {
                        x,
                        m,
                        ln_m: m.ln(),
                        weight: 1.0,
                    }],
                )
                .0;
                let w = if i % 2 == 1 { 4.0 } else { 2.0 };
                s += w * ll.exp() * dm;
            }
            let total = s / f64::from(n) / 3.0;
            assert!((total - 1.0).abs() < 1e-6, "x={x}: {total}");
        }
    }

    #[test]
    fn expected_spend_is_a_credibility_weighted_mean() {
        let p = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let pop = p.p * p.gamma / (p.q - 1.0);
        assert!((p.conditional_expected_average_spend(0, 123.0) - pop).abs() < 1e-12);
        let e = p.conditional_expected_average_spend(5, 40.0);
        let w = (p.q - 1.0) / (p.p * 5.0 + p.q - 1.0);
        assert!((e - (w * pop + (1.0 - w) * 40.0)).abs() < 1e-12);
        let q1 = GammaGammaParams { q: 0.5, ..p };
        assert_eq!(q1.conditional_expected_average_spend(0, 0.0), f64::INFINITY);
    }

    #[test]
    fn clv_discounts_monthly_increments() {
        let cum = [0.0, 1.0, 1.5, 1.75];
        let opts = ClvOptions {
            months: 3.0,
            monthly_discount_rate: 0.1,
            margin: 0.5,
            time_unit: TimeUnit::Week,
        };
        let want = 0.5 * 10.0 * (1.0 / 1.1 + 0.5 / 1.21 + 0.25 / 1.331);
        assert!((clv_from_cumulative(&cum, 10.0, &opts) - want).abs() < 1e-12);
    }

    #[test]
    fn a_horizon_between_months_adds_one_shorter_discounted_step() {
        let opts = ClvOptions {
            months: 2.5,
            monthly_discount_rate: 0.1,
            margin: 1.0,
            time_unit: TimeUnit::Week,
        };
        assert_eq!(opts.month_grid(), vec![0.0, 1.0, 2.0, 2.5]);
        let weeks = opts.time_grid();
        assert!((weeks[3] - 2.5 * 4.345).abs() < 1e-12);
        let cum = [0.0, 1.0, 1.5, 1.7];
        let want = 10.0 * (1.0 / 1.1 + 0.5 / 1.21 + 0.2 / 1.1f64.powf(2.5));
        assert!((clv_from_cumulative(&cum, 10.0, &opts) - want).abs() < 1e-12);
    }

    #[test]
    fn stirling_differences_match_direct_ones() {
        // At the switch the direct differences still have ~1e-11 absolute rounding error.
        for s_ in [0.3, 2.5, 60.0, 900.0] {
            let q = STIRLING_Q;
            let direct = (ln_gamma(q + s_) - ln_gamma(q), digamma(q + s_) - digamma(q));
            let stirling = gamma_differences(q * (1.0 + 1e-15), s_);
            assert!(
                (direct.0 - stirling.0).abs() < 1e-9 * direct.0.abs(),
                "{s_}"
            );
            assert!(
                (direct.1 - stirling.1).abs() < 1e-9 * direct.1.abs(),
                "{s_}"
            );
        }
        // Far out, where the direct difference is pure rounding noise, it stays smooth:
        // ln Γ(q+s) − ln Γ(q) → s ln q.
        let (lg, psi) = gamma_differences(1e12, 3.0);
        assert!((lg - 3.0 * 1e12f64.ln()).abs() < 1e-9);
        assert!((psi - 3e-12).abs() < 1e-20);
    }

    #[test]
    fn warm_start_reaches_the_same_estimate() {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Distribution, Gamma};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (p, q, g) = (6.0, 4.0, 15.0);
        let data: Vec<_> = (0..20_000u32)
            .map(|i| {
                let x = rng.gen_range(1..=10u32);
                let nu = Gamma::new(q, 1.0 / g).unwrap().sample(&mut rng);
                let total: f64 = (0..x)
                    .map(|_| Gamma::new(p, 1.0 / nu).unwrap().sample(&mut rng))
                    .sum();
                // Cents, as parsed amounts are: repeated (x, m̄ₓ) rows get merged.
                let m = (total / f64::from(x) * 100.0).round() / 100.0;
                CustomerSummary::new(i, x, 1.0, 2.0, m)
            })
            .collect();
        let cold = fit_from(&data, f64::INFINITY, 0.0).unwrap();
        let warm = fit_from(&data, 0.0, 3_000.0).unwrap();
        assert!(cold.convergence.converged && warm.convergence.converged);
        assert!(warm.convergence.message.contains("subsample"));
        let (c, w) = (cold.params, warm.params);
        for (a, b) in [(c.p, w.p), (c.q, w.q), (c.gamma, w.gamma)] {
            assert!((a / b - 1.0).abs() < 1e-5, "{c:?} vs {w:?}");
        }
        assert_eq!(cold.customers, 20_000);
        let mut rev = data.clone();
        rev.reverse();
        assert_eq!(fit(&rev).unwrap().params, fit(&data).unwrap().params);
    }
}
