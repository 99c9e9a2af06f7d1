//! The safety gate: every layer proposes a tier and the highest wins.
//! Patterns are reviewed rules (`data/crisis_patterns.toml`); the
//! classifier catches wording nobody wrote down. The optional model screen
//! runs later, beside the chain (see `pipeline`).

use crate::safety::classifier::Classifier;
use crate::safety::crisis;
use crate::safety::risk::Risk;

/// Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    classifier: Option<Classifier>,
}

impl Gate {
    pub fn new(classifier: Classifier) -> Gate {
        Gate {
            classifier: Some(classifier),
        }
    }

    /// Patterns only: for `COE_CRISIS_CLASSIFIER=off`, which the operator
    /// must choose explicitly (a warning is logged at every start).
    pub fn patterns_only() -> Gate {
        Gate { classifier: None }
    }

    pub fn has_classifier(&self) -> bool {
        self.classifier.is_some()
    }

    pub async fn assess(&self, text: &str) -> Risk {
        self.assess_many(&[text]).await.remove(0)
    }

    /// One verdict per text, the classifier's work batched.
    pub async fn assess_many(&self, texts: &[&str]) -> Vec<Risk> {
        let patterns = texts.iter().map(|t| crisis::assess(t));
        let Some(classifier) = &self.classifier else {
            return patterns.collect();
        };
        match classifier.assess_many(texts).await {
            Ok(learned) => patterns.zip(learned).map(|(p, l)| p.max(l)).collect(),
            Err(error) => {
                // The patterns still stand; a broken classifier must be fixed.
                tracing::error!(%error, "crisis classifier failed; patterns only for this message");
                patterns.collect()
            }
        }
    }
}
