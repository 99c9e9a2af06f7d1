//! What the classifier predicts for one unit, and how probabilities become
//! a tier (`data/gate/classifier.toml`).

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
        // No separate "leaning to crisis" rule: measured, a unit with most
        // but not nearly all of its votes on crisis is far more often an
        // idiom ("i could murder a coffee") than a risk (data/gate/README.md).
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
}
