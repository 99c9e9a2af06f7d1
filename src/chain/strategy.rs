//! The three empathy mechanisms of EPITOME (Sharma et al., 2020) and the
//! therapy models a reply can reason with.

use serde::{Deserialize, Serialize};
use std::fmt;

/// EPITOME's empathy mechanisms. A reply names exactly one; anything the
/// model says that is not one of these is recorded as unknown (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    EmotionalReaction,
    Exploration,
    Interpretation,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::EmotionalReaction,
        Strategy::Exploration,
        Strategy::Interpretation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::EmotionalReaction => "emotional_reaction",
            Strategy::Exploration => "exploration",
            Strategy::Interpretation => "interpretation",
        }
    }

    /// Position in [`Strategy::ALL`], for confusion matrices and counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Tolerant reading of a model's label: any case, spaces, hyphens or
    /// plurals ("Emotional Reactions", "EXPLORATION", "interpret").
    pub fn parse_label(label: &str) -> Option<Strategy> {
        let norm: String = label
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match norm.as_str() {
            "emotionalreaction" | "emotionalreactions" | "emotional" | "er" => {
                Some(Strategy::EmotionalReaction)
            }
            "exploration" | "explorations" | "explore" | "ex" => Some(Strategy::Exploration),
            "interpretation" | "interpretations" | "interpret" | "ip" => {
                Some(Strategy::Interpretation)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The psychotherapy model the chain reasons with; `Base` does no reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Therapy {
    Base,
    Cbt,
    Dbt,
    Pct,
    Rt,
}

impl Therapy {
    pub const ALL: [Therapy; 5] = [
        Therapy::Base,
        Therapy::Cbt,
        Therapy::Dbt,
        Therapy::Pct,
        Therapy::Rt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Therapy::Base => "base",
            Therapy::Cbt => "cbt",
            Therapy::Dbt => "dbt",
            Therapy::Pct => "pct",
            Therapy::Rt => "rt",
        }
    }
}

impl fmt::Display for Therapy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Therapy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Therapy::ALL
            .into_iter()
            .find(|t| t.as_str() == lower)
            .ok_or_else(|| format!("unknown therapy '{s}'; choose one of base, cbt, dbt, pct, rt"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_read_tolerantly() {
        assert_eq!(
            Strategy::parse_label("Emotional Reaction"),
            Some(Strategy::EmotionalReaction)
        );
        assert_eq!(
            Strategy::parse_label("EXPLORATION"),
            Some(Strategy::Exploration)
        );
        assert_eq!(
            Strategy::parse_label("interpretations"),
            Some(Strategy::Interpretation)
        );
        assert_eq!(Strategy::parse_label("advice"), None);
        assert_eq!(Strategy::parse_label(""), None);
    }

    #[test]
    fn therapies_parse_from_their_names() {
        assert_eq!("CBT".parse::<Therapy>(), Ok(Therapy::Cbt));
        assert!("freud".parse::<Therapy>().is_err());
    }
}
