//! The judge's training examples: the embedded human responses of the
//! dataset's labelled pairs, minus the reserved half of EPITOME.
//!
//! Embedding is the slow part (about 2,000 responses for EPITOME), so the
//! vectors are cached beside the embedding model, keyed by the dataset's
//! SHA-256 and the tie rule; the ids and labels are re-read from the data.

use crate::chain::Strategy;
use crate::embed::cache::{read_vectors, write_vectors};
use crate::embed::{EmbedError, Embedder, DIM};
use crate::eval::dataset::{DatasetError, Index, TieRule};
use crate::eval::slices::{is_reserved, sha256_prefix};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Most labelled pairs considered for training. A dataset far larger than
/// EPITOME is thinned to about this many (by a hash of the item id), so
/// the judge's memory and embedding time do not grow with the dataset.
pub const MAX_CANDIDATES: usize = 8_000;

/// Responses embedded per call.
const BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the strategy judge's embedding model failed: {0}")]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("the strategy judge needs at least {needed} human responses of each strategy to train on (this dataset has ER {}, EX {}, IP {} outside EPITOME's reserved half): use a larger dataset or --judge off", per_strategy[0], per_strategy[1], per_strategy[2])]
    TooFewExamples {
        per_strategy: [usize; 3],
        needed: usize,
    },
    #[error("the strategy judge could not be fitted: {0}")]
    Fit(String),
}

/// Labelled, embedded human responses, in dataset order.
pub struct Examples {
    pub seeker_ids: Vec<String>,
    pub labels: Vec<Strategy>,
    /// `labels.len()` rows of `DIM` floats.
    pub(super) vectors: Vec<f32>,
    /// Labelled pairs left out as the reserved half of EPITOME.
    pub reserved_excluded: usize,
}

impl Examples {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * DIM..(i + 1) * DIM]
    }

    /// Builds from memory: the test fixtures of the judge.
    pub fn from_parts(seeker_ids: Vec<String>, labels: Vec<Strategy>, vectors: Vec<f32>) -> Self {
        assert_eq!(vectors.len(), labels.len() * DIM);
        Examples {
            seeker_ids,
            labels,
            vectors,
            reserved_excluded: 0,
        }
    }

    /// Reads the labelled pairs of `index` (EPITOME's reserved half left
    /// out when `epitome`), with the embeddings of their human responses
    /// from the cache in `cache_dir` when it holds them, else computed (and
    /// then cached). The cache file is named by `cache_key` (the data and
    /// model, see [`cache_key`]) and by the ids and labels read, so vectors
    /// can never be paired with other examples. Blocking: run it off the
    /// async runtime.
    pub fn load(
        index: &Index,
        epitome: bool,
        embedder: &Embedder,
        (cache_dir, cache_key): (&Path, &str),
        progress: &ProgressBar,
    ) -> Result<Examples, JudgeError> {
        let mut examples = Self::read(index, epitome, None, progress)?;
        let cache = cache_dir.join(format!("judge-{}.f32", examples.digest(cache_key)));
        let cache = cache.as_path();
        if let Some(vectors) = read_vectors(cache, examples.len()) {
            examples.vectors = vectors;
            return Ok(examples);
        }
        progress.set_length(examples.len() as u64);
        let examples = Self::read(index, epitome, Some(embedder), progress)?;
        write_vectors(cache, &examples.vectors);
        Ok(examples)
    }

    /// One pass over the data; embeds the responses when given a model.
    fn read(
        index: &Index,
        epitome: bool,
        embedder: Option<&Embedder>,
        progress: &ProgressBar,
    ) -> Result<Examples, JudgeError> {
        let keep_one_in = index.stats().items.div_ceil(MAX_CANDIDATES).max(1);
        let mut examples = Examples::from_parts(Vec::new(), Vec::new(), Vec::new());
        let mut batch: Vec<String> = Vec::with_capacity(BATCH);
        for scanned in index.stream()? {
            let item = scanned?.item;
            if epitome && is_reserved(&item.seeker_id) {
                examples.reserved_excluded += 1;
                continue;
            }
            if !kept(&item.item_id, keep_one_in) {
                continue;
            }
            examples.seeker_ids.push(item.seeker_id);
            examples.labels.push(item.gold);
            if let Some(embedder) = embedder {
                batch.push(item.response_post);
                if batch.len() == BATCH {
                    examples.add_vectors(embedder, &mut batch, progress)?;
                }
            }
        }
        if let Some(embedder) = embedder {
            examples.add_vectors(embedder, &mut batch, progress)?;
        }
        Ok(examples)
    }

    /// 16 hex digits over `key` and the examples' ids and labels.
    fn digest(&self, key: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(key.as_bytes());
        for (id, label) in self.seeker_ids.iter().zip(&self.labels) {
            hasher.update(id.as_bytes());
            hasher.update([0, label.index() as u8]);
        }
        hex::encode(&hasher.finalize()[..8])
    }

    fn add_vectors(
        &mut self,
        embedder: &Embedder,
        batch: &mut Vec<String>,
        progress: &ProgressBar,
    ) -> Result<(), JudgeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = batch.iter().map(String::as_str).collect();
        for vector in embed_in_parallel(embedder, &texts)? {
            self.vectors.extend(vector);
        }
        progress.inc(batch.len() as u64);
        batch.clear();
        Ok(())
    }
}

/// Embeds `texts` split across the machine's cores: one forward pass runs
/// on about one core (measured: 80 s of CPU in 118 s of wall time for
/// EPITOME's 1,058 eligible responses), so the slices run side by side.
/// The model is shared read-only; the vectors come back in input order.
fn embed_in_parallel(embedder: &Embedder, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slice = texts.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = texts
            .chunks(slice)
            .map(|chunk| scope.spawn(move || embedder.embed(chunk)))
            .collect();
        let mut vectors = Vec::with_capacity(texts.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| EmbedError::Inference("an embedding thread panicked".into()))?;
            vectors.extend(part?);
        }
        Ok(vectors)
    })
}

/// What names the cached examples of a dataset under a tie rule: its
/// digest, the rule, and the embedding model's weights file (size and
/// modification time), so vectors of another model are never reused.
pub fn cache_key(model_dir: &Path, dataset_sha256: &str, ties: &TieRule) -> String {
    let weights = std::fs::metadata(model_dir.join(crate::embed::WEIGHTS_FILE));
    let stamp = weights.map_or_else(
        |_| "unknown".to_string(),
        |m| format!("{}:{:?}", m.len(), m.modified().ok()),
    );
    format!("judge-examples-v1\n{dataset_sha256}\n{ties}\n{stamp}")
}

/// Whether an item is among the candidates: all of them unless the dataset
/// has more than [`MAX_CANDIDATES`] labelled pairs.
fn kept(item_id: &str, keep_one_in: usize) -> bool {
    if keep_one_in == 1 {
        return true;
    }
    sha256_prefix(&[item_id.as_bytes()]).is_multiple_of(keep_one_in as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::dataset::scan;
    use crate::eval::synthetic;

    #[test]
    fn the_reserved_half_never_reaches_the_examples() {
        let dir = tempfile::tempdir().unwrap();
        synthetic::write_epitome(dir.path(), 400);
        let index = scan(dir.path(), &TieRule::Exclude, None, None).unwrap();
        let progress = ProgressBar::hidden();
        let examples = Examples::read(&index, true, None, &progress).unwrap();
        assert!(
            examples.reserved_excluded > 50,
            "{}",
            examples.reserved_excluded
        );
        assert_eq!(
            examples.len() + examples.reserved_excluded,
            index.stats().items
        );
        assert!(examples.seeker_ids.iter().all(|id| !is_reserved(id)));
        // A simple CSV has no reserved half.
        let all = Examples::read(&index, false, None, &progress).unwrap();
        assert_eq!((all.len(), all.reserved_excluded), (index.stats().items, 0));
    }

    #[test]
    fn the_cache_name_follows_the_examples_read() {
        let a = Examples::from_parts(
            vec!["s1".into()],
            vec![Strategy::Exploration],
            vec![0.0; DIM],
        );
        let b = Examples::from_parts(
            vec!["s1".into()],
            vec![Strategy::Interpretation],
            vec![0.0; DIM],
        );
        assert_ne!(a.digest("k"), b.digest("k"));
        assert_ne!(a.digest("k"), a.digest("other model"));
        assert_eq!(a.digest("k"), a.digest("k"));
    }
}
