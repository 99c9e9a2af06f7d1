//! Agreement between two labellings of the same replies: the strategy the
//! model claimed and the one the judge found in the reply's text.

use super::{bootstrap, CONFIDENCE};
use crate::chain::Strategy;
use serde::{Deserialize, Serialize};

/// Cohen's κ with its percentile-bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Replies with both labels.
    pub n: usize,
    /// Share of replies whose two labels are the same.
    pub observed: f64,
    pub kappa: f64,
    pub kappa_ci: (f64, f64),
    pub confidence: f64,
}

/// κ = (p_o − p_e) / (1 − p_e) over `(claimed, judged)` pairs, where p_e
/// is the agreement expected from each side's own label mix. When p_e = 1
/// (both sides used one and the same label throughout) no agreement beyond
/// chance can be shown, and κ is 0; with no pairs, κ is 0 too.
fn cohen_kappa(pairs: &mut dyn Iterator<Item = (Strategy, Strategy)>) -> (f64, f64) {
    let mut table = [[0usize; 3]; 3];
    let mut n = 0usize;
    for (a, b) in pairs {
        table[a.index()][b.index()] += 1;
        n += 1;
    }
    if n == 0 {
        return (0.0, 0.0);
    }
    let n = n as f64;
    let observed = (0..3).map(|k| table[k][k]).sum::<usize>() as f64 / n;
    let expected: f64 = (0..3)
        .map(|k| {
            let row: usize = table[k].iter().sum();
            let column: usize = table.iter().map(|r| r[k]).sum();
            (row as f64 / n) * (column as f64 / n)
        })
        .sum();
    if expected >= 1.0 - 1e-12 {
        return (observed, 0.0);
    }
    (observed, (observed - expected) / (1.0 - expected))
}

/// κ of `pairs` with a bootstrap interval (`resamples` draws, `seed`).
pub fn agreement(pairs: &[(Strategy, Strategy)], resamples: usize, seed: u64) -> Agreement {
    let (observed, kappa) = cohen_kappa(&mut pairs.iter().copied());
    let ci = bootstrap(pairs, resamples, seed, |draws| vec![cohen_kappa(draws).1]);
    Agreement {
        n: pairs.len(),
        observed,
        kappa,
        kappa_ci: ci[0],
        confidence: CONFIDENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Strategy::{EmotionalReaction as Er, Exploration as Ex, Interpretation as Ip};

    fn kappa(pairs: &[(Strategy, Strategy)]) -> f64 {
        cohen_kappa(&mut pairs.iter().copied()).1
    }

    fn repeat(pairs: &[((Strategy, Strategy), usize)]) -> Vec<(Strategy, Strategy)> {
        pairs
            .iter()
            .flat_map(|&(pair, n)| std::iter::repeat_n(pair, n))
            .collect()
    }

    #[test]
    fn perfect_agreement_is_one() {
        let pairs = repeat(&[((Er, Er), 3), ((Ex, Ex), 5), ((Ip, Ip), 2)]);
        assert!((kappa(&pairs) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn agreement_at_chance_is_zero() {
        // Each side says ER half the time, independently: p_o = p_e = 0.5.
        let pairs = repeat(&[((Er, Er), 1), ((Er, Ex), 1), ((Ex, Er), 1), ((Ex, Ex), 1)]);
        assert!(kappa(&pairs).abs() < 1e-12);
    }

    #[test]
    fn systematic_disagreement_is_negative() {
        // Always opposite: p_o = 0, p_e = 0.5, κ = −1.
        let pairs = repeat(&[((Er, Ex), 2), ((Ex, Er), 2)]);
        assert!((kappa(&pairs) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_worked_example() {
        // Rows claimed, columns judged (ER, EX, IP):
        //   ER [4, 1, 0]   EX [2, 6, 2]   IP [0, 1, 4]; n = 20.
        // p_o = 14/20 = 0.7; rows 5, 10, 5; columns 6, 8, 6;
        // p_e = (5·6 + 10·8 + 5·6) / 400 = 0.35; κ = 0.35 / 0.65.
        let pairs = repeat(&[
            ((Er, Er), 4),
            ((Er, Ex), 1),
            ((Ex, Er), 2),
            ((Ex, Ex), 6),
            ((Ex, Ip), 2),
            ((Ip, Ex), 1),
            ((Ip, Ip), 4),
        ]);
        let a = agreement(&pairs, 500, 3);
        assert_eq!(a.n, 20);
        assert!((a.observed - 0.7).abs() < 1e-12);
        assert!((a.kappa - 0.35 / 0.65).abs() < 1e-12);
        assert!(a.kappa_ci.0 <= a.kappa && a.kappa <= a.kappa_ci.1);
        assert!(a.kappa_ci.0 < a.kappa_ci.1);
    }

    #[test]
    fn one_shared_label_and_no_pairs_give_zero() {
        assert_eq!(kappa(&repeat(&[((Ip, Ip), 4)])), 0.0);
        let empty = agreement(&[], 100, 1);
        assert_eq!((empty.n, empty.kappa, empty.kappa_ci), (0, 0.0, (0.0, 0.0)));
    }
}
