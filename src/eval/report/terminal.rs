//! The plain-text summary printed at the end of `coe-bot eval`.

use super::tables::{run_rows, sections};
use super::Report;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

fn new_table(header: Vec<String>) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    table
}

/// Run header, then every table of the report, each under its title.
pub fn terminal_table(report: &Report) -> String {
    // The run id heads the table; the other facts follow as rows.
    let mut header = new_table(vec!["run".into(), report.run.run_id.clone()]);
    for (key, value) in run_rows(report, 16).into_iter().skip(1) {
        header.add_row(vec![key.to_string(), value]);
    }
    let mut out = format!("{header}\n");
    for section in sections(report) {
        let mut table = new_table(section.header);
        table.add_rows(section.rows);
        out.push_str(&format!("\n{}\n{table}\n", section.title));
        if let Some(note) = section.note {
            out.push_str(&format!("{note}\n"));
        }
    }
    out
}
