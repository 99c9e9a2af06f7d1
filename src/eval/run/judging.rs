//! Fitting the run's strategy judge, off the async runtime.

use super::{EvalError, JudgeSetup};
use crate::embed::Embedder;
use crate::eval::dataset::Index;
use crate::eval::judge::{cache_key, Examples, Judge, JudgeError, JudgeQuality};
use crate::eval::metrics::DEFAULT_RESAMPLES;
use crate::eval::report::RunInfo;
use crate::eval::scoring::ReplyJudge;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Loads the embedding model, embeds the human responses (or reads them
/// from the cache) and fits the judge, with a progress bar. Under
/// `--judge auto` a judge that cannot be fitted (a small dataset, say) is
/// reported and the run goes on without it; under `--judge embed` it stops
/// the run before any model call.
pub(super) async fn fit(
    index: Arc<Index>,
    info: &RunInfo,
    setup: &JudgeSetup,
    seed: u64,
    show_progress: bool,
) -> Result<Option<(ReplyJudge, JudgeQuality)>, EvalError> {
    let epitome = Path::new(&info.dataset_path).is_dir();
    let (dataset_sha256, ties) = (info.dataset_sha256.clone(), info.tie_rule.clone());
    let model_dir = setup.model_dir.clone();
    let progress = progress_bar(show_progress);
    let task = tokio::task::spawn_blocking(move || {
        let embedder = Embedder::load(&model_dir)?;
        let key = cache_key(&model_dir, &dataset_sha256, &ties);
        let examples = Examples::load(&index, epitome, &embedder, (&model_dir, &key), &progress)?;
        progress.finish_and_clear();
        let evaluated: HashSet<String> = index
            .selected()?
            .map(|item| item.map(|i| i.seeker_id))
            .collect::<Result<_, _>>()?;
        let (judge, quality) = Judge::train(&examples, &evaluated, seed, DEFAULT_RESAMPLES)?;
        Ok::<_, JudgeError>((ReplyJudge::new(judge, embedder), quality))
    });
    let fitted = task
        .await
        .unwrap_or_else(|e| Err(JudgeError::Fit(format!("its task stopped: {e}"))));
    match fitted {
        Ok(fitted) => Ok(Some(fitted)),
        Err(error) if !setup.required => {
            tracing::warn!(%error, "the strategy judge is off for this run");
            eprintln!("coe-bot: the strategy judge is off for this run: {error}");
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

fn progress_bar(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} human responses embedded for the judge · ETA {eta}",
        )
        .expect("valid template"),
    );
    bar
}
