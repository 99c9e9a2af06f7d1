//! One evaluation run: every (item, therapy, model) through the same chain
//! and client as the bot, each result stored as soon as it completes, so an
//! interrupted run resumes without repeating a model call. Items stream
//! from the dataset; memory does not grow with its size.

mod judging;
mod prepare;

use super::dataset::{self, DatasetError, EvalItem, Index, TieRule};
use super::files::{create_out_dir, selected_items, write_reports};
use super::metrics::DEFAULT_RESAMPLES;
use super::models::ModelsError;
use super::report::{self, ModelReport, Report, RunInfo, TherapyResult};
use super::scoring::{score_run, ReplyJudge, ScoringError};
use crate::chain::{run_chain, Care, ChainError, Therapy};
use crate::llm::{Call, LlmClient, LlmConfig};
use crate::safety::crisis;
use crate::safety::risk::Tier;
use crate::safety::sanitize::sanitize_reply;
use crate::store::{EvalItemRow, EvalOutcome, Store};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use prepare::Model;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Seed of the bootstrap intervals and the judge's folds when no
/// `--sample-seed` is given.
const DEFAULT_SEED: u64 = 2311;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub data: PathBuf,
    pub therapies: Vec<Therapy>,
    pub limit: Option<usize>,
    pub sample_seed: Option<u64>,
    /// Requests in flight for the `LLM_*` model (a models file sets its own).
    pub concurrency: usize,
    /// Several model servers side by side, instead of the `LLM_*` one.
    pub models_file: Option<PathBuf>,
    pub out: PathBuf,
    pub resume: Option<String>,
    pub ties: TieRule,
    /// The strategy judge, when replies are to be judged.
    pub judge: Option<JudgeSetup>,
    pub show_progress: bool,
}

/// Where the judge's embedding model is, and whether a judge that cannot
/// be fitted stops the run (`--judge embed`) or only turns it off (`auto`).
#[derive(Debug, Clone)]
pub struct JudgeSetup {
    pub model_dir: PathBuf,
    pub required: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error(transparent)]
    Scoring(#[from] ScoringError),
    #[error(transparent)]
    Models(#[from] ModelsError),
    #[error(transparent)]
    Judge(#[from] super::judge::JudgeError),
    #[error("model {name}: {reason}")]
    Model { name: String, reason: String },
    #[error("an eval task stopped unexpectedly ({0}); rerun with --resume RUN_ID, nothing stored is lost")]
    Task(String),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no run {0} in this database; list runs with: sqlite3 coe-bot.db 'SELECT run_id FROM eval_runs'")]
    UnknownRun(String),
    #[error("run {run_id} cannot resume: {reason}")]
    CannotResume { run_id: String, reason: String },
    #[error("interrupted; {done} of {total} done. Continue with: coe-bot eval --resume {run_id}")]
    Interrupted {
        run_id: String,
        done: usize,
        total: usize,
    },
}

/// Runs (or resumes) an evaluation and writes report.json, report.html
/// and the per-item CSV(s) into `options.out`.
pub async fn run_eval(
    options: &EvalOptions,
    base: &LlmConfig,
    response_format: Option<&Value>,
    store: &Store,
) -> Result<Report, EvalError> {
    let prepared = prepare::prepare(options, base, store).await?;
    let mut info = prepared.info;
    let index = Arc::new(scan(&info).await?);
    info.load_stats = index.stats().clone();
    let seed = info.sample_seed.unwrap_or(DEFAULT_SEED);
    // Fitted before any model call, so a judge that cannot be fitted
    // stops the run at once rather than after hours of calls.
    let judge = match &options.judge {
        Some(setup) => {
            judging::fit(index.clone(), &info, setup, seed, options.show_progress).await?
        }
        None => None,
    };
    info.judge = judge.is_some();
    let progress = progress_bar(options.show_progress);
    let work = async {
        let reply_judge = judge.as_ref().map(|(j, _)| j);
        let calls = prepared.models.iter().map(|model| {
            let context = Context {
                index: &index,
                therapies: &prepared.therapies,
                response_format,
                store,
                judge: reply_judge,
                progress: &progress,
            };
            run_model(model, context)
        });
        futures::future::try_join_all(calls).await?;
        progress.finish_and_clear();
        finish_models(&prepared.models, store, reply_judge, &options.out, seed).await
    };
    // Ctrl-C is watched until the last row is scored: once a handler is
    // installed, the default one no longer ends the process.
    let models = tokio::select! {
        models = work => models?,
        _ = tokio::signal::ctrl_c() => {
            progress.abandon();
            return Err(EvalError::Interrupted {
                run_id: info.run_id.clone(),
                done: progress.position() as usize,
                total: progress.length().unwrap_or_default() as usize,
            });
        }
    };
    info.finished_at = chrono::Utc::now().to_rfc3339();
    let report = Report {
        run: info,
        models,
        judge: judge.map(|(_, quality)| quality),
    };
    let run_json = serde_json::to_string(&report.run).expect("serializable");
    store.finish_eval_run(&report.run.run_id, &run_json).await?;
    write_reports(report, options.out.clone()).await
}

/// Pass 1 over the dataset, off the runtime: a large file takes seconds.
async fn scan(info: &RunInfo) -> Result<Index, EvalError> {
    let (data, ties) = (PathBuf::from(&info.dataset_path), info.tie_rule.clone());
    let (limit, seed) = (info.limit, info.sample_seed);
    let task = tokio::task::spawn_blocking(move || dataset::scan(&data, &ties, limit, seed));
    match task.await {
        Ok(scanned) => Ok(scanned?),
        Err(e) => Err(EvalError::Task(e.to_string())),
    }
}

/// What every model's calls share.
#[derive(Clone, Copy)]
struct Context<'a> {
    index: &'a Arc<Index>,
    therapies: &'a [Therapy],
    response_format: Option<&'a Value>,
    store: &'a Store,
    judge: Option<&'a ReplyJudge>,
    progress: &'a ProgressBar,
}

/// Every pending (item, therapy) of one model, `model.concurrency` at once;
/// each reply is judged as it arrives, while other calls wait on the model.
async fn run_model(model: &Model, cx: Context<'_>) -> Result<(), EvalError> {
    let finished = cx.store.finished_eval_items(&model.run_id).await?;
    let total = cx.index.selected_len() * cx.therapies.len();
    cx.progress.inc_length(total as u64);
    cx.progress.inc(finished.len().min(total) as u64);
    let errors = AtomicUsize::new(0);
    // The gate is reported, not obeyed: the evaluation measures the chain
    // on every seeker post. Judged once per post, not once per therapy.
    let pending = selected_items(cx.index.clone()).flat_map(|item| {
        let work = match item {
            Ok(item) => {
                let flagged = crisis::assess(&item.seeker_post).tier == Tier::Crisis;
                let shared = Arc::new((item, flagged));
                cx.therapies
                    .iter()
                    .filter(|&&t| !finished.contains(&(shared.0.item_id.clone(), t)))
                    .map(|&t| Ok((shared.clone(), t)))
                    .collect::<Vec<_>>()
            }
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(work)
    });
    pending
        .map(|work| async {
            let (item, therapy) = work?;
            let (item, flagged) = &*item;
            let mut row =
                evaluate(&model.client, cx.response_format, item, therapy, *flagged).await;
            if row.outcome != EvalOutcome::Replied {
                let n = errors.fetch_add(1, Ordering::Relaxed) + 1;
                cx.progress.set_message(format!("{n} errors"));
            }
            judge_now(cx.judge, &mut row).await;
            cx.store.record_eval_item(&model.run_id, &row).await?;
            cx.progress.inc(1);
            Ok::<_, EvalError>(())
        })
        .buffer_unordered(model.concurrency.max(1))
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// Judges a fresh reply. A failure is not fatal: the scoring pass judges
/// the replies left without a judgment.
async fn judge_now(judge: Option<&ReplyJudge>, row: &mut EvalItemRow) {
    let (Some(judge), Some(reply)) = (judge, &row.reply) else {
        return;
    };
    match judge.strategies(&[(&row.item_id, reply)]).await {
        Ok(judged) => row.judged_strategy = judged.first().copied(),
        Err(error) => tracing::warn!(%error, "a reply was not judged; the scoring pass retries it"),
    }
}

/// Scores every model and writes its items CSV: `items.csv` for one
/// model, `items-NAME.csv` each when there are several.
async fn finish_models(
    models: &[Model],
    store: &Store,
    judge: Option<&ReplyJudge>,
    out: &Path,
    seed: u64,
) -> Result<Vec<ModelReport>, EvalError> {
    create_out_dir(out.to_path_buf()).await?;
    let mut reports = Vec::with_capacity(models.len());
    for model in models {
        let csv = match models.len() {
            1 => "items.csv".to_string(),
            _ => format!("items-{}.csv", model.info.name),
        };
        reports.push(finish_model(model, store, judge, &out.join(csv), seed).await?);
    }
    Ok(reports)
}

/// Counts, judges and scores one model's stored rows.
async fn finish_model(
    model: &Model,
    store: &Store,
    judge: Option<&ReplyJudge>,
    csv: &Path,
    seed: u64,
) -> Result<ModelReport, EvalError> {
    let mut info = model.info.clone();
    let counts = store.eval_counts(&model.run_id).await?;
    info.parse_errors = counts.parse_errors;
    info.llm_errors = counts.llm_errors;
    info.crisis_flagged = counts.crisis_flagged;
    let scores = score_run(store, &model.run_id, judge, csv, DEFAULT_RESAMPLES, seed).await?;
    let therapies = scores
        .into_iter()
        .map(|(therapy, s)| TherapyResult {
            therapy,
            metrics: s.claimed.0,
            intervals: s.claimed.1,
            judged: s.judged,
        })
        .collect();
    store
        .finish_eval_run(
            &model.run_id,
            &serde_json::to_string(&info).expect("serializable"),
        )
        .await?;
    Ok(ModelReport { info, therapies })
}

/// One item under one therapy.
async fn evaluate(
    llm: &LlmClient,
    response_format: Option<&Value>,
    item: &EvalItem,
    therapy: Therapy,
    crisis_flagged: bool,
) -> EvalItemRow {
    let run = run_chain(
        llm,
        Call::default(),
        response_format,
        therapy,
        Care::Usual,
        &[],
        &item.seeker_post,
    )
    .await;
    let (outcome, predicted, emotion, reply) = match run.result {
        Ok(output) => (
            EvalOutcome::Replied,
            output.strategy,
            output.emotion,
            // What the bot would post: the reply is judged and kept as
            // members would see it.
            Some(sanitize_reply(&output.reply)),
        ),
        Err(ChainError::Parse(_)) => (EvalOutcome::ParseError, None, None, None),
        Err(ChainError::Llm(error)) => {
            tracing::warn!(%error, "eval item failed; --resume will retry it");
            (EvalOutcome::LlmError, None, None, None)
        }
    };
    EvalItemRow {
        item_id: item.item_id.clone(),
        therapy,
        gold: item.gold,
        predicted,
        outcome,
        crisis_flagged,
        emotion,
        reply,
        latency_ms: run.elapsed.as_millis() as u64,
        prompt_tokens: run.prompt_tokens,
        completion_tokens: run.completion_tokens,
        judged_strategy: None,
    }
}

/// One bar over every model's calls; each model adds its share.
fn progress_bar(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} calls · {per_sec} · ETA {eta} · {msg}")
            .expect("valid template"),
    );
    bar.set_message("0 errors");
    bar
}
