//! Safety across turns: a member's answer to the bot's own safety question
//! is judged together with the question. "yes" alone says nothing to the
//! patterns or the classifier, but after "are you having thoughts of ending
//! your life?" it is a disclosure.

use std::sync::LazyLock;

use regex::Regex;

use crate::chain::Turn;
use crate::safety::crisis;
use crate::safety::helplines::{answers_risk, is_check_in};
use crate::safety::risk::{Layer, Risk, RiskKind, Tier};

/// Short answers that say yes, or not no, to the check-in.
static AFFIRMATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\W*(?:yes|yeah|yea|yep|yup|ya|y|mhm|uh huh|kind of|kinda|sort of|sorta|sometimes|maybe|a little|a bit|i think so|i guess|honestly yes|i am|i do|often|every day|all the time|more than i(?:'d| would) like)\b",
    )
    .expect("valid regex")
});

/// Answers this long are judged on their own words as well.
const SHORT_ANSWER_WORDS: usize = 8;

/// The tier a message earns by answering the check-in: `crisis` for a
/// short yes (or "sometimes", "kind of"), `concern` for anything else
/// right after it. `None` when the last bot turn was not the check-in.
pub fn answer_to_check_in(history: &[Turn], message: &str) -> Option<Risk> {
    let last = history.last()?;
    if last.from_member || !is_check_in(&last.text) {
        return None;
    }
    let short = message.split_whitespace().count() <= SHORT_ANSWER_WORDS;
    let (tier, rule) = if short && AFFIRMATIVE.is_match(message) {
        (Tier::Crisis, "conversation.yes_to_check_in")
    } else {
        (Tier::Concern, "conversation.after_check_in")
    };
    Some(Risk {
        rule_id: Some(rule),
        ..Risk::from_layer(Layer::Patterns, tier, RiskKind::SelfRisk)
    })
}

/// Earlier crisis and concern messages stay out of the model's context,
/// and so do the bot's answers to them (which echo them): the gate's
/// promise is that such words are never improvised upon. Each turn was
/// judged by the whole gate when it arrived, and the bot's fixed text
/// after it says so; the patterns catch the rest, so no turn is
/// embedded again with every new message.
pub fn safe_history(history: &[Turn]) -> Vec<Turn> {
    let mut dropping = false;
    let mut kept = Vec::with_capacity(history.len());
    for (i, turn) in history.iter().enumerate() {
        if turn.from_member {
            let answers = history[i + 1..].iter().take_while(|t| !t.from_member);
            dropping = crisis::assess(&turn.text).tier >= Tier::Concern
                || answers.clone().any(|t| answers_risk(&t.text));
        }
        if !dropping {
            kept.push(turn.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::helplines::concern_check_in;

    fn after(bot: &str) -> Vec<Turn> {
        vec![
            Turn {
                from_member: true,
                text: "i don't know anymore".into(),
            },
            Turn {
                from_member: false,
                text: format!("That sounds heavy.\n\n{bot}"),
            },
        ]
    }

    #[test]
    fn a_yes_to_the_check_in_is_a_crisis_and_any_answer_a_concern() {
        let history = after(&concern_check_in(RiskKind::SelfRisk, "us"));
        for yes in ["yes", "Yeah.", "kinda", "sometimes, at night", "i think so"] {
            let risk = answer_to_check_in(&history, yes).expect("an answer");
            assert_eq!(risk.tier, Tier::Crisis, "{yes}");
        }
        for other in ["no, just tired", "not really, thanks for asking"] {
            let risk = answer_to_check_in(&history, other).expect("an answer");
            assert_eq!(risk.tier, Tier::Concern, "{other}");
        }
    }

    #[test]
    fn only_an_answer_right_after_the_check_in_counts() {
        assert!(answer_to_check_in(&after("What happened today?"), "yes").is_none());
        assert!(answer_to_check_in(&[], "yes").is_none());
        let mut history = after(&concern_check_in(RiskKind::SelfRisk, "uk"));
        history.push(Turn {
            from_member: true,
            text: "no".into(),
        });
        assert!(answer_to_check_in(&history, "yes").is_none());
    }
}
