//! An independent strategy judge: which EPITOME mechanism a reply's text
//! shows, whatever strategy the model says it used.
//!
//! It is a class-balanced softmax regression over the local sentence
//! embeddings (all-MiniLM-L6-v2) of EPITOME's human responses, labelled by
//! the strongest mechanism under the run's tie rule. It is fitted at run
//! time from the user's own copy of the data (nothing trained on EPITOME is
//! committed), never on the reserved half of the seeker posts, and never on
//! the human response to a post it will judge a reply to:
//!
//! - **disjoint** (the usual case, e.g. with `--limit`): one judge fitted
//!   on every eligible pair whose seeker post is not evaluated;
//! - **cross-fit** (when the evaluated posts leave fewer than
//!   [`MIN_DISJOINT_POOL`] pairs, as in a run over the whole dataset): the
//!   eligible pairs are split into [`FOLDS`] folds by seeker post, and a
//!   reply to a post in fold k is judged by the model fitted without fold k.
//!
//! Either way its own quality is measured the same way: out-of-fold
//! predictions over the training pool (5-fold cross-validation by seeker
//! post), against a majority-class baseline.

mod examples;
mod softmax;

pub use examples::{cache_key, Examples, JudgeError};

use super::metrics::{bootstrap_ci, compute, Intervals, Metrics};
use crate::chain::Strategy;
use crate::embed::DIM;
use crate::eval::slices::sha256_prefix;
use serde::{Deserialize, Serialize};
use softmax::Softmax;
use std::collections::HashSet;

/// Folds of the cross-validation (and of cross-fitting).
pub const FOLDS: usize = 5;

/// Fewest pairs left after removing the evaluated seeker posts for one
/// judge to be fitted on them alone; below this the judge cross-fits.
pub const MIN_DISJOINT_POOL: usize = 300;

/// Fewest training examples of each strategy a judge needs.
pub const MIN_PER_STRATEGY: usize = 5;

/// How the judge that scores the replies was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Training {
    Disjoint,
    CrossFit,
}

impl Training {
    pub fn as_str(self) -> &'static str {
        match self {
            Training::Disjoint => "disjoint",
            Training::CrossFit => "cross-fit",
        }
    }
}

/// The judge's own quality and provenance, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeQuality {
    pub method: String,
    pub training: Training,
    /// Pairs the judge was fitted and cross-validated on, per strategy.
    pub pool: usize,
    pub pool_per_strategy: [usize; 3],
    /// Pairs left out because their seeker post is reserved or evaluated.
    pub reserved_excluded: usize,
    pub evaluated_excluded: usize,
    pub folds: usize,
    pub seed: u64,
    /// Out-of-fold predictions on held-out human responses.
    pub held_out: Metrics,
    pub held_out_ci: Intervals,
    /// Every held-out response called the training folds' commonest strategy.
    pub baseline: Metrics,
    pub baseline_ci: Intervals,
}

/// A fitted judge, ready to score replies.
pub struct Judge {
    models: Vec<Softmax>,
    training: Training,
    seed: u64,
}

impl Judge {
    /// Fits the judge on `examples` minus the seeker posts in `evaluated`
    /// and measures it; `seed` assigns folds and seeds the intervals.
    pub fn train(
        examples: &Examples,
        evaluated: &HashSet<String>,
        seed: u64,
        resamples: usize,
    ) -> Result<(Judge, JudgeQuality), JudgeError> {
        let disjoint: Vec<usize> = (0..examples.len())
            .filter(|&i| !evaluated.contains(&examples.seeker_ids[i]))
            .collect();
        let enough = |rows: &[usize]| {
            let counts = count_strategies(rows.iter().map(|&i| examples.labels[i]));
            counts.iter().all(|&n| n >= MIN_PER_STRATEGY)
        };
        let (training, pool) = if disjoint.len() >= MIN_DISJOINT_POOL && enough(&disjoint) {
            (Training::Disjoint, disjoint)
        } else {
            (Training::CrossFit, (0..examples.len()).collect())
        };
        let per_strategy = count_strategies(pool.iter().map(|&i| examples.labels[i]));
        if !enough(&pool) {
            return Err(JudgeError::TooFewExamples {
                per_strategy,
                needed: MIN_PER_STRATEGY,
            });
        }
        let folds: Vec<usize> = pool
            .iter()
            .map(|&i| fold_of(seed, &examples.seeker_ids[i]))
            .collect();
        let mut fold_models = Vec::with_capacity(FOLDS);
        let mut held_out = Vec::with_capacity(pool.len());
        let mut baseline = Vec::with_capacity(pool.len());
        for k in 0..FOLDS {
            let train: Vec<usize> = pick(&pool, &folds, |f| f != k);
            let model = fit(examples, &train)?;
            let majority = majority(train.iter().map(|&i| examples.labels[i]));
            for i in pick(&pool, &folds, |f| f == k) {
                let gold = examples.labels[i];
                held_out.push((gold, Some(model.predict(examples.vector(i)))));
                baseline.push((gold, Some(majority)));
            }
            fold_models.push(model);
        }
        let models = match training {
            Training::Disjoint => vec![fit(examples, &pool)?],
            Training::CrossFit => fold_models,
        };
        let quality = JudgeQuality {
            method: "all-MiniLM-L6-v2 embeddings, class-balanced softmax regression".into(),
            training,
            pool: pool.len(),
            pool_per_strategy: per_strategy,
            reserved_excluded: examples.reserved_excluded,
            evaluated_excluded: examples.len() - pool.len(),
            folds: FOLDS,
            seed,
            held_out: compute(&held_out),
            held_out_ci: bootstrap_ci(&held_out, resamples, seed),
            baseline: compute(&baseline),
            baseline_ci: bootstrap_ci(&baseline, resamples, seed),
        };
        let judge = Judge {
            models,
            training,
            seed,
        };
        Ok((judge, quality))
    }

    /// The strategy `vector` (a reply's embedding) shows, judged by a model
    /// that never saw the human response to `seeker_id`'s post.
    pub fn strategy(&self, seeker_id: &str, vector: &[f32]) -> Strategy {
        let model = match self.training {
            Training::Disjoint => &self.models[0],
            Training::CrossFit => &self.models[fold_of(self.seed, seeker_id)],
        };
        model.predict(vector)
    }
}

/// The pool positions whose fold passes `keep`.
fn pick(pool: &[usize], folds: &[usize], keep: impl Fn(usize) -> bool) -> Vec<usize> {
    pool.iter()
        .zip(folds)
        .filter(|(_, &f)| keep(f))
        .map(|(&i, _)| i)
        .collect()
}

fn fit(examples: &Examples, rows: &[usize]) -> Result<Softmax, JudgeError> {
    let mut vectors = Vec::with_capacity(rows.len() * DIM);
    for &i in rows {
        vectors.extend_from_slice(examples.vector(i));
    }
    let labels: Vec<Strategy> = rows.iter().map(|&i| examples.labels[i]).collect();
    Softmax::fit(&vectors, &labels).map_err(|e| JudgeError::Fit(e.to_string()))
}

/// A seeker post's fold: by a seeded hash of its id, so every response to
/// one post lands in the same fold and the split does not follow file order.
fn fold_of(seed: u64, seeker_id: &str) -> usize {
    (sha256_prefix(&[&seed.to_le_bytes(), seeker_id.as_bytes()]) % FOLDS as u64) as usize
}

fn count_strategies(labels: impl Iterator<Item = Strategy>) -> [usize; 3] {
    let mut counts = [0; 3];
    for s in labels {
        counts[s.index()] += 1;
    }
    counts
}

/// The commonest strategy (the first in `Strategy::ALL` order on a tie).
fn majority(labels: impl Iterator<Item = Strategy>) -> Strategy {
    let counts = count_strategies(labels);
    let best = (0..3)
        .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    Strategy::ALL[best]
}

#[cfg(test)]
mod tests;
