//! BG/NBD against its own generative process and against independent numeric integration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bgnbd_customer, standard_errors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapport_analytics::bgnbd::{self, BgNbdParams};
use rapport_analytics::special::ln_gamma;

const TRUE: BgNbdParams = BgNbdParams {
    r: 0.25,
    alpha: 4.0,
    a: 0.8,
    b: 2.5,
};

/// Parameter recovery. 60 000 customers with T uniform in [26, 52] weeks (a staggered cohort).
/// Tolerance: each estimate within 4 standard errors of the truth, the standard errors from the
/// observed information at the estimate (a 4-SE miss has probability < 1e-4 per parameter under
/// the asymptotic normality of the MLE), and in any case within 15 % (a sanity cap that also
/// catches a wrong Hessian).
#[test]
fn recovers_known_parameters() {
    let mut rng = ChaCha8Rng::seed_from_u64(2005);
    let data: Vec<_> = (0..60_000)
        .map(|i| {
            let t = rng.gen_range(26.0..52.0);
            bgnbd_customer(&mut rng, &TRUE, i, t, 0.0).0
        })
        .collect();
    let fit = bgnbd::fit(&data).unwrap();
    assert!(fit.convergence.converged, "{:?}", fit.convergence);
    let est = [fit.params.r, fit.params.alpha, fit.params.a, fit.params.b];
    let ll = |v: &[f64]| {
        BgNbdParams {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        }
        .log_likelihood(&data)
    };
    let se = standard_errors(ll, &est, 1e-4);
    let truth = [TRUE.r, TRUE.alpha, TRUE.a, TRUE.b];
    for i in 0..4 {
        let z = (est[i] - truth[i]) / se[i];
        assert!(
            z.abs() < 4.0,
            "param {i}: {} vs {} (se {})",
            est[i],
            truth[i],
            se[i]
        );
        assert!(
            (est[i] / truth[i] - 1.0).abs() < 0.15,
            "param {i}: {}",
            est[i]
        );
    }
    // The maximum beats the truth on the same data.
    assert!(fit.log_likelihood >= TRUE.log_likelihood(&data));
}

/// The ₂F₁ closed forms against an independent computation: integrate λ analytically (a gamma
/// integral) and p numerically (Simpson, 20 000 panels, after p = s^(1/a) which removes the
/// p^(a-1) singularity), straight from the individual-level model:
///
/// ```text
/// P(alive | x,tₓ,T) = ∫ (1-p)^x (α+T)^-(r+x) h(p) dp / D
/// E[Y(t) | x,tₓ,T]  = ∫ (1-p)^x (1/p)[(α+T)^-(r+x) − (α+T+pt)^-(r+x)] h(p) dp / D
/// D = ∫ [(1-p)^x (α+T)^-(r+x) + δ(x>0) p(1-p)^(x-1) (α+tₓ)^-(r+x)] h(p) dp
/// ```
///
/// (the common factor Γ(r+x)α^r/Γ(r) cancels). Simpson's error here is below 1e-9 relative;
/// we ask 1e-7.
#[test]
fn closed_forms_match_numeric_integration() {
    let p = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let ln_beta = ln_gamma(p.a) + ln_gamma(p.b) - ln_gamma(p.a + p.b);
    let integrate = |f: &dyn Fn(f64) -> f64| {
        let n = 20_000;
        let mut s = 0.0;
        for i in 0..=n {
            let u = f64::from(i) / f64::from(n);
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            let pp = u.powf(1.0 / p.a);
            // h(p) dp = (1-p)^(b-1) / (a B(a,b)) ds
            let jac = (1.0 - pp).powf(p.b - 1.0) / p.a * (-ln_beta).exp();
            s += w * f(pp) * jac;
        }
        s / f64::from(n) / 3.0
    };
    for &(t, x, tx, big_t) in &[
        (39.0, 2u32, 30.43, 38.86),
        (39.0, 0, 0.0, 38.86),
        (10.0, 1, 1.71, 38.86),
        (52.0, 6, 20.0, 38.86),
        (26.0, 0, 0.0, 0.0), // population E[X(t)]
    ] {
        let xf = f64::from(x);
        let rx = p.r + xf;
        let alive = |q: f64| (1.0 - q).powf(xf) * (p.alpha + big_t).powf(-rx);
        let d = integrate(&|q| {
            alive(q)
                + if x > 0 {
                    q * (1.0 - q).powf(xf - 1.0) * (p.alpha + tx).powf(-rx)
                } else {
                    0.0
                }
        });
        let pa = integrate(&alive) / d;
        // (1/p)[(α+T)^-(r+x) − (α+T+pt)^-(r+x)] written without cancellation, and its limit at p = 0.
        let e = integrate(&|q| {
            let base = (p.alpha + big_t).powf(-rx);
            if q == 0.0 {
                return base * rx * t / (p.alpha + big_t);
            }
            (1.0 - q).powf(xf) * base * -(-rx * (q * t / (p.alpha + big_t)).ln_1p()).exp_m1() / q
        }) / d;
        let got_e = p.conditional_expected_purchases(t, x, tx, big_t);
        let got_pa = p.probability_alive(x, tx, big_t);
        assert!(
            (got_e / e - 1.0).abs() < 1e-7,
            "E[Y]: {got_e} vs {e} at {x}"
        );
        assert!(
            (got_pa / pa - 1.0).abs() < 1e-7,
            "P(alive): {got_pa} vs {pa} at {x}"
        );
    }
}

/// Population E[X(t)] and the holdout predictions against simulation. Tolerance: 4 standard
/// errors of the simulated mean (sample standard deviation / √n).
#[test]
fn expectations_match_simulation() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 200_000;
    let t = 30.0;
    let sims: Vec<_> = (0..n)
        .map(|i| bgnbd_customer(&mut rng, &TRUE, i, t, 20.0))
        .collect();
    let counts: Vec<f64> = sims.iter().map(|(s, _)| f64::from(s.frequency)).collect();
    let (mean, se) = mean_se(&counts);
    let want = TRUE.expected_purchases(t);
    assert!(
        (mean - want).abs() < 4.0 * se,
        "E[X({t})]: sim {mean} ± {se}, closed form {want}"
    );

    // Conditional on each simulated history, the expected holdout purchases sum to the
    // simulated holdout purchases.
    let hold: Vec<f64> = sims.iter().map(|(_, h)| f64::from(*h)).collect();
    let predicted: f64 = sims
        .iter()
        .map(|(s, _)| TRUE.conditional_expected_purchases(20.0, s.frequency, s.recency, s.t))
        .sum::<f64>()
        / f64::from(n);
    let (actual, se) = mean_se(&hold);
    assert!(
        (predicted - actual).abs() < 4.0 * se,
        "holdout: predicted {predicted}, actual {actual} ± {se}"
    );

    // P(alive) is calibrated: among customers with x ≥ 1, the share of those with a holdout
    // purchase never exceeds the mean P(alive) (dead customers cannot buy).
    let with_repeat: Vec<_> = sims.iter().filter(|(s, _)| s.frequency > 0).collect();
    let pa: f64 = with_repeat
        .iter()
        .map(|(s, _)| TRUE.probability_alive(s.frequency, s.recency, s.t))
        .sum::<f64>()
        / with_repeat.len() as f64;
    let bought =
        with_repeat.iter().filter(|(_, h)| *h > 0).count() as f64 / with_repeat.len() as f64;
    assert!(bought < pa, "{bought} vs {pa}");
}

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Robustness: a fit on data with only zero-repeat customers or a huge frequency stays finite.
#[test]
fn fit_is_robust_at_the_edges() {
    use rapport_analytics::summary::CustomerSummary;
    let mut data: Vec<_> = (0..500)
        .map(|i| CustomerSummary::new(i, 0, 0.0, 30.0, 0.0))
        .collect();
    data.push(CustomerSummary::new(500, 1_000_000, 29.9, 30.0, 0.0));
    data.push(CustomerSummary::new(501, 3, 10.0, 30.0, 0.0));
    let fit = bgnbd::fit(&data).unwrap();
    let p = fit.params;
    assert!(
        [p.r, p.alpha, p.a, p.b, fit.log_likelihood]
            .iter()
            .all(|v| v.is_finite()),
        "{fit:?}"
    );
    assert!(p
        .conditional_expected_purchases(10.0, 1_000_000, 29.9, 30.0)
        .is_finite());
    let bad = [CustomerSummary::new(0, 1, 40.0, 30.0, 0.0)];
    assert!(bgnbd::fit(&bad).is_err());
    assert!(bgnbd::fit(&[]).is_err());
}
