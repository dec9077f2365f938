//! k-means clustering of customers on standardised features (R, F, M, CLV, age, ...).
//!
//! Lloyd's algorithm (Lloyd 1982) seeded by k-means++ (Arthur & Vassilvitskii 2007: each next
//! centre drawn with probability ∝ squared distance to the nearest centre chosen so far), with
//! `n_init` seeded restarts keeping the lowest inertia. Features are z-scored first (a feature
//! with zero variance becomes 0) so that spend in cents does not swamp a 1–5 score; centroids
//! are reported in the original units too.
//!
//! Quality: **inertia** (within-cluster sum of squared distances, standardised space) and the
//! mean **silhouette** (Rousseeuw 1987): for each point `s = (b − a)/max(a, b)` with `a` the mean
//! distance to its own cluster and `b` the smallest mean distance to another cluster (0 for a
//! singleton cluster). Silhouette is O(n²): it is exact up to `sample` points and computed on a
//! seeded uniform sample of that many points beyond. The **elbow** helper runs k over a range and
//! suggests the k farthest from the chord joining the first and last (k, inertia) points
//! (the "kneedle" rule, Satopää et al. 2011).

use crate::AnalyticsError;
use rand::seq::index::sample as sample_indices;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Options of [`kmeans`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansOptions {
    /// Clusters.
    pub k: usize,
    /// Seed of the k-means++ draws.
    pub seed: u64,
    /// Restarts (best inertia kept).
    pub n_init: usize,
    /// Lloyd iterations per restart.
    pub max_iter: usize,
    /// Stop when no centre moves more than this (standardised units).
    pub tolerance: f64,
}

impl KMeansOptions {
    /// Defaults for `k` clusters: seed 0, 4 restarts, 300 iterations, tolerance 1e-9.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            seed: 0,
            n_init: 4,
            max_iter: 300,
            tolerance: 1e-9,
        }
    }
}

/// Result of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Feature means used for standardising.
    pub means: Vec<f64>,
    /// Feature standard deviations used for standardising (1 where a feature is constant).
    pub sds: Vec<f64>,
    /// Centroids in standardised units, row-major `k × dim`.
    pub centroids: Vec<f64>,
    /// Centroids in the original units.
    pub centroids_original: Vec<f64>,
    /// Cluster of each point.
    pub labels: Vec<u32>,
    /// Points per cluster.
    pub sizes: Vec<usize>,
    /// Within-cluster sum of squares (standardised).
    pub inertia: f64,
    /// Lloyd iterations of the kept restart.
    pub iterations: usize,
    /// Whether the kept restart converged before `max_iter`.
    pub converged: bool,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// z-score the columns of a row-major matrix.
pub fn standardize(data: &[f64], dim: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = data.len() / dim;
    let mut means = vec![0.0; dim];
    let mut sds = vec![0.0; dim];
    for row in data.chunks_exact(dim) {
        for (m, x) in means.iter_mut().zip(row) {
            *m += x;
        }
    }
    means.iter_mut().for_each(|m| *m /= n as f64);
    for row in data.chunks_exact(dim) {
        for ((s, m), x) in sds.iter_mut().zip(&means).zip(row) {
            *s += (x - m) * (x - m);
        }
    }
    for s in sds.iter_mut() {
        *s = (*s / n as f64).sqrt();
        if *s == 0.0 || !s.is_finite() {
            *s = 1.0;
        }
    }
    let z = data
        .par_chunks_exact(dim)
        .flat_map_iter(|row| {
            row.iter()
                .zip(&means)
                .zip(&sds)
                .map(|((x, m), s)| (x - m) / s)
                .collect::<Vec<_>>()
        })
        .collect();
    (z, means, sds)
}

fn nearest(row: &[f64], centroids: &[f64], dim: usize) -> (u32, f64) {
    let mut best = (0u32, f64::INFINITY);
    for (c, cen) in centroids.chunks_exact(dim).enumerate() {
        let d = dist2(row, cen);
        if d < best.1 {
            best = (c as u32, d);
        }
    }
    best
}

fn plus_plus(z: &[f64], dim: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = z.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.gen_range(0..n);
    centroids.extend_from_slice(&z[first * dim..(first + 1) * dim]);
    let mut d: Vec<f64> = z
        .par_chunks_exact(dim)
        .map(|r| dist2(r, &centroids[..dim]))
        .collect();
    for _ in 1..k {
        let total: f64 = d.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.gen::<f64>() * total;
            let mut idx = n - 1;
            for (i, di) in d.iter().enumerate() {
                if u < *di {
                    idx = i;
                    break;
                }
                u -= di;
            }
            idx
        } else {
            rng.gen_range(0..n)
        };
        let c = z[pick * dim..(pick + 1) * dim].to_vec();
        d.par_iter_mut()
            .zip(z.par_chunks_exact(dim))
            .for_each(|(di, r)| *di = di.min(dist2(r, &c)));
        centroids.extend_from_slice(&c);
    }
    centroids
}

/// centroids, labels, inertia, iterations, converged
type Run = (Vec<f64>, Vec<u32>, f64, usize, bool);

fn lloyd(z: &[f64], dim: usize, mut centroids: Vec<f64>, o: &KMeansOptions) -> Run {
    let k = o.k;
    let mut labels = vec![0u32; z.len() / dim];
    for it in 1..=o.max_iter {
        let inertia: f64 = labels
            .par_iter_mut()
            .zip(z.par_chunks_exact(dim))
            .map(|(l, r)| {
                let (c, d) = nearest(r, &centroids, dim);
                *l = c;
                d
            })
            .sum();
        let mut sums = vec![0.0; k * dim];
        let mut counts = vec![0usize; k];
        for (l, r) in labels.iter().zip(z.chunks_exact(dim)) {
            let c = *l as usize;
            counts[c] += 1;
            for (s, x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(r) {
                *s += x;
            }
        }
        let mut shift = 0.0f64;
        for c in 0..k {
            if counts[c] == 0 {
                // Empty cluster: move it to the point farthest from its centre.
                let far = labels
                    .iter()
                    .zip(z.chunks_exact(dim))
                    .enumerate()
                    .map(|(i, (l, r))| {
                        (
                            i,
                            dist2(r, &centroids[*l as usize * dim..(*l as usize + 1) * dim]),
                        )
                    })
                    .fold((0, -1.0), |a, b| if b.1 > a.1 { b } else { a })
                    .0;
                centroids[c * dim..(c + 1) * dim].copy_from_slice(&z[far * dim..(far + 1) * dim]);
                shift = f64::INFINITY;
                continue;
            }
            for j in 0..dim {
                let new = sums[c * dim + j] / counts[c] as f64;
                shift = shift.max((new - centroids[c * dim + j]).abs());
                centroids[c * dim + j] = new;
            }
        }
        if shift <= o.tolerance {
            let inertia_final = labels
                .par_iter()
                .zip(z.par_chunks_exact(dim))
                .map(|(l, r)| dist2(r, &centroids[*l as usize * dim..(*l as usize + 1) * dim]))
                .sum();
            let _ = inertia;
            return (centroids, labels, inertia_final, it, true);
        }
    }
    let inertia = labels
        .par_iter_mut()
        .zip(z.par_chunks_exact(dim))
        .map(|(l, r)| {
            let (c, d) = nearest(r, &centroids, dim);
            *l = c;
            d
        })
        .sum();
    (centroids, labels, inertia, o.max_iter, false)
}

/// k-means of `data` (row-major, `dim` features per point).
pub fn kmeans(data: &[f64], dim: usize, o: &KMeansOptions) -> Result<KMeans, AnalyticsError> {
    if dim == 0
        || !data.chunks_exact(dim).remainder().is_empty()
        || data.iter().any(|x| !x.is_finite())
    {
        return Err(AnalyticsError::InvalidInput(
            "data must be finite rows of `dim` features".into(),
        ));
    }
    let n = data.len() / dim;
    if o.k == 0 || o.k > n {
        return Err(AnalyticsError::InvalidInput(format!(
            "k = {} with {n} points",
            o.k
        )));
    }
    let (z, means, sds) = standardize(data, dim);
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let mut best: Option<Run> = None;
    for _ in 0..o.n_init.max(1) {
        let init = plus_plus(&z, dim, o.k, &mut rng);
        let run = lloyd(&z, dim, init, o);
        if best.as_ref().is_none_or(|b| run.2 < b.2) {
            best = Some(run);
        }
    }
    let Some((centroids, labels, inertia, iterations, converged)) = best else {
        return Err(AnalyticsError::InvalidInput("no run".into()));
    };
    let mut sizes = vec![0usize; o.k];
    for l in &labels {
        sizes[*l as usize] += 1;
    }
    let centroids_original = centroids
        .chunks_exact(dim)
        .flat_map(|c| {
            c.iter()
                .zip(&means)
                .zip(&sds)
                .map(|((x, m), s)| x * s + m)
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(KMeans {
        means,
        sds,
        centroids,
        centroids_original,
        labels,
        sizes,
        inertia,
        iterations,
        converged,
    })
}

/// Mean silhouette of a clustering of `data` (standardised internally as [`kmeans`] does),
/// exact for up to `sample` points, else on a seeded sample of `sample` points.
pub fn silhouette(data: &[f64], dim: usize, labels: &[u32], sample: usize, seed: u64) -> f64 {
    let (z, _, _) = standardize(data, dim);
    let n = labels.len();
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    if k < 2 || n < 2 {
        return 0.0;
    }
    let idx: Vec<usize> = if n <= sample {
        (0..n).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v = sample_indices(&mut rng, n, sample).into_vec();
        v.sort_unstable();
        v
    };
    let total: f64 = idx
        .par_iter()
        .map(|&i| {
            let row = &z[i * dim..(i + 1) * dim];
            let mut sum = vec![0.0; k];
            let mut cnt = vec![0usize; k];
            for &j in &idx {
                if j == i {
                    continue;
                }
                let l = labels[j] as usize;
                sum[l] += dist2(row, &z[j * dim..(j + 1) * dim]).sqrt();
                cnt[l] += 1;
            }
            let own = labels[i] as usize;
            if cnt[own] == 0 {
                return 0.0;
            }
            let a = sum[own] / cnt[own] as f64;
            let b = (0..k)
                .filter(|&c| c != own && cnt[c] > 0)
                .map(|c| sum[c] / cnt[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() || a.max(b) == 0.0 {
                0.0
            } else {
                (b - a) / a.max(b)
            }
        })
        .sum();
    total / idx.len() as f64
}

/// Inertia for each k of a range, and the suggested k.
#[derive(Debug, Clone, PartialEq)]
pub struct Elbow {
    /// `(k, inertia)` per k.
    pub inertias: Vec<(usize, f64)>,
    /// The k farthest below the chord from the first to the last point.
    pub suggested_k: usize,
}

/// Run k-means for every k in `ks` and suggest one (see the module doc).
pub fn elbow(
    data: &[f64],
    dim: usize,
    ks: std::ops::RangeInclusive<usize>,
    base: &KMeansOptions,
) -> Result<Elbow, AnalyticsError> {
    let mut inertias = Vec::new();
    for k in ks {
        let r = kmeans(data, dim, &KMeansOptions { k, ..*base })?;
        inertias.push((k, r.inertia));
    }
    let (Some(&(k0, i0)), Some(&(k1, i1))) = (inertias.first(), inertias.last()) else {
        return Err(AnalyticsError::InvalidInput("empty range of k".into()));
    };
    let suggested_k = if k1 == k0 {
        k0
    } else {
        // Normalise both axes to [0, 1] and take the largest distance below the chord.
        let span = (i0 - i1).abs().max(f64::MIN_POSITIVE);
        inertias
            .iter()
            .map(|&(k, i)| {
                let x = (k - k0) as f64 / (k1 - k0) as f64;
                let y = (i - i1) / span;
                (k, (1.0 - x) - y)
            })
            .fold(
                (k0, f64::NEG_INFINITY),
                |a, b| if b.1 > a.1 { b } else { a },
            )
            .0
    };
    Ok(Elbow {
        inertias,
        suggested_k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three well-separated blobs in 2-D (x in [0, 1] + offsets), 50 points each.
    fn blobs() -> (Vec<f64>, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut data = vec![];
        let mut truth = vec![];
        for (c, &(cx, cy)) in centres.iter().enumerate() {
            for _ in 0..50 {
                data.push(cx + rng.gen::<f64>());
                data.push(cy + rng.gen::<f64>());
                truth.push(c as u32);
            }
        }
        (data, truth)
    }

    #[test]
    fn finds_separated_blobs_and_is_seed_deterministic() {
        let (data, truth) = blobs();
        let r = kmeans(&data, 2, &KMeansOptions::new(3)).unwrap();
        assert!(r.converged);
        assert_eq!(r.sizes.iter().sum::<usize>(), 150);
        // Same partition as the truth, up to label names.
        for i in 0..150 {
            for j in 0..150 {
                assert_eq!(truth[i] == truth[j], r.labels[i] == r.labels[j]);
            }
        }
        assert_eq!(r, kmeans(&data, 2, &KMeansOptions::new(3)).unwrap());
        let s = silhouette(&data, 2, &r.labels, 10_000, 0);
        assert!(s > 0.8, "{s}");
        // Centroids in original units are near the blob centres + 0.5.
        let mut xs: Vec<(i64, i64)> = r
            .centroids_original
            .chunks(2)
            .map(|c| ((c[0] - 0.5).round() as i64, (c[1] - 0.5).round() as i64))
            .collect();
        xs.sort();
        assert_eq!(xs, vec![(0, 0), (0, 10), (10, 0)]);
    }

    #[test]
    fn inertia_and_silhouette_by_hand() {
        // Points 0, 2 | 10, 12 on a line; standardised sd = sqrt(26.0), mean 6.
        let data = [0.0, 2.0, 10.0, 12.0];
        let r = kmeans(&data, 1, &KMeansOptions::new(2)).unwrap();
        let sd = 26f64.sqrt();
        assert!((r.inertia - 4.0 / (sd * sd)).abs() < 1e-12, "{}", r.inertia);
        // a = 2, b = mean(10, 12) = 11 or mean(8, 10) = 9: s = 1 − 2/11, 1 − 2/9, twice each.
        let want = ((1.0 - 2.0 / 11.0) * 2.0 + (1.0 - 2.0 / 9.0) * 2.0) / 4.0;
        assert!((silhouette(&data, 1, &r.labels, 100, 0) - want).abs() < 1e-12);
    }

    #[test]
    fn elbow_suggests_three_for_three_blobs() {
        let (data, _) = blobs();
        let e = elbow(&data, 2, 1..=8, &KMeansOptions::new(1)).unwrap();
        assert_eq!(e.suggested_k, 3, "{:?}", e.inertias);
        assert!(e.inertias.windows(2).all(|w| w[1].1 <= w[0].1 + 1e-9));
    }

    #[test]
    fn rejects_bad_k() {
        assert!(kmeans(&[1.0, 2.0], 1, &KMeansOptions::new(3)).is_err());
        assert!(kmeans(&[1.0, f64::NAN], 1, &KMeansOptions::new(1)).is_err());
    }
}
