//! The optional second opinion (`COE_CRISIS_LLM=on`): the model judges
//! messages the patterns did not flag. Its answer can only escalate; any
//! failure counts as "no escalation" and is logged.

use crate::chain::as_member_data;
use crate::config::JsonMode;
use crate::llm::{ChatMessage, LlmClient, Role};
use serde_json::{json, Value};
use std::sync::LazyLock;

const PROMPT: &str = include_str!("../../prompts/crisis_check.md");

static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": {"risk": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["risk"],
        "additionalProperties": false
    })
});

/// The screen's `response_format` in the same JSON mode as the chain, so
/// it works wherever the chain does (the parser tolerates prose anyway).
fn response_format(mode: JsonMode) -> Option<Value> {
    match mode {
        JsonMode::Off => None,
        JsonMode::JsonObject => Some(json!({"type": "json_object", "schema": *SCHEMA})),
        JsonMode::JsonSchema => Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "crisis_screen", "strict": true, "schema": *SCHEMA}
        })),
    }
}

/// True when the model judges the message a possible crisis.
pub async fn model_sees_risk(llm: &LlmClient, mode: JsonMode, message: &str) -> bool {
    let messages = [
        ChatMessage::new(Role::System, PROMPT),
        ChatMessage::new(Role::User, as_member_data(message)),
    ];
    match llm
        .complete(&messages, response_format(mode).as_ref())
        .await
    {
        Ok(completion) => says_yes(&completion.content),
        Err(error) => {
            tracing::warn!(%error, "crisis second opinion unavailable; patterns only");
            false
        }
    }
}

/// Reads `{"risk": "yes"}`; anything unreadable is not an escalation.
fn says_yes(answer: &str) -> bool {
    let start = answer.find('{').unwrap_or(answer.len());
    serde_json::Deserializer::from_str(&answer[start..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .and_then(|v| {
            v.get("risk")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        })
        .is_some_and(|risk| risk.trim() == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clear_yes_escalates() {
        assert!(says_yes(r#"{"risk": "yes"}"#));
        assert!(says_yes("Sure: {\"risk\": \"YES\"}"));
        assert!(!says_yes(r#"{"risk": "no"}"#));
        assert!(!says_yes("yes"));
        assert!(!says_yes(""));
    }
}
