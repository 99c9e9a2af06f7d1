//! What the model client is set up with. `config` reads these from the
//! environment; eval's models file builds them too.

use super::limiter::Concurrency;
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;
use url::Url;

/// A secret that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the model is asked for structured output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonMode {
    /// Plain prompt instructions; the parser is tolerant.
    Off,
    /// `response_format: {"type": "json_object", "schema": …}`: llama.cpp
    /// servers enforce the schema; OpenAI-style servers give plain JSON.
    JsonObject,
    /// `response_format` with a JSON schema whose strategy is an enum.
    JsonSchema,
}

impl JsonMode {
    /// The request's `response_format` asking for JSON that follows
    /// `schema` (named `name` where the server wants a name).
    pub fn response_format(self, name: &str, schema: &Value) -> Option<Value> {
        match self {
            JsonMode::Off => None,
            // llama.cpp's servers enforce the `schema` of a json_object
            // request with a grammar; OpenAI-style servers read plain JSON.
            JsonMode::JsonObject => Some(json!({"type": "json_object", "schema": schema})),
            JsonMode::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": name, "strict": true, "schema": schema}
            })),
        }
    }
}

#[derive(Clone)]
pub struct LlmConfig {
    /// May carry credentials (`https://user:pass@host/v1`): shown only
    /// through [`shown_url`].
    pub base_url: Url,
    pub model: String,
    pub api_key: Option<Secret>,
    /// One attempt's longest wait for an answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub temperature: f32,
    pub top_p: f32,
    pub json_mode: JsonMode,
    /// Attempts for failures that say the server is broken (5xx other than
    /// 503, unreachable); a timeout is not retried. Refusals (429, 503) are retried until
    /// the deadline instead: the server is up, only busy.
    pub max_attempts: u32,
    pub max_tokens: u32,
    pub concurrency: Concurrency,
    /// Requests waiting for a place beyond which each newcomer is told the
    /// bot is busy (it still waits, until the deadline).
    pub max_queue: usize,
    /// Longest time one request may take, queueing and retries included;
    /// after it the member gets the apology instead of silence.
    pub deadline: Duration,
    /// First retry delay; doubles per attempt, with jitter.
    pub retry_base: Duration,
    /// Sampling seed sent to servers that support one (reproducible runs).
    pub seed: Option<u64>,
}

/// The URL without user name or password, for messages and logs.
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &shown_url(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("json_mode", &self.json_mode)
            .field("max_attempts", &self.max_attempts)
            .field("max_tokens", &self.max_tokens)
            .field("concurrency", &self.concurrency)
            .field("max_queue", &self.max_queue)
            .field("deadline", &self.deadline)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        let url = Url::parse("https://bob:hunter2@models.example/v1").unwrap();
        assert_eq!(shown_url(&url), "https://models.example/v1");
        let config = LlmConfig {
            base_url: url,
            model: "m".into(),
            api_key: Some(Secret::new("sk-live-123")),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            temperature: 0.0,
            top_p: 1.0,
            json_mode: JsonMode::Off,
            max_attempts: 1,
            max_tokens: 16,
            concurrency: Concurrency::Fixed(1),
            max_queue: 1,
            deadline: Duration::from_secs(1),
            retry_base: Duration::ZERO,
            seed: None,
        };
        let debug = format!("{config:?}");
        for secret in ["bob", "hunter2", "sk-live-123"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
