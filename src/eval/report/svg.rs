//! The report's two charts, drawn as inline SVG so the page needs no
//! script or external file. Sizes are in viewBox units; the page scales the
//! chart to its column, so the viewBox is kept narrow enough for the text to
//! stay legible on a phone.

use super::{strategy_name, Mix, Report};
use super::{PAPER_ACCURACY, PAPER_LABEL};
use crate::chain::Strategy;
use crate::safety::sanitize::escape_html as esc;
use std::fmt::Write as _;

const WIDTH: f64 = 420.0;
const FONT: f64 = 14.0;
/// Okabe–Ito colours, distinguishable with the common colour-vision
/// deficiencies: emotional reaction, exploration, interpretation, unknown.
const COLORS: [&str; 4] = ["#E69F00", "#56B4E9", "#009E73", "#AAAAAA"];

/// Segments of the legend: colour and label.
fn legend_entries(with_unknown: bool) -> Vec<(&'static str, String)> {
    let mut entries: Vec<_> = Strategy::ALL
        .iter()
        .map(|&s| (COLORS[s.index()], strategy_name(s)))
        .collect();
    if with_unknown {
        entries.push((COLORS[3], "unknown".to_string()));
    }
    entries
}

/// Draws the legend from the top, wrapping entries onto new rows; returns
/// the y below it.
fn legend(out: &mut String, entries: &[(&str, String)]) -> f64 {
    let (mut x, mut y) = (8.0, 8.0);
    for (color, label) in entries {
        // A rough advance for proportional sans-serif text at FONT size.
        let width = 14.0 + 6.0 + 0.6 * FONT * label.chars().count() as f64 + 14.0;
        if x + width > WIDTH && x > 8.0 {
            x = 8.0;
            y += 22.0;
        }
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" rx=\"2\" fill=\"{color}\"{}/><text x=\"{}\" y=\"{}\">{}</text>",
            if *color == "none" {
                " stroke=\"#1b1b1f\" stroke-dasharray=\"3 2\""
            } else {
                ""
            },
            x + 18.0,
            y + 12.0,
            esc(label)
        );
        x += width;
    }
    y + 30.0
}

/// A whole chart: the `<svg>` element with its accessible title and
/// description around `body`.
fn chart(id: &str, height: f64, title: &str, desc: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 512);
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" font-size=\"{FONT}\" font-family=\"system-ui, sans-serif\" fill=\"#1b1b1f\"><title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        esc(title),
        esc(desc)
    );
    out.push_str(body);
    out.push_str("</svg>");
    out
}

/// The baseline under a vertical-bar chart.
fn x_axis(body: &mut String, left: f64, right: f64, base: f64) {
    let _ = write!(
        body,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#5b5b66\"/>",
        WIDTH - right
    );
}

/// Each line's claimed or judged mix, then the human one.
fn mix_rows(report: &Report, judged: bool) -> Vec<(String, [f64; 4])> {
    let mut rows: Vec<(String, [f64; 4])> = report
        .lines()
        .into_iter()
        .filter_map(|line| {
            let metrics = match (judged, &line.result.judged) {
                (false, _) => &line.result.metrics,
                (true, Some(j)) => &j.metrics,
                (true, None) => return None,
            };
            Some((line.label, shares(&metrics.predicted_mix)))
        })
        .collect();
    if let Some(human) = report.human_mix() {
        rows.push(("human".to_string(), shares(human)));
    }
    rows
}

/// Stacked horizontal bars: for each therapy (and model), the share of
/// replies per strategy (and unknown), as claimed or as judged; a last bar
/// for the human responses.
pub(super) fn mix_chart(report: &Report, judged: bool) -> String {
    let rows = mix_rows(report, judged);
    let left = 8.0
        + 7.5
            * rows
                .iter()
                .map(|(n, _)| n.chars().count())
                .max()
                .unwrap_or(5) as f64;
    let (right, bar, gap) = (24.0, 24.0, 10.0);
    let plot = WIDTH - left - right;
    let mut body = String::new();
    let entries = legend_entries(true);
    let top = legend(&mut body, &entries);
    let bottom = top + rows.len() as f64 * (bar + gap);
    for tick in 0..=4 {
        let x = left + plot * f64::from(tick) / 4.0;
        let _ = write!(
            body,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{bottom}\" stroke=\"#d9d9e0\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}%</text>",
            top - 4.0,
            bottom + 16.0,
            tick * 25
        );
    }
    for (row, (name, shares)) in rows.iter().enumerate() {
        let y = top + row as f64 * (bar + gap);
        let weight = if name == "human" {
            " font-weight=\"700\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"{weight}>{}</text>",
            left - 8.0,
            y + bar / 2.0 + 4.0,
            esc(name)
        );
        stacked_bar(&mut body, (left, y, plot, bar), name, shares, &entries);
    }
    let (id, title) = if judged {
        (
            "mix-judged",
            "Judged strategy mix per therapy and for human responses",
        )
    } else {
        (
            "mix",
            "Claimed strategy mix per therapy and for human responses",
        )
    };
    chart(
        id,
        bottom + 26.0,
        title,
        "Stacked bars: for each therapy the share of replies with emotional reaction, exploration, interpretation or no readable strategy; the last bar is the human responses on the same items.",
        &body,
    )
}

/// One stacked bar of shares at (`left`, `y`), `plot` wide and `bar` high,
/// its segments labelled where they are wide enough.
fn stacked_bar(
    body: &mut String,
    (left, y, plot, bar): (f64, f64, f64, f64),
    name: &str,
    shares: &[f64; 4],
    entries: &[(&str, String)],
) {
    let mut x = left;
    for (i, share) in shares.iter().enumerate() {
        let w = plot * share;
        if w <= 0.0 {
            continue;
        }
        let _ = write!(
            body,
            "<rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" height=\"{bar}\" fill=\"{}\"><title>{}: {} {:.1}%</title></rect>",
            COLORS[i],
            esc(name),
            entries[i].1,
            100.0 * share
        );
        // Only label segments wide enough to hold the text.
        if w >= 30.0 {
            let _ = write!(
                body,
                "<text x=\"{:.2}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{:.0}%</text>",
                x + w / 2.0,
                y + bar / 2.0 + 4.0,
                100.0 * share
            );
        }
        x += w;
    }
}

/// Horizontal grid lines and labels from 0 to 1 for a vertical-bar chart
/// whose plot spans `height` above `base`.
fn y_ticks(body: &mut String, left: f64, right: f64, base: f64, height: f64) {
    for tick in 0..=4 {
        let value = f64::from(tick) / 4.0;
        let y = base - height * value;
        let _ = write!(
            body,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#d9d9e0\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{value:.2}</text>",
            WIDTH - right,
            left - 6.0,
            y + 4.0
        );
    }
}

fn shares(mix: &Mix) -> [f64; 4] {
    [
        mix.emotional_reaction,
        mix.exploration,
        mix.interpretation,
        mix.unknown,
    ]
}

/// Grouped vertical bars: per therapy, the F1 of each strategy.
pub(super) fn f1_chart(report: &Report) -> String {
    let (left, right, height) = (60.0, 8.0, 180.0);
    let plot = WIDTH - left - right;
    let mut body = String::new();
    let top = legend(&mut body, &legend_entries(false));
    let base = top + height;
    y_ticks(&mut body, left, right, base, height);
    let _ = write!(
        body,
        "<text transform=\"translate(11 {}) rotate(-90)\" text-anchor=\"middle\">F1</text>",
        top + height / 2.0
    );
    let lines = report.lines();
    let groups = lines.len().max(1) as f64;
    let group = plot / groups;
    let bar = (group * 0.85 / 3.0).min(36.0);
    for (g, line) in lines.iter().enumerate() {
        let t = line.result;
        let center = left + group * (g as f64 + 0.5);
        let _ = write!(
            body,
            "<text x=\"{center:.2}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            base + 16.0,
            esc(&line.label)
        );
        for (i, class) in t.metrics.per_strategy.iter().enumerate() {
            let x = center + bar * (i as f64 - 1.5);
            let h = height * class.f1;
            let _ = write!(
                body,
                "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{bar:.2}\" height=\"{h:.2}\" fill=\"{}\"><title>{}: {} F1 {:.3}</title></rect>",
                base - h,
                COLORS[i],
                esc(&line.label),
                strategy_name(class.strategy),
                class.f1
            );
            // ".57" rather than "0.57" so neighbouring labels do not touch.
            if bar >= 18.0 {
                let value = format!("{:.2}", class.f1);
                let _ = write!(
                    body,
                    "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                    x + bar / 2.0,
                    base - h - 3.0,
                    value.strip_prefix('0').unwrap_or(&value)
                );
            }
        }
    }
    x_axis(&mut body, left, right, base);
    chart(
        "f1",
        base + 26.0,
        "F1 per strategy and therapy",
        "Grouped bars: for each therapy, the F1 score (0 to 1) of emotional reaction, exploration and interpretation.",
        &body,
    )
}

/// Okabe–Ito colours for models, after the strategy colours.
const MODEL_COLORS: [&str; 5] = ["#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"];

/// Grouped vertical bars: per therapy, each model's accuracy by its own
/// label (solid) and by the judge (pale), and the paper's reported figure
/// (outlined) so readers can place their model.
pub(super) fn accuracy_chart(report: &Report) -> String {
    let (left, right, height) = (44.0, 8.0, 180.0);
    let plot = WIDTH - left - right;
    let mut entries: Vec<(&str, String)> = report
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| (MODEL_COLORS[i % MODEL_COLORS.len()], m.info.name.clone()))
        .collect();
    entries.push(("none", PAPER_LABEL.to_string()));
    let mut body = String::new();
    let top = legend(&mut body, &entries);
    let base = top + height;
    y_ticks(&mut body, left, right, base, height);
    let therapies: Vec<_> = report.run.prompt_versions.keys().copied().collect();
    let group = plot / therapies.len().max(1) as f64;
    let judged = usize::from(report.judge.is_some());
    let slots = (report.models.len() * (1 + judged) + 1) as f64;
    let bar = (group * 0.85 / slots).min(24.0);
    for (g, therapy) in therapies.iter().enumerate() {
        let center = left + group * (g as f64 + 0.5);
        let mut x = center - bar * slots / 2.0;
        let _ = write!(
            body,
            "<text x=\"{center:.2}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            base + 16.0,
            esc(therapy.as_str())
        );
        let mut bars: Vec<(f64, String, String)> = Vec::new();
        for (i, model) in report.models.iter().enumerate() {
            let color = MODEL_COLORS[i % MODEL_COLORS.len()];
            let Some(t) = model.therapies.iter().find(|t| t.therapy == *therapy) else {
                continue;
            };
            let name = &model.info.name;
            bars.push((
                t.metrics.accuracy,
                format!("fill=\"{color}\""),
                format!("{name}, own label"),
            ));
            if let Some(j) = &t.judged {
                bars.push((
                    j.metrics.accuracy,
                    format!("fill=\"{color}\" fill-opacity=\"0.4\""),
                    format!("{name}, by the judge"),
                ));
            }
        }
        if let Some((_, paper)) = PAPER_ACCURACY.iter().find(|(t, _)| t == therapy) {
            bars.push((
                *paper,
                "fill=\"none\" stroke=\"#1b1b1f\" stroke-dasharray=\"3 2\"".into(),
                PAPER_LABEL.into(),
            ));
        }
        for (value, paint, what) in bars {
            let h = height * value;
            let _ = write!(
                body,
                "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{bar:.2}\" height=\"{h:.2}\" {paint}><title>{}: {} accuracy {value:.3}</title></rect>",
                base - h,
                esc(therapy.as_str()),
                esc(&what)
            );
            x += bar;
        }
    }
    x_axis(&mut body, left, right, base);
    chart(
        "accuracy",
        base + 26.0,
        "Accuracy per therapy and model",
        "Grouped bars: for each therapy, each model's accuracy by its own strategy label (solid) and by the judge (pale), then the paper's reported accuracy (dashed outline).",
        &body,
    )
}
