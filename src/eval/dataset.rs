//! Evaluation items, read in two passes so memory does not grow with the
//! data set: [`scan`] reads EPITOME's `dataset/` folder (three mechanism
//! files joined per pair) or one simple CSV with a strategy label per row,
//! keeping no text, only a small fixed-size record per pair (the gold
//! label, the selection, where the pair's first row is); [`Index::stream`]
//! then re-reads the file holding the texts and yields one item at a time.
//! Generated replies never pass through here.

use crate::chain::Strategy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod layout;
mod scan;
mod stream;
mod tie_rule;

pub use stream::{Items, Scanned};
pub use tie_rule::{TieRule, TieRuleError};

/// EPITOME's files, in `Strategy::ALL` order; this order is also the one
/// used for joining (texts and item order come from the first) and hashing.
pub const EPITOME_FILES: [&str; 3] = [
    "emotional-reactions-reddit.csv",
    "explorations-reddit.csv",
    "interpretations-reddit.csv",
];

const EPITOME_HEADER: &str = "sp_id,rp_id,seeker_post,response_post,level,rationales";
const SIMPLE_HEADER: &str = "seeker_post,response_post,strategy";

/// One (seeker post, human response) pair with the human's strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalItem {
    /// Stable across runs, so a run can resume: `"{sp_id}:{rp_id}"` for
    /// EPITOME, the 1-based data row number for a simple CSV.
    pub item_id: String,
    /// The seeker post's id, shared by every response to the same post:
    /// EPITOME's `sp_id`; for a simple CSV the item id (each row is its own
    /// post).
    pub seeker_id: String,
    pub seeker_post: String,
    pub response_post: String,
    pub gold: Strategy,
}

/// What loading did, reported in every eval output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadStats {
    /// CSV data rows read over all input files (EPITOME: three per pair).
    pub rows_read: usize,
    /// Distinct (sp_id, rp_id) keys occurring more than once in some file.
    pub duplicate_keys: usize,
    /// Of those, the keys whose repeated rows disagree on a level.
    pub duplicate_conflicts: usize,
    pub ties_excluded: usize,
    pub ties_resolved: usize,
    pub all_zero_excluded: usize,
    pub unknown_label_skipped: usize,
    /// Items with a gold label, selected or not.
    pub items: usize,
}

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed CSV in {}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{} has no `{column}` column (expected header: {expected})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        expected: &'static str,
    },
    #[error("{}, data row {row}: level `{value}` is not 0, 1 or 2", path.display())]
    BadLevel {
        path: PathBuf,
        row: usize,
        value: String,
    },
    #[error("pair {key} is in {present} but not in {missing}; the three EPITOME files must list the same pairs")]
    KeyMismatch {
        key: String,
        present: &'static str,
        missing: &'static str,
    },
    #[error("{} changed while this run was reading it; leave the data set untouched during a run and start again", path.display())]
    Changed { path: PathBuf },
    #[error("{} has more than {} data rows", path.display(), u32::MAX)]
    TooLarge { path: PathBuf },
}

/// Scans `path`: a folder is read as EPITOME's `dataset/`, a file as a
/// simple CSV (`seeker_post,response_post,strategy`). Keeps no text; the
/// items come from [`Index::stream`].
///
/// EPITOME's gold label is the mechanism with the highest level; ties follow
/// `ties`, all-zero pairs are excluded. A key repeated within a file takes
/// the levels of its LAST occurrence in file order (each file on its own);
/// the item keeps the position (and texts) of its first occurrence in the
/// first file. Last-wins is the rule that reproduces the label counts in
/// `notes/epitome.md` (interpretation 1270, emotional reaction 536,
/// exploration 324, ties 202, none 691); the number of repeated and
/// conflicting keys is in the stats. A simple CSV's rows with an unknown
/// label are skipped.
///
/// The selection is a deterministic subset of at most `limit` labelled
/// items, in their original order. Without a limit, all items; without a
/// seed, the first `limit`. With a seed, the items with the smallest
/// `sha256(seed as LE bytes || item_id)` are kept. Ranking by a hash of the
/// item's own id (rather than shuffling with an RNG) makes the choice
/// independent of file order and of the `rand` version, and makes samples
/// nest: raising `--limit` under the same seed keeps every item already
/// chosen, so a resumed run extends its work instead of replacing it.
pub fn scan(
    path: &Path,
    ties: &TieRule,
    limit: Option<usize>,
    seed: Option<u64>,
) -> Result<Index, DatasetError> {
    let mut index = if path.is_dir() {
        scan::epitome(path, ties, seed)?
    } else {
        scan::simple(path, seed)?
    };
    index.select(limit, seed);
    Ok(index)
}

/// Pass 1's result: the stats and, per distinct pair, a small record.
#[derive(Debug)]
pub struct Index {
    /// The file pass 2 re-reads: EPITOME's first file, or the simple CSV.
    path: PathBuf,
    kind: layout::Kind,
    /// In order of first occurrence, unlabelled ones included: pass 2
    /// checks every row of `path`. A simple CSV's rows are its pairs.
    pairs: Vec<Pair>,
    /// (row, pair) of each row of `path` repeating an earlier key.
    repeats: Vec<(u32, u32)>,
    selected: usize,
    stats: LoadStats,
}

/// What the index keeps of one distinct pair: 24 bytes, no text.
#[derive(Debug, Clone, Copy)]
struct Pair {
    /// `Layout::row_hash` of its first row, checked again in pass 2.
    hash: u64,
    /// The leading 64 bits of its sampling rank; 0 without a seed.
    rank: u64,
    /// Its first data row (0-based) in `Index::path`.
    first_row: u32,
    gold: Option<Strategy>,
    selected: bool,
}

impl Index {
    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }

    /// How many items [`Index::selected`] yields.
    pub fn selected_len(&self) -> usize {
        self.selected
    }

    /// Pass 2: every labelled item in file order, each marked with whether
    /// it is selected; one record in memory at a time. Yields
    /// [`DatasetError::Changed`] (and stops) if the file no longer matches
    /// what [`scan`] read.
    pub fn stream(&self) -> Result<Items<'_>, DatasetError> {
        Items::new(self)
    }

    /// The selected items, in file order.
    pub fn selected(
        &self,
    ) -> Result<impl Iterator<Item = Result<EvalItem, DatasetError>> + '_, DatasetError> {
        Ok(self.stream()?.filter_map(|scanned| match scanned {
            Ok(Scanned { item, selected }) => selected.then_some(Ok(item)),
            Err(e) => Some(Err(e)),
        }))
    }
}

/// Hex SHA-256 identifying the input, for the run record. For a file: the
/// digest of its bytes (what `sha256sum FILE` prints). For an EPITOME folder:
/// the digest of the `sha256sum`-style listing of the three files in
/// [`EPITOME_FILES`] order, i.e. inside the folder
/// `sha256sum emotional-reactions-reddit.csv explorations-reddit.csv
/// interpretations-reddit.csv | sha256sum`, so it can be checked with
/// coreutils alone.
pub fn dataset_sha256(path: &Path) -> Result<String, DatasetError> {
    if !path.is_dir() {
        return file_sha256(path);
    }
    let mut listing = String::new();
    for name in EPITOME_FILES {
        listing.push_str(&format!("{}  {name}\n", file_sha256(&path.join(name))?));
    }
    Ok(hex::encode(Sha256::digest(listing.as_bytes())))
}

fn file_sha256(path: &Path) -> Result<String, DatasetError> {
    let io_error = |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_error)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests;
/// The seeker post's id within an item id: EPITOME's item ids are
/// `"{sp_id}:{rp_id}"` (Reddit ids hold no colon); a simple CSV's item id
/// is its own seeker id. Stored results carry only the item id.
pub fn seeker_id_of(item_id: &str) -> &str {
    item_id.split_once(':').map_or(item_id, |(sp, _)| sp)
}
