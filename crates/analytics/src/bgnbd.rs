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
//! row first, and every evaluation computes the terms that depend on x only (the Γ and ψ
//! differences, as finite sums for integer x so that they do not cancel when b is huge) once per
//! distinct x, and `ln(α+T)`, `ln(α+tₓ)` once per distinct T and tₓ (day-level data have a few
//! hundred): a row then costs one `exp` and one `ln_1p`, as `ln(A₃+A₄) = ln A₃ + softplus(δ)`,
//! δ = ln A₄ − ln A₃ (nothing overflows at huge x; x = 0 has no A₄ term, so nothing is NaN).
//! With more than 200 000 customers the search starts from the estimate on a seeded random
//! subsample of about 50 000 (within its sampling error of the full estimate), so the full-data
//! L-BFGS needs only a few steps; the estimate is the same to the convergence tolerance, and it
//! does not depend on the order of the customers.
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
use crate::special::{digamma, ln_gamma, softplus};
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

/// A weighted distinct (x, tₓ, T): indices into the distinct x, tₓ and T values.
#[derive(Debug, Clone, Copy)]
struct Row {
    x: u32,
    xi: u32,
    txi: u32,
    ti: u32,
    weight: f64,
}

/// The data collapsed for the likelihood: weighted distinct rows and the distinct values they
/// index, so that `ln(α+T)`, `ln(α+tₓ)` and the Γ/ψ terms of x are computed once per distinct
/// value and evaluation, not per row.
#[derive(Debug, Clone, Default)]
struct Rows {
    rows: Vec<Row>,
    xs: Vec<u32>,
    txs: Vec<f64>,
    ts: Vec<f64>,
    customers: f64,
}

impl Rows {
    fn single(x: u32, tx: f64, t: f64, weight: f64) -> Self {
        Self {
            rows: vec![Row {
                x,
                xi: 0,
                txi: 0,
                ti: 0,
                weight,
            }],
            xs: vec![x],
            txs: vec![tx],
            ts: vec![t],
            customers: weight,
        }
    }
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

impl Rows {
    /// A random subsample of the customers (each kept with probability `fraction`, seeded), as
    /// rows of its own.
    fn subsample(&self, fraction: f64) -> Rows {
        let mut rng = crate::optim::subsample_rng();
        let mut rows: Vec<Row> = Vec::new();
        for r in &self.rows {
            let w = crate::optim::thin(r.weight, fraction, &mut rng);
            if w > 0.0 {
                rows.push(Row { weight: w, ..*r });
            }
        }
        let customers = rows.iter().map(|r| r.weight).sum();
        let (xmap, xs) = crate::optim::reindex(rows.iter().map(|r| r.xi), &self.xs);
        let (txmap, txs) = crate::optim::reindex(rows.iter().map(|r| r.txi), &self.txs);
        let (tmap, ts) = crate::optim::reindex(rows.iter().map(|r| r.ti), &self.ts);
        for r in &mut rows {
            r.xi = xmap[r.xi as usize];
            r.txi = txmap[r.txi as usize];
            r.ti = tmap[r.ti as usize];
        }
        Rows {
            rows,
            xs,
            txs,
            ts,
            customers,
        }
    }
}

/// Sorted distinct values of `v` (compared by bits: the inputs are finite).
fn distinct(mut v: Vec<u64>) -> Vec<u64> {
    v.par_sort_unstable();
    v.dedup();
    v
}

/// Collapse identical (x, tₓ, T) into weighted rows, sorted by (x, tₓ, T).
fn compress(data: &[CustomerSummary]) -> Rows {
    let mut keys: Vec<(u32, u64, u64)> = data
        .par_iter()
        .map(|d| (d.frequency, d.recency.to_bits(), d.t.to_bits()))
        .collect();
    keys.par_sort_unstable();
    let mut uniq: Vec<((u32, u64, u64), f64)> = Vec::new();
    for k in keys {
        match uniq.last_mut() {
            Some((p, w)) if *p == k => *w += 1.0,
            _ => uniq.push((k, 1.0)),
        }
    }
    let xs: Vec<u32> = {
        let mut v: Vec<u32> = uniq.iter().map(|(k, _)| k.0).collect();
        v.dedup();
        v
    };
    let txs = distinct(uniq.iter().map(|(k, _)| k.1).collect());
    let ts = distinct(uniq.iter().map(|(k, _)| k.2).collect());
    let index = |v: &[u64], b: u64| v.binary_search(&b).unwrap_or(0) as u32;
    let rows = uniq
        .par_iter()
        .map(|&((x, tx, t), weight)| Row {
            x,
            xi: xs.binary_search(&x).unwrap_or(0) as u32,
            txi: index(&txs, tx),
            ti: index(&ts, t),
            weight,
        })
        .collect();
    Rows {
        rows,
        xs,
        txs: txs.into_iter().map(f64::from_bits).collect(),
        ts: ts.into_iter().map(f64::from_bits).collect(),
        customers: data.len() as f64,
    }
}

/// Per-x constants of the log-likelihood and its gradient.
#[derive(Debug, Clone, Copy)]
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

/// `(ln(α+v), 1/(α+v))` for each distinct value.
fn log_terms(alpha: f64, v: &[f64]) -> Vec<(f64, f64)> {
    v.par_iter()
        .with_min_len(1024)
        .map(|&v| ((alpha + v).ln(), 1.0 / (alpha + v)))
        .collect()
}

/// Per-evaluation tables: x terms and the log terms of the distinct tₓ and T.
struct Tables {
    x: Vec<XTerms>,
    tx: Vec<(f64, f64)>,
    t: Vec<(f64, f64)>,
}

/// Up to this x the Γ and ψ differences are summed term by term (see [`x_table`]).
const RECURRENCE_X: u32 = 4096;

/// [`XTerms`] of every distinct x (ascending). For x ≤ [`RECURRENCE_X`] the differences of
/// ln Γ and ψ are the finite sums they equal for integer x,
///
/// ```text
/// ln Γ(r+x) − ln Γ(r) = Σ ln(r+k)      ln A₂ = −Σ ln(1 + a/(b+k))
/// ψ(r+x) − ψ(r) = Σ 1/(r+k)            ψ(a+b) − ψ(a+b+x) = −Σ 1/(a+b+k)
/// ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) = Σ a/((b+k)(a+b+k))          (k = 0..x-1)
/// ```
///
/// which stay exact to rounding where the Γ differences cancel catastrophically (b or a+b huge,
/// as on data without dropout, where the fit drifts to a → 0, b → ∞ and a noisy objective would
/// stall the line search).
fn x_table(p: &BgNbdParams, xs: &[u32]) -> Vec<XTerms> {
    let BgNbdParams { r, alpha, a, b } = *p;
    let ln_alpha = alpha.ln();
    let ln_a = a.ln();
    let mut out = Vec::with_capacity(xs.len());
    let (mut k, mut s_lnr, mut s_l1p, mut s_psir, mut s_dab, mut s_db) =
        (0u32, 0.0, 0.0, 0.0, 0.0, 0.0);
    for &x in xs {
        if x > RECURRENCE_X {
            out.push(x_terms(p, x));
            continue;
        }
        while k < x {
            let kf = f64::from(k);
            let (bk, abk) = (b + kf, a + b + kf);
            s_lnr += (r + kf).ln();
            s_l1p += (a / bk).ln_1p();
            s_psir += 1.0 / (r + kf);
            s_dab += 1.0 / abk;
            s_db += a / (bk * abk);
            k += 1;
        }
        let xf = f64::from(x);
        out.push(XTerms {
            ln_a12: s_lnr + r * ln_alpha - s_l1p,
            d_r: s_psir + ln_alpha,
            d_alpha: r / alpha,
            d_a: -s_dab,
            d_b: s_db,
            ln_a4c: if x > 0 {
                ln_a - (b + xf - 1.0).ln()
            } else {
                0.0
            },
            inv_bx1: if x > 0 { 1.0 / (b + xf - 1.0) } else { 0.0 },
        });
    }
    out
}

fn tables(p: &BgNbdParams, rows: &Rows) -> Tables {
    Tables {
        x: x_table(p, &rows.xs),
        tx: log_terms(p.alpha, &rows.txs),
        t: log_terms(p.alpha, &rows.ts),
    }
}

/// Weighted log-likelihood and its gradient in (r, α, a, b) over a block of rows.
///
/// With l₃ = ln A₃ and l₄ = ln A₄, `ln(A₃+A₄) = l₃ + softplus(δ)`, δ = l₄ − l₃, and the weights
/// of the two terms in the gradient are w₄ = σ(δ), w₃ = 1 − w₄ (one exp and one log per row).
fn block_ll(p: &BgNbdParams, tab: &Tables, rows: &[Row]) -> (f64, [f64; 4]) {
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    let inv_a = 1.0 / p.a;
    for row in rows {
        let k = &tab.x[row.xi as usize];
        let rx = p.r + f64::from(row.x);
        let (ln_at, inv_at) = tab.t[row.ti as usize];
        let w = row.weight;
        if row.x == 0 {
            ll += w * (k.ln_a12 - rx * ln_at);
            g[0] += w * (k.d_r - ln_at);
            g[1] += w * (k.d_alpha - rx * inv_at);
            g[2] += w * k.d_a;
            g[3] += w * k.d_b;
            continue;
        }
        let (ln_atx, inv_atx) = tab.tx[row.txi as usize];
        let delta = k.ln_a4c + rx * (ln_at - ln_atx);
        let (softplus, w3, w4) = if delta > 0.0 {
            let e = (-delta).exp();
            let inv = 1.0 / (1.0 + e);
            (delta + e.ln_1p(), e * inv, inv)
        } else {
            let e = delta.exp();
            let inv = 1.0 / (1.0 + e);
            (e.ln_1p(), inv, e * inv)
        };
        ll += w * (k.ln_a12 - rx * ln_at + softplus);
        g[0] += w * (k.d_r - w3 * ln_at - w4 * ln_atx);
        g[1] += w * (k.d_alpha - rx * (w3 * inv_at + w4 * inv_atx));
        g[2] += w * (k.d_a + w4 * inv_a);
        g[3] += w * (k.d_b - w4 * k.inv_bx1);
    }
    (ll, g)
}

const CHUNK: usize = 8192;

/// Weighted total log-likelihood and gradient; chunks are summed in a fixed order so that the
/// result does not depend on thread scheduling.
fn total_ll(p: &BgNbdParams, rows: &Rows) -> (f64, [f64; 4]) {
    let tab = tables(p, rows);
    let parts: Vec<(f64, [f64; 4])> = rows
        .rows
        .par_chunks(CHUNK)
        .map(|c| block_ll(p, &tab, c))
        .collect();
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
        total_ll(self, &Rows::single(x, t_x, t, 1.0)).0
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
        self.purchase_brackets(ts, x, big_t, out);
        let scale = self.bracket_scale(x, (-self.ln_d(x, t_x, big_t)).exp());
        let n = ts.len().min(out.len());
        for o in &mut out[..n] {
            *o = scale_bracket(scale, *o);
        }
    }

    /// `E[Y(t) | x,tₓ,T] = scale · bracket(t)`: the factor that depends on tₓ, from
    /// P(alive) = `1/(1+δ(x>0)·a/(b+x-1)·((α+T)/(α+tₓ))^(r+x))`.
    pub(crate) fn bracket_scale(&self, x: u32, probability_alive: f64) -> f64 {
        (self.a + self.b + f64::from(x) - 1.0) * probability_alive
    }

    /// The part of eq. 10 that depends on (x, T) and t only — the series — at each horizon:
    /// `(1 - (1-z)^(a-1)·₂F₁(a+b-1-r, a-1; a+b+x-1; z)) / (a-1)` (0 where t ≤ 0). Customers
    /// sharing (x, T) share it; [`scale_bracket`] with [`Self::bracket_scale`] completes eq. 10.
    pub(crate) fn purchase_brackets(&self, ts: &[f64], x: u32, big_t: f64, out: &mut [f64]) {
        let BgNbdParams { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let big_a = a + b - 1.0 - r;
        let c = a + b + xf - 1.0;
        let am1 = a - 1.0;
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
                    chunk_o[i] = f64::NAN;
                    continue;
                }
                let ln1mz = -(chunk_t[i].max(0.0) / (alpha + big_t)).ln_1p();
                // e = (1-z)^(a-1) - 1; em = (1 - (1-z)^(a-1)) / (a-1), continuous at a = 1.
                let e = (am1 * ln1mz).exp_m1();
                let em = if am1.abs() < 1e-12 { -ln1mz } else { -e / am1 };
                chunk_o[i] = em - (1.0 + e) * acc[i];
            }
        }
    }

    /// Population expectation E[X(t)]: purchases of a random new customer in (0, t] (paper eq. 9).
    pub fn expected_purchases(&self, t: f64) -> f64 {
        self.conditional_expected_purchases(t, 0, 0.0, 0.0)
    }
}

/// `E[Y(t)]` from a bracket of [`BgNbdParams::purchase_brackets`] (NaN marks t ≤ 0: 0).
#[inline]
pub(crate) fn scale_bracket(scale: f64, bracket: f64) -> f64 {
    if bracket.is_nan() {
        0.0
    } else {
        (scale * bracket).max(0.0)
    }
}

/// Above this many customers the fit starts from the fit of a random subsample of about
/// [`SUBSAMPLE_CUSTOMERS`] customers: the subsample's estimate is within its sampling error of
/// the full one, so the full-data L-BFGS (whose evaluations cost the most) needs few steps.
const WARM_START_CUSTOMERS: f64 = 200_000.0;
const SUBSAMPLE_CUSTOMERS: f64 = 50_000.0;

fn fit_rows(rows: &Rows, x0: Vec<f64>) -> (Vec<f64>, f64, Convergence) {
    let n = rows.customers;
    let objective = |v: &[f64]| {
        let p = BgNbdParams::from_log(v);
        let (ll, g) = total_ll(&p, rows);
        let theta = [p.r, p.alpha, p.a, p.b];
        let grad = (0..4).map(|i| -g[i] * theta[i] / n).collect();
        (-ll / n, grad)
    };
    minimize(&objective, x0, 25.0)
}

/// Maximum-likelihood fit of r, α, a, b.
pub fn fit(data: &[CustomerSummary]) -> Result<BgNbdFit, AnalyticsError> {
    fit_from(data, WARM_START_CUSTOMERS, SUBSAMPLE_CUSTOMERS)
}

/// [`fit`], starting from a subsample of about `sample` customers when there are more than
/// `warm_above`.
fn fit_from(
    data: &[CustomerSummary],
    warm_above: f64,
    sample: f64,
) -> Result<BgNbdFit, AnalyticsError> {
    if data.is_empty() {
        return Err(AnalyticsError::NotEnoughData("no customers".into()));
    }
    data.par_iter().try_for_each(validate)?;
    let rows = compress(data);
    let n = rows.customers;
    // Sums over the sorted rows: the start does not depend on the order of the customers.
    let (sx, st) = rows.rows.iter().fold((0.0, 0.0), |(sx, st), r| {
        (
            sx + r.weight * f64::from(r.x),
            st + r.weight * rows.ts[r.ti as usize],
        )
    });
    let (mean_x, mean_t) = (sx / n, st / n);
    // Start: r = 1 and α so that the mean rate r/α matches the observed repeat rate.
    let alpha0 = (mean_t.max(1e-3) / mean_x.max(1e-3)).clamp(1e-3, 1e6);
    let mut x0 = vec![0.0, alpha0.ln(), 0.0, 0.0];
    let mut warm = None;
    if n > warm_above {
        let sub = rows.subsample(sample / n);
        let (v, _, c) = fit_rows(&sub, x0.clone());
        if v.iter().all(|v| v.is_finite()) {
            x0 = v;
            warm = Some((sub.customers, c.evaluations));
        }
    }
    let (v, mean_nll, mut convergence) = fit_rows(&rows, x0);
    if let Some((m, e)) = warm {
        convergence.message = format!(
            "{} (started from the fit of a random subsample of {m} customers, {e} evaluations)",
            convergence.message
        );
    }
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
        struct R {
            x: u32,
            tx: f64,
            t: f64,
            weight: f64,
        }
        let rows = [
            R {
                x: 0,
                tx: 0.0,
                t: 30.0,
                weight: 3.0,
            },
            R {
                x: 2,
                tx: 10.0,
                t: 30.0,
                weight: 1.0,
            },
            R {
                x: 9,
                tx: 29.0,
                t: 35.0,
                weight: 2.0,
            },
        ];
        let rows = Rows {
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| Row {
                    x: r.x,
                    xi: i as u32,
                    txi: i as u32,
                    ti: i as u32,
                    weight: r.weight,
                })
                .collect(),
            xs: rows.iter().map(|r| r.x).collect(),
            txs: rows.iter().map(|r| r.tx).collect(),
            ts: rows.iter().map(|r| r.t).collect(),
            customers: rows.iter().map(|r| r.weight).sum(),
        };
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

    #[test]
    fn finite_sums_equal_the_gamma_differences() {
        for p in [
            P,
            BgNbdParams {
                r: 3.5,
                alpha: 0.2,
                a: 12.0,
                b: 0.3,
            },
        ] {
            let xs: Vec<u32> = vec![0, 1, 2, 7, 30, 500, 4096, 4097, 10_000];
            for (x, got) in xs.iter().zip(x_table(&p, &xs)) {
                let want = x_terms(&p, *x);
                for (g, w) in [
                    (got.ln_a12, want.ln_a12),
                    (got.d_r, want.d_r),
                    (got.d_a, want.d_a),
                    (got.d_b, want.d_b),
                    (got.ln_a4c, want.ln_a4c),
                ] {
                    assert!(
                        (g - w).abs() <= 1e-10 * (1.0 + w.abs()),
                        "x={x}: {g} vs {w}"
                    );
                }
            }
        }
    }

    /// Simulated BG/NBD customers (the paper's process), T uniform in [26, 52].
    fn simulate(n: u32, seed: u64) -> Vec<CustomerSummary> {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let truth = BgNbdParams {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        (0..n)
            .map(|i| {
                let t: f64 = rng.gen_range(26.0..52.0);
                let lambda = Gamma::new(truth.r, 1.0 / truth.alpha)
                    .unwrap()
                    .sample(&mut rng);
                let drop = Beta::new(truth.a, truth.b).unwrap().sample(&mut rng);
                let exp = Exp::new(lambda).unwrap();
                let (mut now, mut x, mut tx) = (0.0, 0u32, 0.0);
                loop {
                    now += exp.sample(&mut rng);
                    if now > t {
                        break;
                    }
                    x += 1;
                    tx = now;
                    if rng.gen::<f64>() < drop {
                        break;
                    }
                }
                CustomerSummary::new(i, x, tx, t, 0.0)
            })
            .collect()
    }

    #[test]
    fn warm_start_reaches_the_same_estimate() {
        let data = simulate(20_000, 7);
        let cold = fit_from(&data, f64::INFINITY, 0.0).unwrap();
        let warm = fit_from(&data, 0.0, 3_000.0).unwrap();
        assert!(cold.convergence.converged && warm.convergence.converged);
        assert!(warm.convergence.message.contains("subsample"));
        let (c, w) = (cold.params, warm.params);
        for (a, b) in [(c.r, w.r), (c.alpha, w.alpha), (c.a, w.a), (c.b, w.b)] {
            assert!((a / b - 1.0).abs() < 1e-5, "{c:?} vs {w:?}");
        }
        assert!((cold.log_likelihood - warm.log_likelihood).abs() < 1e-6);
        // The fit does not depend on the order of the customers.
        let mut rev = data.clone();
        rev.reverse();
        assert_eq!(fit(&rev).unwrap().params, fit(&data).unwrap().params);
    }
}
