//! The gate's learned layer: sentence embeddings from the local MiniLM
//! model (`crate::embed`), scored by nearest neighbours among the project's
//! own labelled training text (`bank`). Each message is split into
//! sentences; the riskiest sentence decides.

pub mod bank;
pub mod head;
pub mod units;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use crate::embed::{EmbedError, EmbedWorker, Embedder};
use crate::safety::risk::{Layer, Risk, RiskKind, Tier};
use bank::Bank;
use head::Thresholds;

/// Messages embedded together in one batch, at most.
const MAX_BATCH: usize = 64;

const THRESHOLDS_TOML: &str = include_str!("../../../data/gate/classifier.toml");

// Checked by a unit test, so a failure here is a build-time mistake.
static THRESHOLDS: LazyLock<Thresholds> = LazyLock::new(|| {
    toml::from_str(THRESHOLDS_TOML).unwrap_or_else(|e| panic!("data/gate/classifier.toml: {e}"))
});

/// Cheap to clone: the model lives on its own worker thread.
#[derive(Clone)]
pub struct Classifier {
    worker: EmbedWorker,
    bank: Arc<Bank>,
    thresholds: Thresholds,
}

impl Classifier {
    /// Loads the embedding model from `model_dir` and the bank of embedded
    /// training text (built and cached there on first use).
    pub fn load(model_dir: &Path) -> Result<Classifier, EmbedError> {
        let embedder = Embedder::load(model_dir)?;
        let bank = Arc::new(Bank::load_or_build(&embedder, model_dir)?);
        Ok(Classifier {
            worker: EmbedWorker::spawn(embedder, MAX_BATCH),
            bank,
            thresholds: *THRESHOLDS,
        })
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
        // The neighbour search is a few milliseconds of CPU per sentence:
        // off the async runtime too, like the embedding itself.
        let bank = self.bank.clone();
        let thresholds = self.thresholds;
        let lengths: Vec<usize> = per_text.iter().map(Vec::len).collect();
        let scored = tokio::task::spawn_blocking(move || {
            let mut embeddings = embeddings.into_iter();
            lengths
                .iter()
                .map(|&n| {
                    let probabilities: Vec<[f32; 5]> = embeddings
                        .by_ref()
                        .take(n)
                        .map(|e| bank.probabilities(&e))
                        .collect();
                    verdict(&thresholds, &probabilities)
                })
                .collect::<Vec<Risk>>()
        });
        let risks = scored
            .await
            .map_err(|e| EmbedError::Inference(format!("neighbour search: {e}")))?;
        Ok(risks)
    }
}

/// The riskiest unit decides; the score is the highest unit's (none when
/// the message was too short to score).
pub fn verdict(thresholds: &Thresholds, units: &[[f32; 5]]) -> Risk {
    let scored = units.iter().map(|p| thresholds.tier(p));
    let tier = scored.clone().map(|(t, _)| t).max().unwrap_or(Tier::None);
    let score = scored.map(|(_, s)| s).reduce(f32::max);
    Risk {
        score,
        ..Risk::from_layer(Layer::Classifier, tier, RiskKind::SelfRisk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_thresholds_parse() {
        let t = Classifier::committed_thresholds();
        assert!(t.crisis > 0.0 && t.crisis <= 1.0);
        assert!(t.concern > 0.0 && t.concern <= 1.0);
        assert!(t.mention > 0.0 && t.mention <= 1.0);
    }
}
