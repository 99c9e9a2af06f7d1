//! The emotion the model names, as a short label from a closed vocabulary.
//!
//! The model's emotion is shaped by what the member typed, so it is
//! untrusted text; it is stored, exported to spreadsheets and shown to
//! moderators. Keeping it a label (lower-case ASCII letters and spaces, at
//! most [`MAX_LABEL_CHARS`]) means no URL, formula, mention or sentence
//! about a person can live there. What the model says is mapped onto the
//! vocabulary ("Feeling really lonely" → `loneliness`); a single unknown
//! word is kept as it is when it fits the rule, anything else is dropped.

use serde::{Serialize, Serializer};
use std::fmt;

/// Longest label kept.
pub const MAX_LABEL_CHARS: usize = 32;
/// Longest unknown word kept as its own label.
const MAX_RAW_WORD_CHARS: usize = 24;
/// Words of the model's text looked at: a label is near the start.
const MAX_WORDS_READ: usize = 12;

/// Each canonical label, then the words that mean it. Canonical labels are
/// nouns (GoEmotions' set plus what support conversations need).
const VOCABULARY: &[(&str, &[&str])] = &[
    ("admiration", &["admiring", "admire"]),
    ("amusement", &["amused", "funny"]),
    (
        "anger",
        &["angry", "mad", "rage", "furious", "fury", "irate", "livid"],
    ),
    (
        "annoyance",
        &["annoyed", "irritated", "irritation", "irritable"],
    ),
    (
        "anxiety",
        &[
            "anxious",
            "uneasy",
            "unease",
            "apprehension",
            "apprehensive",
        ],
    ),
    ("betrayal", &["betrayed"]),
    ("bitterness", &["bitter"]),
    ("boredom", &["bored"]),
    (
        "calm",
        &["calmness", "peaceful", "peace", "serene", "serenity"],
    ),
    (
        "caring",
        &["care", "compassion", "compassionate", "tenderness"],
    ),
    (
        "confusion",
        &["confused", "unsure", "lost", "bewildered", "puzzled"],
    ),
    ("contentment", &["content", "satisfied", "satisfaction"]),
    ("curiosity", &["curious"]),
    (
        "despair",
        &["despairing", "desperate", "desperation", "anguish"],
    ),
    ("disappointment", &["disappointed", "letdown"]),
    ("disgust", &["disgusted", "revulsion"]),
    (
        "distress",
        &["distressed", "upset", "turmoil", "agitation", "agitated"],
    ),
    ("dread", &["dreading"]),
    (
        "embarrassment",
        &["embarrassed", "humiliation", "humiliated", "mortified"],
    ),
    ("envy", &["envious"]),
    ("excitement", &["excited", "thrilled", "eager", "eagerness"]),
    (
        "exhaustion",
        &[
            "exhausted",
            "tired",
            "tiredness",
            "fatigue",
            "drained",
            "burnout",
            "burntout",
            "burnedout",
            "weary",
            "weariness",
        ],
    ),
    (
        "fear",
        &[
            "afraid",
            "scared",
            "frightened",
            "terrified",
            "terror",
            "fearful",
        ],
    ),
    ("frustration", &["frustrated"]),
    ("gratitude", &["grateful", "thankful", "thanks"]),
    (
        "grief",
        &[
            "grieving",
            "mourning",
            "bereavement",
            "heartbreak",
            "heartbroken",
        ],
    ),
    ("guilt", &["guilty"]),
    ("helplessness", &["helpless", "powerless", "powerlessness"]),
    ("hope", &["hopeful", "hopefulness"]),
    ("hopelessness", &["hopeless"]),
    ("hurt", &["wounded", "pain", "painful", "aching"]),
    ("inadequacy", &["inadequate", "failure"]),
    ("insecurity", &["insecure", "selfdoubt", "doubt"]),
    (
        "isolation",
        &[
            "isolated",
            "alienation",
            "alienated",
            "disconnected",
            "disconnection",
        ],
    ),
    ("jealousy", &["jealous"]),
    (
        "joy",
        &[
            "happy",
            "happiness",
            "joyful",
            "glad",
            "delight",
            "delighted",
            "elation",
        ],
    ),
    ("loneliness", &["lonely", "alone"]),
    ("longing", &["yearning", "missing"]),
    ("love", &["loving", "affection"]),
    ("nervousness", &["nervous", "jittery", "tense", "tension"]),
    ("neutral", &["neutrality", "none"]),
    (
        "numbness",
        &["numb", "empty", "emptiness", "apathy", "apathetic"],
    ),
    ("optimism", &["optimistic"]),
    (
        "overwhelm",
        &["overwhelmed", "overwhelming", "overload", "overloaded"],
    ),
    ("panic", &["panicked", "panicky", "panicking"]),
    ("pride", &["proud"]),
    ("regret", &["regretful", "remorse", "remorseful"]),
    (
        "rejection",
        &["rejected", "unwanted", "abandoned", "abandonment"],
    ),
    ("relief", &["relieved"]),
    ("resentment", &["resentful"]),
    (
        "sadness",
        &[
            "sad",
            "sorrow",
            "sorrowful",
            "unhappy",
            "unhappiness",
            "depressed",
            "depression",
            "down",
            "low",
            "melancholy",
            "gloom",
            "miserable",
            "misery",
            "blue",
            "dejected",
            "dejection",
        ],
    ),
    ("shame", &["ashamed", "shameful"]),
    ("shock", &["shocked", "stunned", "disbelief"]),
    (
        "stress",
        &["stressed", "pressure", "pressured", "strain", "strained"],
    ),
    ("surprise", &["surprised", "astonished"]),
    (
        "uncertainty",
        &["uncertain", "ambivalence", "ambivalent", "indecision"],
    ),
    ("worry", &["worried", "concern", "concerned", "worrying"]),
    ("worthlessness", &["worthless", "useless", "unworthy"]),
];

/// Words that qualify an emotion rather than name one; skipped when
/// looking for a label ("deep sadness", "feeling very alone").
const QUALIFIERS: &[&str] = &[
    "a",
    "an",
    "and",
    "or",
    "of",
    "the",
    "with",
    "some",
    "feeling",
    "feelings",
    "feels",
    "feel",
    "sense",
    "very",
    "really",
    "deep",
    "deeply",
    "intense",
    "intensely",
    "strong",
    "strongly",
    "mild",
    "mildly",
    "slight",
    "slightly",
    "overwhelmingly",
    "profound",
    "profoundly",
    "extreme",
    "extremely",
    "underlying",
    "mixed",
    "mostly",
    "primarily",
    "likely",
    "possible",
    "possibly",
    "general",
    "emotion",
    "emotions",
];

/// A normalised emotion label; only [`Emotion::from_model`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Emotion(String);

impl Emotion {
    /// The label for what the model wrote, or `None` when nothing in it is
    /// an emotion word and it is not one plain word either. A label maps to
    /// itself, so stored labels read back unchanged.
    pub fn from_model(text: &str) -> Option<Emotion> {
        let lowered = text.to_lowercase();
        // A list or an explanation: the first part names the emotion.
        let first = lowered
            .split([',', ';', '/', '|', '(', ':', '.', '\n'])
            .next()
            .unwrap_or("");
        let words: Vec<&str> = first
            .split(|c: char| !c.is_ascii_lowercase())
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS_READ)
            .collect();
        // The whole phrase, then word pairs ("burnt out"), then each word.
        let pairs = words.windows(2).map(|pair| pair.concat());
        let found = std::iter::once(words.concat())
            .chain(pairs)
            .chain(words.iter().map(|w| (*w).to_owned()))
            .find_map(|candidate| canonical(&candidate));
        if let Some(label) = found {
            return Some(Emotion(label.to_owned()));
        }
        let content: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| !QUALIFIERS.contains(w))
            .collect();
        let raw_fits = first
            .trim()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == ' ');
        match content.as_slice() {
            [word] if raw_fits && word.len() <= MAX_RAW_WORD_CHARS => {
                Some(Emotion((*word).to_owned()))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The canonical label of a word (or of words run together, which is how
/// "self doubt" and "burnt out" are looked up).
fn canonical(word: &str) -> Option<&'static str> {
    VOCABULARY
        .iter()
        .find(|(label, synonyms)| *label == word || synonyms.contains(&word))
        .map(|(label, _)| *label)
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Emotion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
