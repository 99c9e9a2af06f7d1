use super::*;
use proptest::prelude::{prop, prop_assert, prop_assert_eq, prop_oneof, proptest, Just};
use proptest::strategy::Strategy as Generator;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use Strategy::{EmotionalReaction as Er, Exploration as Ex, Interpretation as Ip};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {
        assert!(
            close($a, $b),
            "{} = {} but expected {}",
            stringify!($a),
            $a,
            $b
        )
    };
}

/// Ten pairs, worked by hand:
///
/// ```text
///             predicted ER  EX  IP  unknown | support
/// gold ER               2   1   0   1       | 4
/// gold EX               0   2   1   0       | 3
/// gold IP               1   1   1   0       | 3
/// predicted             3   4   2   1       | n = 10
/// ```
/// correct = 2 + 2 + 1 = 5, accuracy = 5/10 = 0.5
/// ER: P = 2/3, R = 2/4,  F1 = 2·(1/3)/(7/6) = 4/7
/// EX: P = 2/4, R = 2/3,  F1 = 4/7 (same P and R, swapped)
/// IP: P = 1/2, R = 1/3,  F1 = 2·(1/6)/(5/6) = 2/5
/// macro-F1 = (4/7 + 4/7 + 2/5) / 3 = (60 + 60 + 42)/105 / 3 = 54/105 = 18/35
/// balanced accuracy = (1/2 + 2/3 + 1/3) / 3 = 1/2
/// predicted mix = 0.3, 0.4, 0.2, unknown 0.1; gold mix = 0.4, 0.3, 0.3
fn worked_example() -> Vec<(Strategy, Option<Strategy>)> {
    vec![
        (Er, Some(Er)),
        (Er, Some(Er)),
        (Er, Some(Ex)),
        (Er, None),
        (Ex, Some(Ex)),
        (Ex, Some(Ex)),
        (Ex, Some(Ip)),
        (Ip, Some(Ip)),
        (Ip, Some(Er)),
        (Ip, Some(Ex)),
    ]
}

#[test]
fn worked_three_class_example() {
    let m = compute(&worked_example());
    assert_eq!(
        m.confusion.counts,
        [[2, 1, 0, 1], [0, 2, 1, 0], [1, 1, 1, 0]]
    );
    assert_eq!((m.n, m.correct, m.unknown), (10, 5, 1));
    assert_close!(m.accuracy, 0.5);
    let [er, ex, ip] = &m.per_strategy;
    assert_eq!((er.support, er.predicted), (4, 3));
    assert_close!(er.precision, 2.0 / 3.0);
    assert_close!(er.recall, 0.5);
    assert_close!(er.f1, 4.0 / 7.0);
    assert_close!(ex.precision, 0.5);
    assert_close!(ex.recall, 2.0 / 3.0);
    assert_close!(ex.f1, 4.0 / 7.0);
    assert_close!(ip.precision, 0.5);
    assert_close!(ip.recall, 1.0 / 3.0);
    assert_close!(ip.f1, 0.4);
    assert_close!(m.macro_f1, 18.0 / 35.0);
    assert_close!(m.balanced_accuracy, 0.5);
    let p = &m.predicted_mix;
    assert_close!(p.emotional_reaction, 0.3);
    assert_close!(p.exploration, 0.4);
    assert_close!(p.interpretation, 0.2);
    assert_close!(p.share(None), 0.1);
    assert_close!(m.gold_mix.share(Some(Er)), 0.4);
    assert_close!(m.gold_mix.share(Some(Ex)), 0.3);
    assert_close!(m.gold_mix.share(Some(Ip)), 0.3);
    assert_close!(m.gold_mix.unknown, 0.0);
}

/// Gold never IP, but IP predicted once (a false alarm):
/// ER: P = 2/2, R = 2/2, F1 = 1; EX: P = 1/1, R = 1/2, F1 = 2/3;
/// IP: P = 0/1 = 0, R = 0/0 := 0, F1 = 0, kept in the macro mean because it
/// was predicted: macro-F1 = (1 + 2/3 + 0) / 3 = 5/9.
/// Balanced accuracy skips IP (no support): (1 + 1/2) / 2 = 3/4.
#[test]
fn predicted_but_absent_class_counts_against_macro_f1() {
    let m = compute(&[
        (Er, Some(Er)),
        (Er, Some(Er)),
        (Ex, Some(Ex)),
        (Ex, Some(Ip)),
    ]);
    assert_eq!(
        (m.per_strategy[2].support, m.per_strategy[2].predicted),
        (0, 1)
    );
    assert_close!(m.per_strategy[2].precision, 0.0);
    assert_close!(m.per_strategy[2].recall, 0.0);
    assert_close!(m.per_strategy[1].f1, 2.0 / 3.0);
    assert_close!(m.macro_f1, 5.0 / 9.0);
    assert_close!(m.balanced_accuracy, 0.75);
    assert_close!(m.accuracy, 0.75);
}

/// IP neither gold nor predicted; EX gold but never predicted:
/// ER: P = 1/2, R = 1/1, F1 = 2/3; EX: P = 0/0 := 0, R = 0/1, F1 = 0;
/// IP left out: macro-F1 = (2/3 + 0) / 2 = 1/3; balanced = (1 + 0)/2 = 1/2.
#[test]
fn class_with_no_support_and_no_predictions_is_left_out() {
    let m = compute(&[(Er, Some(Er)), (Ex, Some(Er))]);
    assert_close!(m.per_strategy[1].precision, 0.0);
    assert_close!(m.per_strategy[0].f1, 2.0 / 3.0);
    assert_eq!(
        (m.per_strategy[2].support, m.per_strategy[2].predicted),
        (0, 0)
    );
    assert_close!(m.macro_f1, 1.0 / 3.0);
    assert_close!(m.balanced_accuracy, 0.5);
    assert_close!(m.accuracy, 0.5);
}

#[test]
fn all_correct_scores_one() {
    let pairs = [
        (Er, Some(Er)),
        (Ex, Some(Ex)),
        (Ip, Some(Ip)),
        (Ip, Some(Ip)),
    ];
    let m = compute(&pairs);
    assert_close!(m.accuracy, 1.0);
    assert_close!(m.macro_f1, 1.0);
    assert_close!(m.balanced_accuracy, 1.0);
    assert_eq!(m.predicted_mix, m.gold_mix);
    let ci = bootstrap_ci(&pairs, 200, 1);
    assert_eq!((ci.accuracy, ci.macro_f1), ((1.0, 1.0), (1.0, 1.0)));
}

/// Every prediction unknown: all wrong; every strategy has support, so all
/// three F1 = 0 enter the macro mean.
#[test]
fn all_unknown_scores_zero() {
    let m = compute(&[(Er, None), (Ex, None), (Ip, None)]);
    assert_eq!((m.n, m.correct, m.unknown), (3, 0, 3));
    assert_eq!(
        m.confusion.counts,
        [[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]]
    );
    assert_close!(m.accuracy, 0.0);
    assert_close!(m.macro_f1, 0.0);
    assert_close!(m.balanced_accuracy, 0.0);
    assert_close!(m.predicted_mix.unknown, 1.0);
    assert!(m
        .per_strategy
        .iter()
        .all(|c| c.precision == 0.0 && c.f1 == 0.0));
}

#[test]
fn empty_input_is_all_zero_and_valid_json() {
    let m = compute(&[]);
    assert_eq!((m.n, m.correct, m.unknown), (0, 0, 0));
    assert_close!(m.accuracy + m.macro_f1 + m.balanced_accuracy, 0.0);
    let ci = bootstrap_ci(&[], DEFAULT_RESAMPLES, 7);
    assert_eq!((ci.accuracy, ci.macro_f1), ((0.0, 0.0), (0.0, 0.0)));
    let json = serde_json::to_string(&(&m, &ci)).unwrap();
    assert!(!json.contains("null") && !json.contains("NaN"), "{json}");
    let back: Metrics = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn streaming_counts_match_compute() {
    let mut confusion = Confusion::new();
    for (gold, predicted) in worked_example() {
        confusion.add(gold, predicted);
    }
    assert_eq!(
        Metrics::from_confusion(confusion),
        compute(&worked_example())
    );
}

#[test]
fn bootstrap_is_seeded_and_brackets_the_estimate() {
    let pairs: Vec<_> = worked_example().repeat(6);
    let point = compute(&pairs);
    let ci = bootstrap_ci(&pairs, DEFAULT_RESAMPLES, 2023);
    assert_eq!(ci, bootstrap_ci(&pairs, DEFAULT_RESAMPLES, 2023));
    assert_ne!(ci, bootstrap_ci(&pairs, DEFAULT_RESAMPLES, 2024));
    assert_eq!((ci.resamples, ci.seed, ci.confidence), (1000, 2023, 0.95));
    let (lo, hi) = ci.accuracy;
    assert!(lo < point.accuracy && point.accuracy < hi, "{lo} {hi}");
    assert!(0.0 <= lo && hi <= 1.0);
    let (lo, hi) = ci.macro_f1;
    assert!(lo < point.macro_f1 && point.macro_f1 < hi, "{lo} {hi}");
    // No resamples: nothing to estimate from, so the point itself.
    let none = bootstrap_ci(&pairs, 0, 1);
    assert_eq!(none.accuracy, (point.accuracy, point.accuracy));
}

#[test]
fn quantiles_interpolate_between_order_statistics() {
    // pos = 0.25 · 4 = 1 → exactly 1.0; pos = 0.9 · 4 = 3.6 → 3 + 0.6 · (4 - 3)
    let sorted = [0.0, 1.0, 2.0, 3.0, 4.0];
    assert_close!(quantile(&sorted, 0.25), 1.0);
    assert_close!(quantile(&sorted, 0.9), 3.6);
    assert_close!(quantile(&[5.0], 0.975), 5.0);
}

fn prediction() -> impl Generator<Value = Option<Strategy>> {
    prop_oneof![Just(None), Just(Some(Er)), Just(Some(Ex)), Just(Some(Ip)),]
}

proptest! {
    // Fixed cases in CI; PROPTEST_RNG_SEED=<u64> explores others.
    #![proptest_config(ProptestConfig {
        rng_seed: RngSeed::Fixed(0x5eed_0005),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_rate_is_a_finite_fraction(
        pairs in prop::collection::vec((0usize..3, prediction()), 0..40)
    ) {
        let pairs: Vec<_> = pairs.into_iter().map(|(g, p)| (Strategy::ALL[g], p)).collect();
        let m = compute(&pairs);
        prop_assert_eq!(m.confusion.total(), pairs.len());
        let mut rates = vec![m.accuracy, m.macro_f1, m.balanced_accuracy];
        for c in &m.per_strategy {
            rates.extend([c.precision, c.recall, c.f1]);
        }
        prop_assert!(rates.iter().all(|r| r.is_finite() && (0.0..=1.0).contains(r)));
        let ci = bootstrap_ci(&pairs, 50, 3);
        prop_assert!(ci.accuracy.0 <= ci.accuracy.1 && ci.macro_f1.0 <= ci.macro_f1.1);
    }
}
