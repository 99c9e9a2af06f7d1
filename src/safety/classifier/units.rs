//! Splits a message into the units the classifier scores: sentences, with
//! short fragments joined to their neighbour so each unit carries meaning.
//! One sentence about saved-up pills must decide a long post, so the gate
//! keeps the riskiest unit rather than averaging the whole text away.

/// At most this many units per message: enough for every sentence of the
/// longest message the pipeline reads (4,000 characters); beyond it, the
/// first and last sentences and an even spread of the middle, so the work
/// per message has a ceiling.
pub const MAX_UNITS: usize = 48;

/// A run-on "sentence" longer than this is scored in windows of this many
/// words, since the model reads only its first 128 tokens.
const WINDOW_WORDS: usize = 60;

/// Fragments shorter than this many words are joined to the next one.
const MIN_WORDS: usize = 5;

/// Messages shorter than this are left to the patterns (which know "kms",
/// "i want to die"): "and now?" has too little meaning for its nearest
/// neighbours to say anything reliable about it.
const MIN_MESSAGE_WORDS: usize = 5;

/// The sentences of `text`, trimmed, fragments joined, capped at `MAX_UNITS`;
/// none for a message of under `MIN_MESSAGE_WORDS` words.
pub fn units(text: &str) -> Vec<String> {
    if text.split_whitespace().count() < MIN_MESSAGE_WORDS {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for sentence in sentences(text) {
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(sentence);
        if pending.split_whitespace().count() >= MIN_WORDS {
            out.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        match out.last_mut() {
            Some(last) => {
                last.push(' ');
                last.push_str(&pending);
            }
            None => out.push(pending),
        }
    }
    let windows = out.iter().flat_map(|unit| windows(unit)).collect();
    spread(windows, MAX_UNITS)
}

/// `unit` itself, or consecutive windows of `WINDOW_WORDS` words.
fn windows(unit: &str) -> Vec<String> {
    let words: Vec<&str> = unit.split_whitespace().collect();
    if words.len() <= WINDOW_WORDS {
        return vec![unit.to_string()];
    }
    words.chunks(WINDOW_WORDS).map(|w| w.join(" ")).collect()
}

/// Splits after `.`, `!`, `?` or `…` followed by a space, and at line breaks.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        let ends =
            matches!(c, '\n' | '\r') || (matches!(c, '.' | '!' | '?' | '…') && next_is_space);
        if ends {
            let end = i + c.len_utf8();
            pieces.push(&text[start..end]);
            start = end;
        }
    }
    pieces.push(&text[start..]);
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|s| s.chars().any(char::is_alphanumeric))
}

/// Keeps `max` of `units`: the first, the last, and evenly spaced between.
fn spread(units: Vec<String>, max: usize) -> Vec<String> {
    if units.len() <= max {
        return units;
    }
    let last = units.len() - 1;
    let keep: Vec<usize> = (0..max).map(|k| k * last / (max - 1)).collect();
    units
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.binary_search(i).is_ok())
        .map(|(_, u)| u)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_split_and_fragments_joined() {
        let got = units("ok. so. school was awful today and i failed again! i have the pills saved up.\nanyway lol");
        assert_eq!(
            got,
            vec![
                "ok. so. school was awful today and i failed again!",
                "i have the pills saved up. anyway lol",
            ]
        );
        assert!(units("and now?").is_empty(), "too short to classify");
        assert!(units("long day, slow thoughts").is_empty());
        assert_eq!(
            units("i just want out of everything"),
            vec!["i just want out of everything"]
        );
        assert!(units("  ... \n ").is_empty());
        assert_eq!(
            units("v2.0 is out. it is great fun to use"),
            vec!["v2.0 is out. it is great fun to use"]
        );
    }

    #[test]
    fn run_on_text_is_scored_in_windows() {
        let text = "word ".repeat(150);
        let got = units(&text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].split_whitespace().count(), 60);
        assert_eq!(got[2].split_whitespace().count(), 30);
    }

    #[test]
    fn long_posts_are_capped_but_keep_both_ends() {
        let text: String = (0..200)
            .map(|i| format!("this is sentence number {i} of a long post. "))
            .collect();
        let got = units(&text);
        assert_eq!(got.len(), MAX_UNITS);
        assert!(got[0].contains("number 0 "));
        assert!(got[MAX_UNITS - 1].contains("number 199 "));
    }
}
