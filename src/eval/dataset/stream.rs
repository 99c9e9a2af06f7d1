//! Pass 2: the items themselves, re-read one record at a time.

use super::layout::{csv_error, Layout};
use super::{DatasetError, EvalItem, Index};
use csv::StringRecord;
use std::fs::File;

/// One labelled item, and whether the run's selection holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub item: EvalItem,
    pub selected: bool,
}

/// The iterator of [`Index::stream`]. Only EPITOME's first file is re-read:
/// the other two gave levels alone, which the index already holds.
pub struct Items<'a> {
    index: &'a Index,
    reader: csv::Reader<File>,
    layout: Layout,
    record: StringRecord,
    /// The data row read next (0-based).
    row: usize,
    /// The next entries of `index.pairs` and `index.repeats` to meet.
    pair: usize,
    repeat: usize,
    done: bool,
}

impl<'a> Items<'a> {
    pub(super) fn new(index: &'a Index) -> Result<Self, DatasetError> {
        let (reader, layout) = Layout::open(&index.path, index.kind)?;
        Ok(Items {
            index,
            reader,
            layout,
            record: StringRecord::new(),
            row: 0,
            pair: 0,
            repeat: 0,
            done: false,
        })
    }

    fn fail(&mut self, error: DatasetError) -> Option<Result<Scanned, DatasetError>> {
        self.done = true;
        Some(Err(error))
    }

    fn changed(&mut self) -> Option<Result<Scanned, DatasetError>> {
        let path = self.index.path.clone();
        self.fail(DatasetError::Changed { path })
    }
}

impl Iterator for Items<'_> {
    type Item = Result<Scanned, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.index;
        while !self.done {
            match self.reader.read_record(&mut self.record) {
                Err(e) => return self.fail(csv_error(&index.path, e)),
                Ok(false) if self.row == index.pairs.len() + index.repeats.len() => {
                    self.done = true;
                    return None;
                }
                // Rows were removed: some never came.
                Ok(false) => return self.changed(),
                Ok(true) => {}
            }
            let row = self.row;
            self.row += 1;
            let hash = self.layout.row_hash(&self.record);
            let repeat = index.repeats.get(self.repeat);
            if let Some(&(_, pair)) = repeat.filter(|(r, _)| *r as usize == row) {
                self.repeat += 1;
                if index.pairs[pair as usize].hash != hash {
                    return self.changed();
                }
                // Its texts came with the key's first occurrence.
                continue;
            }
            let next = index.pairs.get(self.pair);
            let Some(pair) = next.filter(|p| p.first_row as usize == row && p.hash == hash) else {
                // Another key here, or a row pass 1 did not have.
                return self.changed();
            };
            self.pair += 1;
            if let Some(gold) = pair.gold {
                let item = self.layout.item(&self.record, row, gold);
                let selected = pair.selected;
                return Some(Ok(Scanned { item, selected }));
            }
        }
        None
    }
}
