//! Crisis gate: runs before any LLM call and flags suicidal ideation, self-harm,
//! concern for someone else, and danger to others. The vocabulary lives in
//! `data/crisis_patterns.toml` so moderators and clinicians can review it; this
//! file only normalizes text and applies the file's rules.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use regex::{Captures, Match, Regex};
use serde::Deserialize;

use super::risk::{Layer, Risk, RiskKind, Tier};

/// Assesses one message with the patterns alone (the first layer of the
/// gate). Scans at most the configured number of characters.
pub fn assess(text: &str) -> Risk {
    let lex: &'static Lexicon = &LEXICON;
    let base = normalize(text, lex.settings.max_scan_chars);
    // Elongations are tried squeezed to one and to two letters ("diiie", "killll").
    let mut variants = vec![squeeze(&base, 1), squeeze(&base, 2)];
    variants.dedup();
    let best = variants
        .iter()
        .filter_map(|v| lex.scan(v))
        .max_by_key(priority);
    match best {
        Some(hit) => Risk {
            rule_id: Some(hit.rule_id),
            ..Risk::from_layer(Layer::Patterns, hit.tier, hit.kind)
        },
        None => Risk::default(),
    }
}

/// One accepted pattern hit.
#[derive(Clone, Copy)]
struct Hit {
    tier: Tier,
    kind: RiskKind,
    rule_id: &'static str,
}

/// Highest tier first, then self-risk before danger before another person.
fn priority(hit: &Hit) -> (Tier, std::cmp::Reverse<u8>) {
    (hit.tier, std::cmp::Reverse(hit.kind.rank()))
}

const PATTERNS_TOML: &str = include_str!("../../data/crisis_patterns.toml");

// The file is checked by unit tests, so a failure here is a build-time mistake.
static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::parse(PATTERNS_TOML).unwrap_or_else(|e| panic!("data/crisis_patterns.toml: {e}"))
});

#[derive(Debug, thiserror::Error)]
enum LexiconError {
    #[error("not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("`{0}`: bad regex: {1}")]
    Regex(String, #[source] regex::Error),
    #[error("rule `{0}`: {1}")]
    Rule(String, &'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    settings: Settings,
    vocab: BTreeMap<String, String>,
    grammar: Grammar<String>,
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    max_scan_chars: usize,
    context_bytes: usize,
    negation_window_words: usize,
}

/// The shared, non-rule regexes; see the `[grammar]` comments in the data file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Grammar<R> {
    negation_cues: R,
    negation_exempt: R,
    negation_after: R,
    clause_boundary: R,
    sentence_boundary: R,
    subject_first: R,
    subject_other: R,
    media: R,
    past: R,
    recovered: R,
    recent: R,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    category: RiskKind,
    /// The tier a plain hit proposes; context can only soften it.
    #[serde(default = "crisis_tier")]
    tier: Tier,
    #[serde(default)]
    first_person: bool,
    #[serde(default = "default_true")]
    negatable: bool,
    pattern: String,
    not_if: Option<String>,
    note: String,
    examples: Vec<String>,
}

fn default_true() -> bool {
    true
}

fn crisis_tier() -> Tier {
    Tier::Crisis
}

struct Rule {
    raw: RawRule,
    regex: Regex,
    not_if: Option<Regex>,
}

struct Lexicon {
    settings: Settings,
    g: Grammar<Regex>,
    rules: Vec<Rule>,
}

impl Lexicon {
    fn parse(src: &str) -> Result<Lexicon, LexiconError> {
        let raw: RawFile = toml::from_str(src)?;
        let compile = |at: &str, pattern: &str| {
            let expanded = expand(pattern, &raw.vocab);
            Regex::new(&expanded).map_err(|e| LexiconError::Regex(at.to_string(), e))
        };
        let r = &raw.grammar;
        let g = Grammar {
            negation_cues: compile("negation_cues", &r.negation_cues)?,
            negation_exempt: compile("negation_exempt", &r.negation_exempt)?,
            negation_after: compile("negation_after", &r.negation_after)?,
            clause_boundary: compile("clause_boundary", &r.clause_boundary)?,
            sentence_boundary: compile("sentence_boundary", &r.sentence_boundary)?,
            subject_first: compile("subject_first", &r.subject_first)?,
            subject_other: compile("subject_other", &r.subject_other)?,
            media: compile("media", &r.media)?,
            past: compile("past", &r.past)?,
            recovered: compile("recovered", &r.recovered)?,
            recent: compile("recent", &r.recent)?,
        };
        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            let fail = |problem| Err(LexiconError::Rule(r.id.clone(), problem));
            if !ids.insert(r.id.clone()) {
                return fail("duplicate id");
            }
            if r.note.trim().is_empty() || r.examples.is_empty() {
                return fail("needs a note and at least one example");
            }
            if r.first_person && r.category != RiskKind::SelfRisk {
                return fail("`first_person` only applies to self_risk rules");
            }
            let regex = compile(&r.id, &r.pattern)?;
            // Examples document the rule; a rule that misses its own examples is broken.
            if r.examples
                .iter()
                .any(|e| !regex.is_match(&normalize(e, 1000)))
            {
                return fail("an example does not match the pattern");
            }
            let not_if = r.not_if.as_deref().map(|p| compile(&r.id, p)).transpose()?;
            rules.push(Rule {
                raw: r,
                regex,
                not_if,
            });
        }
        Ok(Lexicon {
            settings: raw.settings,
            g,
            rules,
        })
    }

    /// The highest-priority accepted hit in one normalized variant (first in
    /// file order on ties, so rule ids in logs are stable).
    fn scan(&'static self, text: &str) -> Option<Hit> {
        let recovered = self.g.recovered.is_match(text);
        let hits = self.rules.iter().flat_map(|rule| {
            rule.regex
                .find_iter(text)
                .filter_map(move |m| self.judge(rule, text, m, recovered))
        });
        // The first of the highest-priority hits (`max_by_key` keeps the last).
        hits.fold(None, |best: Option<Hit>, hit| match best {
            Some(best) if priority(&best) >= priority(&hit) => Some(best),
            _ => Some(hit),
        })
    }

    /// Decides what one regex hit means in its context: idioms drop it;
    /// negation, past-and-recovered and fiction soften it, never to `none`.
    fn judge(
        &'static self,
        rule: &'static Rule,
        text: &str,
        hit: Match,
        recovered: bool,
    ) -> Option<Hit> {
        let (start, end) = (hit.start(), hit.end());
        let ctx = self.settings.context_bytes;
        let near = &text[text.floor_char_boundary(start.saturating_sub(ctx / 5))
            ..text.ceil_char_boundary(end + ctx / 5)];
        if rule.not_if.as_ref().is_some_and(|re| re.is_match(near)) {
            return None;
        }
        let mut tier = rule.raw.tier;
        let before = &text[text.floor_char_boundary(start.saturating_sub(ctx))..start];
        let sentence = after_last(&self.g.sentence_boundary, before);
        let clause = after_last(&self.g.clause_boundary, sentence);
        let after = &text[end..text.ceil_char_boundary(end + ctx)];
        let tail = before_first(&self.g.clause_boundary, after);
        if rule.raw.negatable && (self.negated(clause) || self.g.negation_after.is_match(tail)) {
            tier = tier.softened();
        }
        let kind = match rule.raw.category {
            RiskKind::SelfRisk => {
                let whole_clause = &text[start - clause.len()..end + tail.len()];
                let past = self.g.past.is_match(whole_clause);
                if recovered && past && !self.g.recent.is_match(whole_clause) {
                    // Past and recovered: two steps, as the labelling rules say.
                    tier = tier.softened().softened();
                }
                // The phrase's first word may be its subject ("i'll be dead ...").
                let first_word = text[start..end].find(' ').map_or(end, |i| start + i);
                self.whose(
                    rule.raw.first_person,
                    &text[start - sentence.len()..first_word],
                )
            }
            other => other,
        };
        // Fiction and news about other people are not a risk to anyone now.
        let rest = before_first(&self.g.sentence_boundary, after);
        if kind != RiskKind::SelfRisk
            && (self.g.media.is_match(sentence) || self.g.media.is_match(rest))
        {
            tier = tier.min(Tier::Mention);
        }
        Some(Hit {
            tier,
            kind,
            rule_id: rule.raw.id.as_str(),
        })
    }

    /// True when a negation word governs the phrase that follows `clause`.
    fn negated(&self, clause: &str) -> bool {
        let words: Vec<&str> = clause.split_whitespace().collect();
        let window = words[words
            .len()
            .saturating_sub(self.settings.negation_window_words)..]
            .join(" ");
        self.g
            .negation_cues
            .is_match(&self.g.negation_exempt.replace_all(&window, " "))
    }

    /// Who a self-risk phrase is about, from the sentence text before it.
    fn whose(&self, first_person: bool, sentence: &str) -> RiskKind {
        // Inside quotes "I" is the quoted speaker: judge by who is being quoted.
        let quoted = sentence.matches('"').count() % 2 == 1;
        if first_person && !quoted {
            return RiskKind::SelfRisk;
        }
        let scope = if quoted {
            &sentence[..sentence.rfind('"').unwrap_or(0)]
        } else {
            sentence
        };
        let last = |re: &Regex| re.find_iter(scope).last().map(|m| m.start());
        match (last(&self.g.subject_first), last(&self.g.subject_other)) {
            (first, Some(other)) if first.is_none_or(|f| other > f) => RiskKind::OtherPerson,
            _ => RiskKind::SelfRisk,
        }
    }
}

/// Replaces `{name}` with the vocab entry; entries may use other entries.
fn expand(pattern: &str, vocab: &BTreeMap<String, String>) -> String {
    let mut out = pattern.to_string();
    for _ in 0..4 {
        for (name, value) in vocab {
            out = out.replace(&format!("{{{name}}}"), &format!("(?:{value})"));
        }
    }
    out
}

fn after_last<'a>(re: &Regex, s: &'a str) -> &'a str {
    re.find_iter(s).last().map_or(s, |m| &s[m.end()..])
}

fn before_first<'a>(re: &Regex, s: &'a str) -> &'a str {
    re.find(s).map_or(s, |m| &s[..m.start()])
}

fn static_regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

static SPACED_LETTERS: LazyLock<Regex> =
    LazyLock::new(|| static_regex(r"\b\pL(?:[ .\-]\pL){2,}\b"));
// Leetspeak is folded only in words that contain a letter, so "10 kms" and "988" stay.
static WORD_WITH_LETTER: LazyLock<Regex> = LazyLock::new(|| static_regex(r"\S*\pL\S*"));
// A symbol between two letters usually hides an "i" ("k!ll", "k*ll").
static MASKED_LETTER: LazyLock<Regex> = LazyLock::new(|| static_regex(r"\b[!*|]\b"));

/// Lower-cases, strips invisible characters, unifies quotes, folds leetspeak
/// and joins spaced-out letters, so the data file can use plain words.
fn normalize(raw: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_chars.saturating_mul(4)));
    for c in raw.chars().take(max_chars) {
        match c {
            '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' => {}
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{02BC}' | '\u{00B4}' | '`' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => out.push('"'),
            '\n' | '\r' if !out.ends_with('\n') => out.push('\n'),
            c if c.is_whitespace() => {
                if !(out.is_empty() || out.ends_with(' ') || out.ends_with('\n')) {
                    out.push(' ');
                }
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    let out = WORD_WITH_LETTER.replace_all(&out, |w: &Captures| {
        w[0].chars().map(fold_leet).collect::<String>()
    });
    let out = MASKED_LETTER.replace_all(&out, "i");
    SPACED_LETTERS
        .replace_all(&out, |w: &Captures| w[0].replace([' ', '.', '-'], ""))
        .into_owned()
}

fn fold_leet(c: char) -> char {
    match c {
        '1' => 'i',
        '3' => 'e',
        '0' => 'o',
        '4' | '@' => 'a',
        '$' => 's',
        c => c,
    }
}

/// Squeezes runs of three or more equal letters down to `keep` letters.
fn squeeze(s: &str, keep: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let mut run = 1;
        while chars.next_if_eq(&c).is_some() {
            run += 1;
        }
        let n = if c.is_alphabetic() && run >= 3 {
            keep
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, n));
    }
    out
}

#[cfg(test)]
mod tests;
