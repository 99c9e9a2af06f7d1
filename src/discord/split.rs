//! Splitting long replies into messages Discord will accept.
//!
//! Discord rejects messages over 2000 characters. Its count is not
//! documented precisely (JavaScript string length, i.e. UTF-16 units, in
//! practice), so lengths here are UTF-16 units: never fewer than code
//! points, hence a chunk that fits in units fits by either count.

/// Discord's per-message content limit.
pub const DISCORD_MESSAGE_LIMIT: usize = 2000;

const FENCE: &str = "```";
/// Appended to a chunk that ends inside a code block.
const CLOSER: &str = "\n```";
/// Room for the widest single character (an astral one: two units).
const WIDEST_CHAR: usize = 2;
/// Below this a reopened block (`"```\n"`, closer, one character) cannot
/// fit, so code blocks are then split like plain text.
const MIN_FENCE_LIMIT: usize = FENCE.len() + 1 + CLOSER.len() + WIDEST_CHAR;
/// Longest language tag carried over to a reopened block.
const MAX_LANG: usize = 32;
/// How far a hard split may back off to keep a grapheme cluster (emoji
/// sequence, accented letter, flag) or a backtick run whole.
const MAX_BACKOFF: usize = 32;

/// Splits `text` into chunks of at most `limit` UTF-16 units (and so at
/// most `limit` characters), preferring paragraph breaks, then line
/// breaks, sentence ends, whitespace, and only then a hard split.
///
/// Chunks are trimmed and never empty; blank input gives no chunks. A code
/// block open at a split is closed at the end of the chunk and reopened
/// (with its language) in the next, so formatting survives. The only chunk
/// that can exceed `limit` is a single character wider than it (`limit`
/// 0, or 1 with an astral character); dropping it would lose text.
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let fences = limit >= MIN_FENCE_LIMIT;
    let mut chunks = Vec::new();
    // `rest` always ends with the text's last non-blank character, so it
    // is blank only when empty.
    let mut rest = text.trim();
    // The language tag of a code block the previous chunk left open.
    let mut open: Option<&str> = None;
    while !rest.is_empty() {
        let prefix = open.map(|lang| opener(lang, limit)).unwrap_or_default();
        let avail = limit.saturating_sub(prefix.len());
        let whole = fit(rest, avail);
        if whole == rest.len() {
            push(&mut chunks, &prefix, rest, false);
            break;
        }
        // Reserve room for a closer only when a block could be open at
        // the cut, so plain text keeps the full limit.
        let needs_closer = fences && (open.is_some() || rest[..whole].contains(FENCE));
        let budget = if needs_closer {
            avail.saturating_sub(CLOSER.len())
        } else {
            avail
        };
        let cut = choose_cut(rest, fit(rest, budget));
        let (head, tail) = rest.split_at(cut);
        if fences {
            open = fence_state(rest, cut, open);
        }
        push(&mut chunks, &prefix, head, open.is_some());
        (rest, open) = next_start(tail, open, limit);
    }
    chunks
}

/// Appends `prefix + body` (plus a closer when a block stays open) unless
/// the body is blank, e.g. a run of indentation that filled a chunk.
fn push(chunks: &mut Vec<String>, prefix: &str, body: &str, close: bool) {
    let body = body.trim_end();
    if body.trim_start().is_empty() {
        return;
    }
    let mut chunk = String::with_capacity(prefix.len() + body.len() + CLOSER.len());
    chunk.push_str(prefix);
    chunk.push_str(body);
    if close {
        chunk.push_str(CLOSER);
    }
    chunks.push(chunk);
}

/// Where the next chunk starts, and whether it is still inside a block.
fn next_start<'a>(
    tail: &'a str,
    open: Option<&'a str>,
    limit: usize,
) -> (&'a str, Option<&'a str>) {
    let trimmed = tail.trim_start();
    let Some(lang) = open else {
        return (trimmed, None);
    };
    // The block closes right here: the chunk just sent already closed it,
    // so reopening would only produce an empty block.
    if let Some(after) = trimmed.strip_prefix(FENCE) {
        return (after.trim_start(), None);
    }
    // Inside code, keep the indentation of the first line (it is part of
    // the code), unless it alone would crowd out the content.
    let blank = &tail[..tail.len() - trimmed.len()];
    let indent = blank.rfind('\n').map_or(blank, |i| &blank[i + 1..]);
    let room = limit.saturating_sub(opener(lang, limit).len() + CLOSER.len() + WIDEST_CHAR);
    if units(indent) < room {
        (&tail[tail.len() - trimmed.len() - indent.len()..], open)
    } else {
        (trimmed, open)
    }
}

/// The line that reopens a block, with its language when that fits.
fn opener(lang: &str, limit: usize) -> String {
    let tagged = format!("{FENCE}{lang}\n");
    if tagged.len() + CLOSER.len() + WIDEST_CHAR <= limit {
        tagged
    } else {
        format!("{FENCE}\n")
    }
}

/// UTF-16 length, the unit Discord's limit is enforced in.
fn units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Byte length of the longest prefix of `s` within `budget` units. Stops
/// early, so it costs the budget, not the text.
fn fit(s: &str, budget: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > budget {
            return i;
        }
    }
    s.len()
}

/// Whether a block is open after the first `end` bytes of `s`, starting
/// from `open`. Every ``` toggles, as in Discord (which also closes blocks
/// mid-line); an opener's language tag is read up to its line break.
fn fence_state<'a>(s: &'a str, end: usize, mut open: Option<&'a str>) -> Option<&'a str> {
    for (i, _) in s[..end].match_indices(FENCE) {
        open = match open {
            Some(_) => None,
            None => Some(lang_tag(&s[i + FENCE.len()..])),
        };
    }
    open
}

/// The language tag at the start of `after` (the text after an opening
/// ```), or "" when there is none.
fn lang_tag(after: &str) -> &str {
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || "+-#._".contains(c)))
        .unwrap_or(after.len());
    let tag = &after[..end];
    let ends_line = after[end..].starts_with('\n') || after[end..].starts_with("\r\n");
    if ends_line && end <= MAX_LANG {
        tag
    } else {
        ""
    }
}

/// Picks where to end a chunk: a byte index in `1..=win` (or the first
/// character when `win` is 0, which only a limit below two units allows).
fn choose_cut(rest: &str, win: usize) -> usize {
    if win == 0 {
        return rest.chars().next().map_or(rest.len(), char::len_utf8);
    }
    // A cut must leave content before it (indentation alone is not).
    let lead = rest.len() - rest.trim_start().len();
    let fits = |p: usize| p > lead && p <= win;
    // Look a little past the window so a break right at its edge counts.
    let mut reach = (win + 2).min(rest.len());
    while !rest.is_char_boundary(reach) {
        reach += 1;
    }
    let hay = &rest[..reach];
    let found = hay
        .rmatch_indices("\n\n")
        .map(|(p, _)| p)
        .find(|&p| fits(p))
        .or_else(|| hay.rmatch_indices('\n').map(|(p, _)| p).find(|&p| fits(p)))
        .or_else(|| sentence_end(rest, win).filter(|&p| fits(p)))
        .or_else(|| {
            hay.char_indices()
                .rev()
                .find(|&(p, c)| c.is_whitespace() && fits(p))
                .map(|(p, _)| p)
        });
    found.unwrap_or_else(|| hard_cut(rest, win))
}

/// The end of the last sentence that finishes within `win` bytes.
fn sentence_end(rest: &str, win: usize) -> Option<usize> {
    rest[..win].char_indices().rev().find_map(|(i, c)| {
        let after = i + c.len_utf8();
        match c {
            '。' | '！' | '？' => Some(after),
            '.' | '!' | '?' if rest[after..].starts_with(char::is_whitespace) => Some(after),
            _ => None,
        }
    })
}

/// A split at `win`, moved back (a little) so it does not break a
/// grapheme cluster or a run of backticks.
fn hard_cut(rest: &str, win: usize) -> usize {
    let mut cut = win;
    for _ in 0..MAX_BACKOFF {
        if !splits_cluster(rest, cut) {
            return cut;
        }
        match rest[..cut].char_indices().next_back() {
            Some((i, _)) if i > 0 => cut = i,
            _ => break,
        }
    }
    win
}

/// Best-effort grapheme check without a Unicode segmentation table.
fn splits_cluster(rest: &str, cut: usize) -> bool {
    let (Some(before), Some(after)) = (rest[..cut].chars().next_back(), rest[cut..].chars().next())
    else {
        return false;
    };
    let regional = |c: char| ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
    if regional(before) && regional(after) {
        // Flags are pairs: splitting is wrong after an odd count.
        let run = rest[..cut]
            .chars()
            .rev()
            .take_while(|&c| regional(c))
            .count();
        return run % 2 == 1;
    }
    before == '\u{200D}' || extends(after) || (before == '`' && after == '`')
}

/// Characters that attach to the one before them: combining marks
/// (Latin, Cyrillic, Hebrew, Arabic, Devanagari, kana, symbols, keycap),
/// joiners, variation selectors, skin tones and flag tag sequences.
fn extends(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05BD}'
        | '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0900}'..='\u{0903}'
        | '\u{093A}'..='\u{094F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200C}'..='\u{200D}' | '\u{20D0}'..='\u{20FF}' | '\u{3099}'..='\u{309A}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FE20}'..='\u{FE2F}' | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_sizes(chunks: &[String], limit: usize) {
        for c in chunks {
            assert!(units(c) <= limit, "{} units > {limit}: {c:?}", units(c));
            assert!(c.chars().count() <= limit);
            assert!(!c.is_empty());
            assert_eq!(c.trim(), c);
        }
    }

    fn non_blank(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn check(text: &str, limit: usize, want: &[&str]) {
        assert_eq!(split_message(text, limit), want, "{text:?} at {limit}");
    }

    #[test]
    fn blank_gives_nothing_and_short_text_one_trimmed_chunk() {
        check("", 2000, &[]);
        check(" \n\t\u{3000} ", 2000, &[]);
        check("  hello there \n", DISCORD_MESSAGE_LIMIT, &["hello there"]);
    }

    #[test]
    fn prefers_paragraph_then_line_then_sentence_then_space() {
        let text = "Para one, line one.\nline two.\n\nPara two.";
        check(text, 32, &["Para one, line one.\nline two.", "Para two."]);
        check("aaaa bbbb.\ncccc dddd", 15, &["aaaa bbbb.", "cccc dddd"]);
        check("One two. Three four", 15, &["One two.", "Three four"]);
        check("alpha beta gamma", 12, &["alpha beta", "gamma"]);
        check(
            "今日は晴れ。明日は雨です。",
            8,
            &["今日は晴れ。", "明日は雨です。"],
        );
        check(
            "xxxxxxxxxxxxxxxxxxxxxxxxx",
            10,
            &["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"],
        );
    }

    #[test]
    fn counts_utf16_units() {
        let text = "😀".repeat(1500); // 3000 units, 1500 chars
        let chunks = split_message(&text, DISCORD_MESSAGE_LIMIT);
        assert_eq!(chunks.len(), 2);
        check_sizes(&chunks, DISCORD_MESSAGE_LIMIT);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn keeps_emoji_sequences_whole() {
        let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦"; // 11 units
        let flag = "🇬🇧";
        let text = format!("{family}{flag}").repeat(20);
        let chunks = split_message(&text, 30);
        check_sizes(&chunks, 30);
        for c in &chunks {
            // Whole families and whole flags only.
            assert!(c.starts_with('👨') || c.starts_with('🇬'), "{c:?}");
            assert!(c.ends_with('👦') || c.ends_with(flag), "{c:?}");
        }
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn code_blocks_are_closed_and_reopened() {
        let code: String = (0..40).map(|i| format!("    let x{i} = {i};\n")).collect();
        let text = format!("Here is code:\n```rust\n{code}```\nDone.");
        let chunks = split_message(&text, 200);
        check_sizes(&chunks, 200);
        assert!(chunks.len() > 3);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.matches(FENCE).count() % 2, 0, "chunk {i}: {c:?}");
            if i > 0 && i + 1 < chunks.len() {
                assert!(c.starts_with("```rust\n    let"), "indentation kept: {c:?}");
            }
        }
        assert!(chunks.last().is_some_and(|c| c.ends_with("Done.")));
    }

    #[test]
    fn tiny_and_degenerate_limits_do_not_panic() {
        for limit in 0..12 {
            let chunks = split_message("a😀 ```py\nb\u{301}c``` \u{202E}d", limit);
            assert!(chunks.iter().all(|c| !c.is_empty()));
        }
        assert_eq!(split_message("😀😀", 1), ["😀", "😀"]);
    }

    #[test]
    fn huge_input_is_fast_and_bounded() {
        let piece = "Sentence one. Second! ```js\n  code();\n``` \u{200D}👍\n\n";
        let text = piece.repeat(1_000_000 / piece.len());
        for limit in [10, 137, DISCORD_MESSAGE_LIMIT, usize::MAX] {
            let chunks = split_message(&text, limit);
            check_sizes(&chunks, limit);
        }
        let blank_code = format!("```\n{}x", " ".repeat(1_000_000));
        check_sizes(&split_message(&blank_code, 10), 10);
    }

    /// Text built from pieces that stress every break rule and fences.
    /// Content letters are non-ASCII so they never form a language tag;
    /// only "py" does, and the checks strip it.
    fn pieces() -> impl Strategy<Value = String> {
        let pieces =
            "é|üü|日本語| |  |\n|\n\n|. |! |。|```|```py\n|`|😀|\u{200D}|\u{301}|🇬🇧|\t|\u{3000}";
        let piece = prop::sample::select(pieces.split('|').collect::<Vec<_>>());
        proptest::collection::vec(piece, 0..120).prop_map(|v| v.concat())
    }

    proptest! {
        // Fixed cases in CI; PROPTEST_RNG_SEED=<u64> explores others.
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_0004),
            ..ProptestConfig::with_cases(512)
        })]

        #[test]
        fn prop_any_text_sizes_and_content(text in any::<String>(), limit in 0usize..300) {
            let text = text.replace('`', "");
            let chunks = split_message(&text, limit);
            for c in &chunks {
                prop_assert!(!c.is_empty());
                prop_assert_eq!(c.trim(), c.as_str());
                // Only a lone character wider than the limit may exceed it.
                prop_assert!(units(c) <= limit || c.chars().count() == 1, "{:?}", c);
            }
            prop_assert_eq!(non_blank(&chunks.concat()), non_blank(&text));
        }

        #[test]
        fn prop_fenced_text(text in pieces(), limit in 10usize..120) {
            let chunks = split_message(&text, limit);
            check_sizes(&chunks, limit);
            for c in chunks.iter().rev().skip(1) {
                prop_assert_eq!(c.matches(FENCE).count() % 2, 0, "{:?}", c);
            }
            let strip = |s: &str| non_blank(s).replace(['`', 'p', 'y'], "");
            prop_assert_eq!(strip(&chunks.concat()), strip(&text));
        }
    }
}
