//! Run reports: a terminal table, a JSON record and a self-contained HTML
//! page. Per-item output (`items.csv`) belongs to the run loop, not here.

use super::dataset::{LoadStats, TieRule};
use super::metrics::{Intervals, Metrics, Mix};
use crate::chain::{Strategy, Therapy};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use thiserror::Error;

mod html;
mod svg;

pub use html::html;

/// Everything needed to reproduce or audit a run; stored with the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub dataset_path: String,
    pub dataset_sha256: String,
    pub model: String,
    /// Host (and port) of the LLM server only, from [`url_host`]: a base
    /// URL may carry credentials or a key in its path or query.
    pub base_url_host: String,
    pub temperature: f64,
    pub top_p: f64,
    pub prompt_versions: BTreeMap<Therapy, String>,
    /// `--limit` and `--sample-seed` of the item sample.
    pub limit: Option<usize>,
    pub sample_seed: Option<u64>,
    /// Seed passed to the LLM server, where it supports one.
    pub llm_seed: Option<u64>,
    pub tie_rule: TieRule,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    pub load_stats: LoadStats,
    pub parse_errors: usize,
    pub llm_errors: usize,
    /// Items the safety gate flagged; reported, they do not stop the run.
    pub crisis_flagged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TherapyResult {
    pub therapy: Therapy,
    pub metrics: Metrics,
    pub intervals: Intervals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub run: RunInfo,
    pub therapies: Vec<TherapyResult>,
}

impl Report {
    /// What the human responders did. Every therapy sees the same items, so
    /// their gold mixes agree once a run is complete; while some therapy is
    /// behind, the one scored on the most items speaks for the humans.
    pub fn human_mix(&self) -> Option<&Mix> {
        // Reversed so that, among equals, the first therapy wins (max_by_key
        // keeps the last maximum).
        let most = self.therapies.iter().rev().max_by_key(|t| t.metrics.n)?;
        Some(&most.metrics.gold_mix)
    }
}

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the report as JSON")]
    Json(#[from] serde_json::Error),
}

/// The host (and port) of a URL: scheme, `user:password@`, path, query and
/// fragment are dropped so no secret in a base URL reaches a report.
pub fn url_host(base_url: &str) -> String {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host.to_string()
}

/// Writes the report as pretty JSON through a temporary file renamed into
/// place, so a crash never leaves a half-written report behind.
pub fn write_json(report: &Report, path: &Path) -> Result<(), ReportError> {
    let io_error = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut out = BufWriter::new(File::create(&tmp).map_err(io_error)?);
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n").map_err(io_error)?;
    out.into_inner()
        .map_err(|e| io_error(e.into_error()))?
        .sync_all()
        .map_err(io_error)?;
    std::fs::rename(&tmp, path).map_err(io_error)
}

fn strategy_name(s: Strategy) -> String {
    s.as_str().replace('_', " ")
}

fn short(s: Strategy) -> &'static str {
    match s {
        Strategy::EmotionalReaction => "ER",
        Strategy::Exploration => "EX",
        Strategy::Interpretation => "IP",
    }
}

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn with_ci(point: f64, (lo, hi): (f64, f64)) -> String {
    format!("{point:.3} [{lo:.3}, {hi:.3}]")
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "–".to_string(), |v| v.to_string())
}

/// The run header, shared by the terminal and HTML views so both always
/// list the same facts. `sha_len` shortens the digest for the terminal.
fn run_rows(report: &Report, sha_len: usize) -> Vec<(&'static str, String)> {
    let run = &report.run;
    let s = &run.load_stats;
    let prompts: Vec<String> = run
        .prompt_versions
        .iter()
        .map(|(therapy, version)| format!("{therapy} {version}"))
        .collect();
    let bootstrap = report.therapies.first().map(|t| &t.intervals);
    vec![
        ("run", run.run_id.clone()),
        ("dataset", run.dataset_path.clone()),
        ("sha256", run.dataset_sha256.chars().take(sha_len).collect()),
        ("model", format!("{} @ {}", run.model, run.base_url_host)),
        (
            "sampling",
            format!(
                "temperature {} · top_p {} · LLM seed {}",
                run.temperature,
                run.top_p,
                or_dash(run.llm_seed)
            ),
        ),
        (
            "items",
            format!(
                "{} loaded from {} rows · limit {} · sample seed {}",
                s.items,
                s.rows_read,
                or_dash(run.limit),
                or_dash(run.sample_seed)
            ),
        ),
        ("prompts", prompts.join(", ")),
        (
            "labels",
            format!(
                "tie rule {}: {} ties excluded, {} resolved\n{} all-zero pairs excluded · {} unknown labels skipped\n{} duplicate keys, {} conflicting (last row wins)",
                run.tie_rule,
                s.ties_excluded,
                s.ties_resolved,
                s.all_zero_excluded,
                s.unknown_label_skipped,
                s.duplicate_keys,
                s.duplicate_conflicts
            ),
        ),
        (
            "outcomes",
            format!(
                "{} parse errors · {} LLM errors · {} crisis-flagged (reported, not blocking)",
                run.parse_errors, run.llm_errors, run.crisis_flagged
            ),
        ),
        (
            "bootstrap",
            bootstrap.map_or_else(
                || "–".to_string(),
                |b| {
                    let level = 100.0 * b.confidence;
                    format!("{level}% percentile, {} resamples, seed {}", b.resamples, b.seed)
                },
            ),
        ),
        ("time", format!("{} → {}", run.started_at, run.finished_at)),
    ]
}

/// Header of the scores table, shared by the terminal and HTML views.
const SCORE_HEADER: [&str; 6] = [
    "therapy",
    "n",
    "accuracy [95% CI]",
    "macro-F1 [95% CI]",
    "balanced acc",
    "unknown",
];

fn score_row(t: &TherapyResult) -> Vec<String> {
    let (m, ci) = (&t.metrics, &t.intervals);
    vec![
        t.therapy.to_string(),
        m.n.to_string(),
        with_ci(m.accuracy, ci.accuracy),
        with_ci(m.macro_f1, ci.macro_f1),
        f3(m.balanced_accuracy),
        m.unknown.to_string(),
    ]
}

fn mix_header() -> Vec<String> {
    let mut header = vec!["mix".to_string()];
    header.extend(Strategy::ALL.map(strategy_name));
    header.push("unknown".into());
    header
}

/// One row per therapy with the predicted mix, then the human mix.
fn mix_rows(report: &Report) -> Vec<Vec<String>> {
    let row = |name: String, mix: &Mix| {
        let mut row = vec![name];
        row.extend(Strategy::ALL.map(|s| pct(mix.share(Some(s)))));
        row.push(pct(mix.unknown));
        row
    };
    let mut rows: Vec<Vec<String>> = report
        .therapies
        .iter()
        .map(|t| row(t.therapy.to_string(), &t.metrics.predicted_mix))
        .collect();
    rows.extend(report.human_mix().map(|h| row("human".into(), h)));
    rows
}

fn new_table(header: Vec<String>) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    table
}

/// Plain-text summary for the terminal: run header, scores with 95% CIs,
/// per-strategy P/R/F1, and the strategy mix per therapy beside the human one.
pub fn terminal_table(report: &Report) -> String {
    // The run id heads the table; the other facts follow as rows.
    let mut header = new_table(vec!["run".into(), report.run.run_id.clone()]);
    for (key, value) in run_rows(report, 16).into_iter().skip(1) {
        header.add_row(vec![key.to_string(), value]);
    }
    let mut scores = new_table(SCORE_HEADER.map(String::from).into());
    let mut classes = vec!["therapy".to_string()];
    classes.extend(Strategy::ALL.map(|s| format!("{} P / R / F1", short(s))));
    let mut classes = new_table(classes);
    for t in &report.therapies {
        scores.add_row(score_row(t));
        let mut row = vec![t.therapy.to_string()];
        row.extend(
            t.metrics
                .per_strategy
                .iter()
                .map(|c| format!("{} / {} / {}", f3(c.precision), f3(c.recall), f3(c.f1))),
        );
        classes.add_row(row);
    }
    let mut mix = new_table(mix_header());
    mix.add_rows(mix_rows(report));
    format!("{header}\n\nScores\n{scores}\n\nPer strategy (precision / recall / F1)\n{classes}\n\nStrategy mix\n{mix}\n")
}

#[cfg(test)]
mod tests;
