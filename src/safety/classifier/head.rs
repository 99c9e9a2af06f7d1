//! The trained head over sentence embeddings: multinomial logistic
//! regression, small enough to commit (`data/gate/head.json`) and to read.
//! `coe-bot gate train` refits it from `data/gate/train/*.tsv`.

use serde::{Deserialize, Serialize};

use crate::safety::risk::Tier;

/// What the head predicts for one unit. `Distress` is kept apart from
/// `None` in training (pain without risk is the hardest look-alike), but
/// both are tier `none` at the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Crisis,
    Concern,
    Mention,
    Distress,
    None,
}

impl Label {
    pub const ALL: [Label; 5] = [
        Label::Crisis,
        Label::Concern,
        Label::Mention,
        Label::Distress,
        Label::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Crisis => "crisis",
            Label::Concern => "concern",
            Label::Mention => "mention",
            Label::Distress => "distress",
            Label::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Label> {
        Label::ALL.into_iter().find(|l| l.as_str() == s.trim())
    }

    pub fn tier(self) -> Tier {
        match self {
            Label::Crisis => Tier::Crisis,
            Label::Concern => Tier::Concern,
            Label::Mention => Tier::Mention,
            Label::Distress | Label::None => Tier::None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Weights and bias per label, in `Label::ALL` order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// SHA-256 of the training text it was fitted on (see `gate train`).
    pub training_sha256: String,
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("expected {labels} labels of {dim} weights each")]
    Shape { labels: usize, dim: usize },
}

impl Head {
    pub fn parse(src: &str, dim: usize) -> Result<Head, HeadError> {
        let head: Head = serde_json::from_str(src)?;
        let labels = Label::ALL.len();
        if head.weights.len() != labels
            || head.bias.len() != labels
            || head.weights.iter().any(|w| w.len() != dim)
        {
            return Err(HeadError::Shape { labels, dim });
        }
        Ok(head)
    }

    /// Probabilities per label (softmax), in `Label::ALL` order.
    pub fn probabilities(&self, embedding: &[f32]) -> [f32; 5] {
        let mut logits = [0f32; 5];
        for (logit, (w, b)) in logits.iter_mut().zip(self.weights.iter().zip(&self.bias)) {
            *logit = b + w.iter().zip(embedding).map(|(w, x)| w * x).sum::<f32>();
        }
        softmax(&mut logits);
        logits
    }
}

pub fn softmax(logits: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for l in logits.iter_mut() {
        *l = (*l - max).exp();
        sum += *l;
    }
    for l in logits.iter_mut() {
        *l /= sum;
    }
}

/// Per-unit decision thresholds, from the reviewable `data/gate/classifier.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// p(crisis) at or above this: `crisis`.
    pub crisis: f32,
    /// p(crisis) + p(concern) at or above this: `concern`.
    pub concern: f32,
    /// p(crisis) + p(concern) + p(mention) at or above this: `mention`.
    pub mention: f32,
}

impl Thresholds {
    /// The tier one unit's probabilities earn, and its risk score
    /// (p(crisis) + p(concern)), the figure moderators see.
    pub fn tier(&self, p: &[f32; 5]) -> (Tier, f32) {
        let crisis = p[Label::Crisis.index()];
        let risk = crisis + p[Label::Concern.index()];
        let tier = if crisis >= self.crisis {
            Tier::Crisis
        } else if risk >= self.concern {
            Tier::Concern
        } else if risk + p[Label::Mention.index()] >= self.mention {
            Tier::Mention
        } else {
            Tier::None
        };
        (tier, risk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_pick_the_tier_from_cumulative_probabilities() {
        let t = Thresholds {
            crisis: 0.5,
            concern: 0.4,
            mention: 0.5,
        };
        assert_eq!(t.tier(&[0.6, 0.1, 0.1, 0.1, 0.1]).0, Tier::Crisis);
        assert_eq!(t.tier(&[0.3, 0.2, 0.1, 0.2, 0.2]).0, Tier::Concern);
        assert_eq!(t.tier(&[0.1, 0.1, 0.4, 0.2, 0.2]).0, Tier::Mention);
        assert_eq!(t.tier(&[0.0, 0.1, 0.1, 0.4, 0.4]).0, Tier::None);
        let (_, score) = t.tier(&[0.25, 0.25, 0.0, 0.25, 0.25]);
        assert!((score - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_head_of_the_wrong_shape_is_rejected() {
        let head = r#"{"training_sha256":"x","weights":[[0.0,0.0]],"bias":[0.0]}"#;
        assert!(matches!(Head::parse(head, 2), Err(HeadError::Shape { .. })));
        assert!(Head::parse("{", 2).is_err());
    }
}
