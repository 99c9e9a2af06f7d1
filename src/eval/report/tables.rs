//! The report's tables as plain rows, built once and drawn by both the
//! terminal and the HTML view, so the two always show the same figures.

use super::{short, strategy_name, Line, Mix, Report};
use crate::chain::Strategy;
use crate::eval::metrics::{Intervals, Metrics};

/// One titled table.
pub(super) struct Section {
    pub title: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// A line under the table.
    pub note: Option<String>,
}

impl Section {
    fn new(title: &'static str, header: &[&str]) -> Section {
        Section {
            title,
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            note: None,
        }
    }
}

pub(super) fn f3(x: f64) -> String {
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

/// The run header, as (key, value) rows. `sha_len` shortens the digest
/// for the terminal.
pub(super) fn run_rows(report: &Report, sha_len: usize) -> Vec<(&'static str, String)> {
    let run = &report.run;
    let s = &run.load_stats;
    let prompts: Vec<String> = run
        .prompt_versions
        .iter()
        .map(|(therapy, version)| format!("{therapy} {version}"))
        .collect();
    let bootstrap = report
        .models
        .iter()
        .flat_map(|m| &m.therapies)
        .next()
        .map(|t| &t.intervals);
    vec![
        ("run", run.run_id.clone()),
        ("dataset", run.dataset_path.clone()),
        ("sha256", run.dataset_sha256.chars().take(sha_len).collect()),
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

/// Every table of the report, in reading order.
pub(super) fn sections(report: &Report) -> Vec<Section> {
    let lines = report.lines();
    let mut sections = vec![models(report), own_label_scores(&lines)];
    if report.judge.is_some() {
        sections.push(judged_scores(&lines));
    }
    sections.push(per_strategy(&lines));
    sections.push(mix(report, &lines));
    sections.extend(judge_quality(report));
    sections
}

fn models(report: &Report) -> Section {
    let mut section = Section::new(
        "Models",
        &[
            "model",
            "server",
            "sampling",
            "outcomes (reported, not blocking)",
        ],
    );
    for m in &report.models {
        let i = &m.info;
        section.rows.push(vec![
            i.name.clone(),
            format!("{} @ {}", i.model, i.base_url_host),
            format!(
                "temperature {} · top_p {} · LLM seed {}",
                i.temperature,
                i.top_p,
                or_dash(i.llm_seed)
            ),
            format!(
                "{} parse errors · {} LLM errors · {} crisis-flagged",
                i.parse_errors, i.llm_errors, i.crisis_flagged
            ),
        ]);
    }
    section
}

const SCORE_HEADER: [&str; 6] = [
    "therapy",
    "n",
    "accuracy [95% CI]",
    "macro-F1 [95% CI]",
    "balanced acc",
    "unknown",
];

fn score_cells(m: &Metrics, ci: &Intervals) -> [String; 3] {
    [
        m.n.to_string(),
        with_ci(m.accuracy, ci.accuracy),
        with_ci(m.macro_f1, ci.macro_f1),
    ]
}

/// Title of the own-label scores, where the HTML view adds the paper's row.
pub(super) const OWN_LABEL_TITLE: &str = "Scores by the model's own label (as in the paper)";

fn own_label_scores(lines: &[Line]) -> Section {
    let mut section = Section::new(OWN_LABEL_TITLE, &SCORE_HEADER);
    for line in lines {
        let (m, ci) = (&line.result.metrics, &line.result.intervals);
        let mut row = vec![line.label.clone()];
        row.extend(score_cells(m, ci));
        row.extend([f3(m.balanced_accuracy), m.unknown.to_string()]);
        section.rows.push(row);
    }
    section
}

fn judged_scores(lines: &[Line]) -> Section {
    let mut section = Section::new(
        "Scores by the judge (strategy found in the reply)",
        &[
            "therapy",
            "n",
            "accuracy [95% CI]",
            "macro-F1 [95% CI]",
            "κ claimed vs judged [95% CI]",
            "same label",
        ],
    );
    for line in lines {
        let Some(j) = &line.result.judged else {
            continue;
        };
        let mut row = vec![line.label.clone()];
        row.extend(score_cells(&j.metrics, &j.intervals));
        let a = &j.agreement;
        row.push(format!("{} (n {})", with_ci(a.kappa, a.kappa_ci), a.n));
        row.push(pct(a.observed));
        section.rows.push(row);
    }
    section
}

fn per_strategy(lines: &[Line]) -> Section {
    let mut header = vec!["therapy".to_string()];
    header.extend(Strategy::ALL.map(|s| format!("{} P / R / F1", short(s))));
    let mut section = Section::new("Per strategy, own label (precision / recall / F1)", &[]);
    section.header = header;
    for line in lines {
        let mut row = vec![line.label.clone()];
        row.extend(
            line.result
                .metrics
                .per_strategy
                .iter()
                .map(|c| format!("{} / {} / {}", f3(c.precision), f3(c.recall), f3(c.f1))),
        );
        section.rows.push(row);
    }
    section
}

/// One row per therapy with the claimed mix (and the judged one, when the
/// judge ran), then the human mix.
fn mix(report: &Report, lines: &[Line]) -> Section {
    let mut header = vec!["mix".to_string()];
    header.extend(Strategy::ALL.map(strategy_name));
    header.push("unknown".into());
    let mut section = Section::new("Strategy mix", &[]);
    section.header = header;
    let row = |name: String, mix: &Mix| {
        let mut row = vec![name];
        row.extend(Strategy::ALL.map(|s| pct(mix.share(Some(s)))));
        row.push(pct(mix.unknown));
        row
    };
    for line in lines {
        let claimed = &line.result.metrics.predicted_mix;
        section
            .rows
            .push(row(format!("{} (claimed)", line.label), claimed));
        if let Some(j) = &line.result.judged {
            let judged = &j.metrics.predicted_mix;
            section
                .rows
                .push(row(format!("{} (judged)", line.label), judged));
        }
    }
    section
        .rows
        .extend(report.human_mix().map(|h| row("human".into(), h)));
    section
}

fn judge_quality(report: &Report) -> Option<Section> {
    let q = report.judge.as_ref()?;
    let mut header = vec![
        "judge on held-out human responses",
        "n",
        "accuracy [95% CI]",
        "macro-F1 [95% CI]",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend(Strategy::ALL.map(|s| format!("{} F1 [95% CI]", short(s))));
    let mut section = Section::new("The judge", &[]);
    section.header = header;
    let baseline = "majority class of the training folds".to_string();
    for (name, m, ci) in [
        (q.method.clone(), &q.held_out, &q.held_out_ci),
        (baseline, &q.baseline, &q.baseline_ci),
    ] {
        let mut row = vec![name];
        row.extend(score_cells(m, ci));
        for (c, interval) in m.per_strategy.iter().zip(ci.per_strategy_f1) {
            row.push(with_ci(c.f1, interval));
        }
        section.rows.push(row);
    }
    let counts = q.pool_per_strategy;
    section.note = Some(format!(
        "{} training, {}-fold by seeker post, seed {}: {} pairs (ER {}, EX {}, IP {}); left out: {} reserved-half, {} of evaluated posts",
        q.training.as_str(), q.folds, q.seed, q.pool, counts[0], counts[1], counts[2], q.reserved_excluded, q.evaluated_excluded
    ));
    Some(section)
}
