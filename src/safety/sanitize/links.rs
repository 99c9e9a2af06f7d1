//! Markdown links and bare URLs in replies: only crisis resources stay
//! clickable.
//!
//! Text is judged the way Discord's client (a simple-markdown descendant)
//! may read it, and strictly. Discord shows some masked links as literal
//! text (one whose text holds a URL or an emoji, for instance); its
//! destination then reads as a bare URL that runs on past the `)`, so a
//! kept link must be safe read either way. Emphasis, spoiler and code
//! markers can cut a bare URL short, so a URL may start anywhere, inside
//! another one too.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use url::Url;

use super::{compile, LINK_REMOVED};

#[cfg(test)]
pub(super) mod tests;

/// Crisis resources a reply may link to (subdomains included).
const ALLOWED_HOSTS: &[&str] = &[
    "988lifeline.org",
    "findahelpline.com",
    "samaritans.org",
    "crisistextline.org",
];

/// How far past `]` a link destination is looked for, in bytes: a Discord
/// message holds 2000 characters of at most 4 bytes. Link text longer than
/// that is never a link's either.
const MAX_DEST: usize = 8192;

/// Longest authority (user info, host, port) a kept bare URL may have;
/// host names have at most 253 characters.
const MAX_AUTHORITY: usize = 512;

/// Where Discord starts a bare URL (it links `http(s)://` and `steam://`;
/// `www.` is taken as a link too, to be safe).
const URL_PREFIXES: &[&str] = &["https://", "http://", "steam://", "www."];

/// simple-markdown's link destination after `]`: an optional `<…>`,
/// one level of parentheses (whose content may hold anything but `)`), an
/// optional title.
static DEST: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"^\(\s*<?((?:\([^)]*\)|[^\s\\])*?)>?(?:\s+['"][\s\S]*?['"])?\s*\)"#)
});

/// CommonMark's `<…>` destination, which may hold spaces.
static ANGLE_DEST: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"^\(\s*<([^<>\n]*)>(?:\s+['"][\s\S]*?['"])?\s*\)"#));

/// The only destinations kept: `(https://host[:port][/…])` or its `(<…>)`
/// form, in plain URL characters (no user info, brackets or spaces).
static PLAIN_DEST: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^\((<?)((?i-u:https?)://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)([/?#][A-Za-z0-9._~:/?#@!$&'*+,;=%-]*)?(>?)\)",
    )
});

/// What makes Discord show a masked link as literal text.
static URL_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i-u:(?:https?|steam)://|www\.)"));

/// Masked links first, then bare URLs and autolinks (the caller repeats
/// until nothing changes, so what one step exposes the next pass judges).
pub(super) fn rewrite_links(text: &str) -> String {
    rewrite_bare(&rewrite_masked(text))
}

/// Drops every `](…)` destination that is not a plain allowlisted URL,
/// with the link's `[` (its text stays), and unwraps kept links whose text
/// holds a URL. Brackets are matched with a stack, so nested and bracketed
/// link text resolve innermost first; a `](` without a `[` is judged too.
fn rewrite_masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Offsets in `out` of unmatched '[' and of the '[' of dropped links.
    let mut opens = Vec::new();
    let mut dropped = Vec::new();
    // The next ')' (every destination ends on one), found once per run.
    let mut close = 0;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        match c {
            '[' => {
                opens.push(out.len());
                out.push('[');
            }
            ']' => {
                let open = opens.pop();
                out.push(']');
                if close <= i {
                    close = text[i..].find(')').map_or(text.len(), |at| i + at);
                }
                let judged = (close - i <= MAX_DEST).then(|| judge_dest(&text[i + 1..]));
                if let Some((span, kept)) = judged.flatten() {
                    let literal = |at: usize| {
                        let shown = &out[at..];
                        shown.len() > MAX_DEST || URL_IN_TEXT.is_match(shown)
                    };
                    match kept.filter(|_| !open.is_some_and(literal)) {
                        Some(dest) => out.push_str(&dest),
                        None => {
                            if let Some(at) = open {
                                out.pop();
                                dropped.push(at);
                            }
                        }
                    }
                    i += span;
                }
            }
            c => out.push(c),
        }
        i += c.len_utf8();
    }
    dropped.sort_unstable();
    let mut result = String::with_capacity(out.len());
    let mut from = 0;
    for at in dropped {
        result.push_str(&out[from..at]);
        from = at + 1; // skip the one-byte '['
    }
    result.push_str(&out[from..]);
    result
}

/// The destination starting `rest` (just after a `]`), if any parse finds
/// one: its length, and what to write instead when it is kept. A plain
/// URL without a path gets one (`https://988lifeline.org/`), so read as
/// a bare URL running on past the `)` it still names the same host.
fn judge_dest(rest: &str) -> Option<(usize, Option<String>)> {
    let window = &rest[..rest.floor_char_boundary(MAX_DEST)];
    if !window.starts_with('(') {
        return None;
    }
    // `find` is fast; captures are then taken within the match only.
    let parses: Vec<(usize, &str)> = [&DEST, &ANGLE_DEST]
        .into_iter()
        .filter_map(|re| {
            re.find(window)
                .and_then(|m| re.captures(&window[..m.end()]))
        })
        .map(|caps| (caps[0].len(), caps.get(1).map_or("", |m| m.as_str())))
        .collect();
    let span = parses.iter().map(|&(len, _)| len).max()?;
    let unanimous = parses
        .iter()
        .all(|&(len, dest)| len == span && allowed_url(dest));
    let kept = PLAIN_DEST
        .captures(window)
        .filter(|caps| unanimous && caps[0].len() == span && caps[1].len() == caps[4].len())
        .map(|caps: Captures<'_>| {
            let path = caps.get(3).map_or("/", |m| m.as_str());
            format!("({}{}{}{})", &caps[1], &caps[2], path, &caps[4])
        });
    Some((span, kept))
}

/// Replaces every autolink and bare URL that leads elsewhere than an
/// allowlisted host. An allowed autolink is one link; in an allowed bare
/// URL every later start is judged too.
fn rewrite_bare(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut runs = Runs::default();
    let mut no_autolink_before = 0;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if c == '<' && i >= no_autolink_before {
            match autolink_at(text, i) {
                Ok(link) => {
                    let target = &link[1..link.len() - 1];
                    out.push_str(if allowed_url(target) {
                        link
                    } else {
                        LINK_REMOVED
                    });
                    i += link.len();
                    continue;
                }
                Err(stop) => no_autolink_before = stop,
            }
        }
        let url = runs.url_at(text, i);
        if let Some(url) = url.filter(|url| !through_authority(url).is_some_and(allowed_url)) {
            out.push_str(LINK_REMOVED);
            i += url.len();
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// simple-markdown's autolink at byte `i`: `<scheme:/…>`, the scheme
/// without `:`, space or `>`, then anything but a space or `>` (line
/// breaks too: a browser drops them from a URL). On failure, the offset
/// before which no `<` can start one either (they all meet the same stop).
fn autolink_at(text: &str, i: usize) -> Result<&str, usize> {
    let bytes = &text.as_bytes()[i..];
    let stop = |from: usize, set: &[u8]| {
        bytes[from..]
            .iter()
            .position(|b| set.contains(b))
            .map_or(bytes.len(), |at| from + at)
    };
    let colon = stop(1, b": >");
    if colon > 1 && bytes.get(colon) == Some(&b':') && bytes.get(colon + 1) == Some(&b'/') {
        let end = stop(colon + 2, b" >");
        if end > colon + 2 && bytes.get(end) == Some(&b'>') {
            return Ok(&text[i..=i + end]);
        }
    }
    Err(i + colon)
}

/// Bare URLs: a prefix, then a run without whitespace or `<` that does not
/// end on `< . , : ; " ' ) ]` (Discord's rule). Every start in one run
/// shares its end, so that is found once per run.
#[derive(Default)]
struct Runs {
    /// The run holding the last start looked at: where it and the longest
    /// URL in it end.
    run_end: usize,
    url_end: usize,
}

impl Runs {
    fn url_at<'t>(&mut self, text: &'t str, i: usize) -> Option<&'t str> {
        let rest = &text[i..];
        if !matches!(rest.as_bytes()[0], b'h' | b'H' | b's' | b'S' | b'w' | b'W') {
            return None; // cheap pre-check: most positions start no URL
        }
        let prefix = URL_PREFIXES.iter().find(|p| {
            rest.get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
        })?;
        if i >= self.run_end {
            let len = rest
                .find(|c: char| c.is_whitespace() || c == '<')
                .unwrap_or(rest.len());
            self.run_end = i + len;
            let body = rest[..len].trim_end_matches(['<', '.', ',', ':', ';', '"', '\'', ')', ']']);
            self.url_end = i + body.len();
        }
        let url = text.get(i..self.url_end)?;
        // At least two characters after the prefix: some, then the last.
        url.get(prefix.len()..)
            .is_some_and(|tail| tail.chars().nth(1).is_some())
            .then_some(url)
    }
}

/// A bare URL cut after its authority, which alone names the host (no
/// later character can change it); `None` for an implausibly long one.
/// Judging only this keeps judging every start in a long URL cheap.
fn through_authority(url: &str) -> Option<&str> {
    let start = if url.starts_with(['w', 'W']) {
        0 // "www."
    } else {
        url.find("://").map_or(0, |at| at + 3)
    };
    let end = url.as_bytes()[start..]
        .iter()
        .take(MAX_AUTHORITY + 1)
        .position(|b| b"/?#\\".contains(b))
        .map_or(url.len(), |at| start + at);
    (end - start <= MAX_AUTHORITY).then(|| &url[..end])
}

/// Whether a link target (a bare URL, an autolink's or a destination)
/// leads to an allowlisted host. Parsed as a browser would, so tricks such
/// as `https://988lifeline.org@evil.example`, `988lifeline.org.evil.example`
/// or line breaks inside are judged by their real host.
pub(super) fn allowed_url(raw: &str) -> bool {
    let has_www = raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."));
    let parsed = if has_www {
        Url::parse(&format!("http://{raw}"))
    } else {
        Url::parse(raw)
    };
    let Ok(url) = parsed else {
        return false;
    };
    let host = url.host_str().unwrap_or("");
    let host = host.strip_suffix('.').unwrap_or(host);
    matches!(url.scheme(), "http" | "https")
        && ALLOWED_HOSTS.iter().any(|allowed| {
            host == *allowed
                || host
                    .strip_suffix(allowed)
                    .is_some_and(|sub| sub.ends_with('.'))
        })
}
