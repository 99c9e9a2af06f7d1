//! The classifier's head: distance-weighted nearest neighbours over the
//! embeddings of the project's own training text (`data/gate/train/`).
//! Chosen by measurement over logistic regression (see data/gate/README.md):
//! on real posts it caught more crises at the same false-alarm rate, and a
//! near-copy of a hard negative ("kill the lights") stays near its twin.
//!
//! Nothing trained is committed: the bank is the embedded training text.
//! It is built once per training text and model (about 20 s on two cores)
//! and cached beside the model files, keyed by the text's SHA-256.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::head::Label;
use crate::embed::cache::{read_vectors, write_vectors};
use crate::embed::{EmbedError, Embedder, DIM};

/// Neighbours that vote on each unit.
pub const K: usize = 20;

/// The training files, compiled in so the bot and its bank always agree.
/// `cargo test` checks that every `.tsv` in the folder is listed here.
pub const TRAINING_FILES: [(&str, &str); 9] = [
    (
        "concern.tsv",
        include_str!("../../../data/gate/train/concern.tsv"),
    ),
    (
        "concern_posts.tsv",
        include_str!("../../../data/gate/train/concern_posts.tsv"),
    ),
    (
        "crisis.tsv",
        include_str!("../../../data/gate/train/crisis.tsv"),
    ),
    (
        "crisis_posts.tsv",
        include_str!("../../../data/gate/train/crisis_posts.tsv"),
    ),
    (
        "distress.tsv",
        include_str!("../../../data/gate/train/distress.tsv"),
    ),
    (
        "distress_posts.tsv",
        include_str!("../../../data/gate/train/distress_posts.tsv"),
    ),
    (
        "idioms.tsv",
        include_str!("../../../data/gate/train/idioms.tsv"),
    ),
    (
        "mention.tsv",
        include_str!("../../../data/gate/train/mention.tsv"),
    ),
    (
        "none.tsv",
        include_str!("../../../data/gate/train/none.tsv"),
    ),
];

/// Embedded training units and their labels.
pub struct Bank {
    labels: Vec<Label>,
    /// `labels.len()` rows of `DIM` floats, unit length.
    vectors: Vec<f32>,
}

/// One training unit: its label and text.
pub struct Unit {
    pub label: Label,
    pub text: &'static str,
}

/// Every `label<TAB>text` line of the training files. The files are
/// checked by unit tests, so a bad line is a build-time mistake.
pub fn training_units() -> Vec<Unit> {
    let mut units = Vec::new();
    for (file, text) in TRAINING_FILES {
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = line
                .split_once('\t')
                .and_then(|(label, unit)| Some((Label::parse(label)?, unit.trim())));
            let Some((label, text)) = parsed else {
                panic!("data/gate/train/{file}:{}: expected label<TAB>text", n + 1);
            };
            units.push(Unit { label, text });
        }
    }
    units
}

/// SHA-256 of the training text, which names the cached bank.
pub fn training_sha256() -> String {
    let mut hasher = Sha256::new();
    for (file, text) in TRAINING_FILES {
        hasher.update(file.as_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

impl Bank {
    /// The cached bank beside the model, or a new one (then cached, when
    /// the folder is writable; a read-only image just rebuilds at start).
    pub fn load_or_build(embedder: &Embedder, model_dir: &Path) -> Result<Bank, EmbedError> {
        let units = training_units();
        let labels: Vec<Label> = units.iter().map(|u| u.label).collect();
        let cache = cache_path(model_dir);
        if let Some(vectors) = read_vectors(&cache, labels.len()) {
            return Ok(Bank { labels, vectors });
        }
        tracing::info!(
            units = units.len(),
            "building the crisis classifier's bank (once)"
        );
        let texts: Vec<&str> = units.iter().map(|u| u.text).collect();
        let mut vectors = Vec::with_capacity(texts.len() * DIM);
        for chunk in texts.chunks(64) {
            vectors.extend(embedder.embed(chunk)?.into_iter().flatten());
        }
        write_vectors(&cache, &vectors);
        Ok(Bank { labels, vectors })
    }

    /// Probabilities per label (in `Label::ALL` order) from the votes of
    /// the `K` most similar units, each weighted by 1 / cosine distance; an
    /// exact match decides alone.
    pub fn probabilities(&self, embedding: &[f32]) -> [f32; 5] {
        let mut nearest: Vec<(f32, Label)> = self
            .vectors
            .chunks_exact(DIM)
            .zip(&self.labels)
            .map(|(v, &label)| (1.0 - dot(v, embedding), label))
            .collect();
        let k = K.min(nearest.len());
        if k == 0 {
            return [0.0, 0.0, 0.0, 0.0, 1.0];
        }
        nearest.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        let nearest = &nearest[..k];
        let mut votes = [0f32; 5];
        if let Some((_, label)) = nearest.iter().find(|(d, _)| *d <= 1e-6) {
            votes[label.index()] = 1.0;
            return votes;
        }
        for (distance, label) in nearest {
            votes[label.index()] += 1.0 / distance;
        }
        let total: f32 = votes.iter().sum();
        votes.map(|v| v / total)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn cache_path(model_dir: &Path) -> PathBuf {
    model_dir.join(format!("gate-bank-{}.f32", &training_sha256()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_training_file_is_listed_and_well_formed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/gate/train");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".tsv"))
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = TRAINING_FILES.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            on_disk, listed,
            "list every data/gate/train/*.tsv in TRAINING_FILES"
        );
        let units = training_units();
        assert!(units.len() >= 3_000, "only {} training units", units.len());
        for label in Label::ALL {
            let n = units.iter().filter(|u| u.label == label).count();
            assert!(n >= 250, "only {n} {} units", label.as_str());
        }
    }

    #[test]
    fn votes_follow_the_nearest_units() {
        let axis = |i: usize| {
            let mut v = vec![0f32; DIM];
            v[i] = 1.0;
            v
        };
        let (crisis, none) = (axis(0), axis(1));
        let bank = Bank {
            labels: vec![Label::Crisis, Label::None],
            vectors: [crisis.clone(), none].concat(),
        };
        assert_eq!(bank.probabilities(&crisis), [1.0, 0.0, 0.0, 0.0, 0.0]);
        let mut between = vec![0f32; DIM];
        between[0] = 0.8;
        between[1] = 0.6;
        let p = bank.probabilities(&between);
        assert!(p[Label::Crisis.index()] > p[Label::None.index()]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
