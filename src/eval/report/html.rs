//! The HTML report: one self-contained page.

use super::{
    f3, mix_header, mix_rows, run_rows, score_row, short, strategy_name, svg, Report,
    TherapyResult, SCORE_HEADER,
};
use crate::chain::Strategy;
use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = include_str!("report.css");

const CONVENTIONS: [&str; 6] = [
    "Gold label: the EPITOME mechanism with the highest level; pairs with every level 0 are excluded; ties follow the tie rule above.",
    "Duplicated (sp_id, rp_id) keys take the levels of their last row in each file.",
    "Unknown predictions (unreadable label, parse or LLM error) count as wrong and have their own column.",
    "A ratio with a zero denominator is 0 (e.g. precision of a strategy never predicted).",
    "Macro-F1 averages the strategies present in gold or predictions; balanced accuracy averages recall over strategies with support.",
    "Intervals: percentile bootstrap over items, seeded.",
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

fn confusion_html(out: &mut String, t: &TherapyResult) {
    let counts = &t.metrics.confusion.counts;
    let _ = write!(
        out,
        "<div class=\"card\"><h3>{}</h3><p class=\"muted\">rows: gold · columns: predicted</p><div class=\"scroll\"><table><thead><tr><td></td>",
        esc(t.therapy.as_str())
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

/// A self-contained page (inline CSS and SVG; no scripts, fonts, images or
/// links) with the run metadata, charts and tables. All text is escaped.
pub fn html(report: &Report) -> String {
    let run = &report.run;
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>coe-bot eval {}</title><style>{CSS}</style></head><body><main><h1>Chain of Empathy evaluation</h1><p class=\"muted\">run {} · {} · {} therapies</p>",
        esc(&run.run_id),
        esc(&run.run_id),
        esc(&run.model),
        report.therapies.len()
    );
    out.push_str("<h2>Run</h2><div class=\"scroll\"><table class=\"meta\"><tbody>");
    for (key, value) in run_rows(report, usize::MAX) {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{key}</th><td>{}</td></tr>",
            esc(&value)
        );
    }
    out.push_str("</tbody></table></div><h2>Charts</h2><div class=\"charts\"><figure>");
    out.push_str(&svg::mix_chart(report));
    out.push_str("<figcaption>Strategy chosen by the model per therapy, and by the human responders.</figcaption></figure><figure>");
    out.push_str(&svg::f1_chart(report));
    out.push_str("<figcaption>F1 per strategy and therapy (0 to 1).</figcaption></figure></div>");

    let rows: Vec<Vec<String>> = report.therapies.iter().map(score_row).collect();
    out.push_str("<h2>Scores</h2>");
    table_html(&mut out, &SCORE_HEADER.map(String::from), &rows);

    let mut header = vec!["therapy".to_string()];
    for s in Strategy::ALL {
        header.extend(["P", "R", "F1"].map(|m| format!("{} {m}", short(s))));
    }
    let rows: Vec<Vec<String>> = report
        .therapies
        .iter()
        .map(|t| {
            let mut row = vec![t.therapy.to_string()];
            for c in &t.metrics.per_strategy {
                row.extend([f3(c.precision), f3(c.recall), f3(c.f1)]);
            }
            row
        })
        .collect();
    out.push_str("<h2>Per strategy</h2>");
    table_html(&mut out, &header, &rows);
    out.push_str(
        "<p class=\"muted\">ER emotional reaction · EX exploration · IP interpretation</p>",
    );

    out.push_str("<h2>Strategy mix</h2>");
    table_html(&mut out, &mix_header(), &mix_rows(report));

    out.push_str("<h2>Confusion matrices</h2><div class=\"grid\">");
    for t in &report.therapies {
        confusion_html(&mut out, t);
    }
    out.push_str("</div><h2>Conventions</h2><ul>");
    for line in CONVENTIONS {
        let _ = write!(out, "<li>{}</li>", esc(line));
    }
    out.push_str("</ul></main></body></html>\n");
    out
}
