//! What Discord refuses in a message body, checked on every message the bot creates or edits:
//! content over 2,000 characters, nothing to send, embeds over their own caps or over 6,000
//! characters together, or an empty field (400, code 50035, with the offending field's path as Discord gives it),
//! and files over the server's upload limit (413, code 40005).

use serde_json::{json, Value};

use super::models;
use super::multipart::Decoded;
use super::rest::Reply;

pub const MIB: usize = 1 << 20;
const MAX_EMBEDS: usize = 10;
const MAX_FIELDS: usize = 25;
const EMBEDS_TOTAL: usize = 6_000;

/// Discord's upload limit for a server's boost tier; 10 MiB without boosts and outside servers.
pub fn upload_limit(premium_tier: u8) -> usize {
    match premium_tier {
        2 => 50 * MIB,
        3 => 100 * MIB,
        _ => 10 * MIB,
    }
}

/// Where a message sits in the request body, and what it must satisfy.
pub(super) struct MessageRules<'a> {
    /// The path of the message inside the body: `[]`, or `["data"]` for a callback.
    pub at: &'a [&'a str],
    /// False for edits, which may leave everything as it was.
    pub require_any: bool,
    pub upload_limit: usize,
}

/// Discord's refusal of `req`'s message, if it has one.
pub(super) fn refusal(req: &Decoded, rules: &MessageRules<'_>) -> Option<Reply> {
    let body = &req.payload;
    let path = |tail: &[&str]| -> Vec<String> {
        let head = rules.at.iter().map(|s| s.to_string());
        head.chain(tail.iter().map(|s| s.to_string())).collect()
    };
    let content = body["content"].as_str().unwrap_or_default();
    if content.chars().count() > 2000 {
        return Some(too_long(&path(&["content"]), 2000));
    }
    if let Some(refusal) = embeds_refusal(body, &path) {
        return Some(refusal);
    }
    let uploaded: usize = req.files.iter().map(|f| f.data.len()).sum();
    if uploaded > rules.upload_limit {
        return Some(Reply::error(413, 40005, "Request entity too large"));
    }
    let non_empty = |key: &str| body[key].as_array().is_some_and(|a| !a.is_empty());
    let has_anything = !content.is_empty()
        || ["embeds", "components", "sticker_ids", "attachments"]
            .iter()
            .any(|k| non_empty(k))
        || !req.files.is_empty()
        || body.get("poll").is_some_and(|p| !p.is_null());
    if rules.require_any && !has_anything {
        return Some(Reply::error(400, 50006, "Cannot send an empty message"));
    }
    None
}

/// Each embed's caps in the order Discord reports them, then the message's total.
fn embeds_refusal(body: &Value, path: &dyn Fn(&[&str]) -> Vec<String>) -> Option<Reply> {
    let embeds = body["embeds"].as_array()?;
    if embeds.len() > MAX_EMBEDS {
        return Some(too_long(&path(&["embeds"]), MAX_EMBEDS));
    }
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let index = i.to_string();
        let texts = [
            (vec!["title"], &embed["title"], 256),
            (vec!["description"], &embed["description"], 4096),
            (vec!["footer", "text"], &embed["footer"]["text"], 2048),
            (vec!["author", "name"], &embed["author"]["name"], 256),
        ];
        for (keys, text, cap) in texts {
            if chars(text) > cap {
                let mut at = vec!["embeds", index.as_str()];
                at.extend(keys);
                return Some(too_long(&path(&at), cap));
            }
            total += chars(text);
        }
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > MAX_FIELDS {
            return Some(too_long(&path(&["embeds", &index, "fields"]), MAX_FIELDS));
        }
        for (j, field) in fields.iter().enumerate() {
            let j = j.to_string();
            for (key, cap) in [("name", 256), ("value", 1024)] {
                if chars(&field[key]) == 0 {
                    let at = ["embeds", index.as_str(), "fields", j.as_str(), key];
                    let message = "This field is required";
                    return Some(invalid(&path(&at), "BASE_TYPE_REQUIRED", message));
                }
                if chars(&field[key]) > cap {
                    let at = ["embeds", index.as_str(), "fields", j.as_str(), key];
                    return Some(too_long(&path(&at), cap));
                }
                total += chars(&field[key]);
            }
        }
    }
    (total > EMBEDS_TOTAL).then(|| {
        let message = format!("Embed size exceeds maximum size of {EMBEDS_TOTAL}");
        invalid(&path(&["embeds"]), "MAX_EMBED_SIZE_EXCEEDED", &message)
    })
}

fn too_long(path: &[String], max: usize) -> Reply {
    let message = format!("Must be {max} or fewer in length.");
    invalid(path, "BASE_TYPE_MAX_LENGTH", &message)
}

/// 50035 "Invalid Form Body", its `errors` nested along `path` as Discord does.
fn invalid(path: &[String], code: &str, message: &str) -> Reply {
    let mut errors = json!({"_errors": [{"code": code, "message": message}]});
    for key in path.iter().rev() {
        errors = json!({ key.as_str(): errors });
    }
    Reply {
        status: 400,
        body: Some(models::invalid_form_body(errors)),
    }
}
