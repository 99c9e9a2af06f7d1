//! One evaluation run: every (item, therapy) through the same chain and
//! client as the bot, each result stored as soon as it completes, so an
//! interrupted run resumes without repeating a model call.

use super::dataset::{self, EvalItem, TieRule};
use super::metrics::{bootstrap_ci, compute, DEFAULT_RESAMPLES};
use super::report::{self, Report, RunInfo, TherapyResult};
use crate::chain::{run_chain, Care, ChainError, Therapy};
use crate::llm::LlmClient;
use crate::safety::crisis;
use crate::safety::risk::Tier;
use crate::store::{EvalItemRow, EvalOutcome, Store};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Seed of the bootstrap intervals when no `--sample-seed` is given.
const DEFAULT_BOOTSTRAP_SEED: u64 = 2311;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub data: PathBuf,
    pub therapies: Vec<Therapy>,
    pub limit: Option<usize>,
    pub sample_seed: Option<u64>,
    pub concurrency: usize,
    pub out: PathBuf,
    pub resume: Option<String>,
    pub ties: TieRule,
    pub show_progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Dataset(#[from] dataset::DatasetError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
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
/// and items.csv into `options.out`.
pub async fn run_eval(
    options: &EvalOptions,
    llm: &LlmClient,
    response_format: Option<&Value>,
    store: &Store,
) -> Result<Report, EvalError> {
    let (mut info, therapies) = prepare_run(options, llm, store).await?;
    let (items, stats) = dataset::load(Path::new(&info.dataset_path), &info.tie_rule)?;
    let items = dataset::sample(items, info.limit, info.sample_seed);
    info.load_stats = stats;

    // The gate is reported, not obeyed: the evaluation measures the chain
    // on every seeker post. Judged once per post, not once per therapy.
    let flagged: Vec<bool> = items
        .iter()
        .map(|item| crisis::assess(&item.seeker_post).tier == Tier::Crisis)
        .collect();
    let finished = store.finished_eval_items(&info.run_id).await?;
    let pending: Vec<(&EvalItem, bool, Therapy)> = therapies
        .iter()
        .flat_map(|&t| {
            items
                .iter()
                .zip(&flagged)
                .map(move |(item, f)| (item, *f, t))
        })
        .filter(|(item, _, t)| !finished.contains(&(item.item_id.clone(), *t)))
        .collect();
    let total = items.len() * therapies.len();
    let progress = progress_bar(options.show_progress, total, total - pending.len());
    let errors = Arc::new(AtomicUsize::new(0));

    let work = futures::stream::iter(pending)
        .map(|(item, crisis_flagged, therapy)| {
            let errors = errors.clone();
            let progress = progress.clone();
            let run_id = info.run_id.clone();
            async move {
                let row = evaluate(llm, response_format, item, therapy, crisis_flagged).await;
                if row.outcome != EvalOutcome::Replied {
                    let n = errors.fetch_add(1, Ordering::Relaxed) + 1;
                    progress.set_message(format!("{n} errors"));
                }
                let stored = store.record_eval_item(&run_id, &row).await;
                progress.inc(1);
                stored
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_for_each(|()| async { Ok(()) });
    tokio::select! {
        result = work => result?,
        _ = tokio::signal::ctrl_c() => {
            progress.abandon();
            return Err(EvalError::Interrupted {
                run_id: info.run_id.clone(),
                done: progress.position() as usize,
                total,
            });
        }
    }
    progress.finish();

    let counts = store.eval_counts(&info.run_id).await?;
    info.parse_errors = counts.parse_errors;
    info.llm_errors = counts.llm_errors;
    info.crisis_flagged = counts.crisis_flagged;
    info.finished_at = chrono::Utc::now().to_rfc3339();
    let seed = info.sample_seed.unwrap_or(DEFAULT_BOOTSTRAP_SEED);
    let mut results = Vec::new();
    for therapy in therapies {
        let pairs = store.eval_labels(&info.run_id, therapy).await?;
        results.push(TherapyResult {
            therapy,
            metrics: compute(&pairs),
            intervals: bootstrap_ci(&pairs, DEFAULT_RESAMPLES, seed),
        });
    }
    let report = Report {
        run: info,
        therapies: results,
    };
    store
        .finish_eval_run(
            &report.run.run_id,
            &serde_json::to_string(&report.run).expect("serializable"),
        )
        .await?;
    write_outputs(&report, &options.out, store).await?;
    Ok(report)
}

/// A new run's description, or the stored one of a run to resume (whose
/// dataset and prompts must not have changed since).
async fn prepare_run(
    options: &EvalOptions,
    llm: &LlmClient,
    store: &Store,
) -> Result<(RunInfo, Vec<Therapy>), EvalError> {
    if let Some(run_id) = &options.resume {
        let stored = store
            .eval_run_info(run_id)
            .await?
            .ok_or_else(|| EvalError::UnknownRun(run_id.clone()))?;
        let info: RunInfo = serde_json::from_str(&stored).map_err(|e| EvalError::CannotResume {
            run_id: run_id.clone(),
            reason: format!("its record is unreadable ({e})"),
        })?;
        let refuse = |reason: String| EvalError::CannotResume {
            run_id: run_id.clone(),
            reason,
        };
        let sha = dataset::dataset_sha256(Path::new(&info.dataset_path))?;
        if sha != info.dataset_sha256 {
            return Err(refuse(format!(
                "{} changed since the run started",
                info.dataset_path
            )));
        }
        // A resumed run must ask the same model the same way, or its report
        // would mix two models under one name. (The server's address may
        // change between restarts; the model and sampling may not.)
        let config = llm.config();
        if (config.model.as_str(), config.seed) != (info.model.as_str(), info.llm_seed) {
            return Err(refuse(format!(
                "it used model {} (seed {:?}); set LLM_MODEL and LLM_SEED as then",
                info.model, info.llm_seed
            )));
        }
        let sampling: (f64, f64) = (
            config.temperature.to_string().parse().unwrap_or_default(),
            config.top_p.to_string().parse().unwrap_or_default(),
        );
        if sampling != (info.temperature, info.top_p) {
            return Err(refuse(format!(
                "it used temperature {} and top_p {}; set LLM_TEMPERATURE and LLM_TOP_P as then",
                info.temperature, info.top_p
            )));
        }
        for (therapy, version) in &info.prompt_versions {
            if therapy.prompt_version() != version {
                return Err(refuse(format!(
                    "the {therapy} prompt changed since the run started"
                )));
            }
        }
        let therapies = info.prompt_versions.keys().copied().collect();
        return Ok((info, therapies));
    }

    let run_id = format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        rand::random::<u16>()
    );
    let config = llm.config();
    let info = RunInfo {
        run_id: run_id.clone(),
        dataset_path: options.data.display().to_string(),
        dataset_sha256: dataset::dataset_sha256(&options.data)?,
        model: config.model.clone(),
        base_url_host: report::url_host(config.base_url.as_str()),
        // Through the decimal text, so 0.9 is reported as 0.9, not 0.8999999761.
        temperature: config.temperature.to_string().parse().unwrap_or_default(),
        top_p: config.top_p.to_string().parse().unwrap_or_default(),
        prompt_versions: options
            .therapies
            .iter()
            .map(|t| (*t, t.prompt_version().to_string()))
            .collect(),
        limit: options.limit,
        sample_seed: options.sample_seed,
        llm_seed: config.seed,
        tie_rule: options.ties.clone(),
        started_at: chrono::Utc::now().to_rfc3339(),
        finished_at: String::new(),
        load_stats: Default::default(),
        parse_errors: 0,
        llm_errors: 0,
        crisis_flagged: 0,
    };
    store
        .create_eval_run(
            &run_id,
            &serde_json::to_string(&info).expect("serializable"),
        )
        .await?;
    Ok((info, options.therapies.clone()))
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
            Some(output.reply),
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
    }
}

fn progress_bar(visible: bool, total: usize, done: usize) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64).with_position(done as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} items · {per_sec} · ETA {eta} · {msg}")
            .expect("valid template"),
    );
    bar.set_message("0 errors");
    bar
}

async fn write_outputs(report: &Report, out: &Path, store: &Store) -> Result<(), EvalError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Output { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    report::write_json(report, &out.join("report.json"))?;
    let html_path = out.join("report.html");
    std::fs::write(&html_path, report::html(report)).map_err(io(&html_path))?;

    let csv_path = out.join("items.csv");
    let file = std::fs::File::create(&csv_path).map_err(io(&csv_path))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let mut rows = std::pin::pin!(store.eval_items(&report.run.run_id));
    while let Some(row) = rows.next().await {
        writer.serialize(row?).map_err(|e| EvalError::Output {
            path: csv_path.clone(),
            source: e.into(),
        })?;
    }
    writer.flush().map_err(io(&csv_path))?;
    Ok(())
}
