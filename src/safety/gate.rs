//! The safety gate: every layer proposes a tier and the highest wins.
//! Patterns are reviewed rules (`data/crisis_patterns.toml`); the
//! classifier catches wording nobody wrote down. The optional model screen
//! runs later, beside the chain (see `pipeline`).

use crate::safety::classifier::Classifier;
use crate::safety::crisis;
use crate::safety::risk::{Risk, Tier};
use crate::telemetry;

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

    pub async fn assess(&self, text: &str) -> Risk {
        self.assess_many(&[text]).await.remove(0)
    }

    /// One verdict per text, the classifier's work batched; each verdict
    /// is counted by tier for the metrics.
    pub async fn assess_many(&self, texts: &[&str]) -> Vec<Risk> {
        let verdicts = self.verdicts(texts).await;
        for verdict in &verdicts {
            telemetry::gate_tier(verdict.tier.as_str());
        }
        verdicts
    }

    /// Verdicts on texts that are no member's message (what the model
    /// wrote, a supporter's draft): the same layers, left out of the
    /// metrics, which count members' messages.
    pub async fn assess_other(&self, texts: &[&str]) -> Vec<Risk> {
        self.verdicts(texts).await
    }

    /// Texts the patterns already call a crisis skip the classifier:
    /// nothing can rank above them, and the model is the costly part.
    async fn verdicts(&self, texts: &[&str]) -> Vec<Risk> {
        let patterns: Vec<Risk> = texts.iter().map(|t| crisis::assess(t)).collect();
        let Some(classifier) = &self.classifier else {
            return patterns;
        };
        let open: Vec<&str> = texts
            .iter()
            .zip(&patterns)
            .filter(|(_, p)| p.tier < Tier::Crisis)
            .map(|(t, _)| *t)
            .collect();
        let learned = match classifier.assess_many(&open).await {
            Ok(learned) => learned,
            Err(error) => {
                // The patterns still stand; a broken classifier must be fixed.
                tracing::error!(%error, "crisis classifier failed; patterns only for this message");
                return patterns;
            }
        };
        let mut learned = learned.into_iter();
        patterns
            .into_iter()
            .map(|p| match p.tier {
                Tier::Crisis => p,
                _ => learned.next().map_or(p, |l| p.max(l)),
            })
            .collect()
    }
}
