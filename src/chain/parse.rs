//! Tolerant reading of the model's answer: code fences, prose around the
//! JSON, trailing commas, other key names and label spellings.

use super::{Emotion, Strategy};
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

const MAX_REASONING_STEPS: usize = 8;
const MAX_STEP_CHARS: usize = 400;
/// How many `{` positions to try: bounds the work on hostile output.
const MAX_CANDIDATES: usize = 32;
/// Longest answer read: far above any `LLM_MAX_TOKENS`, and it bounds the
/// work of the relaxed re-parse on hostile output.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the chain produced, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOutput {
    /// A label from the vocabulary, never the model's own words.
    pub emotion: Option<Emotion>,
    pub reasoning: Vec<String>,
    /// `None` when the model named no strategy or one that is not EPITOME's.
    pub strategy: Option<Strategy>,
    pub reply: String,
}

/// Why an answer could not be read, by its shape alone: the answer may
/// quote the member, so no error carries any of its text into the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the answer ({chars} characters) holds no JSON object")]
    NoJson { chars: usize },
    /// No object holds what the task reads: a reply, a draft, or feedback.
    #[error("no JSON object of the answer ({chars} characters, {objects} objects) has the fields the task needs")]
    NoReply { chars: usize, objects: usize },
}

static TRAILING_COMMA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r",(\s*[}\]])").expect("valid regex"));

pub fn parse_output(raw: &str) -> Result<ChainOutput, ParseError> {
    find_object(raw, from_object)
}

/// The first JSON object of the answer that `read` accepts: the one
/// tolerant search every task's parser shares (fences, prose around the
/// JSON, trailing commas), bounded on hostile output.
pub(super) fn find_object<T>(
    raw: &str,
    read: impl Fn(&Map<String, Value>) -> Option<T>,
) -> Result<T, ParseError> {
    let bounded = &raw[..raw.floor_char_boundary(MAX_ANSWER_BYTES)];
    let mut objects = 0;
    for (start, _) in bounded.match_indices('{').take(MAX_CANDIDATES) {
        let Some(object) = first_object(&bounded[start..]) else {
            continue;
        };
        objects += 1;
        if let Some(output) = read(&object) {
            return Ok(output);
        }
    }
    let chars = raw.chars().count();
    Err(match objects {
        0 => ParseError::NoJson { chars },
        _ => ParseError::NoReply { chars, objects },
    })
}

/// The value of the first key among `names`, in any case: small models
/// write "Reply" or "STRATEGY".
pub(super) fn field<'a>(object: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| names.contains(&k.trim().to_ascii_lowercase().as_str()))
        .map(|(_, v)| v)
}

/// A trimmed, non-empty string field.
pub(super) fn text_field(object: &Map<String, Value>, names: &[&str]) -> Option<String> {
    field(object, names)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

/// The JSON object at the start of `text`, strict first, then with
/// trailing commas removed (a common small-model slip).
fn first_object(text: &str) -> Option<Map<String, Value>> {
    let strict = serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok);
    let value = match strict {
        Some(value) => value,
        None => {
            let relaxed = TRAILING_COMMA.replace_all(text, "$1");
            serde_json::Deserializer::from_str(&relaxed)
                .into_iter::<Value>()
                .next()?
                .ok()?
        }
    };
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn from_object(object: &Map<String, Value>) -> Option<ChainOutput> {
    let reply = text_field(object, &["reply", "response", "answer"])?;
    Some(ChainOutput {
        emotion: emotion_of(object),
        reasoning: field(object, &["reasoning", "reasoning_steps", "steps"])
            .map(steps_of)
            .unwrap_or_default(),
        strategy: strategy_of(object, &["strategy", "empathy_strategy", "strategy_used"]),
        reply,
    })
}

/// The emotion field, as a label of the vocabulary.
pub(super) fn emotion_of(object: &Map<String, Value>) -> Option<Emotion> {
    field(object, &["emotion", "emotions", "feeling"])
        .and_then(text_of)
        .and_then(|e| Emotion::from_model(&e))
}

/// The first strategy field among `names`, read tolerantly.
pub(super) fn strategy_of(object: &Map<String, Value>, names: &[&str]) -> Option<Strategy> {
    field(object, names)
        .and_then(text_of)
        .and_then(|label| Strategy::parse_label(&label))
}

/// A string, or the first string of an array.
pub(super) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Array(items) => items.iter().find_map(text_of),
        _ => None,
    }
}

/// A list of short texts: an array, lines of a string, or an object's values.
pub(super) fn steps_of(value: &Value) -> Vec<String> {
    let steps: Vec<String> = match value {
        Value::String(s) => s.lines().map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Value::Object(map) => map.values().filter_map(text_of).collect(),
        _ => Vec::new(),
    };
    steps
        .into_iter()
        .map(|s| s.trim().chars().take(MAX_STEP_CHARS).collect::<String>())
        .filter(|s| !s.is_empty())
        .take(MAX_REASONING_STEPS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Strategy::*;

    #[test]
    fn reads_a_table_of_malformed_answers() {
        let ok = |raw: &str, strategy: Option<Strategy>, reply: &str| {
            let out = parse_output(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(out.strategy, strategy, "{raw}");
            assert_eq!(out.reply, reply, "{raw}");
        };
        ok(
            r#"{"emotion":"shame","reasoning":["a","b"],"strategy":"interpretation","reply":"Hi."}"#,
            Some(Interpretation),
            "Hi.",
        );
        ok(
            "```json\n{\"strategy\": \"exploration\", \"reply\": \"What happened?\"}\n```",
            Some(Exploration),
            "What happened?",
        );
        ok("Sure! Here is my answer:\n{\"Strategy\": \"Emotional Reaction\", \"Reply\": \"I'm sorry.\"}\nHope it helps.", Some(EmotionalReaction), "I'm sorry.");
        ok(
            r#"{"strategy": "EXPLORATION", "reply": "Tell me more.",}"#,
            Some(Exploration),
            "Tell me more.",
        );
        ok(
            r#"{"strategy": "advice", "reply": "Try yoga."}"#,
            None,
            "Try yoga.",
        );
        ok(
            r#"{"reply": "No strategy named."}"#,
            None,
            "No strategy named.",
        );
        ok(
            r#"{"strategy": ["interpretations"], "response": "Sounds hard."}"#,
            Some(Interpretation),
            "Sounds hard.",
        );
        ok(
            r#"{"note": {"x": 1}} then {"strategy":"exploration","reply":"Second object."}"#,
            Some(Exploration),
            "Second object.",
        );
    }

    #[test]
    fn normalizes_reasoning_and_emotion() {
        let raw = r#"{"emotion": ["Sadness", "fear"], "reasoning": "step one\n\nstep two", "strategy": "ip", "reply": "ok"}"#;
        let out = parse_output(raw).unwrap();
        assert_eq!(out.emotion.as_ref().map(Emotion::as_str), Some("sadness"));
        assert_eq!(out.reasoning, vec!["step one", "step two"]);
        let missing = parse_output(r#"{"reply": "ok"}"#).unwrap();
        assert_eq!(missing.emotion, None);
        assert!(missing.reasoning.is_empty());
    }

    #[test]
    fn rejects_answers_without_a_reply() {
        let no_json = |chars| Err(ParseError::NoJson { chars });
        let no_reply = |chars, objects| Err(ParseError::NoReply { chars, objects });
        assert_eq!(parse_output("I am sorry to hear that."), no_json(24));
        assert_eq!(parse_output(""), no_json(0));
        assert_eq!(parse_output("{\"reply\": \"unterminated"), no_json(23));
        assert_eq!(
            parse_output(r#"{"strategy": "exploration"}"#),
            no_reply(27, 1)
        );
        assert_eq!(parse_output(r#"{"reply": "   "}"#), no_reply(16, 1));
        assert_eq!(parse_output("[1, 2, 3]"), no_json(9));
    }

    #[test]
    fn errors_describe_the_answer_without_quoting_it() {
        use super::super::{parse_draft, parse_feedback};
        let marker = "MARKER-7f3a quoted member words";
        let answers = [
            format!("I hear you: {marker}"),
            format!(r#"{{"emotion": "{marker}", "reply": "", "draft": " ", "edited": ""}}"#),
            format!(r#"{{"strategy": "{marker}"}} and {{"{marker}": 1}}"#),
        ];
        let errors = answers.iter().flat_map(|raw| {
            [
                parse_output(raw).map(|_| ()),
                parse_draft(raw).map(|_| ()),
                parse_feedback(raw).map(|_| ()),
            ]
            .map(|result| (raw, result))
        });
        for (raw, result) in errors {
            let error = result.unwrap_err();
            let chars = raw.chars().count().to_string();
            for shown in [
                error.to_string(),
                format!("{error:?}"),
                super::super::ChainError::Parse(error.clone()).to_string(),
            ] {
                assert!(!shown.contains("MARKER"), "{shown}");
                assert!(shown.contains(&chars), "the length is shown: {shown}");
            }
        }
    }

    #[test]
    fn hostile_output_is_bounded() {
        let nested = "{".repeat(100_000);
        assert!(parse_output(&nested).is_err());
    }
}
