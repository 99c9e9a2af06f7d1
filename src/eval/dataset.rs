//! Loading evaluation items: EPITOME's `dataset/` folder (three mechanism
//! files joined per pair) or one simple CSV with a strategy label per row.
//!
//! Only the texts the run needs are held (a few MB for EPITOME's ~3k pairs);
//! generated replies never pass through here.

use crate::chain::Strategy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod tie_rule;

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
}

/// Loads `path`: a folder is read as EPITOME's `dataset/`, a file as a
/// simple CSV (`seeker_post,response_post,strategy`).
///
/// EPITOME's gold label is the mechanism with the highest level; ties follow
/// `ties`, all-zero pairs are excluded. A key repeated within a file takes
/// the levels of its LAST occurrence in file order (each file on its own);
/// the item keeps the position of its first occurrence. Last-wins is the
/// rule that reproduces the label counts in `notes/epitome.md`
/// (interpretation 1270, emotional reaction 536, exploration 324, ties 202,
/// none 691); the number of repeated and conflicting keys is in the stats.
pub fn load(path: &Path, ties: &TieRule) -> Result<(Vec<EvalItem>, LoadStats), DatasetError> {
    if path.is_dir() {
        load_epitome(path, ties)
    } else {
        load_simple(path)
    }
}

fn open_csv(path: &Path) -> Result<(csv::Reader<File>, csv::StringRecord), DatasetError> {
    let file = File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Not flexible: every record has the header's width, so indexing by a
    // column position found in the header cannot go out of bounds.
    let mut reader = csv::ReaderBuilder::new().from_reader(file);
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    Ok((reader, headers))
}

fn csv_error(path: &Path, source: csv::Error) -> DatasetError {
    DatasetError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

fn columns<const N: usize>(
    headers: &csv::StringRecord,
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

struct Pair {
    item_id: String,
    seeker_post: String,
    response_post: String,
    levels: [u8; 3],
}

fn load_epitome(dir: &Path, ties: &TieRule) -> Result<(Vec<EvalItem>, LoadStats), DatasetError> {
    let mut stats = LoadStats::default();
    let mut pairs: Vec<Pair> = Vec::new();
    // Keyed by item id, which makes the ids unique by construction.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut duplicated = HashSet::new();
    let mut conflicting = HashSet::new();
    for (mechanism, name) in EPITOME_FILES.into_iter().enumerate() {
        let path = dir.join(name);
        let (mut reader, headers) = open_csv(&path)?;
        let [sp, rp, seeker, response, level] = columns(
            &headers,
            &path,
            ["sp_id", "rp_id", "seeker_post", "response_post", "level"],
            EPITOME_HEADER,
        )?;
        let mut seen = vec![false; pairs.len()];
        for (row, record) in reader.records().enumerate() {
            let record = record.map_err(|e| csv_error(&path, e))?;
            stats.rows_read += 1;
            let value = record[level].trim();
            let Some(lvl) = ["0", "1", "2"].iter().position(|l| *l == value) else {
                let (row, value) = (row + 1, value.to_string());
                return Err(DatasetError::BadLevel { path, row, value });
            };
            let key = format!("{}:{}", record[sp].trim(), record[rp].trim());
            let i = match index.get(&key) {
                Some(&i) => i,
                // Only the first file introduces pairs; the others must match it.
                None if mechanism == 0 => {
                    pairs.push(Pair {
                        item_id: key.clone(),
                        seeker_post: record[seeker].to_string(),
                        response_post: record[response].to_string(),
                        levels: [0; 3],
                    });
                    seen.push(false);
                    index.insert(key, pairs.len() - 1);
                    pairs.len() - 1
                }
                None => {
                    let (present, missing) = (name, EPITOME_FILES[0]);
                    return Err(DatasetError::KeyMismatch {
                        key,
                        present,
                        missing,
                    });
                }
            };
            let lvl = lvl as u8;
            if seen[i] {
                duplicated.insert(i);
                if pairs[i].levels[mechanism] != lvl {
                    conflicting.insert(i);
                }
            }
            seen[i] = true;
            pairs[i].levels[mechanism] = lvl;
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            let key = pairs[i].item_id.clone();
            let (present, missing) = (EPITOME_FILES[0], name);
            return Err(DatasetError::KeyMismatch {
                key,
                present,
                missing,
            });
        }
    }
    stats.duplicate_keys = duplicated.len();
    stats.duplicate_conflicts = conflicting.len();
    let items: Vec<EvalItem> = pairs
        .into_iter()
        .filter_map(|pair| {
            Some(EvalItem {
                gold: gold_label(pair.levels, ties, &mut stats)?,
                item_id: pair.item_id,
                seeker_post: pair.seeker_post,
                response_post: pair.response_post,
            })
        })
        .collect();
    stats.items = items.len();
    Ok((items, stats))
}

/// The mechanism with the highest level, if the pair has a gold label under
/// `ties`; counts the exclusions and tie resolutions in `stats`.
fn gold_label(levels: [u8; 3], ties: &TieRule, stats: &mut LoadStats) -> Option<Strategy> {
    let top = levels.into_iter().max().unwrap_or(0);
    if top == 0 {
        stats.all_zero_excluded += 1;
        return None;
    }
    let mut tied = Strategy::ALL
        .into_iter()
        .filter(|s| levels[s.index()] == top);
    let first = tied.next()?;
    if tied.next().is_none() {
        return Some(first);
    }
    match ties {
        TieRule::Exclude => {
            stats.ties_excluded += 1;
            None
        }
        TieRule::Order(order) => {
            stats.ties_resolved += 1;
            // A complete order always holds one of the tied strategies.
            order.iter().copied().find(|s| levels[s.index()] == top)
        }
    }
}

fn load_simple(path: &Path) -> Result<(Vec<EvalItem>, LoadStats), DatasetError> {
    let mut stats = LoadStats::default();
    let (mut reader, headers) = open_csv(path)?;
    let [seeker, response, label] = columns(
        &headers,
        path,
        ["seeker_post", "response_post", "strategy"],
        SIMPLE_HEADER,
    )?;
    let mut items = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        stats.rows_read += 1;
        let Some(gold) = Strategy::parse_label(&record[label]) else {
            stats.unknown_label_skipped += 1;
            continue;
        };
        items.push(EvalItem {
            // Skipped rows keep their numbers, so ids do not shift when a
            // label is fixed later.
            item_id: (row + 1).to_string(),
            seeker_post: record[seeker].to_string(),
            response_post: record[response].to_string(),
            gold,
        });
    }
    stats.items = items.len();
    Ok((items, stats))
}

/// A deterministic subset of at most `limit` items, in their original order.
/// Without a limit, all items; without a seed, the first `limit`.
///
/// With a seed, the items with the smallest `sha256(seed as LE bytes ||
/// item_id)` are kept. Ranking by a hash of the item's own id (rather than
/// shuffling with an RNG) makes the choice independent of file order and of
/// the `rand` version, and makes samples nest: raising `--limit` under the
/// same seed keeps every item already chosen, so a resumed run extends its
/// work instead of replacing it.
pub fn sample(items: Vec<EvalItem>, limit: Option<usize>, seed: Option<u64>) -> Vec<EvalItem> {
    let Some(limit) = limit.filter(|&l| l < items.len()) else {
        return items;
    };
    let Some(seed) = seed else {
        let mut items = items;
        items.truncate(limit);
        return items;
    };
    let mut ranked: Vec<([u8; 32], usize)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut hasher = Sha256::new();
            hasher.update(seed.to_le_bytes());
            hasher.update(item.item_id.as_bytes());
            (hasher.finalize().into(), i)
        })
        .collect();
    ranked.sort_unstable();
    let mut keep = vec![false; items.len()];
    for &(_, i) in &ranked[..limit] {
        keep[i] = true;
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, kept)| kept.then_some(item))
        .collect()
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
