//! Markov-chain attribution by removal effects.
//!
//! Anderl, E., Becker, I., von Wangenheim, F. & Schumann, J. H. (2016). Mapping the customer
//! journey: Lessons learned from graph-based online attribution modeling. *International Journal
//! of Research in Marketing* 33(3), 457–474; the same model as R's ChannelAttribution
//! (`markov_model`).
//!
//! States: `start`, one transient state per channel (order 1) or per sequence of the last `k`
//! channels (order k; shorter at a journey's beginning), and the absorbing `conversion` and
//! `null`. Transition probabilities are the observed transition counts normalised per state (a
//! path row counts `total_conversions + total_null` times; its last state moves to `conversion`
//! `total_conversions` times and to `null` `total_null` times).
//!
//! With Q the transient-to-transient block and `rᵢ` the expected reward of one visit to state i,
//! the expected reward from start is the first component of the solution of `V = r + Q·V`
//! (absorbing-chain fundamental matrix, Kemeny & Snell 1960). The reward is
//! `P(i → conversion)` for conversions, and `(value converted from i) / (visits of i)` for value.
//! For an order-1 chain fitted to the data, `V_start × journeys` equals the observed conversions
//! exactly (flow conservation), so nothing is lost to estimation.
//!
//! The **removal effect** of channel c is `1 − V_start(without c) / V_start`, where "without c"
//! sends every transition into a state containing c to `null`. Attributed conversions (value) of c
//! are the observed total × c's removal effect / the sum of all removal effects, computed
//! separately for conversions and for value. `V` is solved by Gauss–Seidel sweeps (self-loops
//! eliminated exactly) to a relative change below 1e-14 — the chains are small (one state per
//! channel at order 1) and the tests check against a direct linear solve.

use super::{build, Attribution, Journeys, Model};
use crate::AnalyticsError;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The fitted chain over transient states (0 = start).
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// For each transient state, its transitions to transient states `(to, probability)`.
    pub transitions: Vec<Vec<(usize, f64)>>,
    /// Probability of moving to `conversion` from each state.
    pub conversion_reward: Vec<f64>,
    /// Expected value converted per visit of each state.
    pub value_reward: Vec<f64>,
    /// Channels in each state (empty for start).
    pub state_channels: Vec<Vec<u32>>,
    /// Journeys (path weight `conversions + nulls`) that entered the chain.
    pub journeys: f64,
}

struct Counts {
    trans: FxHashMap<(u32, u32), f64>,
    conv: Vec<f64>,
    value: Vec<f64>,
    null: Vec<f64>,
    journeys: f64,
}

impl Counts {
    fn new(states: usize) -> Self {
        Self {
            trans: FxHashMap::default(),
            conv: vec![0.0; states],
            value: vec![0.0; states],
            null: vec![0.0; states],
            journeys: 0.0,
        }
    }
}

fn dense_order1(journeys: &Journeys) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let s = journeys.channel_names().len() + 1;
    let parts: Vec<_> = journeys
        .chunks(32_768)
        .map(|range| {
            let mut t = vec![0.0; s * s];
            let mut c = vec![0.0; s];
            let mut v = vec![0.0; s];
            let mut nl = vec![0.0; s];
            let mut total = 0.0;
            for i in range {
                let j = journeys.get(i);
                let w = j.conversions + j.nulls;
                if w == 0.0 {
                    continue;
                }
                total += w;
                let mut prev = 0usize;
                for &ch in j.channels {
                    let st = ch as usize + 1;
                    t[prev * s + st] += w;
                    prev = st;
                }
                c[prev] += j.conversions;
                v[prev] += j.value;
                nl[prev] += j.nulls;
            }
            (t, c, v, nl, total)
        })
        .collect();
    let mut acc = (
        vec![0.0; s * s],
        vec![0.0; s],
        vec![0.0; s],
        vec![0.0; s],
        0.0,
    );
    for (t, c, v, nl, total) in parts {
        acc.0.iter_mut().zip(t).for_each(|(a, b)| *a += b);
        acc.1.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        acc.2.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        acc.3.iter_mut().zip(nl).for_each(|(a, b)| *a += b);
        acc.4 += total;
    }
    acc
}

impl Chain {
    /// Fit the chain of order `order` (≥ 1) to the journeys.
    pub fn fit(journeys: &Journeys, order: usize) -> Result<Chain, AnalyticsError> {
        if order == 0 {
            return Err(AnalyticsError::InvalidInput(
                "Markov order must be at least 1".into(),
            ));
        }
        let (counts, state_channels) = if order == 1 {
            let s = journeys.channel_names().len() + 1;
            let (t, conv, value, null, total) = dense_order1(journeys);
            let mut trans = FxHashMap::default();
            for a in 0..s {
                for b in 0..s {
                    if t[a * s + b] > 0.0 {
                        trans.insert((a as u32, b as u32), t[a * s + b]);
                    }
                }
            }
            let states = std::iter::once(vec![])
                .chain((0..s as u32 - 1).map(|c| vec![c]))
                .collect();
            (
                Counts {
                    trans,
                    conv,
                    value,
                    null,
                    journeys: total,
                },
                states,
            )
        } else {
            let mut ids: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
            let mut states: Vec<Vec<u32>> = vec![vec![]];
            ids.insert(vec![], 0);
            let mut counts = Counts::new(0);
            for i in 0..journeys.len() {
                let j = journeys.get(i);
                let w = j.conversions + j.nulls;
                if w == 0.0 {
                    continue;
                }
                counts.journeys += w;
                let mut prev = 0u32;
                for p in 0..j.channels.len() {
                    let key = &j.channels[(p + 1).saturating_sub(order)..=p];
                    let st = match ids.get(key) {
                        Some(&s) => s,
                        None => {
                            let s = states.len() as u32;
                            ids.insert(key.to_vec(), s);
                            states.push(key.to_vec());
                            s
                        }
                    };
                    *counts.trans.entry((prev, st)).or_insert(0.0) += w;
                    prev = st;
                }
                let n = states.len();
                for v in [&mut counts.conv, &mut counts.value, &mut counts.null] {
                    v.resize(n, 0.0);
                }
                counts.conv[prev as usize] += j.conversions;
                counts.value[prev as usize] += j.value;
                counts.null[prev as usize] += j.nulls;
            }
            let n = states.len();
            for v in [&mut counts.conv, &mut counts.value, &mut counts.null] {
                v.resize(n, 0.0);
            }
            (counts, states)
        };
        let n = state_channels.len();
        let mut out = vec![0.0; n];
        for (&(a, _), &w) in &counts.trans {
            out[a as usize] += w;
        }
        for ((o, c), nl) in out.iter_mut().zip(&counts.conv).zip(&counts.null) {
            *o += c + nl;
        }
        let mut transitions = vec![Vec::new(); n];
        let mut keys: Vec<_> = counts.trans.into_iter().collect();
        keys.sort_unstable_by_key(|&((a, b), _)| (a, b));
        for ((a, b), w) in keys {
            transitions[a as usize].push((b as usize, w / out[a as usize]));
        }
        let div = |x: &[f64]| -> Vec<f64> {
            x.iter()
                .zip(&out)
                .map(|(v, o)| if *o > 0.0 { v / o } else { 0.0 })
                .collect()
        };
        Ok(Chain {
            transitions,
            conversion_reward: div(&counts.conv),
            value_reward: div(&counts.value),
            state_channels,
            journeys: counts.journeys,
        })
    }

    /// States that contain `channel`.
    pub fn removed_states(&self, channel: u32) -> Vec<bool> {
        self.state_channels
            .iter()
            .map(|s| s.contains(&channel))
            .collect()
    }

    /// Expected reward from start, with the `removed` states sending to null.
    pub fn expected_from_start(&self, reward: &[f64], removed: &[bool]) -> f64 {
        let n = self.transitions.len();
        let mut v = vec![0.0; n];
        for _sweep in 0..100_000 {
            let mut delta = 0.0f64;
            let mut scale = 0.0f64;
            for s in 0..n {
                if removed[s] {
                    continue;
                }
                let mut acc = reward[s];
                let mut self_p = 0.0;
                for &(to, p) in &self.transitions[s] {
                    if to == s {
                        self_p += p;
                    } else if !removed[to] {
                        acc += p * v[to];
                    }
                }
                let new = if self_p < 1.0 {
                    acc / (1.0 - self_p)
                } else {
                    0.0
                };
                delta = delta.max((new - v[s]).abs());
                scale = scale.max(new.abs());
                v[s] = new;
            }
            if delta <= 1e-14 * scale || scale == 0.0 {
                break;
            }
        }
        v[0]
    }

    /// Removal effects of every channel (by index) for a reward vector.
    pub fn removal_effects(&self, reward: &[f64], channels: usize) -> Vec<f64> {
        let none = vec![false; self.transitions.len()];
        let base = self.expected_from_start(reward, &none);
        (0..channels as u32)
            .into_par_iter()
            .map(|c| {
                if base <= 0.0 {
                    return 0.0;
                }
                let without = self.expected_from_start(reward, &self.removed_states(c));
                (1.0 - without / base).max(0.0)
            })
            .collect()
    }
}

fn normalise(effects: &[f64], total: f64) -> Vec<f64> {
    let s: f64 = effects.iter().sum();
    effects
        .iter()
        .map(|e| if s > 0.0 { total * e / s } else { 0.0 })
        .collect()
}

/// Markov attribution of order `order`.
pub fn attribute(journeys: &Journeys, order: usize) -> Result<Attribution, AnalyticsError> {
    let chain = Chain::fit(journeys, order)?;
    let n = journeys.channel_names().len();
    let (tc, tv) = journeys.totals();
    let (re_c, re_v) = rayon::join(
        || chain.removal_effects(&chain.conversion_reward, n),
        || chain.removal_effects(&chain.value_reward, n),
    );
    Ok(build(
        journeys,
        Model::Markov { order },
        normalise(&re_c, tc),
        normalise(&re_v, tv),
        Some(re_c),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
    }

    #[test]
    fn hand_checked_removal_effects() {
        // Derivation in the comments of this test's journeys (see attribution::tests::sample):
        // V_A = V_B/6, V_B = V_C/4 + 1/2, V_C = 1/6 + 5V_A/6 → V_start = 1/3 = 3 conversions / 9.
        // Removing A, B, C gives 59/216, 5/54, 19/108 → effects 13/72, 13/18, 17/36.
        let j = sample();
        let a = attribute(&j, 1).unwrap();
        let re: Vec<f64> = a
            .channels
            .iter()
            .map(|c| c.removal_effect.unwrap())
            .collect();
        close(re[0], 13.0 / 72.0);
        close(re[1], 13.0 / 18.0);
        close(re[2], 17.0 / 36.0);
        close(a.channels[0].conversions, 13.0 / 33.0);
        close(a.channels[1].conversions, 52.0 / 33.0);
        close(a.channels[2].conversions, 34.0 / 33.0);
        // Value chain: effects 7/78, 14/39, 85/104 → shares 28, 112, 255 of 395.
        close(a.channels[0].value, 130.0 * 28.0 / 395.0);
        close(a.channels[1].value, 130.0 * 112.0 / 395.0);
        close(a.channels[2].value, 130.0 * 255.0 / 395.0);
    }

    #[test]
    fn order_one_chain_reproduces_observed_conversions_and_value() {
        let j = sample();
        let c = Chain::fit(&j, 1).unwrap();
        let none = vec![false; c.transitions.len()];
        close(
            c.expected_from_start(&c.conversion_reward, &none) * c.journeys,
            3.0,
        );
        close(
            c.expected_from_start(&c.value_reward, &none) * c.journeys,
            130.0,
        );
    }

    #[test]
    fn second_order_chain_has_sequence_states() {
        let j = sample();
        let c = Chain::fit(&j, 2).unwrap();
        // start, [A], [A,B], [B,C], [B], [C], [C,A]
        assert_eq!(c.state_channels.len(), 7);
        let a = attribute(&j, 2).unwrap();
        let total: f64 = a.channels.iter().map(|c| c.conversions).sum();
        close(total, 3.0);
        assert!(attribute(&j, 0).is_err());
    }
}
