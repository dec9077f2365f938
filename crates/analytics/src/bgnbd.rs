//! BG/NBD: the beta-geometric / negative binomial distribution model of repeat purchasing.
//!
//! Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
//! Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275–284.
//!
//! While alive, a customer buys as a Poisson process of rate λ ~ Gamma(r, α) (shape r, rate α);
//! after each purchase they drop out with probability p ~ Beta(a, b). For a customer with x repeat
//! purchases, the last at tₓ, observed for T (paper eq. 6):
//!
//! ```text
//! L(r,α,a,b | x,tₓ,T) = A₁·A₂·(A₃ + δ(x>0)·A₄)
//!   A₁ = Γ(r+x) αʳ / Γ(r)               A₂ = Γ(a+b) Γ(b+x) / (Γ(b) Γ(a+b+x))
//!   A₃ = (α+T)^-(r+x)                   A₄ = a/(b+x-1) · (α+tₓ)^-(r+x)
//! ```
//!
//! The fit maximises Σ ln L over the log-parameters (positivity for free) with L-BFGS and the
//! analytic gradient below; customers with identical (x, tₓ, T) are collapsed into one weighted
//! row first (with day-level data a million customers have far fewer distinct triples), and the
//! terms that depend on x only (the Γ and ψ values) are computed once per distinct x. `ln(A₃+A₄)`
//! is a log-sum-exp, so nothing overflows at huge x, and x = 0 has no A₄ term, so nothing is NaN.
//!
//! Predictions (paper eqs. 7, 10 and 11):
//!
//! ```text
//! P(alive | x,tₓ,T) = 1 / (1 + δ(x>0)·a/(b+x-1)·((α+T)/(α+tₓ))^(r+x))
//! E[Y(t) | x,tₓ,T] = (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x-1; z)]
//!                    / (1 + δ(x>0)·a/(b+x-1)·((α+T)/(α+tₓ))^(r+x)),   z = t/(α+T+t)
//! E[X(t)] = E[Y(t) | x=0, tₓ=0, T=0]
//! ```
//!
//! The ₂F₁ term is evaluated after Euler's transformation (A&S 15.3.3),
//! `₂F₁(A,B;C;z) = (1-z)^(C-A-B) ₂F₁(C-A, C-B; C; z)`, which turns the bracket into
//! `(1 - (1-z)^(a-1)·₂F₁(a+b-1-r, a-1; a+b+x-1; z))`: the prefactor `(1-z)^(r+x)` cancels (no
//! overflow at huge x), the second upper parameter a-1 is small so the series converges fast, and
//! since `₂F₁(·, a-1; ·) - 1` carries a factor (a-1) the apparent pole at a = 1 cancels
//! analytically (we divide it out instead of evaluating 0/0).

use crate::optim::{minimize, Convergence};
use crate::special::{digamma, ln_gamma, log_add_exp, softplus};
use crate::summary::CustomerSummary;
use crate::AnalyticsError;
use rayon::prelude::*;

/// BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate gamma, in the data's time unit.
    pub alpha: f64,
    /// Beta parameter a of the dropout probability.
    pub a: f64,
    /// Beta parameter b of the dropout probability.
    pub b: f64,
}

/// A fitted BG/NBD model.
#[derive(Debug, Clone, PartialEq)]
pub struct BgNbdFit {
    /// Maximum-likelihood parameters.
    pub params: BgNbdParams,
    /// Total log-likelihood at the estimate (sum over customers).
    pub log_likelihood: f64,
    /// Customers fitted.
    pub customers: usize,
    /// How the optimisation ended.
    pub convergence: Convergence,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    x: u32,
    tx: f64,
    t: f64,
    weight: f64,
}

fn validate(d: &CustomerSummary) -> Result<(), AnalyticsError> {
    let ok = d.t.is_finite()
        && d.recency.is_finite()
        && d.recency >= 0.0
        && d.recency <= d.t
        && (d.frequency > 0 || d.recency == 0.0);
    if ok {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidInput(format!(
            "customer #{}: need 0 <= recency <= T (and recency 0 when frequency is 0), got x={}, t_x={}, T={}",
            d.customer, d.frequency, d.recency, d.t
        )))
    }
}

/// Collapse identical (x, tₓ, T) into weighted rows, sorted by x.
fn compress(data: &[CustomerSummary]) -> Vec<Row> {
    let mut keys: Vec<(u32, u64, u64)> = data
        .par_iter()
        .map(|d| (d.frequency, d.recency.to_bits(), d.t.to_bits()))
        .collect();
    keys.par_sort_unstable();
    let mut rows: Vec<Row> = Vec::new();
    let mut prev = None;
    for k in keys {
        if prev == Some(k) {
            if let Some(r) = rows.last_mut() {
                r.weight += 1.0;
            }
        } else {
            rows.push(Row {
                x: k.0,
                tx: f64::from_bits(k.1),
                t: f64::from_bits(k.2),
                weight: 1.0,
            });
            prev = Some(k);
        }
    }
    rows
}

/// Per-x constants of the log-likelihood and its gradient.
struct XTerms {
    ln_a12: f64,
    d_r: f64,
    d_alpha: f64,
    d_a: f64,
    d_b: f64,
    ln_a4c: f64,
    inv_bx1: f64,
}

fn x_terms(p: &BgNbdParams, x: u32) -> XTerms {
    let BgNbdParams { r, alpha, a, b } = *p;
    let xf = f64::from(x);
    let (ln_gr, ln_gab, ln_gb) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
    let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
    let ln_a1 = ln_gamma(r + xf) - ln_gr + r * alpha.ln();
    let ln_a2 = ln_gab + ln_gamma(b + xf) - ln_gb - ln_gamma(a + b + xf);
    let psi_abx = digamma(a + b + xf);
    XTerms {
        ln_a12: ln_a1 + ln_a2,
        d_r: digamma(r + xf) - psi_r + alpha.ln(),
        d_alpha: r / alpha,
        d_a: psi_ab - psi_abx,
        d_b: psi_ab + digamma(b + xf) - psi_b - psi_abx,
        ln_a4c: if x > 0 {
            a.ln() - (b + xf - 1.0).ln()
        } else {
            0.0
        },
        inv_bx1: if x > 0 { 1.0 / (b + xf - 1.0) } else { 0.0 },
    }
}

/// Weighted log-likelihood and its gradient in (r, α, a, b) over a block of rows.
fn block_ll(p: &BgNbdParams, rows: &[Row]) -> (f64, [f64; 4]) {
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    let mut cur_x = u32::MAX;
    let mut k = x_terms(p, rows.first().map_or(0, |r| r.x));
    for row in rows {
        if row.x != cur_x {
            cur_x = row.x;
            k = x_terms(p, cur_x);
        }
        let rx = p.r + f64::from(row.x);
        let ln_at = (p.alpha + row.t).ln();
        let l3 = -rx * ln_at;
        let (s, w3, w4, ln_atx) = if row.x > 0 {
            let ln_atx = (p.alpha + row.tx).ln();
            let l4 = k.ln_a4c - rx * ln_atx;
            let s = log_add_exp(l3, l4);
            (s, (l3 - s).exp(), (l4 - s).exp(), ln_atx)
        } else {
            (l3, 1.0, 0.0, 0.0)
        };
        let w = row.weight;
        ll += w * (k.ln_a12 + s);
        g[0] += w * (k.d_r - w3 * ln_at - w4 * ln_atx);
        g[1] += w
            * (k.d_alpha
                - w3 * rx / (p.alpha + row.t)
                - if row.x > 0 {
                    w4 * rx / (p.alpha + row.tx)
                } else {
                    0.0
                });
        g[2] += w * (k.d_a + w4 / p.a);
        g[3] += w * (k.d_b - w4 * k.inv_bx1);
    }
    (ll, g)
}

const CHUNK: usize = 8192;

/// Weighted total log-likelihood and gradient; chunks are summed in a fixed order so that the
/// result does not depend on thread scheduling.
fn total_ll(p: &BgNbdParams, rows: &[Row]) -> (f64, [f64; 4]) {
    let parts: Vec<(f64, [f64; 4])> = rows.par_chunks(CHUNK).map(|c| block_ll(p, c)).collect();
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    for (l, gg) in parts {
        ll += l;
        for i in 0..4 {
            g[i] += gg[i];
        }
    }
    (ll, g)
}

impl BgNbdParams {
    fn from_log(v: &[f64]) -> Self {
        Self {
            r: v[0].exp(),
            alpha: v[1].exp(),
            a: v[2].exp(),
            b: v[3].exp(),
        }
    }

    /// Log-likelihood of one customer.
    pub fn customer_log_likelihood(&self, x: u32, t_x: f64, t: f64) -> f64 {
        block_ll(
            self,
            &[Row {
                x,
                tx: t_x,
                t,
                weight: 1.0,
            }],
        )
        .0
    }

    /// Total log-likelihood of the data.
    pub fn log_likelihood(&self, data: &[CustomerSummary]) -> f64 {
        total_ll(self, &compress(data)).0
    }

    /// Probability that a customer with this history is still alive at T (paper eq. 11).
    pub fn probability_alive(&self, x: u32, t_x: f64, t: f64) -> f64 {
        (-self.ln_d(x, t_x, t)).exp()
    }

    /// `ln(1 + δ(x>0)·a/(b+x-1)·((α+T)/(α+tₓ))^(r+x))`, the denominator of eqs. 10 and 11.
    fn ln_d(&self, x: u32, t_x: f64, t: f64) -> f64 {
        if x == 0 {
            return 0.0;
        }
        let xf = f64::from(x);
        softplus(
            self.a.ln() - (self.b + xf - 1.0).ln()
                + (self.r + xf) * ((self.alpha + t).ln() - (self.alpha + t_x).ln()),
        )
    }

    /// Expected purchases in the next `t` units for a customer with history (x, tₓ, T)
    /// (paper eq. 10).
    pub fn conditional_expected_purchases(&self, t: f64, x: u32, t_x: f64, big_t: f64) -> f64 {
        let mut out = [0.0];
        self.conditional_expected_purchases_multi(&[t], x, t_x, big_t, &mut out);
        out[0]
    }

    /// [`Self::conditional_expected_purchases`] at several horizons at once (one series pass
    /// shared by all horizons: the series coefficients do not depend on t).
    pub fn conditional_expected_purchases_multi(
        &self,
        ts: &[f64],
        x: u32,
        t_x: f64,
        big_t: f64,
        out: &mut [f64],
    ) {
        let BgNbdParams { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let big_a = a + b - 1.0 - r;
        let c = a + b + xf - 1.0;
        let am1 = a - 1.0;
        let scale = c * (-self.ln_d(x, t_x, big_t)).exp();
        const MAX: usize = 16;
        let n = ts.len().min(out.len());
        for (chunk_t, chunk_o) in ts[..n].chunks(MAX).zip(out[..n].chunks_mut(MAX)) {
            let m = chunk_t.len();
            let mut z = [0.0; MAX];
            let mut pw = [0.0; MAX];
            let mut acc = [0.0; MAX];
            let mut zmax = 0.0f64;
            let mut imax = 0;
            for i in 0..m {
                let ti = chunk_t[i].max(0.0);
                z[i] = ti / (alpha + big_t + ti);
                pw[i] = 1.0;
                if z[i] > zmax {
                    zmax = z[i];
                    imax = i;
                }
            }
            // G(z) = Σ_{n≥1} (A)ₙ (a)ₙ₋₁ zⁿ / ((C)ₙ n!), with ₂F₁(A, a-1; C; z) = 1 + (a-1)·G(z).
            // Terms: c₁ = A/C, cₙ₊₁ = cₙ·(A+n)(a+n-1) / ((C+n)(n+1)).
            let mut coef = big_a / c;
            let mut pmax = zmax;
            for i in 0..m {
                pw[i] = z[i];
                acc[i] = coef * z[i];
            }
            for k in 1..2_000_000u32 {
                let nf = f64::from(k);
                let ratio = (big_a + nf) * (a + nf - 1.0) / ((c + nf) * (nf + 1.0));
                // The largest z has the slowest-decaying terms: test convergence on it.
                let last = (coef * pmax).abs();
                let best = acc[imax].abs();
                if coef == 0.0
                    || !last.is_finite()
                    || (k > 2 && (ratio * zmax).abs() < 1.0 && last <= 1e-17 * best)
                {
                    break;
                }
                coef *= ratio;
                pmax *= zmax;
                for i in 0..m {
                    pw[i] *= z[i];
                    acc[i] += coef * pw[i];
                }
            }
            for i in 0..m {
                if z[i] <= 0.0 {
                    chunk_o[i] = 0.0;
                    continue;
                }
                let ln1mz = -(chunk_t[i].max(0.0) / (alpha + big_t)).ln_1p();
                // e = (1-z)^(a-1) - 1; em = (1 - (1-z)^(a-1)) / (a-1), continuous at a = 1.
                let e = (am1 * ln1mz).exp_m1();
                let em = if am1.abs() < 1e-12 { -ln1mz } else { -e / am1 };
                let bracket = em - (1.0 + e) * acc[i];
                chunk_o[i] = (scale * bracket).max(0.0);
            }
        }
    }

    /// Population expectation E[X(t)]: purchases of a random new customer in (0, t] (paper eq. 9).
    pub fn expected_purchases(&self, t: f64) -> f64 {
        self.conditional_expected_purchases(t, 0, 0.0, 0.0)
    }
}

/// Maximum-likelihood fit of r, α, a, b.
pub fn fit(data: &[CustomerSummary]) -> Result<BgNbdFit, AnalyticsError> {
    if data.is_empty() {
        return Err(AnalyticsError::NotEnoughData("no customers".into()));
    }
    data.par_iter().try_for_each(validate)?;
    let rows = compress(data);
    let n = data.len() as f64;
    let mean_x = data.iter().map(|d| f64::from(d.frequency)).sum::<f64>() / n;
    let mean_t = data.iter().map(|d| d.t).sum::<f64>() / n;
    // Start: r = 1 and α so that the mean rate r/α matches the observed repeat rate.
    let alpha0 = (mean_t.max(1e-3) / mean_x.max(1e-3)).clamp(1e-3, 1e6);
    let x0 = vec![0.0, alpha0.ln(), 0.0, 0.0];
    let objective = |v: &[f64]| {
        let p = BgNbdParams::from_log(v);
        let (ll, g) = total_ll(&p, &rows);
        let theta = [p.r, p.alpha, p.a, p.b];
        let grad = (0..4).map(|i| -g[i] * theta[i] / n).collect();
        (-ll / n, grad)
    };
    let (v, mean_nll, convergence) = minimize(&objective, x0, 25.0);
    let params = BgNbdParams::from_log(&v);
    let log_likelihood = if convergence.message.contains("failed") {
        params.log_likelihood(data)
    } else {
        -mean_nll * n
    };
    Ok(BgNbdFit {
        params,
        log_likelihood,
        customers: data.len(),
        convergence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::hyp2f1;

    const P: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    /// Eq. 10 written literally with the plain ₂F₁ series.
    fn literal(p: &BgNbdParams, t: f64, x: u32, tx: f64, big_t: f64) -> f64 {
        let xf = f64::from(x);
        let BgNbdParams { r, alpha, a, b } = *p;
        let z = t / (alpha + big_t + t);
        let h = hyp2f1(r + xf, b + xf, a + b + xf - 1.0, z);
        let num = (a + b + xf - 1.0) / (a - 1.0)
            * (1.0 - ((alpha + big_t) / (alpha + big_t + t)).powf(r + xf) * h);
        let den = 1.0
            + if x > 0 {
                a / (b + xf - 1.0) * ((alpha + big_t) / (alpha + tx)).powf(r + xf)
            } else {
                0.0
            };
        num / den
    }

    #[test]
    fn transformed_series_matches_the_literal_formula() {
        for &(t, x, tx, big_t) in &[
            (39.0, 2, 30.43, 38.86),
            (10.0, 0, 0.0, 38.86),
            (52.0, 7, 35.0, 38.0),
            (1.0, 1, 1.71, 38.86),
        ] {
            let want = literal(&P, t, x, tx, big_t);
            let got = P.conditional_expected_purchases(t, x, tx, big_t);
            assert!(
                (got - want).abs() < 1e-10 * want.max(1e-3),
                "{t} {x}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn continuous_through_a_equal_one() {
        let mut p = P;
        let mut vals = vec![];
        for a in [1.0 - 1e-7, 1.0, 1.0 + 1e-7] {
            p.a = a;
            vals.push(p.conditional_expected_purchases(20.0, 3, 20.0, 30.0));
        }
        assert!(vals.iter().all(|v| v.is_finite()));
        assert!((vals[0] - vals[1]).abs() < 1e-5 && (vals[2] - vals[1]).abs() < 1e-5);
    }

    #[test]
    fn no_nan_at_zero_or_huge_frequency() {
        for &(x, tx) in &[(0u32, 0.0), (1, 0.5), (100_000, 38.0), (5_000_000, 1.0)] {
            let ll = P.customer_log_likelihood(x, tx, 38.86);
            let pa = P.probability_alive(x, tx, 38.86);
            let e = P.conditional_expected_purchases(52.0, x, tx, 38.86);
            assert!(
                ll.is_finite() && pa.is_finite() && e.is_finite(),
                "{x}: {ll} {pa} {e}"
            );
            assert!((0.0..=1.0).contains(&pa));
        }
        assert_eq!(P.probability_alive(0, 0.0, 10.0), 1.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let rows = [
            Row {
                x: 0,
                tx: 0.0,
                t: 30.0,
                weight: 3.0,
            },
            Row {
                x: 2,
                tx: 10.0,
                t: 30.0,
                weight: 1.0,
            },
            Row {
                x: 9,
                tx: 29.0,
                t: 35.0,
                weight: 2.0,
            },
        ];
        let (_, g) = total_ll(&P, &rows);
        let h = 1e-6;
        for i in 0..4 {
            let mut up = [P.r, P.alpha, P.a, P.b];
            let mut dn = up;
            up[i] += h;
            dn[i] -= h;
            let f = |v: [f64; 4]| {
                total_ll(
                    &BgNbdParams {
                        r: v[0],
                        alpha: v[1],
                        a: v[2],
                        b: v[3],
                    },
                    &rows,
                )
                .0
            };
            let num = (f(up) - f(dn)) / (2.0 * h);
            assert!(
                (num - g[i]).abs() < 1e-5 * (1.0 + num.abs()),
                "{i}: {num} vs {}",
                g[i]
            );
        }
    }
}
