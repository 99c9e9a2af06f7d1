//! The export's CSV, cut into files of at most a given size, each starting
//! with the header. Encoding is CPU work on many rows: callers run it off
//! the async runtime (`spawn_blocking`).

use crate::safety::sanitize::SafeCsv;
use crate::store::InteractionRow;

/// The export's columns, in the order of `CsvRow`'s fields.
const COLUMNS: [&str; 13] = [
    "id",
    "created_at",
    "source",
    "therapy",
    "prompt_version",
    "model",
    "emotion",
    "strategy",
    "outcome",
    "risk_tier",
    "risk_layer",
    "latency_ms",
    "reasoning",
];

#[derive(serde::Serialize)]
struct CsvRow<'a> {
    id: i64,
    created_at: &'a str,
    source: &'a str,
    therapy: &'a str,
    prompt_version: &'a str,
    model: &'a str,
    emotion: &'a str,
    strategy: &'a str,
    outcome: &'a str,
    risk_tier: &'a str,
    risk_layer: &'a str,
    latency_ms: i64,
    reasoning: String,
}

impl<'a> From<&'a InteractionRow> for CsvRow<'a> {
    fn from(row: &'a InteractionRow) -> CsvRow<'a> {
        CsvRow {
            id: row.id,
            created_at: &row.created_at,
            source: &row.source,
            therapy: &row.therapy,
            prompt_version: &row.prompt_version,
            model: &row.model,
            emotion: row.emotion.as_deref().unwrap_or(""),
            strategy: row.strategy.as_deref().unwrap_or("unknown"),
            outcome: &row.outcome,
            risk_tier: &row.risk_tier,
            risk_layer: row.risk_layer.as_deref().unwrap_or(""),
            latency_ms: row.latency_ms,
            reasoning: row.reasoning.join(" | "),
        }
    }
}

/// CSV files of at most `max_bytes` each (a single row is never split).
pub struct CsvFiles {
    max_bytes: usize,
    header: Vec<u8>,
    current: Vec<u8>,
    rows_in_current: usize,
    full: Vec<Vec<u8>>,
}

impl CsvFiles {
    pub fn new(max_bytes: usize) -> Result<CsvFiles, csv::Error> {
        let mut writer = SafeCsv::from_writer(Vec::new());
        writer.write_record(COLUMNS)?;
        let header = writer.into_inner()?;
        Ok(CsvFiles {
            max_bytes,
            current: header.clone(),
            header,
            rows_in_current: 0,
            full: Vec::new(),
        })
    }

    /// Appends rows, starting a new file whenever the next row would not fit.
    pub fn push(&mut self, rows: &[InteractionRow]) -> Result<(), csv::Error> {
        let mut writer = SafeCsv::without_headers(Vec::new());
        let mut row_ends = Vec::with_capacity(rows.len());
        for row in rows {
            writer.serialize(CsvRow::from(row))?;
            writer.flush()?;
            row_ends.push(writer.get_ref().len());
        }
        let encoded = writer.into_inner()?;
        let mut start = 0;
        for end in row_ends {
            let line = &encoded[start..end];
            start = end;
            if self.rows_in_current > 0 && self.current.len() + line.len() > self.max_bytes {
                let next = self.header.clone();
                self.full.push(std::mem::replace(&mut self.current, next));
                self.rows_in_current = 0;
            }
            self.current.extend_from_slice(line);
            self.rows_in_current += 1;
        }
        Ok(())
    }

    /// The files completed so far; the one being filled stays.
    pub fn take_full(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.full)
    }

    /// The last file (only the header when there were no rows).
    pub fn finish(self) -> Vec<u8> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, reasoning: &str) -> InteractionRow {
        InteractionRow {
            id,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            source: "slash".into(),
            therapy: "cbt".into(),
            prompt_version: "cbt-v1".into(),
            model: "mock".into(),
            emotion: Some("sad, \"very\"".into()),
            strategy: None,
            reasoning: vec![reasoning.into(), "second".into()],
            outcome: "replied".into(),
            risk_tier: "none".into(),
            risk_layer: None,
            latency_ms: 7,
        }
    }

    #[test]
    fn the_header_names_the_rows_fields() {
        let mut serde_header = csv::Writer::from_writer(Vec::new());
        serde_header.serialize(CsvRow::from(&row(1, "x"))).unwrap();
        let expected = String::from_utf8(serde_header.into_inner().unwrap()).unwrap();
        let mut files = CsvFiles::new(1 << 20).unwrap();
        files.push(&[row(1, "x")]).unwrap();
        assert_eq!(String::from_utf8(files.finish()).unwrap(), expected);
        assert!(expected.starts_with("id,created_at,source,therapy,"));
        assert!(expected.contains("\"sad, \"\"very\"\"\",unknown"));
    }

    #[test]
    fn files_stay_within_the_size_and_keep_every_row_once() {
        let rows: Vec<_> = (0..200).map(|i| row(i, &"r".repeat(i as usize))).collect();
        let max = 4_000;
        let mut files = CsvFiles::new(max).unwrap();
        for page in rows.chunks(30) {
            files.push(page).unwrap();
        }
        let mut all = files.take_full();
        all.push(files.finish());
        assert!(all.len() > 2, "{} files", all.len());
        let mut ids = Vec::new();
        for file in &all {
            assert!(file.len() <= max, "{} bytes", file.len());
            let mut reader = csv::Reader::from_reader(file.as_slice());
            assert_eq!(
                reader.headers().unwrap().iter().collect::<Vec<_>>(),
                COLUMNS
            );
            for record in reader.records() {
                ids.push(record.unwrap()[0].parse::<i64>().unwrap());
            }
        }
        assert_eq!(ids, (0..200).collect::<Vec<_>>());
    }
}
