//! Scores for predicted strategies against the human (gold) ones.
//!
//! Conventions, chosen so every number is finite (JSON has no NaN):
//! - A prediction of `None` (unknown label, parse error or LLM error) is
//!   wrong: it counts in `n` and lowers accuracy and recall, and has its own
//!   "unknown" column in the confusion matrix.
//! - A ratio with a zero denominator is 0: precision of a strategy that was
//!   never predicted, recall of one with no support, F1 when P + R = 0, and
//!   every rate of an empty input.
//! - Macro-F1 averages F1 over the strategies that occur in the gold labels
//!   OR the predictions; a strategy absent from both has no evidence either
//!   way and is left out (with none left, macro-F1 is 0). A strategy that
//!   is predicted but never gold keeps F1 = 0, so false alarms still cost.
//! - Balanced accuracy averages recall over strategies with support.

use crate::chain::Strategy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Column of [`Confusion::counts`] for predictions that named no strategy.
pub const UNKNOWN: usize = 3;

/// Resamples for [`bootstrap_ci`] unless the caller asks otherwise.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// Coverage of the intervals from [`bootstrap_ci`].
pub const CONFIDENCE: f64 = 0.95;

/// Counts of (gold, predicted): rows in `Strategy::ALL` order, columns the
/// same plus [`UNKNOWN`] last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub counts: [[usize; 4]; 3],
}

impl Confusion {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, gold: Strategy, predicted: Option<Strategy>) {
        self.counts[gold.index()][predicted.map_or(UNKNOWN, Strategy::index)] += 1;
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    pub fn correct(&self) -> usize {
        Strategy::ALL
            .iter()
            .map(|s| self.counts[s.index()][s.index()])
            .sum()
    }

    /// Items whose gold label is `gold`.
    pub fn support(&self, gold: Strategy) -> usize {
        self.counts[gold.index()].iter().sum()
    }

    /// Predictions per column (three strategies, then unknown).
    pub fn predicted(&self) -> [usize; 4] {
        let mut columns = [0; 4];
        for row in &self.counts {
            for (total, n) in columns.iter_mut().zip(row) {
                *total += n;
            }
        }
        columns
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    pub fn class(&self, strategy: Strategy) -> ClassMetrics {
        let i = strategy.index();
        let hits = self.counts[i][i];
        let support = self.support(strategy);
        let predicted = self.predicted()[i];
        let precision = ratio(hits, predicted);
        let recall = ratio(hits, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        ClassMetrics {
            strategy,
            support,
            predicted,
            precision,
            recall,
            f1,
        }
    }

    pub fn macro_f1(&self) -> f64 {
        let scored: Vec<f64> = Strategy::ALL
            .iter()
            .map(|&s| self.class(s))
            .filter(|c| c.support > 0 || c.predicted > 0)
            .map(|c| c.f1)
            .collect();
        mean(&scored)
    }

    pub fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = Strategy::ALL
            .iter()
            .map(|&s| self.class(s))
            .filter(|c| c.support > 0)
            .map(|c| c.recall)
            .collect();
        mean(&recalls)
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub strategy: Strategy,
    /// Items with this gold label.
    pub support: usize,
    /// Items predicted as this strategy.
    pub predicted: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Shares of items per strategy (and unknown), each in [0, 1]; they sum to
/// 1 unless there are no items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    pub emotional_reaction: f64,
    pub exploration: f64,
    pub interpretation: f64,
    pub unknown: f64,
}

impl Mix {
    fn from_counts(counts: [usize; 4]) -> Self {
        let n = counts.iter().sum();
        Mix {
            emotional_reaction: ratio(counts[0], n),
            exploration: ratio(counts[1], n),
            interpretation: ratio(counts[2], n),
            unknown: ratio(counts[UNKNOWN], n),
        }
    }

    /// The share of `strategy`, or of unknown predictions for `None`.
    pub fn share(&self, strategy: Option<Strategy>) -> f64 {
        match strategy {
            Some(Strategy::EmotionalReaction) => self.emotional_reaction,
            Some(Strategy::Exploration) => self.exploration,
            Some(Strategy::Interpretation) => self.interpretation,
            None => self.unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub correct: usize,
    /// Predictions that named no strategy (counted wrong).
    pub unknown: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub balanced_accuracy: f64,
    /// In `Strategy::ALL` order.
    pub per_strategy: [ClassMetrics; 3],
    /// What the model chose; next to `gold_mix` it shows the paper's
    /// "exploration bias" of replies without reasoning.
    pub predicted_mix: Mix,
    /// What the human responders did, on the same items.
    pub gold_mix: Mix,
    pub confusion: Confusion,
}

impl Metrics {
    /// Lets a run loop count as it goes instead of keeping every pair.
    pub fn from_confusion(confusion: Confusion) -> Self {
        let gold = Strategy::ALL.map(|s| confusion.support(s));
        Metrics {
            n: confusion.total(),
            correct: confusion.correct(),
            unknown: confusion.predicted()[UNKNOWN],
            accuracy: confusion.accuracy(),
            macro_f1: confusion.macro_f1(),
            balanced_accuracy: confusion.balanced_accuracy(),
            per_strategy: Strategy::ALL.map(|s| confusion.class(s)),
            predicted_mix: Mix::from_counts(confusion.predicted()),
            gold_mix: Mix::from_counts([gold[0], gold[1], gold[2], 0]),
            confusion,
        }
    }
}

/// Metrics over (gold, predicted) pairs; see the module docs for the
/// conventions.
pub fn compute(pairs: &[(Strategy, Option<Strategy>)]) -> Metrics {
    Metrics::from_confusion(confusion_of(pairs.iter().copied()))
}

fn confusion_of(pairs: impl Iterator<Item = (Strategy, Option<Strategy>)>) -> Confusion {
    let mut confusion = Confusion::new();
    for (gold, predicted) in pairs {
        confusion.add(gold, predicted);
    }
    confusion
}

/// Percentile bootstrap intervals, `(low, high)`, at [`CONFIDENCE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    pub accuracy: (f64, f64),
    pub macro_f1: (f64, f64),
    /// F1 per strategy, in `Strategy::ALL` order.
    pub per_strategy_f1: [(f64, f64); 3],
}

/// Resamples `pairs` with replacement `resamples` times and takes the
/// percentile intervals of accuracy, macro-F1 and each strategy's F1 (see
/// [`bootstrap`]). With no pairs or no resamples an interval collapses to
/// the point estimate.
pub fn bootstrap_ci(
    pairs: &[(Strategy, Option<Strategy>)],
    resamples: usize,
    seed: u64,
) -> Intervals {
    let scores = |draws: &mut dyn Iterator<Item = (Strategy, Option<Strategy>)>| {
        let confusion = confusion_of(draws);
        let f1 = Strategy::ALL.map(|s| confusion.class(s).f1);
        vec![
            confusion.accuracy(),
            confusion.macro_f1(),
            f1[0],
            f1[1],
            f1[2],
        ]
    };
    let ci = bootstrap(pairs, resamples, seed, scores);
    Intervals {
        confidence: CONFIDENCE,
        resamples,
        seed,
        accuracy: ci[0],
        macro_f1: ci[1],
        per_strategy_f1: [ci[2], ci[3], ci[4]],
    }
}

/// Percentile bootstrap of the statistics `scores` computes from a sample:
/// `resamples` draws with replacement (a `StdRng` seeded with `seed`, so
/// intervals are reproducible with the same `rand` version), then the 2.5th
/// and 97.5th percentiles of each statistic, interpolating linearly between
/// order statistics. With no samples or no resamples every interval
/// collapses to the statistic of `samples` itself.
pub fn bootstrap<T: Copy>(
    samples: &[T],
    resamples: usize,
    seed: u64,
    scores: impl Fn(&mut dyn Iterator<Item = T>) -> Vec<f64>,
) -> Vec<(f64, f64)> {
    let point = scores(&mut samples.iter().copied());
    let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); point.len()];
    if !samples.is_empty() {
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..resamples {
            let mut sample = (0..samples.len()).map(|_| samples[rng.gen_range(0..samples.len())]);
            for (values, score) in draws.iter_mut().zip(scores(&mut sample)) {
                values.push(score);
            }
        }
    }
    draws
        .into_iter()
        .zip(point)
        .map(|(values, point)| percentile_interval(values, point))
        .collect()
}

fn percentile_interval(mut values: Vec<f64>, point: f64) -> (f64, f64) {
    if values.is_empty() {
        return (point, point);
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    (quantile(&values, tail), quantile(&values, 1.0 - tail))
}

/// Linear interpolation between the order statistics around `q * (n - 1)`
/// (Hyndman & Fan type 7, numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let below = pos.floor() as usize;
    let above = pos.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (pos - below as f64)
}

mod agreement;

pub use agreement::{agreement, Agreement};

#[cfg(test)]
mod tests;
