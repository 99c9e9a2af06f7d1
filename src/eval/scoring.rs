//! The end of a run: one streaming pass over its stored rows that judges
//! each reply, writes items.csv and gathers the labels every table needs.

use super::dataset::seeker_id_of;
use super::files::ItemsCsv;
use super::judge::Judge;
use super::metrics::{agreement, bootstrap_ci, compute, Agreement, Intervals, Metrics};
use crate::chain::{Strategy, Therapy};
use crate::embed::{EmbedError, EmbedWorker, Embedder};
use crate::store::{EvalItemRow, EvalOutcome, Store, StoreError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows judged per embedding call.
const BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not judge the stored replies ({0}); the model calls are all stored: rerun with --resume RUN_ID --judge off for a report without the judge")]
    Embed(EmbedError),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Replies judged per embedding pass: concurrent replies share a pass.
const MAX_BATCH: usize = 64;

/// The fitted judge and the embedding thread that feeds it. Cheap to clone.
#[derive(Clone)]
pub struct ReplyJudge {
    judge: Arc<Judge>,
    worker: EmbedWorker,
}

impl ReplyJudge {
    /// Moves the model onto its own thread, so judging never blocks the
    /// runtime and replies completing together are embedded together.
    pub fn new(judge: Judge, embedder: Embedder) -> ReplyJudge {
        ReplyJudge {
            judge: Arc::new(judge),
            worker: EmbedWorker::spawn(embedder, MAX_BATCH),
        }
    }

    /// Judged strategies of `(item_id, reply)` pairs, in order.
    pub async fn strategies(&self, replies: &[(&str, &str)]) -> Result<Vec<Strategy>, EmbedError> {
        let texts = replies.iter().map(|(_, r)| r.to_string()).collect();
        let vectors = self.worker.embed(texts).await?;
        Ok(replies
            .iter()
            .zip(&vectors)
            .map(|((item_id, _), v)| self.judge.strategy(seeker_id_of(item_id), v))
            .collect())
    }
}

/// Labels of one therapy's scored rows (rows the model server never
/// answered are left out: they say nothing about the chain).
#[derive(Default)]
struct Labels {
    claimed: Vec<(Strategy, Option<Strategy>)>,
    judged: Vec<(Strategy, Option<Strategy>)>,
    claimed_vs_judged: Vec<(Strategy, Strategy)>,
}

/// One therapy scored by the judge: accuracy against the human strategy
/// and agreement with the model's own label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub metrics: Metrics,
    pub intervals: Intervals,
    pub agreement: Agreement,
}

/// Everything the report needs of one therapy.
pub struct Scores {
    pub claimed: (Metrics, Intervals),
    pub judged: Option<Judged>,
}

/// Streams the run's rows in batches: judges the replies (when there is a
/// judge), writes each row to `csv_path`, and scores every therapy.
pub async fn score_run(
    store: &Store,
    run_id: &str,
    judge: Option<&ReplyJudge>,
    csv_path: &Path,
    resamples: usize,
    seed: u64,
) -> Result<BTreeMap<Therapy, Scores>, ScoringError> {
    let io = |source: std::io::Error| ScoringError::Output {
        path: csv_path.to_path_buf(),
        source,
    };
    let mut csv = ItemsCsv::create(csv_path.to_path_buf()).await.map_err(io)?;
    let mut labels: BTreeMap<Therapy, Labels> = BTreeMap::new();
    let mut rows = std::pin::pin!(store.eval_items(run_id).chunks(BATCH));
    while let Some(chunk) = rows.next().await {
        let mut chunk = chunk.into_iter().collect::<Result<Vec<_>, _>>()?;
        if let Some(judge) = judge {
            judge_missing(judge, store, run_id, &mut chunk).await?;
        }
        let (more, chunk) = csv.write(chunk).await.map_err(io)?;
        csv = more;
        for row in chunk.iter().filter(|r| r.outcome != EvalOutcome::LlmError) {
            labels.entry(row.therapy).or_default().add(row);
        }
    }
    csv.finish().await.map_err(io)?;
    let scores = labels
        .into_iter()
        .map(|(therapy, l)| (therapy, l.scores(judge.is_some(), resamples, seed)))
        .collect();
    Ok(scores)
}

/// Judges the replies recorded without a judgment (a run resumed with the
/// judge newly on) and stores what it found.
async fn judge_missing(
    judge: &ReplyJudge,
    store: &Store,
    run_id: &str,
    rows: &mut [EvalItemRow],
) -> Result<(), ScoringError> {
    let missing: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].judged_strategy.is_none() && rows[i].reply.is_some())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let replies: Vec<(&str, &str)> = missing
        .iter()
        .map(|&i| {
            (
                rows[i].item_id.as_str(),
                rows[i].reply.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let strategies = judge
        .strategies(&replies)
        .await
        .map_err(ScoringError::Embed)?;
    let mut judged = Vec::with_capacity(missing.len());
    for (i, strategy) in missing.into_iter().zip(strategies) {
        rows[i].judged_strategy = Some(strategy);
        judged.push((rows[i].therapy, rows[i].item_id.clone(), strategy));
    }
    store.set_judged_strategies(run_id, &judged).await?;
    Ok(())
}

impl Labels {
    fn add(&mut self, row: &EvalItemRow) {
        self.claimed.push((row.gold, row.predicted));
        self.judged.push((row.gold, row.judged_strategy));
        if let (Some(claimed), Some(judged)) = (row.predicted, row.judged_strategy) {
            self.claimed_vs_judged.push((claimed, judged));
        }
    }

    fn scores(self, judged: bool, resamples: usize, seed: u64) -> Scores {
        let claimed = (
            compute(&self.claimed),
            bootstrap_ci(&self.claimed, resamples, seed),
        );
        let judged = judged.then(|| Judged {
            metrics: compute(&self.judged),
            intervals: bootstrap_ci(&self.judged, resamples, seed),
            agreement: agreement(&self.claimed_vs_judged, resamples, seed),
        });
        Scores { claimed, judged }
    }
}
