//! The supporter's draft against the model's edit of it, word by word, as
//! Discord markdown: what was added in **bold**, what was removed in
//! ~~strikethrough~~. The diff is computed here (the `similar` crate),
//! not asked of the model: small models mark their own changes badly.

use similar::{capture_diff_slices, Algorithm, DiffTag};

/// The least share of the supporter's words an edit keeps to count as an
/// edit of their reply rather than a new one: HAILEY and PARTNER changed
/// a sentence or two and kept the supporter's voice.
const LIGHT_EDIT_KEPT: f64 = 0.5;

/// The most words an edit adds beyond the draft's own length, so a short
/// draft can gain a sentence (an open question, say) but not a new reply.
const LIGHT_EDIT_EXTRA_WORDS: usize = 25;

/// An edit with its changes marked.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkedEdit {
    pub marked: String,
    /// The share of the draft's words the edit kept (1.0: all).
    pub kept_ratio: f64,
    /// Words the edit put in (inserted or replacing others).
    pub added_words: usize,
    /// Words in the supporter's draft.
    pub draft_words: usize,
    /// False when the edit is the draft itself.
    pub changed: bool,
}

pub fn mark_changes(draft: &str, edited: &str) -> MarkedEdit {
    let old: Vec<&str> = draft.split_whitespace().collect();
    let new: Vec<&str> = edited.split_whitespace().collect();
    let mut parts: Vec<String> = Vec::new();
    let (mut kept, mut added) = (0, 0);
    for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        let words = |range: std::ops::Range<usize>, from: &[&str]| {
            from[range]
                .iter()
                .map(|w| escape(w))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match tag {
            DiffTag::Equal => {
                kept += old_range.len();
                parts.push(words(old_range, &old));
            }
            DiffTag::Delete => parts.push(format!("~~{}~~", words(old_range, &old))),
            DiffTag::Insert => {
                added += new_range.len();
                parts.push(format!("**{}**", words(new_range, &new)));
            }
            DiffTag::Replace => {
                added += new_range.len();
                parts.push(format!("~~{}~~", words(old_range, &old)));
                parts.push(format!("**{}**", words(new_range, &new)));
            }
        }
    }
    MarkedEdit {
        marked: parts.join(" "),
        kept_ratio: if old.is_empty() {
            0.0
        } else {
            kept as f64 / old.len() as f64
        },
        added_words: added,
        draft_words: old.len(),
        changed: old != new,
    }
}

/// Whether the edit is light enough to show as the supporter's own words, edited.
pub fn is_light_edit(edit: &MarkedEdit) -> bool {
    edit.kept_ratio >= LIGHT_EDIT_KEPT
        && edit.added_words <= edit.draft_words.max(LIGHT_EDIT_EXTRA_WORDS)
}

/// A word with Discord's markdown characters escaped, so only our marks format.
fn escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '#' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertions_and_removals_are_marked_and_the_rest_kept() {
        let edit = mark_changes(
            "I'm sorry you feel that way. Exams are not everything.",
            "I'm so sorry you feel this way. What has been hardest?",
        );
        assert!(edit.changed);
        assert!(
            edit.marked
                .starts_with("I'm **so** sorry you feel ~~that~~ **this**"),
            "{}",
            edit.marked
        );
        assert!(
            edit.marked.contains("~~Exams are not everything.~~"),
            "{}",
            edit.marked
        );
        assert!(
            edit.marked.ends_with("**What has been hardest?**"),
            "{}",
            edit.marked
        );
        assert_eq!(edit.kept_ratio, 0.5, "five of the ten words kept");
        assert!(is_light_edit(&edit));
    }

    #[test]
    fn markdown_in_either_text_cannot_format() {
        let edit = mark_changes("so *sad* __now__", "so *sad* __now__ ~~ok~~ `x` > q");
        assert!(
            edit.marked
                .starts_with(r"so \*sad\* \_\_now\_\_ **\~\~ok\~\~"),
            "{}",
            edit.marked
        );
        assert!(!edit.marked.contains(" `x`") && edit.marked.contains(r"\`x\`"));
        let quoting = mark_changes(
            r"# big > quote ||spoiler|| a\b",
            r"# big > quote ||spoiler|| a\b",
        );
        assert_eq!(quoting.marked, r"\# big \> quote \|\|spoiler\|\| a\\b");
        assert!(!quoting.changed);
    }

    #[test]
    fn an_unchanged_edit_and_a_rewrite_are_told_apart() {
        let same = mark_changes("That sounds hard.", "  That sounds   hard. ");
        assert!(!same.changed && same.kept_ratio == 1.0);
        let rewrite = mark_changes(
            "That sounds hard, I am sorry.",
            "Wow, exams can be the worst thing ever for anyone.",
        );
        assert!(
            rewrite.changed && !is_light_edit(&rewrite),
            "{}",
            rewrite.kept_ratio
        );
        assert_eq!(mark_changes("", "New text.").kept_ratio, 0.0);
        // Every word kept, and a new reply appended: not a light edit either.
        let appended = format!("I'm sorry. {}", "more words ".repeat(20));
        let appended = mark_changes("I'm sorry.", &appended);
        assert_eq!(appended.kept_ratio, 1.0);
        assert!(
            !is_light_edit(&appended),
            "{} words added",
            appended.added_words
        );
        let one_question = mark_changes("I'm sorry.", "I'm sorry. What has been the hardest part?");
        assert!(is_light_edit(&one_question));
    }
}
