//! Markdown links and bare URLs in replies: only crisis resources stay
//! clickable.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use super::{compile, LINK_REMOVED};

/// Crisis resources a reply may link to (subdomains included).
const ALLOWED_HOSTS: &[&str] = &[
    "988lifeline.org",
    "findahelpline.com",
    "samaritans.org",
    "crisistextline.org",
];

/// Longest markdown link destination we parse; longer ones stay text (and
/// their URL is still judged as a bare URL).
const MAX_DEST: usize = 2048;

/// A URL starting at the given position: Discord links `http(s)://`, and
/// `<…>` is its embed-suppressing form. A URL never ends on sentence
/// punctuation, and never stops right before `(` (it may end on one), so a
/// `[link removed]` can never be followed by `(` and read as link text.
static URL_AT: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)^(?:<(?:https?://|www\.)[^\s<>]+>|(?:https?://|www\.)[^\s<>"\[\]]*[^\s<>"\[\].,;:!?')}*_~])"#,
    )
});

/// One left-to-right scan over markdown links and bare URLs. Links are
/// matched with a bracket stack, so nested and bracketed link text resolve
/// the way Discord reads them, innermost first; a kept link's destination
/// is copied as is, and URLs elsewhere (link text included) are judged on
/// their own.
pub(super) fn rewrite_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Offsets in `out` of unmatched '[' and of the '[' of dropped links.
    let mut opens = Vec::new();
    let mut dropped = Vec::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if c == '[' {
            opens.push(out.len());
            out.push('[');
            i += 1;
        } else if c == ']' {
            let dest = text[i + 1..].strip_prefix('(').and_then(parse_dest);
            match (dest, opens.pop()) {
                (Some((dest, len)), Some(open)) => {
                    if allowed_url(dest) {
                        out.push(']');
                        out.push_str(&text[i + 1..i + 2 + len]);
                    } else {
                        dropped.push(open);
                    }
                    i += 2 + len;
                }
                _ => {
                    out.push(']');
                    i += 1;
                }
            }
        } else if let Some(url) = url_at(text, i) {
            out.push_str(if allowed_url(url) { url } else { LINK_REMOVED });
            i += url.len();
        } else {
            out.push(c);
            i += c.len_utf8();
        }
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

/// A link destination after `](`: `<…>` or a run without whitespace and
/// with at most one level of parentheses. Returns it and the bytes
/// consumed through the closing `)`.
fn parse_dest(s: &str) -> Option<(&str, usize)> {
    if let Some(inner) = s.strip_prefix('<') {
        let (end, _) = inner
            .char_indices()
            .take(MAX_DEST)
            .find(|&(_, c)| matches!(c, '>' | '<' | '\n'))?;
        return inner[end..]
            .starts_with(">)")
            .then(|| (&inner[..end], end + 3));
    }
    let mut nested = false;
    for (j, c) in s.char_indices().take(MAX_DEST) {
        match c {
            '(' if nested => return None,
            '(' => nested = true,
            ')' if nested => nested = false,
            ')' => return Some((&s[..j], j + 1)),
            c if c.is_whitespace() || c.is_control() => return None,
            _ => {}
        }
    }
    None
}

/// The bare URL starting at byte `i` of `text`, if any.
pub(super) fn url_at(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i..];
    let first = rest.bytes().next()?;
    if !matches!(first, b'h' | b'H' | b'w' | b'W' | b'<') {
        return None; // cheap pre-check: most positions start no URL
    }
    // "www." must start a word ("awww.com" is not a link).
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    if matches!(first, b'w' | b'W') && text[..i].chars().next_back().is_some_and(word_char) {
        return None;
    }
    URL_AT.find(rest).map(|m| m.as_str())
}

/// Whether a URL (bare, `<…>` or a link destination) points to an
/// allowlisted host. Parsed as a browser would, so tricks such as
/// `https://988lifeline.org@evil.example` or `988lifeline.org.evil.example`
/// are judged by their real host.
pub(super) fn allowed_url(raw: &str) -> bool {
    let raw = raw.strip_prefix('<').unwrap_or(raw);
    let raw = raw.strip_suffix('>').unwrap_or(raw);
    let has_www = raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."));
    let parsed = if has_www {
        Url::parse(&format!("http://{raw}"))
    } else {
        Url::parse(raw)
    };
    let Ok(url) = parsed else {
        return false;
    };
    let host = url.host_str().unwrap_or("").trim_end_matches('.');
    matches!(url.scheme(), "http" | "https")
        && ALLOWED_HOSTS.iter().any(|allowed| {
            host == *allowed
                || host
                    .strip_suffix(allowed)
                    .is_some_and(|sub| sub.ends_with('.'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn destinations() {
        assert_eq!(
            parse_dest("https://a.example) x"),
            Some(("https://a.example", 18))
        );
        assert_eq!(
            parse_dest("<https://a.example/b c>)"),
            Some(("https://a.example/b c", 24))
        );
        assert_eq!(
            parse_dest("w.example/a_(b))"),
            Some(("w.example/a_(b)", 16))
        );
        for bad in ["https://a.example", "a b)", "a((b)))", "<a>", "<a\n>)", ""] {
            assert_eq!(parse_dest(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hosts_are_judged_as_a_browser_would() {
        for good in [
            "https://988lifeline.org",
            "HTTPS://WWW.SAMARITANS.ORG/x",
            "<https://chat.crisistextline.org>",
            "www.findahelpline.com/countries",
            "http://988lifeline.org./",
        ] {
            assert!(allowed_url(good), "{good}");
        }
        for bad in [
            "https://988lifeline.org@evil.example",
            "https://988lifeline.org.evil.example",
            "https://evil.example/988lifeline.org",
            "https://not988lifeline.org",
            "https://evil.example\\@988lifeline.org",
            "javascript://988lifeline.org/%0aalert(1)",
            "988lifeline.org",
            "https://",
        ] {
            assert!(!allowed_url(bad), "{bad}");
        }
    }

    #[test]
    fn links_resolve_innermost_first() {
        let cases = [
            ("[a](https://e.example) b", "a b"),
            (
                "[[a](https://e.example)](https://988lifeline.org)",
                "[a](https://988lifeline.org)",
            ),
            (
                "[x https://e.example](https://samaritans.org)",
                "[x [link removed]](https://samaritans.org)",
            ),
            ("](https://e.example)", "]([link removed])"),
            ("[a](b c)", "[a](b c)"),
            (
                "awww.e.example www.e.example",
                "awww.e.example [link removed]",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(rewrite_links(input), want, "{input:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn prop_no_unknown_link_survives(parts in proptest::collection::vec(
            prop::sample::select(vec![
                "[", "]", "(", ")", "<", ">", "https://", "www.", "e.example", "988lifeline.org",
                "@", "/", ".", " ", "x", "é", "\n",
            ]),
            0..40,
        )) {
            // One scan can join a link's neighbours into a new URL (the
            // caller repeats until stable), so check the settled text.
            let mut out = rewrite_links(&parts.concat());
            for _ in 0..8 {
                out = rewrite_links(&out);
            }
            prop_assert_eq!(rewrite_links(&out), out.clone());
            let mut i = 0;
            while let Some(c) = out[i..].chars().next() {
                match url_at(&out, i) {
                    Some(url) => {
                        prop_assert!(allowed_url(url), "{url:?} in {out:?}");
                        i += url.len();
                    }
                    None => i += c.len_utf8(),
                }
            }
        }
    }
}
