//! Run reports: a terminal table, a JSON record and a self-contained HTML
//! page. Per-item output (`items.csv`) belongs to the run loop, not here.

use super::dataset::{LoadStats, TieRule};
use super::judge::JudgeQuality;
use super::metrics::{Intervals, Metrics, Mix};
use super::scoring::Judged;
use crate::chain::{Strategy, Therapy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use thiserror::Error;

mod html;
mod svg;
mod tables;
mod terminal;

pub use html::html;
pub use terminal::terminal_table;

/// Everything needed to reproduce or audit a run; stored with the results.
/// What depends on the model server is in each [`ModelInfo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub dataset_path: String,
    pub dataset_sha256: String,
    pub prompt_versions: BTreeMap<Therapy, String>,
    /// `--limit` and `--sample-seed` of the item sample.
    pub limit: Option<usize>,
    pub sample_seed: Option<u64>,
    pub tie_rule: TieRule,
    /// Whether replies are scored by the strategy judge too.
    pub judge: bool,
    /// The `--models` file, when the run compares several models.
    pub models_file: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    pub load_stats: LoadStats,
}

/// One model server of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The name the report shows (`default` for the `LLM_*` settings).
    pub name: String,
    pub model: String,
    /// Host (and port) of the LLM server only, from [`url_host`]: a base
    /// URL may carry credentials or a key in its path or query.
    pub base_url_host: String,
    pub temperature: f64,
    pub top_p: f64,
    /// Seed passed to the LLM server, where it supports one.
    pub llm_seed: Option<u64>,
    pub parse_errors: usize,
    pub llm_errors: usize,
    /// Items the safety gate flagged; reported, they do not stop the run.
    pub crisis_flagged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TherapyResult {
    pub therapy: Therapy,
    /// Scored by the strategy the model named (as in the paper).
    pub metrics: Metrics,
    pub intervals: Intervals,
    /// Scored by the strategy the judge found in the reply.
    pub judged: Option<Judged>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    pub info: ModelInfo,
    pub therapies: Vec<TherapyResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub run: RunInfo,
    pub models: Vec<ModelReport>,
    /// The judge's own quality on held-out human responses.
    pub judge: Option<JudgeQuality>,
}

/// One (therapy, model) line of the tables, labelled for display.
pub(crate) struct Line<'a> {
    pub label: String,
    pub result: &'a TherapyResult,
}

impl Report {
    /// What the human responders did. Every therapy sees the same items, so
    /// their gold mixes agree once a run is complete; while some therapy is
    /// behind, the one scored on the most items speaks for the humans.
    pub fn human_mix(&self) -> Option<&Mix> {
        // Reversed so that, among equals, the first therapy wins (max_by_key
        // keeps the last maximum).
        let most = self
            .models
            .iter()
            .flat_map(|m| &m.therapies)
            .rev()
            .max_by_key(|t| t.metrics.n)?;
        Some(&most.metrics.gold_mix)
    }

    /// Every (therapy, model) pair, grouped by therapy so the models stand
    /// side by side; labelled by therapy alone when there is one model.
    pub(crate) fn lines(&self) -> Vec<Line<'_>> {
        let mut lines: Vec<Line> = self
            .models
            .iter()
            .flat_map(|model| {
                model.therapies.iter().map(move |result| Line {
                    label: if self.models.len() == 1 {
                        result.therapy.to_string()
                    } else {
                        format!("{} · {}", result.therapy, model.info.name)
                    },
                    result,
                })
            })
            .collect();
        // Stable: models keep their file order within a therapy.
        lines.sort_by_key(|l| l.result.therapy);
        lines
    }
}

/// The paper's accuracy of strategy classification per prompt (GPT-3.5,
/// text-davinci-003), as quoted by a secondary source: shown for readers to
/// place their own model, never computed here.
pub(crate) const PAPER_ACCURACY: [(Therapy, f64); 5] = [
    (Therapy::Base, 0.340),
    (Therapy::Cbt, 0.319),
    (Therapy::Dbt, 0.334),
    (Therapy::Pct, 0.336),
    (Therapy::Rt, 0.336),
];

pub(crate) const PAPER_LABEL: &str = "paper, text-davinci-003 (as reported, not reproduced here)";

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

pub(crate) fn strategy_name(s: Strategy) -> String {
    s.as_str().replace('_', " ")
}

pub(crate) fn short(s: Strategy) -> &'static str {
    match s {
        Strategy::EmotionalReaction => "ER",
        Strategy::Exploration => "EX",
        Strategy::Interpretation => "IP",
    }
}

#[cfg(test)]
mod tests;
