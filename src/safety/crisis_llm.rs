//! The optional model screen (`COE_CRISIS_LLM=on`): the model proposes a
//! risk tier for messages the patterns and the classifier did not call a
//! crisis. The highest tier wins, so it can only escalate; any failure
//! counts as "no opinion" and is logged.

use crate::chain::as_member_data;
use crate::llm::{Call, ChatMessage, JsonMode, LlmClient, Role};
use crate::safety::risk::{Layer, Risk, RiskKind, Tier};
use serde_json::{json, Value};
use std::sync::LazyLock;

const PROMPT: &str = include_str!("../../prompts/crisis_check.md");

static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": {"risk": {"type": "string", "enum": ["crisis", "concern", "mention", "none"]}},
        "required": ["risk"],
        "additionalProperties": false
    })
});

/// The model's tier for `message` (`none` when it could not be asked).
pub async fn screen(llm: &LlmClient, call: Call<'_>, mode: JsonMode, message: &str) -> Risk {
    let messages = [
        ChatMessage::new(Role::System, PROMPT),
        ChatMessage::new(Role::User, as_member_data(message)),
    ];
    let tier = match llm
        // The same JSON mode as the chain, so it works wherever the chain
        // does (the parser tolerates prose anyway).
        .complete_with(
            &messages,
            mode.response_format("crisis_screen", &SCHEMA).as_ref(),
            call,
        )
        .await
    {
        Ok(completion) => read_tier(&completion.content),
        Err(error) => {
            tracing::warn!(%error, "crisis model screen unavailable; other layers only");
            Tier::None
        }
    };
    Risk::from_layer(Layer::ModelScreen, tier, RiskKind::SelfRisk)
}

/// Reads `{"risk": "<tier>"}`; anything unreadable is no escalation.
fn read_tier(answer: &str) -> Tier {
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
        .and_then(|risk| Tier::parse(&risk))
        .unwrap_or(Tier::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_readable_tier_counts() {
        assert_eq!(read_tier(r#"{"risk": "crisis"}"#), Tier::Crisis);
        assert_eq!(read_tier("Sure: {\"risk\": \"CONCERN\"}"), Tier::Concern);
        assert_eq!(read_tier(r#"{"risk": "mention"}"#), Tier::Mention);
        assert_eq!(read_tier(r#"{"risk": "yes"}"#), Tier::None);
        assert_eq!(read_tier("crisis"), Tier::None);
        assert_eq!(read_tier(""), Tier::None);
    }
}
