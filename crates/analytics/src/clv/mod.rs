//! Customer lifetime value: what each customer has been worth ([`historic`]) and is expected to be
//! worth ([`predict`], BG/NBD for the number of purchases × Gamma-Gamma for their value).

pub mod historic;

use crate::bgnbd::{self, BgNbdFit, BgNbdParams};
use crate::gamma_gamma::{self, clv_from_cumulative, ClvOptions, GammaGammaFit, GammaGammaParams};
use crate::summary::CustomerSummary;
use crate::AnalyticsError;
use rayon::prelude::*;

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
pub fn predict(
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    data: &[CustomerSummary],
    opts: &ClvOptions,
) -> Vec<CustomerPrediction> {
    let ts: Vec<f64> = (0..=opts.months)
        .map(|m| f64::from(m) * opts.time_unit.per_month())
        .collect();
    data.par_iter()
        .map_init(
            || vec![0.0; ts.len()],
            |cum, s| {
                bgnbd.conditional_expected_purchases_multi(&ts, s.frequency, s.recency, s.t, cum);
                let spend =
                    gamma_gamma.conditional_expected_average_spend(s.frequency, s.monetary_value);
                CustomerPrediction {
                    summary: *s,
                    expected_purchases: cum.last().copied().unwrap_or(0.0),
                    probability_alive: bgnbd.probability_alive(s.frequency, s.recency, s.t),
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
