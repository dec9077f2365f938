//! Attribution: Shapley axioms, Markov removal effects against a direct absorbing-chain solve,
//! and invariants of every model on random journeys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapport_analytics::attribution::markov::Chain;
use rapport_analytics::attribution::shapley::shapley_from_exact_sets;
use rapport_analytics::attribution::{attribute, Journeys, Model};

fn random_journeys(seed: u64, channels: u32, n: usize) -> Journeys {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut j = Journeys::new((0..channels).map(|c| format!("ch{c}")).collect());
    for _ in 0..n {
        let len = rng.gen_range(1..=5);
        let path: Vec<u32> = (0..len).map(|_| rng.gen_range(0..channels)).collect();
        let conv = if rng.gen_bool(0.3) {
            f64::from(rng.gen_range(1..4))
        } else {
            0.0
        };
        let value = conv * f64::from(rng.gen_range(10..100));
        let nulls = f64::from(rng.gen_range(0..5));
        j.push(&path, None, conv, value, nulls).unwrap();
    }
    j
}

#[test]
fn every_model_conserves_the_totals_on_random_journeys() {
    let j = random_journeys(1, 7, 2000);
    let (tc, tv) = j.totals();
    for m in Model::all()
        .into_iter()
        .chain([Model::Markov { order: 2 }, Model::Markov { order: 3 }])
    {
        let a = attribute(&j, m).unwrap();
        let c: f64 = a.channels.iter().map(|c| c.conversions).sum();
        let v: f64 = a.channels.iter().map(|c| c.value).sum();
        let s: f64 = a.channels.iter().map(|c| c.conversion_share).sum();
        assert!(
            (c - tc).abs() < 1e-8 * tc && (v - tv).abs() < 1e-8 * tv,
            "{m:?}"
        );
        assert!((s - 1.0).abs() < 1e-12);
        assert!(a
            .channels
            .iter()
            .all(|c| c.conversions >= 0.0 && c.value >= 0.0));
    }
}

#[test]
fn shapley_efficiency_symmetry_and_null_player() {
    // Symmetry: every journey also appears with channels 0 and 1 swapped, so 0 and 1 are
    // interchangeable players. Null player: channel 5 only appears in non-converting journeys.
    let base = random_journeys(2, 5, 300);
    let mut j = Journeys::new((0..6).map(|c| format!("ch{c}")).collect());
    for i in 0..base.len() {
        let x = base.get(i);
        let swapped: Vec<u32> = x
            .channels
            .iter()
            .map(|&c| match c {
                0 => 1,
                1 => 0,
                c => c,
            })
            .collect();
        j.push(x.channels, None, x.conversions, x.value, x.nulls)
            .unwrap();
        j.push(&swapped, None, x.conversions, x.value, x.nulls)
            .unwrap();
    }
    j.push(&[5, 2], None, 0.0, 0.0, 10.0).unwrap();
    let a = attribute(&j, Model::Shapley).unwrap();
    let (tc, tv) = j.totals();
    let c: Vec<f64> = a.channels.iter().map(|c| c.conversions).collect();
    assert!((c.iter().sum::<f64>() - tc).abs() < 1e-9 * tc, "efficiency");
    assert!((a.channels.iter().map(|c| c.value).sum::<f64>() - tv).abs() < 1e-9 * tv);
    assert!((c[0] - c[1]).abs() < 1e-9 * tc, "symmetry: {c:?}");
    assert_eq!(c[5], 0.0, "null player");
}

#[test]
fn shapley_enumeration_equals_the_unanimity_closed_form() {
    // For v(S) = Σ_{T⊆S} w(T), φᵢ = Σ_{T∋i} w(T)/|T|; the enumeration must agree.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in [1usize, 3, 8, 12] {
        let w: Vec<f64> = (0..1usize << n)
            .map(|s| {
                if s > 0 && rng.gen_bool(0.4) {
                    rng.gen::<f64>()
                } else {
                    0.0
                }
            })
            .collect();
        let phi = shapley_from_exact_sets(n, w.clone());
        for (i, &p) in phi.iter().enumerate() {
            let want: f64 = (0..w.len())
                .filter(|s| s & (1 << i) != 0)
                .map(|s| w[s] / f64::from(s.count_ones()))
                .sum();
            assert!((p - want).abs() < 1e-10, "n={n} i={i}: {p} vs {want}");
        }
    }
}

#[test]
fn shapley_beyond_the_enumeration_limit_uses_the_equal_closed_form() {
    let j = random_journeys(4, 24, 3000);
    let a = attribute(&j, Model::Shapley).unwrap();
    let (tc, _) = j.totals();
    assert!((a.channels.iter().map(|c| c.conversions).sum::<f64>() - tc).abs() < 1e-8 * tc);
}

/// V_start with `removed` states, by a direct dense solve of (I − Q)·V = r.
fn direct(chain: &Chain, reward: &[f64], removed: &[bool]) -> f64 {
    let n = chain.transitions.len();
    let mut a = vec![vec![0.0; n]; n];
    let mut b = vec![0.0; n];
    for s in 0..n {
        a[s][s] = 1.0;
        if removed[s] {
            continue;
        }
        b[s] = reward[s];
        for &(to, p) in &chain.transitions[s] {
            if !removed[to] {
                a[s][to] -= p;
            }
        }
    }
    common::solve(a, &b)[0]
}

#[test]
fn markov_removal_effects_match_a_direct_linear_solve() {
    for order in 1..=3 {
        let j = random_journeys(5 + order as u64, 6, 1500);
        let chain = Chain::fit(&j, order).unwrap();
        let none = vec![false; chain.transitions.len()];
        for reward in [&chain.conversion_reward, &chain.value_reward] {
            let base = direct(&chain, reward, &none);
            assert!((chain.expected_from_start(reward, &none) - base).abs() < 1e-12);
            let effects = chain.removal_effects(reward, 6);
            for (c, e) in effects.iter().enumerate() {
                let want = 1.0 - direct(&chain, reward, &chain.removed_states(c as u32)) / base;
                assert!(
                    (e - want).abs() < 1e-10,
                    "order {order} channel {c}: {e} vs {want}"
                );
            }
        }
        if order == 1 {
            // Flow conservation: the fitted first-order chain reproduces the observed totals.
            let (tc, tv) = j.totals();
            assert!(
                (direct(&chain, &chain.conversion_reward, &none) * chain.journeys - tc).abs()
                    < 1e-8 * tc
            );
            assert!(
                (direct(&chain, &chain.value_reward, &none) * chain.journeys - tv).abs()
                    < 1e-8 * tv
            );
        }
    }
}
