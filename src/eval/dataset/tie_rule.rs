//! The rule that gives a gold label to EPITOME pairs whose mechanisms tie.

use crate::chain::Strategy;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// How a pair whose highest level is shared by several mechanisms gets a
/// gold label. Pairs with every level at 0 are excluded under any rule:
/// the human response shows no mechanism, so there is nothing to match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TieRule {
    /// Drop tied pairs (`exclude`).
    #[default]
    Exclude,
    /// The first strategy of this order among the tied ones wins
    /// (`order:ip,er,ex`).
    Order([Strategy; 3]),
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid tie rule `{input}`: {reason}; use `exclude` or `order:` followed by er, ex, ip each once, e.g. `order:ip,er,ex`")]
pub struct TieRuleError {
    input: String,
    reason: String,
}

fn abbrev(s: Strategy) -> &'static str {
    match s {
        Strategy::EmotionalReaction => "er",
        Strategy::Exploration => "ex",
        Strategy::Interpretation => "ip",
    }
}

impl fmt::Display for TieRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TieRule::Exclude => f.write_str("exclude"),
            TieRule::Order(order) => {
                let names: Vec<&str> = order.iter().map(|s| abbrev(*s)).collect();
                write!(f, "order:{}", names.join(","))
            }
        }
    }
}

impl FromStr for TieRule {
    type Err = TieRuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| TieRuleError {
            input: s.to_string(),
            reason,
        };
        let lower = s.trim().to_ascii_lowercase();
        if lower == "exclude" {
            return Ok(TieRule::Exclude);
        }
        let list = lower
            .strip_prefix("order:")
            .ok_or_else(|| err("unknown rule".into()))?;
        let mut order = Vec::with_capacity(3);
        for part in list.split(',') {
            let strategy = Strategy::parse_label(part)
                .ok_or_else(|| err(format!("`{}` is not er, ex or ip", part.trim())))?;
            if order.contains(&strategy) {
                return Err(err(format!("{} appears twice", abbrev(strategy))));
            }
            order.push(strategy);
        }
        let order: [Strategy; 3] = order
            .try_into()
            .map_err(|_| err("all three strategies are required".into()))?;
        Ok(TieRule::Order(order))
    }
}

impl From<TieRule> for String {
    fn from(rule: TieRule) -> String {
        rule.to_string()
    }
}

impl TryFrom<String> for TieRule {
    type Error = TieRuleError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
