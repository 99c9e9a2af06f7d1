//! What the end-to-end tests check in the bot's requests: message content, the disclosure
//! footer, `allowed_mentions`, interaction paths; and payload pieces they need to build.
//! Re-exported by `support::bot`.

use coe_bot::discord::FOOTER;
use serde_json::{json, Value};

use super::fake_discord::{FakeDiscord, RecordedRequest};

pub(super) fn find_choice(options: &Value, option: &str, prefix: &str) -> Option<Value> {
    for candidate in options.as_array().into_iter().flatten() {
        if candidate["name"] == option {
            let choices = candidate["choices"].as_array()?;
            let found = choices.iter().find(|c| {
                let name = c["name"].as_str().unwrap_or_default().to_lowercase();
                name.starts_with(prefix)
            });
            return found.map(|c| c["value"].clone());
        }
        if let Some(found) = find_choice(&candidate["options"], option, prefix) {
            return Some(found);
        }
    }
    None
}

pub fn callback_path(interaction: u64) -> String {
    format!("/interactions/{interaction}/tok-{interaction}/callback")
}

pub fn followup_path(interaction: u64) -> String {
    format!(
        "/webhooks/{}/tok-{interaction}",
        FakeDiscord::APPLICATION_ID
    )
}

/// The `content` of a message body (or of a callback's `data`).
pub fn content(request: &RecordedRequest) -> &str {
    let body = &request.body;
    body["content"]
        .as_str()
        .or_else(|| body["data"]["content"].as_str())
        .unwrap_or_default()
}

/// The message a request carries: a callback's `data`, else the body itself.
pub fn message(request: &RecordedRequest) -> &Value {
    let body = &request.body;
    match body.get("data") {
        Some(data) if body.get("type").is_some() => data,
        _ => body,
    }
}

/// The message `flags` of a message body (or of a callback's `data`); 64 is ephemeral.
pub fn flags(request: &RecordedRequest) -> u64 {
    let body = &request.body;
    body["flags"]
        .as_u64()
        .or_else(|| body["data"]["flags"].as_u64())
        .unwrap_or(0)
}

/// What a one-message reply looks like: the text, a blank line, the disclosure footer.
pub fn with_footer(reply: &str) -> String {
    format!("{reply}\n\n{FOOTER}")
}

/// `allowed_mentions` that can ping nobody.
pub fn assert_pings_nobody(body: &Value) {
    let mentions = &body["allowed_mentions"];
    assert_eq!(mentions["parse"], json!([]), "allowed_mentions: {body:#}");
    for key in ["users", "roles"] {
        let list = mentions[key].as_array().map_or(0, Vec::len);
        assert_eq!(list, 0, "allowed_mentions.{key} must be empty: {body:#}");
    }
}

/// `data.resolved` for one channel option, as Discord sends it.
pub fn resolved_channel(channel: u64, name: &str) -> Value {
    json!({"channels": {channel.to_string(): {
        "id": channel.to_string(),
        "name": name,
        "type": 0,
        "permissions": "0",
    }}})
}

/// `data.resolved` for one role option, as Discord sends it.
pub fn resolved_role(role: u64, name: &str) -> Value {
    json!({"roles": {role.to_string(): super::models::role(role, name, 0, 1)}})
}

/// One line per request, for panic messages; long bodies are cut so the list stays readable.
pub(super) fn describe_requests(requests: &[RecordedRequest]) -> String {
    let lines: Vec<String> = requests
        .iter()
        .map(|r| {
            let query = r
                .query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let mut body = r.body.to_string();
            if body.chars().count() > 300 {
                body = body.chars().take(300).chain("…".chars()).collect();
            }
            format!("  {} {}{query} -> {} {body}", r.method, r.path, r.status)
        })
        .collect();
    if lines.is_empty() {
        "  (none)".into()
    } else {
        lines.join("\n")
    }
}
