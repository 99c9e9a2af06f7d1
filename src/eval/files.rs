//! The eval's file work, on tokio's blocking pool: hashing and re-reading
//! the dataset, reading a models file, writing items.csv and the reports.
//! A large dataset takes seconds to read; on the async runtime it would
//! stall the model calls and the store's writer that share it.

use super::dataset::{self, DatasetError, EvalItem, Index};
use super::models::{self, ModelSpec, ModelsError};
use super::report::{self, Report};
use super::EvalError;
use crate::safety::sanitize::SafeCsv;
use crate::store::EvalItemRow;
use futures::Stream;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

/// Items the reading thread may be ahead of the model calls: enough to
/// keep them fed, few enough that memory stays flat.
const ITEMS_AHEAD: usize = 64;

/// Runs `work` on the blocking pool; a panic in it resumes here.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels the task, and then it
            // drops every future awaiting it too: nobody is here to see.
            Err(cancelled) => panic!("{cancelled}"),
        },
    }
}

/// [`dataset::dataset_sha256`], off the runtime.
pub(crate) async fn dataset_sha256(path: PathBuf) -> Result<String, DatasetError> {
    off_runtime(move || dataset::dataset_sha256(&path)).await
}

/// [`models::load`], off the runtime.
pub(crate) async fn load_models(path: PathBuf) -> Result<Vec<ModelSpec>, ModelsError> {
    off_runtime(move || models::load(&path)).await
}

/// The selected items of `index` (pass 2), read by a thread of the
/// blocking pool that stops when the stream is dropped.
pub(crate) fn selected_items(
    index: Arc<Index>,
) -> impl Stream<Item = Result<EvalItem, DatasetError>> {
    let (items, received) = tokio::sync::mpsc::channel(ITEMS_AHEAD);
    tokio::task::spawn_blocking(move || match index.selected() {
        Ok(selected) => {
            for item in selected {
                if items.blocking_send(item).is_err() {
                    break;
                }
            }
        }
        Err(error) => {
            let _ = items.blocking_send(Err(error));
        }
    });
    futures::stream::unfold(received, |mut received| async {
        let item = received.recv().await?;
        Some((item, received))
    })
}

/// Creates the output folder and its parents.
pub(crate) async fn create_out_dir(out: PathBuf) -> Result<(), EvalError> {
    off_runtime(move || {
        std::fs::create_dir_all(&out).map_err(|source| EvalError::Output { path: out, source })
    })
    .await
}

/// Writes report.json and report.html into `out`; hands the report back.
pub(crate) async fn write_reports(report: Report, out: PathBuf) -> Result<Report, EvalError> {
    off_runtime(move || {
        report::write_json(&report, &out.join("report.json"))?;
        let html_path = out.join("report.html");
        std::fs::write(&html_path, report::html(&report)).map_err(|source| EvalError::Output {
            path: html_path,
            source,
        })?;
        Ok(report)
    })
    .await
}

/// A model's items CSV, written a batch of rows at a time.
pub(crate) struct ItemsCsv {
    writer: SafeCsv<BufWriter<File>>,
}

impl ItemsCsv {
    pub(crate) async fn create(path: PathBuf) -> std::io::Result<ItemsCsv> {
        off_runtime(move || {
            let file = File::create(path)?;
            let writer = SafeCsv::from_writer(BufWriter::new(file));
            Ok(ItemsCsv { writer })
        })
        .await
    }

    /// Appends `rows`; hands the CSV and the rows back.
    pub(crate) async fn write(
        mut self,
        rows: Vec<EvalItemRow>,
    ) -> std::io::Result<(ItemsCsv, Vec<EvalItemRow>)> {
        off_runtime(move || {
            for row in &rows {
                self.writer.serialize(row)?;
            }
            Ok((self, rows))
        })
        .await
    }

    pub(crate) async fn finish(mut self) -> std::io::Result<()> {
        off_runtime(move || self.writer.flush()).await
    }
}

#[cfg(test)]
mod tests;
