//! Shapley-value attribution.
//!
//! Shapley, L. S. (1953), "A value for n-person games"; applied to channels by Zhao, Mahboobi &
//! Bagheri (2018), "Shapley Value Methods for Attribution Modeling in Online Advertising".
//!
//! Players are the channels present in converting journeys. **Coalition value**: `v(S)` = the
//! conversions (respectively the value) of the journeys whose *set* of channels is a subset of
//! S — what the coalition would have produced on its own. Then
//!
//! ```text
//! φᵢ = Σ_{S ⊆ N∖{i}} |S|! (n−|S|−1)! / n! · (v(S ∪ {i}) − v(S))
//! ```
//!
//! computed exactly: `v` for all 2ⁿ coalitions by a subset-sum (zeta) transform of the conversions
//! per exact channel set, O(n·2ⁿ), then the sum above, O(n·2ⁿ). Efficiency gives
//! `Σ φᵢ = v(N)` = all observed conversions. Because this `v` is a sum of unanimity games
//! (`v = Σ_T w(T)·u_T`, w(T) = conversions with channel set exactly T), the same values equal
//! `φᵢ = Σ_{T ∋ i} w(T)/|T|`; beyond [`MAX_ENUMERATED`] channels that closed form is used instead
//! of the enumeration (the tests check that both agree).

use super::{build, Attribution, Journeys, Model};
use crate::AnalyticsError;
use rustc_hash::FxHashMap;

/// Largest number of channels for which coalitions are enumerated (2²⁰ coalitions, 16 MiB).
pub const MAX_ENUMERATED: usize = 20;

/// Conversions and value per exact (sorted, deduplicated) channel set.
type SetTotals = FxHashMap<Vec<u32>, (f64, f64)>;

/// The players (channels of converting journeys) and the totals per exact channel set.
fn by_channel_set(journeys: &Journeys) -> (Vec<u32>, SetTotals) {
    let mut sets: SetTotals = FxHashMap::default();
    let mut key = Vec::new();
    for i in 0..journeys.len() {
        let j = journeys.get(i);
        if j.conversions == 0.0 && j.value == 0.0 {
            continue;
        }
        key.clear();
        key.extend_from_slice(j.channels);
        key.sort_unstable();
        key.dedup();
        let e = sets.entry(key.clone()).or_insert((0.0, 0.0));
        e.0 += j.conversions;
        e.1 += j.value;
    }
    let mut players: Vec<u32> = sets.keys().flatten().copied().collect();
    players.sort_unstable();
    players.dedup();
    (players, sets)
}

/// Exact Shapley values of a game given by `w` (weight per exact coalition mask, length 2ⁿ).
pub fn shapley_from_exact_sets(n: usize, mut v: Vec<f64>) -> Vec<f64> {
    // Zeta transform: v(S) = Σ_{T ⊆ S} w(T).
    for i in 0..n {
        let bit = 1usize << i;
        for s in 0..v.len() {
            if s & bit != 0 {
                v[s] += v[s ^ bit];
            }
        }
    }
    // weight[k] = k! (n-k-1)! / n!
    let mut weight = vec![0.0; n.max(1)];
    for (k, w) in weight.iter_mut().enumerate().take(n) {
        let mut x = 1.0 / n as f64;
        // k!(n-1-k)!/(n-1)! = 1 / C(n-1, k)
        let mut c = 1.0;
        for t in 0..k {
            c = c * (n - 1 - t) as f64 / (t + 1) as f64;
        }
        x /= c;
        *w = x;
    }
    let mut phi = vec![0.0; n];
    for s in 0..v.len() {
        let k = s.count_ones() as usize;
        for (i, p) in phi.iter_mut().enumerate() {
            let bit = 1usize << i;
            if s & bit == 0 {
                *p += weight[k] * (v[s | bit] - v[s]);
            }
        }
    }
    phi
}

/// Shapley attribution (see the module doc for the coalition value).
pub fn attribute(journeys: &Journeys) -> Result<Attribution, AnalyticsError> {
    let channels = journeys.channel_names().len();
    let (players, sets) = by_channel_set(journeys);
    let n = players.len();
    let mut conv = vec![0.0; channels];
    let mut value = vec![0.0; channels];
    if n <= MAX_ENUMERATED {
        let index: FxHashMap<u32, usize> =
            players.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let mut wc = vec![0.0; 1 << n];
        let mut wv = vec![0.0; 1 << n];
        for (set, (c, v)) in &sets {
            let mask = set.iter().fold(0usize, |m, ch| m | (1 << index[ch]));
            wc[mask] += c;
            wv[mask] += v;
        }
        let (pc, pv) = rayon::join(
            || shapley_from_exact_sets(n, wc),
            || shapley_from_exact_sets(n, wv),
        );
        for (i, &ch) in players.iter().enumerate() {
            conv[ch as usize] = pc[i];
            value[ch as usize] = pv[i];
        }
    } else {
        for (set, (c, v)) in &sets {
            let k = set.len() as f64;
            for &ch in set {
                conv[ch as usize] += c / k;
                value[ch as usize] += v / k;
            }
        }
    }
    Ok(build(journeys, Model::Shapley, conv, value, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_player_game_by_hand() {
        // w({A}) = 1, w({A,B}) = 2 → v(A) = 1, v(B) = 0, v(AB) = 3.
        // φ_A = ½(1 − 0) + ½(3 − 0) = 2, φ_B = ½(0 − 0) + ½(3 − 1) = 1.
        let phi = shapley_from_exact_sets(2, vec![0.0, 1.0, 0.0, 2.0]);
        assert!(
            (phi[0] - 2.0).abs() < 1e-12 && (phi[1] - 1.0).abs() < 1e-12,
            "{phi:?}"
        );
    }

    #[test]
    fn hand_checked_sample() {
        // Converting sets: {A,B,C} 1 conversion (100), {B} 2 conversions (30); {C,A} never converts.
        let a = attribute(&crate::attribution::tests::sample()).unwrap();
        let t = 1.0 / 3.0;
        let want = [(t, 100.0 * t), (2.0 + t, 30.0 + 100.0 * t), (t, 100.0 * t)];
        for (c, w) in a.channels.iter().zip(want) {
            assert!((c.conversions - w.0).abs() < 1e-12 && (c.value - w.1).abs() < 1e-9);
        }
    }
}
