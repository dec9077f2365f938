//! Special functions the models need.
//!
//! `ln Γ` and `ψ` (digamma) come from `statrs` (Lanczos approximation, Pugh 2004; AS 103).
//! The Gauss hypergeometric function ₂F₁ is summed here as its defining power series
//! (Abramowitz & Stegun 15.1.1), which is all BG/NBD needs: its arguments are always in `[0, 1)`.

pub use statrs::function::gamma::{digamma, ln_gamma};

/// `ln(exp(a) + exp(b))` without overflow.
#[inline]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// `ln(1 + exp(x))` without overflow or loss of precision.
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 35.0 {
        x
    } else if x < -35.0 {
        x.exp()
    } else {
        x.exp().ln_1p()
    }
}

/// Gauss hypergeometric function by its series
/// `₂F₁(a, b; c; z) = Σₙ (a)ₙ (b)ₙ / (c)ₙ zⁿ / n!` (A&S 15.1.1), for `|z| < 1`.
///
/// Summed until a term falls below `1e-17` of the sum (or 1 000 000 terms). `c` must not be a
/// non-positive integer. Returns NaN for `|z| >= 1`, where the series does not converge.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if z.abs() >= 1.0 {
        return f64::NAN;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..1_000_000u32 {
        let n = f64::from(n);
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term == 0.0 || (term.abs() <= 1e-17 * sum.abs() && n > 2.0) {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = -ln(1 - z) / z   (A&S 15.1.3)
        for &z in &[0.1, 0.5, 0.9] {
            let want = -(1.0f64 - z).ln() / z;
            assert!((hyp2f1(1.0, 1.0, 2.0, z) - want).abs() < 1e-13 * want);
        }
        // ₂F₁(a, b; b; z) = (1 - z)^(-a)
        let want = (1.0f64 - 0.7).powf(-1.7);
        assert!((hyp2f1(1.7, 2.3, 2.3, 0.7) - want).abs() < 1e-12 * want);
    }

    #[test]
    fn log_add_exp_and_softplus_are_stable() {
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(
            log_add_exp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
        assert_eq!(softplus(800.0), 800.0);
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
        assert!(softplus(-800.0) >= 0.0);
    }
}
