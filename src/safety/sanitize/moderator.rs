//! Text for moderators' Discord views (review pages, stats): stored model
//! and member-derived text shown as plain, inert text.
//!
//! On top of [`sanitize_reply`] (no pings, invites or unknown links, no
//! hidden characters), every web address goes, helplines too: a reviewer
//! needs none, and none can then be masked. Markdown is escaped, so a text
//! cannot open a code block, a spoiler, a heading or a link that spills
//! out of its field. Lengths are the caller's: each embed text has its own
//! cap, fitted where the embed is built.

use std::sync::LazyLock;

use regex::Regex;

use super::{compile, sanitize_reply, LINK_REMOVED, MAX_PASSES};

/// Anything with `://` (any scheme, or none) or starting `www.`.
static WEB_ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i)[a-z0-9+.-]*://\S*|\bwww\.\S*"));

/// Characters Discord's markdown gives a meaning: emphasis, code, spoilers,
/// links, quotes, headings, lists, mentions and timestamps (`<…>`).
pub(super) const MARKDOWN: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<', '>', '#', '-'];

/// `text` as inert text for a moderator's embed or message.
pub fn moderator_text(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..MAX_PASSES {
        let cleaned = sanitize_reply(&current);
        let next = WEB_ADDRESS.replace_all(&cleaned, LINK_REMOVED).into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    escape_markdown(&current)
}

/// A backslash before each markdown character: Discord then shows the
/// character itself.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if MARKDOWN.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
