//! Pass 1: levels, gold labels and the selection, keeping no text.

use super::layout::{csv_error, Kind, Layout};
use super::{DatasetError, Index, LoadStats, Pair, TieRule, EPITOME_FILES};
use crate::chain::Strategy;
use crate::eval::slices::sha256_prefix;
use csv::StringRecord;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};

/// Pass-1 state of one EPITOME pair, dropped when the scan ends.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    levels: [u8; 3],
    /// Seen in the file being read.
    seen: bool,
    repeated: bool,
    conflicting: bool,
}

struct EpitomeScan<'a> {
    dir: &'a Path,
    seed: Option<u64>,
    pairs: Vec<Pair>,
    tallies: Vec<Tally>,
    /// Pair number by key hash. Two keys would merge only if their 64-bit
    /// hashes collide: odds about n²/2⁶⁵, 3·10⁻¹⁰ for 100,000 pairs.
    by_hash: HashMap<u64, u32>,
    /// (row, pair) of each row of the first file that repeats a key.
    repeats: Vec<(u32, u32)>,
    rows_read: usize,
}

/// Pass 1 over EPITOME's folder (rules at [`scan`](super::scan)).
pub(super) fn epitome(
    dir: &Path,
    ties: &TieRule,
    seed: Option<u64>,
) -> Result<Index, DatasetError> {
    let mut scan = EpitomeScan {
        dir,
        seed,
        pairs: Vec::new(),
        tallies: Vec::new(),
        by_hash: HashMap::new(),
        repeats: Vec::new(),
        rows_read: 0,
    };
    for mechanism in 0..EPITOME_FILES.len() {
        scan.read(mechanism)?;
    }
    let EpitomeScan {
        mut pairs,
        tallies,
        by_hash,
        repeats,
        ..
    } = scan;
    drop(by_hash);
    let mut stats = LoadStats {
        rows_read: scan.rows_read,
        duplicate_keys: tallies.iter().filter(|t| t.repeated).count(),
        duplicate_conflicts: tallies.iter().filter(|t| t.conflicting).count(),
        ..LoadStats::default()
    };
    for (pair, tally) in pairs.iter_mut().zip(tallies) {
        pair.gold = gold_label(tally.levels, ties, &mut stats);
    }
    let path = dir.join(EPITOME_FILES[0]);
    Ok(index(path, Kind::Epitome, pairs, repeats, stats))
}

impl EpitomeScan<'_> {
    fn read(&mut self, mechanism: usize) -> Result<(), DatasetError> {
        let name = EPITOME_FILES[mechanism];
        let path = self.dir.join(name);
        let (mut reader, layout) = Layout::open(&path, Kind::Epitome)?;
        let mut record = StringRecord::new();
        let mut row = 0;
        while reader
            .read_record(&mut record)
            .map_err(|e| csv_error(&path, e))?
        {
            self.rows_read += 1;
            let level = layout
                .level(&record)
                .map_err(|value| DatasetError::BadLevel {
                    path: path.clone(),
                    row: row + 1,
                    value: value.to_string(),
                })?;
            let i = self.pair_of(&layout, &record, row, mechanism)?;
            let tally = &mut self.tallies[i];
            if tally.seen {
                tally.repeated = true;
                tally.conflicting |= tally.levels[mechanism] != level;
            }
            tally.seen = true;
            tally.levels[mechanism] = level;
            row += 1;
        }
        if let Some(i) = self.tallies.iter().position(|t| !t.seen) {
            let first = self.dir.join(EPITOME_FILES[0]);
            return Err(DatasetError::KeyMismatch {
                key: key_at(&first, self.pairs[i].first_row)?,
                present: EPITOME_FILES[0],
                missing: name,
            });
        }
        self.tallies.iter_mut().for_each(|t| t.seen = false);
        Ok(())
    }

    /// The number of the pair `record` belongs to; only the first file
    /// introduces pairs, the others must match it.
    fn pair_of(
        &mut self,
        layout: &Layout,
        record: &StringRecord,
        row: usize,
        mechanism: usize,
    ) -> Result<usize, DatasetError> {
        let hash = layout.row_hash(record);
        if let Some(&i) = self.by_hash.get(&hash) {
            if mechanism == 0 {
                // Fits: the row's pair did, at a smaller row.
                self.repeats.push((row as u32, i));
            }
            return Ok(i as usize);
        }
        if mechanism != 0 {
            return Err(DatasetError::KeyMismatch {
                key: layout.item_id(record, row),
                present: EPITOME_FILES[mechanism],
                missing: EPITOME_FILES[0],
            });
        }
        let path = self.dir.join(EPITOME_FILES[0]);
        let pair = Pair::new(hash, layout, record, row, self.seed, &path)?;
        // Fits: `row` did, and there are no more pairs than rows.
        self.by_hash.insert(hash, self.pairs.len() as u32);
        self.pairs.push(pair);
        self.tallies.push(Tally::default());
        Ok(self.pairs.len() - 1)
    }
}

/// Pass 1 over a simple CSV: one item per row whose label names a strategy.
pub(super) fn simple(path: &Path, seed: Option<u64>) -> Result<Index, DatasetError> {
    let (mut reader, layout) = Layout::open(path, Kind::Simple)?;
    let mut stats = LoadStats::default();
    let mut pairs = Vec::new();
    let mut record = StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        let row = stats.rows_read;
        stats.rows_read += 1;
        let gold = layout.label(&record);
        if gold.is_none() {
            stats.unknown_label_skipped += 1;
        }
        // Unlabelled rows are kept too, so pass 2 can check every row.
        let hash = layout.row_hash(&record);
        let pair = Pair::new(hash, &layout, &record, row, seed, path)?;
        pairs.push(Pair { gold, ..pair });
    }
    Ok(index(
        path.to_path_buf(),
        Kind::Simple,
        pairs,
        Vec::new(),
        stats,
    ))
}

impl Pair {
    /// The pair first seen at data row `row` of `path`, not labelled yet.
    fn new(
        hash: u64,
        layout: &Layout,
        record: &StringRecord,
        row: usize,
        seed: Option<u64>,
        path: &Path,
    ) -> Result<Pair, DatasetError> {
        let too_large = |_| DatasetError::TooLarge {
            path: path.to_path_buf(),
        };
        let rank = seed.map_or(0, |seed| {
            let id = layout.item_id(record, row);
            sha256_prefix(&[&seed.to_le_bytes(), id.as_bytes()])
        });
        Ok(Pair {
            hash,
            rank,
            first_row: u32::try_from(row).map_err(too_large)?,
            gold: None,
            selected: false,
        })
    }
}

fn index(
    path: PathBuf,
    kind: Kind,
    mut pairs: Vec<Pair>,
    mut repeats: Vec<(u32, u32)>,
    stats: LoadStats,
) -> Index {
    pairs.shrink_to_fit();
    repeats.shrink_to_fit();
    let stats = LoadStats {
        items: pairs.iter().filter(|p| p.gold.is_some()).count(),
        ..stats
    };
    Index {
        path,
        kind,
        pairs,
        repeats,
        selected: 0,
        stats,
    }
}

impl Index {
    /// Marks the selection described at [`scan`](super::scan).
    pub(super) fn select(&mut self, limit: Option<usize>, seed: Option<u64>) {
        let labelled = self.stats.items;
        let limit = limit.map_or(labelled, |l| l.min(labelled));
        match seed {
            Some(_) if limit < labelled => {
                // The `limit` smallest (rank, position), in memory bounded by
                // the limit. Ranks are digest prefixes: where two tie (odds
                // about n²/2⁶⁵) file order decides instead of the full digest.
                let mut kept = BinaryHeap::with_capacity(limit + 1);
                let labelled = self.pairs.iter().enumerate();
                for (position, pair) in labelled.filter(|(_, p)| p.gold.is_some()) {
                    kept.push((pair.rank, position));
                    if kept.len() > limit {
                        kept.pop();
                    }
                }
                for (_, position) in kept {
                    self.pairs[position].selected = true;
                }
            }
            _ => self
                .pairs
                .iter_mut()
                .filter(|p| p.gold.is_some())
                .take(limit)
                .for_each(|p| p.selected = true),
        }
        self.selected = limit;
    }
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

/// The key at data row `row` of EPITOME's first file: pass 1 keeps only
/// hashes, so an error message reads the key back.
fn key_at(path: &Path, row: u32) -> Result<String, DatasetError> {
    let (reader, layout) = Layout::open(path, Kind::Epitome)?;
    let changed = || DatasetError::Changed {
        path: path.to_path_buf(),
    };
    let record = reader
        .into_records()
        .nth(row as usize)
        .ok_or_else(changed)?;
    let record = record.map_err(|e| csv_error(path, e))?;
    Ok(layout.item_id(&record, row as usize))
}
