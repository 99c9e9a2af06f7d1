//! Tolerant reading of the supporter tasks' answers, with the reply's own
//! search and field rules (`parse.rs`).

use super::parse::{emotion_of, field, find_object, steps_of, strategy_of, text_field, text_of};
use super::{Emotion, ParseError, Strategy};
use serde_json::{Map, Value};

/// Suggestions shown at most: HAILEY's feedback was a few edits, not a list.
const MAX_SUGGESTIONS: usize = 2;
const MAX_AIM_CHARS: usize = 300;

/// A draft, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftOutput {
    pub emotion: Option<Emotion>,
    pub reasoning: Vec<String>,
    pub aim: Option<String>,
    pub strategy: Option<Strategy>,
    pub draft: String,
}

/// Feedback, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackOutput {
    /// Distinct, in the model's order.
    pub strategies_used: Vec<Strategy>,
    pub suggestions: Vec<String>,
    /// The strategy the edit strengthens.
    pub adds: Option<Strategy>,
    pub edited: Option<String>,
}

/// The first object with a non-empty draft.
pub fn parse_draft(raw: &str) -> Result<DraftOutput, ParseError> {
    find_object(raw, |object| {
        let draft = text_field(object, &["draft", "reply", "response", "draft_reply"])?;
        Some(DraftOutput {
            emotion: emotion_of(object),
            reasoning: field(object, &["reasoning", "reasoning_steps", "steps"])
                .map(steps_of)
                .unwrap_or_default(),
            aim: text_field(object, &["aim", "goal", "purpose"])
                .map(|aim| aim.chars().take(MAX_AIM_CHARS).collect()),
            strategy: strategy_of(object, &["strategy", "empathy_strategy", "strategy_used"]),
            draft,
        })
    })
}

/// The first object with suggestions or an edited draft.
pub fn parse_feedback(raw: &str) -> Result<FeedbackOutput, ParseError> {
    find_object(raw, read_feedback)
}

fn read_feedback(object: &Map<String, Value>) -> Option<FeedbackOutput> {
    let suggestions: Vec<String> = field(object, &["suggestions", "suggestion", "tips"])
        .map(steps_of)
        .unwrap_or_default()
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .collect();
    let edited = text_field(object, &["edited", "edited_draft", "edit", "revised"]);
    if suggestions.is_empty() && edited.is_none() {
        return None;
    }
    Some(FeedbackOutput {
        strategies_used: strategies(field(
            object,
            &["strategies_used", "strategies", "strategies_present"],
        )),
        suggestions,
        adds: strategy_of(object, &["adds", "strategy_added", "strategy"]),
        edited,
    })
}

/// Strategies named in a list (or one string), each once.
fn strategies(value: Option<&Value>) -> Vec<Strategy> {
    let labels: Vec<String> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(text_of).collect(),
        Some(Value::String(text)) => text.split([',', ';', '/']).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let mut found = Vec::new();
    for strategy in labels.iter().filter_map(|l| Strategy::parse_label(l)) {
        if !found.contains(&strategy) {
            found.push(strategy);
        }
    }
    found
}

#[cfg(test)]
mod tests;
