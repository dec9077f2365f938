//! Simulation from the models' generative processes, for the property tests.
#![allow(dead_code)]

use rand::Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};
use rapport_analytics::bgnbd::BgNbdParams;
use rapport_analytics::summary::CustomerSummary;

/// One BG/NBD customer observed for `t` after the first purchase, and for `holdout` more:
/// λ ~ Gamma(r, rate α), p ~ Beta(a, b); Poisson(λ) purchases while alive; after each repeat
/// purchase the customer dies with probability p (paper §3). Returns the calibration summary
/// and the number of purchases in (t, t + holdout].
pub fn bgnbd_customer(
    rng: &mut impl Rng,
    p: &BgNbdParams,
    id: u32,
    t: f64,
    holdout: f64,
) -> (CustomerSummary, u32) {
    let lambda = Gamma::new(p.r, 1.0 / p.alpha).unwrap().sample(rng);
    let drop = Beta::new(p.a, p.b).unwrap().sample(rng);
    let exp = Exp::new(lambda).unwrap();
    let (mut now, mut x, mut tx, mut hold) = (0.0, 0u32, 0.0, 0u32);
    loop {
        now += exp.sample(rng);
        if now > t + holdout {
            break;
        }
        if now <= t {
            x += 1;
            tx = now;
        } else {
            hold += 1;
        }
        if rng.gen::<f64>() < drop {
            break;
        }
    }
    (CustomerSummary::new(id, x, tx, t, 0.0), hold)
}

/// Gamma-Gamma: ν ~ Gamma(q, rate γ), each of `x` transaction values ~ Gamma(p, rate ν).
pub fn gamma_gamma_mean(rng: &mut impl Rng, p: f64, q: f64, gamma: f64, x: u32) -> f64 {
    let nu = Gamma::new(q, 1.0 / gamma).unwrap().sample(rng);
    let z = Gamma::new(p, 1.0 / nu).unwrap();
    (0..x).map(|_| z.sample(rng)).sum::<f64>() / f64::from(x)
}

/// Standard errors from the observed information: the inverse of the negative Hessian of the
/// log-likelihood, by central second differences with relative step h.
pub fn standard_errors(ll: impl Fn(&[f64]) -> f64, theta: &[f64], h: f64) -> Vec<f64> {
    let k = theta.len();
    let mut hess = vec![vec![0.0; k]; k];
    let step: Vec<f64> = theta.iter().map(|t| h * t.abs().max(1e-3)).collect();
    for i in 0..k {
        for j in 0..k {
            let f = |di: f64, dj: f64| {
                let mut v = theta.to_vec();
                v[i] += di * step[i];
                v[j] += dj * step[j];
                ll(&v)
            };
            hess[i][j] = (f(1.0, 1.0) - f(1.0, -1.0) - f(-1.0, 1.0) + f(-1.0, -1.0))
                / (4.0 * step[i] * step[j]);
        }
    }
    let neg: Vec<Vec<f64>> = hess
        .iter()
        .map(|r| r.iter().map(|v| -v).collect())
        .collect();
    let inv = invert(neg);
    (0..k).map(|i| inv[i][i].sqrt()).collect()
}

/// Gauss–Jordan inverse with partial pivoting.
pub fn invert(mut a: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, p);
        inv.swap(c, p);
        let d = a[c][c];
        for j in 0..n {
            a[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in 0..n {
            if r != c {
                let f = a[r][c];
                for j in 0..n {
                    a[r][j] -= f * a[c][j];
                    inv[r][j] -= f * inv[c][j];
                }
            }
        }
    }
    inv
}

/// Solve A·x = b (Gaussian elimination with partial pivoting).
pub fn solve(a: Vec<Vec<f64>>, b: &[f64]) -> Vec<f64> {
    let inv = invert(a);
    inv.iter()
        .map(|row| row.iter().zip(b).map(|(x, y)| x * y).sum())
        .collect()
}
