//! The gate's learned layer: sentence embeddings from the local MiniLM
//! model (`crate::embed`), scored by a small trained head. Each message is
//! split into sentences; the riskiest sentence decides.

pub mod head;
pub mod train;
pub mod units;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use crate::embed::{EmbedError, EmbedWorker, Embedder, DIM};
use crate::safety::risk::{Layer, Risk, RiskKind, Tier};
use head::{Head, Thresholds};

/// Messages embedded together in one batch, at most.
const MAX_BATCH: usize = 64;

const HEAD_JSON: &str = include_str!("../../../data/gate/head.json");
const THRESHOLDS_TOML: &str = include_str!("../../../data/gate/classifier.toml");

// Both files are checked by unit tests, so a failure here is a build-time mistake.
static HEAD: LazyLock<Arc<Head>> = LazyLock::new(|| {
    Arc::new(Head::parse(HEAD_JSON, DIM).unwrap_or_else(|e| panic!("data/gate/head.json: {e}")))
});
static THRESHOLDS: LazyLock<Thresholds> = LazyLock::new(|| {
    toml::from_str(THRESHOLDS_TOML).unwrap_or_else(|e| panic!("data/gate/classifier.toml: {e}"))
});

/// Cheap to clone: the model lives on its own worker thread.
#[derive(Clone)]
pub struct Classifier {
    worker: EmbedWorker,
    head: Arc<Head>,
    thresholds: Thresholds,
}

impl Classifier {
    /// The committed head (`data/gate/head.json`).
    pub fn committed_head() -> Arc<Head> {
        HEAD.clone()
    }

    /// Loads the embedding model from `model_dir` with the committed head.
    pub fn load(model_dir: &Path) -> Result<Classifier, EmbedError> {
        let worker = EmbedWorker::spawn(Embedder::load(model_dir)?, MAX_BATCH);
        Ok(Classifier::new(worker, HEAD.clone(), *THRESHOLDS))
    }

    /// A classifier with another head or thresholds (training, validation).
    pub fn new(worker: EmbedWorker, head: Arc<Head>, thresholds: Thresholds) -> Classifier {
        Classifier {
            worker,
            head,
            thresholds,
        }
    }

    pub fn worker(&self) -> &EmbedWorker {
        &self.worker
    }

    /// The committed thresholds (`data/gate/classifier.toml`).
    pub fn committed_thresholds() -> Thresholds {
        *THRESHOLDS
    }

    /// One verdict per text; all their sentences go to the model in one batch.
    pub async fn assess_many(&self, texts: &[&str]) -> Result<Vec<Risk>, EmbedError> {
        let per_text: Vec<Vec<String>> = texts.iter().map(|t| units::units(t)).collect();
        let all: Vec<String> = per_text.iter().flatten().cloned().collect();
        let embeddings = if all.is_empty() {
            Vec::new()
        } else {
            self.worker.embed(all).await?
        };
        let mut embeddings = embeddings.into_iter();
        let risks = per_text
            .iter()
            .map(|units| {
                let probabilities: Vec<[f32; 5]> = embeddings
                    .by_ref()
                    .take(units.len())
                    .map(|e| self.head.probabilities(&e))
                    .collect();
                verdict(&self.thresholds, &probabilities)
            })
            .collect();
        Ok(risks)
    }
}

/// The riskiest unit decides; the score is the highest unit's.
pub fn verdict(thresholds: &Thresholds, units: &[[f32; 5]]) -> Risk {
    let (tier, score) = units
        .iter()
        .map(|p| thresholds.tier(p))
        .fold((Tier::None, 0f32), |(t, s), (ut, us)| (t.max(ut), s.max(us)));
    Risk {
        score: Some(score),
        ..Risk::from_layer(Layer::Classifier, tier, RiskKind::SelfRisk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_head_and_thresholds_parse() {
        assert_eq!(HEAD.weights.len(), head::Label::ALL.len());
        let t = Classifier::committed_thresholds();
        assert!(t.crisis > 0.0 && t.crisis <= 1.0);
        assert!(t.concern > 0.0 && t.concern <= 1.0);
        assert!(t.mention > 0.0 && t.mention <= 1.0);
    }
}
