//! Gamma-Gamma parameter recovery and conditional expectation against simulation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{gamma_gamma_mean, standard_errors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapport_analytics::gamma_gamma::{self, GammaGammaParams};
use rapport_analytics::summary::CustomerSummary;

/// 40 000 repeat customers, x uniform in 1..=10, p = 6, q = 4, γ = 15. Tolerance: within 4
/// standard errors (observed information at the estimate) and within 15 %, as for BG/NBD.
#[test]
fn recovers_known_parameters() {
    let (p, q, g) = (6.0, 4.0, 15.0);
    let mut rng = ChaCha8Rng::seed_from_u64(2013);
    let mut data: Vec<_> = (0..40_000u32)
        .map(|i| {
            let x = rng.gen_range(1..=10);
            CustomerSummary::new(i, x, 1.0, 2.0, gamma_gamma_mean(&mut rng, p, q, g, x))
        })
        .collect();
    // Customers without repeat purchases are skipped, not mis-fitted.
    data.push(CustomerSummary::new(40_000, 0, 0.0, 2.0, 0.0));
    let fit = gamma_gamma::fit(&data).unwrap();
    assert!(fit.convergence.converged, "{:?}", fit.convergence);
    assert_eq!((fit.customers, fit.skipped), (40_000, 1));
    let est = [fit.params.p, fit.params.q, fit.params.gamma];
    let ll = |v: &[f64]| {
        GammaGammaParams {
            p: v[0],
            q: v[1],
            gamma: v[2],
        }
        .log_likelihood(&data)
    };
    let se = standard_errors(ll, &est, 1e-4);
    for (i, truth) in [p, q, g].into_iter().enumerate() {
        assert!(
            ((est[i] - truth) / se[i]).abs() < 4.0,
            "param {i}: {} vs {truth} (se {})",
            est[i],
            se[i]
        );
        assert!((est[i] / truth - 1.0).abs() < 0.15);
    }
}

/// E[M | x, m̄ₓ] is the posterior mean of the customer's mean spend p/ν. Check it against
/// simulation: draw many customers, keep those whose m̄ₓ falls in a narrow bin, and compare the
/// average of their true p/ν with the formula at the bin's mean m̄ₓ (the formula is linear in m̄ₓ,
/// so averaging over the bin is exact). Tolerance: 4 standard errors of the simulated mean.
#[test]
fn conditional_spend_matches_simulation() {
    use rand_distr::{Distribution, Gamma};
    let params = GammaGammaParams {
        p: 6.0,
        q: 4.0,
        gamma: 15.0,
    };
    let x = 3u32;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut truth, mut ms) = (vec![], vec![]);
    for _ in 0..2_000_000 {
        let nu = Gamma::new(params.q, 1.0 / params.gamma)
            .unwrap()
            .sample(&mut rng);
        let z = Gamma::new(params.p, 1.0 / nu).unwrap();
        let m = (0..x).map(|_| z.sample(&mut rng)).sum::<f64>() / f64::from(x);
        if (40.0..42.0).contains(&m) {
            truth.push(params.p / nu);
            ms.push(m);
        }
    }
    let n = truth.len() as f64;
    assert!(n > 1000.0);
    let mean = truth.iter().sum::<f64>() / n;
    let sd = (truth.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let m_bar = ms.iter().sum::<f64>() / n;
    let want = params.conditional_expected_average_spend(x, m_bar);
    assert!(
        (mean - want).abs() < 4.0 * sd / n.sqrt(),
        "sim {mean} vs formula {want}"
    );
}
