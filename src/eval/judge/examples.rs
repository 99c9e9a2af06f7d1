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
use crate::eval::slices::is_reserved;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Most labelled pairs considered for training. A dataset far larger than
/// EPITOME is thinned to about this many (by a hash of the item id), so
/// the judge's memory and embedding time do not grow with the dataset.
pub const MAX_CANDIDATES: usize = 8_000;

/// Responses embedded per call.
const BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the strategy judge cannot load its model: {0}")]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("the strategy judge needs at least {needed} human responses of each strategy outside the evaluated posts (has ER {}, EX {}, IP {}): use a larger dataset or --judge off", per_strategy[0], per_strategy[1], per_strategy[2])]
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
    vectors: Vec<f32>,
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
    /// from `cache` when it holds them, else computed (and then cached).
    /// Blocking: run it off the async runtime.
    pub fn load(
        index: &Index,
        epitome: bool,
        embedder: &Embedder,
        cache: &Path,
        progress: &ProgressBar,
    ) -> Result<Examples, JudgeError> {
        let mut examples = Self::read(index, epitome, None, progress)?;
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
        for vector in embedder.embed(&texts)? {
            self.vectors.extend(vector);
        }
        progress.inc(batch.len() as u64);
        batch.clear();
        Ok(())
    }
}

/// Where the examples of a dataset under a tie rule are cached: beside
/// the embedding model, so another model never reads these vectors.
pub fn cache_path(model_dir: &Path, dataset_sha256: &str, ties: &TieRule) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(b"judge-examples-v1\n");
    hasher.update(dataset_sha256.as_bytes());
    hasher.update(ties.to_string().as_bytes());
    model_dir.join(format!(
        "judge-{}.f32",
        hex::encode(&hasher.finalize()[..8])
    ))
}

/// Whether an item is among the candidates: all of them unless the dataset
/// has more than [`MAX_CANDIDATES`] labelled pairs.
fn kept(item_id: &str, keep_one_in: usize) -> bool {
    if keep_one_in == 1 {
        return true;
    }
    let digest = Sha256::digest(item_id.as_bytes());
    let prefix = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    prefix % keep_one_in as u64 == 0
}
