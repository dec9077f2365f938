//! Multi-touch attribution: how much of the observed conversions and their value each channel
//! (or campaign) earned.
//!
//! Input is a set of [`Journeys`]: ordered touches with optional times, each journey (or
//! aggregated path row, as in R's ChannelAttribution: `path, total_conversions,
//! total_conversion_value, total_null`) carrying its conversions, their value and its
//! non-converting count. Every model returns per channel the attributed conversions, the
//! attributed value and their shares; all models hand out exactly the observed totals.
//!
//! Rule-based models (credit split among the touches of each converting journey):
//! - **first touch** / **last touch**: all to the first / last touch;
//! - **linear**: equal parts per touch (a channel touched twice gets two parts);
//! - **time decay**: weight `2^(-(t_last - tᵢ)/half_life)`, the conversion being taken at the last
//!   touch; journeys without times use touch positions (the last touch at 0, the one before at
//!   −1, …), so the half-life is then in touches;
//! - **position based** (U-shaped): `first` share to the first touch, `last` share to the last,
//!   the rest split evenly among the touches in between (defaults 40/20/40); a one-touch journey
//!   gives all to it, a two-touch journey splits in the ratio first : last.
//!
//! Data-driven models: [`markov`] (removal effects in an absorbing Markov chain, Anderl et al.
//! 2016) and [`shapley`] (Shapley value of the channels as players, Zhao et al. 2018).

pub mod markov;
pub mod shapley;

use crate::AnalyticsError;
use rayon::prelude::*;
use std::cmp::Ordering::{Equal, Less};

/// Journeys in columnar form (one allocation per column, whatever the count).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Journeys {
    names: Vec<String>,
    offsets: Vec<usize>,
    touch_channel: Vec<u32>,
    touch_time: Vec<f64>,
    conversions: Vec<f64>,
    value: Vec<f64>,
    nulls: Vec<f64>,
}

/// One journey, borrowed from [`Journeys`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Journey<'a> {
    /// Channel indices of the touches, in order.
    pub channels: &'a [u32],
    /// Touch times (any unit; positions when none were given).
    pub times: &'a [f64],
    /// Conversions (1 for a converting customer journey; a count for an aggregated path).
    pub conversions: f64,
    /// Value of those conversions.
    pub value: f64,
    /// Non-converting journeys on this path.
    pub nulls: f64,
}

impl Journeys {
    /// An empty set over the channels `names` (channel `i` is `names[i]`).
    pub fn new(names: Vec<String>) -> Self {
        Self {
            names,
            offsets: vec![0],
            ..Self::default()
        }
    }

    /// Channel names.
    pub fn channel_names(&self) -> &[String] {
        &self.names
    }

    /// Number of journeys (or path rows).
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there is no journey.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add a journey. `times`, when given, must be as long as `channels` and non-decreasing.
    pub fn push(
        &mut self,
        channels: &[u32],
        times: Option<&[f64]>,
        conversions: f64,
        value: f64,
        nulls: f64,
    ) -> Result<(), AnalyticsError> {
        let bad = |m: &str| Err(AnalyticsError::InvalidInput(m.into()));
        if channels.is_empty() {
            return bad("a journey needs at least one touch");
        }
        if channels.iter().any(|&c| c as usize >= self.names.len()) {
            return bad("channel index out of range");
        }
        for v in [conversions, value, nulls] {
            if !(v.is_finite() && v >= 0.0) {
                return bad("conversions, value and nulls must be finite and non-negative");
            }
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        match times {
            Some(t) => {
                if t.len() != channels.len()
                    || t.windows(2)
                        .any(|w| !matches!(w[0].partial_cmp(&w[1]), Some(Less | Equal)))
                {
                    return bad("touch times must match the touches and be in order");
                }
                self.touch_time.extend_from_slice(t);
            }
            None => {
                let n = channels.len() as f64;
                self.touch_time
                    .extend((0..channels.len()).map(|i| i as f64 + 1.0 - n));
            }
        }
        self.touch_channel.extend_from_slice(channels);
        self.offsets.push(self.touch_channel.len());
        self.conversions.push(conversions);
        self.value.push(value);
        self.nulls.push(nulls);
        Ok(())
    }

    /// Journey `i`.
    pub fn get(&self, i: usize) -> Journey<'_> {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        Journey {
            channels: &self.touch_channel[a..b],
            times: &self.touch_time[a..b],
            conversions: self.conversions[i],
            value: self.value[i],
            nulls: self.nulls[i],
        }
    }

    /// Total conversions and value.
    pub fn totals(&self) -> (f64, f64) {
        (self.conversions.iter().sum(), self.value.iter().sum())
    }

    pub(crate) fn chunks(
        &self,
        size: usize,
    ) -> impl IndexedParallelIterator<Item = std::ops::Range<usize>> + '_ {
        let n = self.len();
        (0..n.div_ceil(size))
            .into_par_iter()
            .map(move |k| k * size..((k + 1) * size).min(n))
    }
}

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// All credit to the first touch.
    FirstTouch,
    /// All credit to the last touch.
    LastTouch,
    /// Equal credit per touch.
    Linear,
    /// Exponential decay back from the last touch.
    TimeDecay {
        /// Time for a touch's weight to halve (same unit as the touch times).
        half_life: f64,
    },
    /// U-shaped.
    PositionBased {
        /// Share of the first touch (0.4).
        first: f64,
        /// Share of the last touch (0.4).
        last: f64,
    },
    /// Markov chain removal effects of the given order (≥ 1).
    Markov {
        /// Order of the chain: states are the last `order` channels.
        order: usize,
    },
    /// Shapley value, coalition value = conversions of the journeys whose channels are all in it.
    Shapley,
}

impl Model {
    /// Short name, as used by the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Self::FirstTouch => "first",
            Self::LastTouch => "last",
            Self::Linear => "linear",
            Self::TimeDecay { .. } => "time-decay",
            Self::PositionBased { .. } => "position",
            Self::Markov { .. } => "markov",
            Self::Shapley => "shapley",
        }
    }

    /// All seven models with default parameters (half-life 7, 40/20/40, first-order Markov).
    pub fn all() -> [Model; 7] {
        [
            Self::FirstTouch,
            Self::LastTouch,
            Self::Linear,
            Self::TimeDecay { half_life: 7.0 },
            Self::PositionBased {
                first: 0.4,
                last: 0.4,
            },
            Self::Markov { order: 1 },
            Self::Shapley,
        ]
    }
}

/// Credit of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelCredit {
    /// Channel index.
    pub channel: u32,
    /// Channel name.
    pub name: String,
    /// Attributed conversions.
    pub conversions: f64,
    /// Attributed value.
    pub value: f64,
    /// Share of all conversions (0–1).
    pub conversion_share: f64,
    /// Share of all value (0–1).
    pub value_share: f64,
    /// Markov only: removal effect on the conversion probability (0–1).
    pub removal_effect: Option<f64>,
}

/// A model's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The model.
    pub model: Model,
    /// One entry per channel, by channel index.
    pub channels: Vec<ChannelCredit>,
    /// Observed conversions.
    pub total_conversions: f64,
    /// Observed value.
    pub total_value: f64,
}

pub(crate) fn build(
    journeys: &Journeys,
    model: Model,
    conv: Vec<f64>,
    value: Vec<f64>,
    removal: Option<Vec<f64>>,
) -> Attribution {
    let (tc, tv) = journeys.totals();
    let share = |x: f64, t: f64| if t > 0.0 { x / t } else { 0.0 };
    let channels = journeys
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| ChannelCredit {
            channel: i as u32,
            name: name.clone(),
            conversions: conv[i],
            value: value[i],
            conversion_share: share(conv[i], tc),
            value_share: share(value[i], tv),
            removal_effect: removal.as_ref().map(|r| r[i]),
        })
        .collect();
    Attribution {
        model,
        channels,
        total_conversions: tc,
        total_value: tv,
    }
}

/// Split each converting journey's conversions and value by per-touch weights summing to 1.
fn rule_based(
    journeys: &Journeys,
    weights: impl Fn(&Journey<'_>, &mut Vec<f64>) + Sync,
) -> (Vec<f64>, Vec<f64>) {
    let n = journeys.names.len();
    let parts: Vec<(Vec<f64>, Vec<f64>)> = journeys
        .chunks(16_384)
        .map(|range| {
            let mut c = vec![0.0; n];
            let mut v = vec![0.0; n];
            let mut w = Vec::new();
            for i in range {
                let j = journeys.get(i);
                if j.conversions == 0.0 && j.value == 0.0 {
                    continue;
                }
                w.clear();
                weights(&j, &mut w);
                for (&ch, &wi) in j.channels.iter().zip(&w) {
                    c[ch as usize] += wi * j.conversions;
                    v[ch as usize] += wi * j.value;
                }
            }
            (c, v)
        })
        .collect();
    let mut c = vec![0.0; n];
    let mut v = vec![0.0; n];
    for (pc, pv) in parts {
        for i in 0..n {
            c[i] += pc[i];
            v[i] += pv[i];
        }
    }
    (c, v)
}

/// Attribute with `model`.
pub fn attribute(journeys: &Journeys, model: Model) -> Result<Attribution, AnalyticsError> {
    let (conv, value) = match model {
        Model::FirstTouch => rule_based(journeys, |j, w| {
            w.resize(j.channels.len(), 0.0);
            w[0] = 1.0;
        }),
        Model::LastTouch => rule_based(journeys, |j, w| {
            w.resize(j.channels.len(), 0.0);
            if let Some(l) = w.last_mut() {
                *l = 1.0;
            }
        }),
        Model::Linear => rule_based(journeys, |j, w| {
            let n = j.channels.len();
            w.resize(n, 1.0 / n as f64);
        }),
        Model::TimeDecay { half_life } => {
            if !(half_life > 0.0 && half_life.is_finite()) {
                return Err(AnalyticsError::InvalidInput(
                    "half-life must be positive".into(),
                ));
            }
            rule_based(journeys, |j, w| {
                let last = j.times[j.times.len() - 1];
                w.extend(
                    j.times
                        .iter()
                        .map(|t| (-(last - t) / half_life * std::f64::consts::LN_2).exp()),
                );
                let s: f64 = w.iter().sum();
                w.iter_mut().for_each(|x| *x /= s);
            })
        }
        Model::PositionBased { first, last } => {
            if !(first >= 0.0 && last >= 0.0 && first + last <= 1.0 + 1e-12 && first + last > 0.0) {
                return Err(AnalyticsError::InvalidInput(
                    "position shares must be non-negative, positive in sum, and sum to at most 1"
                        .into(),
                ));
            }
            rule_based(journeys, |j, w| {
                let n = j.channels.len();
                match n {
                    1 => w.push(1.0),
                    2 => w.extend([first / (first + last), last / (first + last)]),
                    _ => {
                        let mid = (1.0 - first - last).max(0.0) / (n - 2) as f64;
                        w.push(first);
                        w.extend(std::iter::repeat_n(mid, n - 2));
                        w.push(last);
                        // With first + last = 1 and no middle share this still sums to 1.
                        let s: f64 = w.iter().sum();
                        w.iter_mut().for_each(|x| *x /= s);
                    }
                }
            })
        }
        Model::Markov { order } => return markov::attribute(journeys, order),
        Model::Shapley => return shapley::attribute(journeys),
    };
    Ok(build(journeys, model, conv, value, None))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hand-checked set: channels A=0, B=1, C=2.
    /// 1. A > B > C, 1 conversion worth 100, times 0, 7, 14
    /// 2. B, 2 conversions worth 30 (aggregated row), 1 null
    /// 3. C > A, 0 conversions, 5 nulls
    pub(crate) fn sample() -> Journeys {
        let mut j = Journeys::new(vec!["A".into(), "B".into(), "C".into()]);
        j.push(&[0, 1, 2], Some(&[0.0, 7.0, 14.0]), 1.0, 100.0, 0.0)
            .unwrap();
        j.push(&[1], None, 2.0, 30.0, 1.0).unwrap();
        j.push(&[2, 0], None, 0.0, 0.0, 5.0).unwrap();
        j
    }

    fn credit(a: &Attribution) -> Vec<(f64, f64)> {
        a.channels
            .iter()
            .map(|c| (c.conversions, c.value))
            .collect()
    }

    fn close(a: &[(f64, f64)], b: &[(f64, f64)]) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x.0 - y.0).abs() < 1e-12 && (x.1 - y.1).abs() < 1e-9,
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn first_and_last_touch() {
        let j = sample();
        close(
            &credit(&attribute(&j, Model::FirstTouch).unwrap()),
            &[(1.0, 100.0), (2.0, 30.0), (0.0, 0.0)],
        );
        close(
            &credit(&attribute(&j, Model::LastTouch).unwrap()),
            &[(0.0, 0.0), (2.0, 30.0), (1.0, 100.0)],
        );
    }

    #[test]
    fn linear() {
        let a = attribute(&sample(), Model::Linear).unwrap();
        let t = 1.0 / 3.0;
        close(
            &credit(&a),
            &[(t, 100.0 * t), (2.0 + t, 30.0 + 100.0 * t), (t, 100.0 * t)],
        );
        assert!((a.channels[1].conversion_share - (2.0 + t) / 3.0).abs() < 1e-12);
        assert!((a.channels[1].value_share - (30.0 + 100.0 * t) / 130.0).abs() < 1e-12);
    }

    #[test]
    fn time_decay() {
        // Half-life 7 days: weights 1/4, 1/2, 1 → 1/7, 2/7, 4/7.
        let a = attribute(&sample(), Model::TimeDecay { half_life: 7.0 }).unwrap();
        close(
            &credit(&a),
            &[
                (1.0 / 7.0, 100.0 / 7.0),
                (2.0 + 2.0 / 7.0, 30.0 + 200.0 / 7.0),
                (4.0 / 7.0, 400.0 / 7.0),
            ],
        );
    }

    #[test]
    fn position_based() {
        let a = attribute(
            &sample(),
            Model::PositionBased {
                first: 0.4,
                last: 0.4,
            },
        )
        .unwrap();
        close(&credit(&a), &[(0.4, 40.0), (2.2, 50.0), (0.4, 40.0)]);
        // 30/10/60 on a two-touch journey: ratio 30:60.
        let mut j = Journeys::new(vec!["A".into(), "B".into()]);
        j.push(&[0, 1], None, 3.0, 90.0, 0.0).unwrap();
        let a = attribute(
            &j,
            Model::PositionBased {
                first: 0.3,
                last: 0.6,
            },
        )
        .unwrap();
        close(&credit(&a), &[(1.0, 30.0), (2.0, 60.0)]);
        assert!(attribute(
            &j,
            Model::PositionBased {
                first: 0.7,
                last: 0.6
            }
        )
        .is_err());
    }

    #[test]
    fn every_model_hands_out_the_observed_totals() {
        let j = sample();
        for m in Model::all() {
            let a = attribute(&j, m).unwrap();
            let c: f64 = a.channels.iter().map(|c| c.conversions).sum();
            let v: f64 = a.channels.iter().map(|c| c.value).sum();
            assert!(
                (c - 3.0).abs() < 1e-9 && (v - 130.0).abs() < 1e-7,
                "{}: {c} {v}",
                m.name()
            );
            assert_eq!((a.total_conversions, a.total_value), (3.0, 130.0));
        }
    }

    #[test]
    fn rejects_bad_journeys() {
        let mut j = Journeys::new(vec!["A".into()]);
        assert!(j.push(&[], None, 1.0, 1.0, 0.0).is_err());
        assert!(j.push(&[1], None, 1.0, 1.0, 0.0).is_err());
        assert!(j.push(&[0], None, -1.0, 1.0, 0.0).is_err());
        assert!(j.push(&[0, 0], Some(&[2.0, 1.0]), 1.0, 1.0, 0.0).is_err());
        assert!(j.is_empty());
    }
}
