//! Fitting the run's strategy judge, off the async runtime.

use super::EvalError;
use crate::embed::Embedder;
use crate::eval::dataset::Index;
use crate::eval::judge::{cache_path, Examples, Judge, JudgeError, JudgeQuality};
use crate::eval::metrics::DEFAULT_RESAMPLES;
use crate::eval::report::RunInfo;
use crate::eval::scoring::ReplyJudge;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads the embedding model from `model_dir`, embeds the human responses
/// (or reads them from the cache) and fits the judge, with a progress bar.
pub(super) async fn fit(
    index: Arc<Index>,
    info: &RunInfo,
    model_dir: &Path,
    seed: u64,
    show_progress: bool,
) -> Result<(ReplyJudge, JudgeQuality), EvalError> {
    let epitome = Path::new(&info.dataset_path).is_dir();
    let cache = cache_path(model_dir, &info.dataset_sha256, &info.tie_rule);
    let model_dir: PathBuf = model_dir.to_path_buf();
    let progress = if show_progress {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} human responses embedded for the judge · ETA {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let task = tokio::task::spawn_blocking(move || {
        let embedder = Embedder::load(&model_dir)?;
        let examples = Examples::load(&index, epitome, &embedder, &cache, &progress)?;
        progress.finish_and_clear();
        let evaluated: HashSet<String> = index
            .selected()?
            .map(|item| item.map(|i| i.seeker_id))
            .collect::<Result<_, _>>()?;
        let (judge, quality) = Judge::train(&examples, &evaluated, seed, DEFAULT_RESAMPLES)?;
        let judge = ReplyJudge {
            judge: Arc::new(judge),
            embedder: Arc::new(embedder),
        };
        Ok::<_, JudgeError>((judge, quality))
    });
    let fitted = task
        .await
        .unwrap_or_else(|e| Err(JudgeError::Fit(format!("the judge's task failed: {e}"))))?;
    Ok(fitted)
}
