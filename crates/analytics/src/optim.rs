//! Maximum-likelihood plumbing: minimise a smooth objective with its gradient.
//!
//! The optimiser is `argmin`'s L-BFGS (Nocedal & Wright 2006, ch. 7) with the Moré–Thuente line
//! search; if the line search fails (a pathological start) we fall back to `argmin`'s Nelder–Mead
//! and then polish with L-BFGS again. Models optimise over log-parameters, so positivity is
//! built in; a soft wall at `|θ| > bound` keeps every trial point finite (`exp(θ)` of a huge step
//! would overflow), and the objective is a *mean* per customer so that gradients are O(1) whatever
//! the data size and the first L-BFGS step is sensible.
//!
//! L-BFGS stops at a gradient norm of [`GRADIENT_TOLERANCE`]/10 (a fit is reported converged
//! below [`GRADIENT_TOLERANCE`]). A tighter stop buys nothing: at 1e-7 the estimates are already
//! stable to about 1e-8 relative, and below it the line search spends dozens of evaluations on
//! steps at the rounding level of the objective, to the same printed estimates (measured: see
//! docs/benchmarks.md).

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How an optimisation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    /// Whether the gradient norm at the returned point is below the tolerance.
    pub converged: bool,
    /// L-BFGS (and fallback) iterations.
    pub iterations: u64,
    /// Objective evaluations (each computes value and gradient).
    pub evaluations: u64,
    /// Euclidean norm of the gradient of the mean negative log-likelihood (log-parameters).
    pub gradient_norm: f64,
    /// The optimiser's termination reason, in words.
    pub message: String,
}

/// Gradient-norm tolerance on the mean negative log-likelihood per customer.
pub const GRADIENT_TOLERANCE: f64 = 1e-6;

type Cached = Option<(Vec<f64>, f64, Vec<f64>)>;

struct Problem<'f, F> {
    f: &'f F,
    bound: f64,
    cache: Mutex<Cached>,
    evaluations: &'f AtomicU64,
}

impl<F> Problem<'_, F>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    /// Value and gradient with the soft wall applied; memoised because argmin asks for the cost
    /// and the gradient separately at the same point and our objective computes both at once.
    fn eval(&self, x: &[f64]) -> (f64, Vec<f64>) {
        if let Ok(cache) = self.cache.lock() {
            if let Some((cx, v, g)) = cache.as_ref() {
                if cx.as_slice() == x {
                    return (*v, g.clone());
                }
            }
        }
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let clamped: Vec<f64> = x.iter().map(|v| v.clamp(-self.bound, self.bound)).collect();
        let (mut value, mut grad) = (self.f)(&clamped);
        if !value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            // Far outside any sensible region: a huge but finite cost makes the line search back off.
            value = 1e100;
            grad = vec![0.0; x.len()];
        }
        for (i, (&xi, &ci)) in x.iter().zip(&clamped).enumerate() {
            if xi != ci {
                let d = xi - ci;
                value += 0.5 * d * d;
                grad[i] = d;
            }
        }
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((x.to_vec(), value, grad.clone()));
        }
        (value, grad)
    }
}

impl<F> CostFunction for Problem<'_, F>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Self::Param) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(x).0)
    }
}

impl<F> Gradient for Problem<'_, F>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Self::Param) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(x).1)
    }
}

fn reason(status: &TerminationStatus) -> String {
    match status {
        TerminationStatus::Terminated(TerminationReason::SolverConverged) => "converged".into(),
        TerminationStatus::Terminated(TerminationReason::MaxItersReached) => {
            "maximum iterations reached".into()
        }
        TerminationStatus::Terminated(r) => r.text().to_string(),
        TerminationStatus::NotTerminated => "not terminated".into(),
    }
}

fn lbfgs<F>(problem: Problem<'_, F>, x0: Vec<f64>) -> Result<(Vec<f64>, u64, String), String>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(GRADIENT_TOLERANCE * 1e-1)
        .and_then(|s| s.with_tolerance_cost(1e-15))
        .map_err(|e| e.to_string())?;
    let result = Executor::new(problem, solver)
        .configure(|s| s.param(x0).max_iters(500))
        .run()
        .map_err(|e| e.to_string())?;
    let state = result.state();
    let x = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| "no parameter".to_string())?;
    Ok((x, state.get_iter(), reason(state.get_termination_status())))
}

fn nelder_mead<F>(problem: Problem<'_, F>, x0: &[f64]) -> Result<(Vec<f64>, u64), String>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let mut simplex = vec![x0.to_vec()];
    for i in 0..x0.len() {
        let mut v = x0.to_vec();
        v[i] += 0.5;
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-12)
        .map_err(|e| e.to_string())?;
    let result = Executor::new(problem, solver)
        .configure(|s| s.max_iters(5000))
        .run()
        .map_err(|e| e.to_string())?;
    let state = result.state();
    let x = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| "no parameter".to_string())?;
    Ok((x, state.get_iter()))
}

/// Minimise `f` (returning value and gradient) from `x0`. Returns the minimiser, the objective
/// there, and how the search ended. Never panics; a failed search is reported, not hidden.
pub fn minimize<F>(f: &F, x0: Vec<f64>, bound: f64) -> (Vec<f64>, f64, Convergence)
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let evaluations = AtomicU64::new(0);
    let problem = |ev| Problem {
        f,
        bound,
        cache: Mutex::new(None),
        evaluations: ev,
    };

    let mut iterations = 0;
    let (x, message) = match lbfgs(problem(&evaluations), x0.clone()) {
        Ok((x, it, msg)) => {
            iterations += it;
            (x, msg)
        }
        Err(first_error) => {
            let nm = problem(&evaluations);
            let start = match nelder_mead(nm, &x0) {
                Ok((x, it)) => {
                    iterations += it;
                    x
                }
                Err(_) => x0.clone(),
            };
            match lbfgs(problem(&evaluations), start.clone()) {
                Ok((x, it, msg)) => {
                    iterations += it;
                    (
                        x,
                        format!("{msg} (after Nelder-Mead; L-BFGS first failed: {first_error})"),
                    )
                }
                Err(e) => (start, format!("line search failed: {e}")),
            }
        }
    };
    let check = problem(&evaluations);
    let (value, grad) = check.eval(&x);
    let evaluations = evaluations.load(Ordering::Relaxed);
    let gradient_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    let converged = value.is_finite() && gradient_norm < GRADIENT_TOLERANCE;
    (
        x,
        value,
        Convergence {
            converged,
            iterations,
            evaluations,
            gradient_norm,
            message,
        },
    )
}

/// The seeded generator of the fits' warm-start subsamples (fixed: fits are reproducible).
pub(crate) fn subsample_rng() -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_f175)
}

/// How many of `weight` customers (an integer count) a random subsample keeps, each with
/// probability `fraction` (a binomial draw).
pub(crate) fn thin(weight: f64, fraction: f64, rng: &mut impl rand::Rng) -> f64 {
    let n = weight.max(0.0) as u64;
    (0..n).filter(|_| rng.gen::<f64>() < fraction).count() as f64
}

/// For indices into `values`, the map old index → new index over the indices used, and the
/// used values in their original order.
pub(crate) fn reindex<T: Copy>(
    used: impl Iterator<Item = u32>,
    values: &[T],
) -> (Vec<u32>, Vec<T>) {
    let mut seen = vec![false; values.len()];
    for i in used {
        seen[i as usize] = true;
    }
    let mut map = vec![0u32; values.len()];
    let mut out = Vec::new();
    for (i, (&s, &v)) in seen.iter().zip(values).enumerate() {
        if s {
            map[i] = out.len() as u32;
            out.push(v);
        }
    }
    (map, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_a_shifted_quadratic() {
        let f = |x: &[f64]| {
            let v = (x[0] - 1.5).powi(2) + 10.0 * (x[1] + 0.5).powi(2);
            (v, vec![2.0 * (x[0] - 1.5), 20.0 * (x[1] + 0.5)])
        };
        let (x, v, c) = minimize(&f, vec![0.0, 0.0], 30.0);
        assert!(c.converged, "{c:?}");
        assert!((x[0] - 1.5).abs() < 1e-7 && (x[1] + 0.5).abs() < 1e-7);
        assert!(v < 1e-12);
    }

    #[test]
    fn minimises_rosenbrock_from_a_poor_start() {
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (v, g)
        };
        let (x, _, c) = minimize(&f, vec![-1.2, 1.0], 30.0);
        assert!(c.converged, "{c:?}");
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
    }
}
