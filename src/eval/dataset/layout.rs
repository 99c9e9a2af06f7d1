//! Reading one input file: its columns, and what each pass takes from a row.
//! Both passes go through here, so they hash and name rows identically.

use super::{DatasetError, EvalItem, EPITOME_HEADER, SIMPLE_HEADER};
use crate::chain::Strategy;
use crate::eval::slices::sha256_prefix;
use csv::StringRecord;
use std::fs::File;
use std::path::Path;

/// Which of the two input formats a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Epitome,
    Simple,
}

/// Column positions, found in the file's header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// EPITOME's `sp_id` and `rp_id`; `None` in a simple CSV, whose rows
    /// are identified by their number.
    key: Option<(usize, usize)>,
    seeker: usize,
    response: usize,
    /// EPITOME's `level`, a simple CSV's `strategy`.
    gold: usize,
}

impl Layout {
    pub(super) fn open(
        path: &Path,
        kind: Kind,
    ) -> Result<(csv::Reader<File>, Layout), DatasetError> {
        let file = File::open(path).map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Not flexible: every record has the header's width, so indexing by a
        // column position found in the header cannot go out of bounds.
        let mut reader = csv::ReaderBuilder::new().from_reader(file);
        let headers = reader.headers().map_err(|e| csv_error(path, e))?;
        let layout = match kind {
            Kind::Epitome => {
                let names = ["sp_id", "rp_id", "seeker_post", "response_post", "level"];
                let [sp, rp, seeker, response, gold] =
                    columns(headers, path, names, EPITOME_HEADER)?;
                let key = Some((sp, rp));
                Layout {
                    key,
                    seeker,
                    response,
                    gold,
                }
            }
            Kind::Simple => {
                let names = ["seeker_post", "response_post", "strategy"];
                let [seeker, response, gold] = columns(headers, path, names, SIMPLE_HEADER)?;
                let key = None;
                Layout {
                    key,
                    seeker,
                    response,
                    gold,
                }
            }
        };
        Ok((reader, layout))
    }

    /// What identifies the row between the passes: EPITOME's `sp_id:rp_id`
    /// key (also what joins the three files), or a simple row's fields (its
    /// id is its position, so only its content can show an edit).
    pub(super) fn row_hash(&self, record: &StringRecord) -> u64 {
        match self.key {
            Some((sp, rp)) => {
                let (sp, rp) = (record[sp].trim(), record[rp].trim());
                sha256_prefix(&[sp.as_bytes(), b":", rp.as_bytes()])
            }
            None => {
                let fields = [self.seeker, self.response, self.gold].map(|c| record[c].as_bytes());
                let lengths = fields.map(|f| f.len().to_le_bytes());
                let [a, b, c] = fields;
                sha256_prefix(&[lengths.as_flattened(), a, b, c])
            }
        }
    }

    /// The item id; `row` is the 0-based data row.
    pub(super) fn item_id(&self, record: &StringRecord, row: usize) -> String {
        match self.key {
            Some((sp, rp)) => format!("{}:{}", record[sp].trim(), record[rp].trim()),
            // Skipped rows keep their numbers, so ids do not shift when a
            // label is fixed later.
            None => (row + 1).to_string(),
        }
    }

    /// EPITOME's level (0, 1 or 2), or the text that is not one.
    pub(super) fn level<'r>(&self, record: &'r StringRecord) -> Result<u8, &'r str> {
        let value = record[self.gold].trim();
        match ["0", "1", "2"].iter().position(|l| *l == value) {
            Some(level) => Ok(level as u8),
            None => Err(value),
        }
    }

    /// A simple row's strategy, if its label names one.
    pub(super) fn label(&self, record: &StringRecord) -> Option<Strategy> {
        Strategy::parse_label(&record[self.gold])
    }

    pub(super) fn item(&self, record: &StringRecord, row: usize, gold: Strategy) -> EvalItem {
        let item_id = self.item_id(record, row);
        EvalItem {
            seeker_id: match self.key {
                Some((sp, _)) => record[sp].trim().to_string(),
                None => item_id.clone(),
            },
            item_id,
            seeker_post: record[self.seeker].to_string(),
            response_post: record[self.response].to_string(),
            gold,
        }
    }
}

pub(super) fn csv_error(path: &Path, source: csv::Error) -> DatasetError {
    DatasetError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

fn columns<const N: usize>(
    headers: &StringRecord,
    path: &Path,
    names: [&'static str; N],
    expected: &'static str,
) -> Result<[usize; N], DatasetError> {
    let mut found = [0; N];
    for (slot, column) in found.iter_mut().zip(names) {
        *slot = headers
            .iter()
            .position(|h| h.trim() == column)
            .ok_or_else(|| DatasetError::MissingColumn {
                path: path.to_path_buf(),
                column,
                expected,
            })?;
    }
    Ok(found)
}
