//! The HTML report: one self-contained page.

use super::tables::{run_rows, sections, Section, OWN_LABEL_TITLE};
use super::{short, strategy_name, svg, Line, Report, PAPER_ACCURACY, PAPER_LABEL};
use crate::chain::Strategy;
use crate::safety::sanitize::escape_html as esc;
use std::fmt::Write as _;

const CSS: &str = include_str!("report.css");

const CONVENTIONS: [&str; 8] = [
    "Gold label: the EPITOME mechanism with the highest level; pairs with every level 0 are excluded; ties follow the tie rule above.",
    "Duplicated (sp_id, rp_id) keys take the levels of their last row in each file.",
    "Unknown predictions (unreadable label, parse or LLM error) count as wrong and have their own column.",
    "A ratio with a zero denominator is 0 (e.g. precision of a strategy never predicted).",
    "Macro-F1 averages the strategies present in gold or predictions; balanced accuracy averages recall over strategies with support.",
    "Intervals: percentile bootstrap over items, seeded.",
    "The judge: a classifier fitted at run time on the embedded human responses of pairs whose seeker post is neither evaluated nor in EPITOME's reserved half; its own quality is 5-fold cross-validated by seeker post.",
    "The paper's row is the accuracy per prompt quoted by a secondary source for GPT-3.5 (text-davinci-003), as reported, not reproduced here.",
];

fn table_html(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let tag = if i == 0 { "th scope=\"row\"" } else { "td" };
            let close = if i == 0 { "th" } else { "td" };
            let _ = write!(out, "<{tag}>{}</{close}>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

fn section_html(out: &mut String, section: &Section) {
    let _ = write!(out, "<h2>{}</h2>", esc(section.title));
    table_html(out, &section.header, &section.rows);
    if let Some(note) = &section.note {
        let _ = write!(out, "<p class=\"muted\">{}</p>", esc(note));
    }
}

fn confusion_html(out: &mut String, line: &Line) {
    let counts = &line.result.metrics.confusion.counts;
    let _ = write!(
        out,
        "<div class=\"card\"><h3>{}</h3><p class=\"muted\">rows: gold · columns: predicted</p><div class=\"scroll\"><table><thead><tr><td></td>",
        esc(&line.label)
    );
    for s in Strategy::ALL {
        let _ = write!(
            out,
            "<th scope=\"col\" title=\"{}\">{}</th>",
            esc(&strategy_name(s)),
            short(s)
        );
    }
    out.push_str("<th scope=\"col\">unknown</th></tr></thead><tbody>");
    for gold in Strategy::ALL {
        let _ = write!(
            out,
            "<tr><th scope=\"row\" title=\"{}\">{}</th>",
            esc(&strategy_name(gold)),
            short(gold)
        );
        for (col, n) in counts[gold.index()].iter().enumerate() {
            let class = if col == gold.index() {
                " class=\"hit\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{n}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></div>");
}

/// The paper's accuracy per prompt, as rows under the own-label scores.
fn paper_rows() -> Vec<Vec<String>> {
    PAPER_ACCURACY
        .iter()
        .map(|(therapy, accuracy)| {
            let mut row = vec![format!("{therapy} · {PAPER_LABEL}"), "–".into()];
            row.extend([format!("{accuracy:.3}"), "–".into(), "–".into(), "–".into()]);
            row
        })
        .collect()
}

fn figure(out: &mut String, chart: String, caption: &str) {
    let _ = write!(
        out,
        "<figure>{chart}<figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

/// A self-contained page (inline CSS and SVG; no scripts, fonts, images or
/// links) with the run metadata, charts and tables. All text is escaped.
pub fn html(report: &Report) -> String {
    let run = &report.run;
    let names: Vec<&str> = report.models.iter().map(|m| m.info.name.as_str()).collect();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>coe-bot eval {}</title><style>{CSS}</style></head><body><main><h1>Chain of Empathy evaluation</h1><p class=\"muted\">run {} · models: {} · {} therapies</p>",
        esc(&run.run_id),
        esc(&run.run_id),
        esc(&names.join(", ")),
        run.prompt_versions.len()
    );
    out.push_str("<h2>Run</h2><div class=\"scroll\"><table class=\"meta\"><tbody>");
    for (key, value) in run_rows(report, usize::MAX) {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{key}</th><td>{}</td></tr>",
            esc(&value)
        );
    }
    out.push_str("</tbody></table></div><h2>Charts</h2><div class=\"charts\">");
    figure(&mut out, svg::accuracy_chart(report), "Accuracy per therapy and model, by the model's own label and by the judge; the outlined bar is the paper's reported figure.");
    figure(
        &mut out,
        svg::mix_chart(report, false),
        "Strategy each reply claimed, per therapy, and the human responses.",
    );
    if report.judge.is_some() {
        figure(
            &mut out,
            svg::mix_chart(report, true),
            "Strategy the judge found in each reply, per therapy, and the human responses.",
        );
    }
    figure(
        &mut out,
        svg::f1_chart(report),
        "F1 per strategy and therapy, own label (0 to 1).",
    );
    out.push_str("</div>");
    for mut section in sections(report) {
        if section.title == OWN_LABEL_TITLE {
            section.rows.extend(paper_rows());
        }
        section_html(&mut out, &section);
    }
    out.push_str(
        "<p class=\"muted\">ER emotional reaction · EX exploration · IP interpretation</p>",
    );
    out.push_str("<h2>Confusion matrices (own label)</h2><div class=\"grid\">");
    for line in report.lines() {
        confusion_html(&mut out, &line);
    }
    out.push_str("</div><h2>Conventions</h2><ul>");
    for line in CONVENTIONS {
        let _ = write!(out, "<li>{}</li>", esc(line));
    }
    out.push_str("</ul></main></body></html>\n");
    out
}
