//! Customer lifetime value: what each customer has been worth ([`historic`]) and is expected to be
//! worth ([`predict`], BG/NBD for the number of purchases × Gamma-Gamma for their value).

pub mod historic;

use crate::bgnbd::{self, scale_bracket, BgNbdFit, BgNbdParams};
use crate::gamma_gamma::{self, clv_from_cumulative, ClvOptions, GammaGammaFit, GammaGammaParams};
use crate::summary::CustomerSummary;
use crate::AnalyticsError;
use rayon::prelude::*;

/// Fewer customers than this and a fit's parameters are mostly noise.
pub const MIN_CUSTOMERS: usize = 30;

/// Why the fitted models' numbers should not be trusted, in words; empty when nothing looks
/// wrong. A fit can "converge" on too little data to parameters no data supports (a prior
/// shape of 10⁸, a q at 1): the optimiser found a flat direction, not an answer.
pub fn fit_warnings(bg: &BgNbdFit, gg: &GammaGammaFit) -> Vec<String> {
    let mut out = Vec::new();
    if bg.customers < MIN_CUSTOMERS {
        out.push(format!(
            "BG/NBD was fitted on {} customers; below {MIN_CUSTOMERS} its parameters are mostly noise",
            bg.customers
        ));
    }
    if !bg.convergence.converged {
        out.push(format!(
            "BG/NBD did not converge: {}",
            bg.convergence.message
        ));
    }
    let p = &bg.params;
    for (name, v) in [("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)] {
        if !(1e-4..=1e4).contains(&v) {
            out.push(format!(
                "BG/NBD {name} = {v:.3e} is at an extreme: the data cannot pin it down (too few \
                 customers, or too few repeat purchases)"
            ));
        }
    }
    if gg.customers < MIN_CUSTOMERS {
        out.push(format!(
            "Gamma-Gamma was fitted on {} repeat customers; below {MIN_CUSTOMERS} expected spends \
             are mostly noise",
            gg.customers
        ));
    }
    if !gg.convergence.converged {
        out.push(format!(
            "Gamma-Gamma did not converge: {}",
            gg.convergence.message
        ));
    }
    let g = &gg.params;
    if g.q <= 1.0 {
        out.push(format!(
            "Gamma-Gamma q = {:.3} is not above 1: the mean spend it implies is unbounded",
            g.q
        ));
    }
    for (name, v) in [("p", g.p), ("q", g.q), ("gamma", g.gamma)] {
        if v > 1e4 {
            out.push(format!("Gamma-Gamma {name} = {v:.3e} is at an extreme"));
        }
    }
    out
}

/// Per-customer predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerPrediction {
    /// Calibration summary the predictions are conditioned on.
    pub summary: CustomerSummary,
    /// Expected purchases over the horizon (BG/NBD eq. 10).
    pub expected_purchases: f64,
    /// Probability of being alive at the end of calibration (BG/NBD eq. 11).
    pub probability_alive: f64,
    /// Expected mean spend per purchase (Gamma-Gamma), minor units.
    pub expected_average_spend: f64,
    /// Discounted CLV over the horizon, minor units (see [`gamma_gamma`] for the convention).
    pub clv: f64,
}

/// Predictions for every customer of `data`.
///
/// The ₂F₁ series of E[Y(t)] depends on (x, T) but not on tₓ, and customers share few distinct
/// (x, T) (T takes one value per first-purchase day): the series is summed once per distinct
/// (x, T) for all horizons, then scaled per customer by its P(alive) — the same arithmetic as
/// [`BgNbdParams::conditional_expected_purchases_multi`], so the same values.
pub fn predict(
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    data: &[CustomerSummary],
    opts: &ClvOptions,
) -> Vec<CustomerPrediction> {
    let ts = opts.time_grid();
    let h = ts.len();
    let mut keys: Vec<(u32, u64)> = data
        .par_iter()
        .map(|s| (s.frequency, s.t.to_bits()))
        .collect();
    keys.par_sort_unstable();
    keys.dedup();
    // Shared series only pay when (x, T) repeat; otherwise sum per customer.
    let shared = keys.len() * 2 <= data.len();
    let mut brackets = Vec::new();
    if shared {
        brackets = vec![0.0; keys.len() * h];
        brackets
            .par_chunks_mut(h)
            .zip(keys.par_iter())
            .for_each(|(out, &(x, t))| bgnbd.purchase_brackets(&ts, x, f64::from_bits(t), out));
    }
    data.par_iter()
        .map_init(
            || vec![0.0; h],
            |cum, s| {
                let probability_alive = bgnbd.probability_alive(s.frequency, s.recency, s.t);
                let row = if shared {
                    keys.binary_search(&(s.frequency, s.t.to_bits()))
                        .ok()
                        .map(|k| &brackets[k * h..(k + 1) * h])
                } else {
                    None
                };
                match row {
                    Some(row) => {
                        let scale = bgnbd.bracket_scale(s.frequency, probability_alive);
                        for (c, &b) in cum.iter_mut().zip(row) {
                            *c = scale_bracket(scale, b);
                        }
                    }
                    None => bgnbd.conditional_expected_purchases_multi(
                        &ts,
                        s.frequency,
                        s.recency,
                        s.t,
                        cum,
                    ),
                }
                let spend =
                    gamma_gamma.conditional_expected_average_spend(s.frequency, s.monetary_value);
                CustomerPrediction {
                    summary: *s,
                    expected_purchases: cum.last().copied().unwrap_or(0.0),
                    probability_alive,
                    expected_average_spend: spend,
                    clv: clv_from_cumulative(cum, spend, opts),
                }
            },
        )
        .collect()
}

/// Both fits and the predictions.
#[derive(Debug, Clone)]
pub struct ClvResult {
    /// The BG/NBD fit.
    pub bgnbd: BgNbdFit,
    /// The Gamma-Gamma fit.
    pub gamma_gamma: GammaGammaFit,
    /// One row per customer, in the order of the input.
    pub customers: Vec<CustomerPrediction>,
}

/// Fit BG/NBD and Gamma-Gamma on `data` and predict for every customer.
pub fn fit_and_predict(
    data: &[CustomerSummary],
    opts: &ClvOptions,
) -> Result<ClvResult, AnalyticsError> {
    if !(opts.monthly_discount_rate > -1.0 && opts.monthly_discount_rate.is_finite()) {
        return Err(AnalyticsError::InvalidInput(
            "discount rate must be a finite number above -1".into(),
        ));
    }
    let (bg, gg) = rayon::join(|| bgnbd::fit(data), || gamma_gamma::fit(data));
    let (bg, gg) = (bg?, gg?);
    let customers = predict(&bg.params, &gg.params, data, opts);
    Ok(ClvResult {
        bgnbd: bg,
        gamma_gamma: gg,
        customers,
    })
}
