//! The gate's verdict, shared by every front door: a risk tier, whose risk
//! it is, and which layer decided (for moderators and logs; never the text).

use serde::{Deserialize, Serialize};

/// How much safety care a message needs. Ordered: a higher tier wins.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Nothing about suicide or self-harm.
    #[default]
    None,
    /// Suicide or self-harm discussed, not as a current risk: a support line.
    Mention,
    /// No explicit statement, but a peer supporter would check in: the model
    /// replies, then a fixed check-in with helplines; a low-urgency notice.
    Concern,
    /// Current or recent risk: the fixed reply and helplines, a moderator
    /// alert, and no model text at all.
    Crisis,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::None, Tier::Mention, Tier::Concern, Tier::Crisis];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::None => "none",
            Tier::Mention => "mention",
            Tier::Concern => "concern",
            Tier::Crisis => "crisis",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    /// One tier lower, never below `mention`: hedges, negation, past tense
    /// and reported speech soften strong words, they do not erase them.
    pub fn softened(self) -> Tier {
        match self {
            Tier::Crisis => Tier::Concern,
            Tier::Concern | Tier::Mention | Tier::None => self.min(Tier::Mention),
        }
    }

    /// Whether the member is shown helplines with the reply.
    pub fn shows_helplines(self) -> bool {
        self >= Tier::Concern
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose risk it is; decides which fixed crisis reply is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    #[default]
    SelfRisk,
    OtherPerson,
    DangerToOthers,
}

impl RiskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskKind::SelfRisk => "self_risk",
            RiskKind::OtherPerson => "other_person",
            RiskKind::DangerToOthers => "danger_to_others",
        }
    }

    /// Lower wins when one message matches several kinds at the same tier.
    pub(crate) fn rank(self) -> u8 {
        match self {
            RiskKind::SelfRisk => 0,
            RiskKind::DangerToOthers => 1,
            RiskKind::OtherPerson => 2,
        }
    }
}

/// Which layer of the gate proposed the winning tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The reviewed pattern file, `data/crisis_patterns.toml`.
    Patterns,
    /// The embedding classifier, `data/gate/`.
    Classifier,
    /// The optional model screen (`COE_CRISIS_LLM=on`).
    ModelScreen,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Patterns => "patterns",
            Layer::Classifier => "classifier",
            Layer::ModelScreen => "model_screen",
        }
    }
}

/// One message's verdict. Holds no text: safe to log and to store.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Risk {
    pub tier: Tier,
    pub kind: RiskKind,
    /// The layer that set `tier`; `None` when every layer said `none`.
    pub layer: Option<Layer>,
    /// The pattern rule that fired, when the patterns decided.
    pub rule_id: Option<&'static str>,
    /// The classifier's risk score (0–1) of the riskiest sentence, when it ran.
    pub score: Option<f32>,
}

impl Risk {
    pub fn from_layer(layer: Layer, tier: Tier, kind: RiskKind) -> Risk {
        Risk {
            tier,
            kind,
            layer: (tier > Tier::None).then_some(layer),
            rule_id: None,
            score: None,
        }
    }

    /// The highest tier of two layers' verdicts wins; on a tie the earlier
    /// one (`self`) keeps its reasons. A kind the patterns named at concern
    /// or above is kept when a layer that cannot tell kinds apart raises
    /// the tier.
    pub fn max(self, other: Risk) -> Risk {
        let score = self.score.or(other.score);
        let (mut winner, loser) = if other.tier > self.tier {
            (other, self)
        } else {
            (self, other)
        };
        // Only a kind the patterns stand behind (a concern or more): a
        // mention of someone else must not turn the writer's crisis reply
        // into advice about another person.
        if winner.layer != Some(Layer::Patterns)
            && loser.layer == Some(Layer::Patterns)
            && loser.tier >= Tier::Concern
        {
            winner.kind = loser.kind;
        }
        winner.score = score;
        winner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_order_soften_and_parse() {
        assert!(Tier::Crisis > Tier::Concern && Tier::Concern > Tier::Mention);
        assert_eq!(Tier::Crisis.softened(), Tier::Concern);
        assert_eq!(Tier::Concern.softened(), Tier::Mention);
        assert_eq!(Tier::Mention.softened(), Tier::Mention);
        assert_eq!(Tier::None.softened(), Tier::None);
        for tier in Tier::ALL {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        }
        assert_eq!(Tier::parse("high"), None);
        assert!(Tier::Concern.shows_helplines() && !Tier::Mention.shows_helplines());
    }

    #[test]
    fn the_highest_tier_wins_and_keeps_the_patterns_kind() {
        let patterns = Risk {
            rule_id: Some("other.says_die"),
            ..Risk::from_layer(Layer::Patterns, Tier::Concern, RiskKind::OtherPerson)
        };
        let classifier = Risk {
            score: Some(0.97),
            ..Risk::from_layer(Layer::Classifier, Tier::Crisis, RiskKind::SelfRisk)
        };
        let both = patterns.max(classifier);
        assert_eq!(both.tier, Tier::Crisis);
        assert_eq!(both.layer, Some(Layer::Classifier));
        assert_eq!(both.kind, RiskKind::OtherPerson);
        assert_eq!(both.score, Some(0.97));
        let tie = patterns.max(Risk::from_layer(
            Layer::Classifier,
            Tier::Concern,
            RiskKind::SelfRisk,
        ));
        assert_eq!(tie.layer, Some(Layer::Patterns));
        assert_eq!(tie.rule_id, Some("other.says_die"));
        assert_eq!(Risk::default().max(Risk::default()).layer, None);
        let news = Risk::from_layer(Layer::Patterns, Tier::Mention, RiskKind::OtherPerson);
        assert_eq!(news.max(classifier).kind, RiskKind::SelfRisk);
    }
}
