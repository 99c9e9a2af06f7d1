//! The end of a run: one streaming pass over its stored rows that judges
//! each reply, writes items.csv and gathers the labels every table needs.

use super::dataset::seeker_id_of;
use super::judge::{Judge, JudgeError};
use super::metrics::{agreement, bootstrap_ci, compute, Agreement, Intervals, Metrics};
use crate::chain::{Strategy, Therapy};
use crate::embed::Embedder;
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
    #[error(transparent)]
    Judge(#[from] JudgeError),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The fitted judge and the model that embeds replies for it.
#[derive(Clone)]
pub struct ReplyJudge {
    pub judge: Arc<Judge>,
    pub embedder: Arc<Embedder>,
}

impl ReplyJudge {
    /// Judged strategies of `(item_id, reply)` pairs, computed on a
    /// blocking thread so the runtime keeps serving.
    async fn strategies(
        &self,
        replies: Vec<(String, String)>,
    ) -> Result<Vec<Strategy>, JudgeError> {
        let this = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = replies.iter().map(|(_, r)| r.as_str()).collect();
            let vectors = this.embedder.embed(&texts)?;
            Ok(replies
                .iter()
                .zip(&vectors)
                .map(|((item_id, _), v)| this.judge.strategy(seeker_id_of(item_id), v))
                .collect())
        });
        task.await
            .unwrap_or_else(|e| Err(JudgeError::Fit(format!("judge task failed: {e}"))))
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
    let file = std::fs::File::create(csv_path).map_err(io)?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let mut labels: BTreeMap<Therapy, Labels> = BTreeMap::new();
    let mut rows = std::pin::pin!(store.eval_items(run_id).chunks(BATCH));
    while let Some(chunk) = rows.next().await {
        let mut chunk = chunk.into_iter().collect::<Result<Vec<_>, _>>()?;
        if let Some(judge) = judge {
            judge_rows(judge, &mut chunk).await?;
        }
        for row in chunk {
            writer.serialize(&row).map_err(|e| io(e.into()))?;
            if row.outcome != EvalOutcome::LlmError {
                labels.entry(row.therapy).or_default().add(&row);
            }
        }
    }
    writer.flush().map_err(io)?;
    let scores = labels
        .into_iter()
        .map(|(therapy, l)| (therapy, l.scores(judge.is_some(), resamples, seed)))
        .collect();
    Ok(scores)
}

async fn judge_rows(judge: &ReplyJudge, rows: &mut [EvalItemRow]) -> Result<(), JudgeError> {
    let replies: Vec<(usize, String, String)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| Some((i, row.item_id.clone(), row.reply.clone()?)))
        .collect();
    let positions: Vec<usize> = replies.iter().map(|(i, _, _)| *i).collect();
    let texts = replies.into_iter().map(|(_, id, r)| (id, r)).collect();
    for (i, strategy) in positions.into_iter().zip(judge.strategies(texts).await?) {
        rows[i].judged_strategy = Some(strategy);
    }
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
