//! A review page as embeds that Discord accepts: each text within its own
//! cap (title 256, field name 256, field value 1,024, footer 2,048), and
//! every text of every embed in the message together within 6,000
//! characters, whatever the page size. When a page would be longer, the
//! longest texts are trimmed first, to one common length.
//!
//! Every stored text is shown inert (`moderator_text`): the reasoning and
//! the labels are derived from what the model and the member wrote.

use crate::safety::sanitize::moderator_text as inert;
use crate::store::InteractionRow;
use poise::serenity_prelude::{CreateEmbed, CreateEmbedFooter};

/// Discord refuses a message with more embeds than this.
pub const MAX_EMBEDS: usize = 10;
/// Titles, descriptions, field names and values, footers and author names
/// of all the embeds of one message.
const TOTAL_CHARS: usize = 6_000;
const TITLE_CHARS: usize = 256;
const FIELD_NAME_CHARS: usize = 256;
const FIELD_VALUE_CHARS: usize = 1_024;
const FOOTER_CHARS: usize = 2_048;

/// One embed's texts, fitted before they become a `CreateEmbed`.
struct EmbedText {
    title: String,
    /// (name, value, inline)
    fields: Vec<(String, String, bool)>,
    footer: String,
}

impl EmbedText {
    fn for_row(row: &InteractionRow) -> EmbedText {
        let reasoning = if row.reasoning.is_empty() {
            "(none kept)".to_string()
        } else {
            let steps: Vec<String> = row
                .reasoning
                .iter()
                .enumerate()
                .map(|(i, step)| format!("{}. {}", i + 1, inert(step)))
                .collect();
            steps.join("\n")
        };
        let layer = row
            .risk_layer
            .as_deref()
            .map_or(String::new(), |l| format!(" ({})", inert(l)));
        // Discord refuses an empty field value.
        let known = |value: &Option<String>| {
            let value = value.as_deref().filter(|v| !v.is_empty());
            inert(value.unwrap_or("unknown"))
        };
        let field = |name: &str, value: String, inline| (name.to_string(), value, inline);
        EmbedText {
            title: format!(
                "#{} · {} · {} · risk {}{layer}",
                row.id,
                inert(&row.therapy),
                inert(&row.outcome),
                inert(&row.risk_tier)
            ),
            fields: vec![
                field("Emotion", known(&row.emotion), true),
                field("Strategy", known(&row.strategy), true),
                field("When", inert(&row.created_at), true),
                field("Reasoning", reasoning, false),
            ],
            footer: format!(
                "{} · prompt {} · {} ms",
                inert(&row.source),
                inert(&row.prompt_version),
                row.latency_ms
            ),
        }
    }

    /// Each text with the cap Discord sets for its kind.
    fn texts_mut(&mut self) -> impl Iterator<Item = (&mut String, usize)> {
        let fields = self
            .fields
            .iter_mut()
            .flat_map(|(name, value, _)| [(name, FIELD_NAME_CHARS), (value, FIELD_VALUE_CHARS)]);
        std::iter::once((&mut self.title, TITLE_CHARS))
            .chain(fields)
            .chain(std::iter::once((&mut self.footer, FOOTER_CHARS)))
    }

    fn into_embed(self) -> CreateEmbed {
        let embed = CreateEmbed::new()
            .title(self.title)
            .footer(CreateEmbedFooter::new(self.footer));
        self.fields
            .into_iter()
            .fold(embed, |embed, (name, value, inline)| {
                embed.field(name, value, inline)
            })
    }
}

/// The embeds of one review page (at most `MAX_EMBEDS` rows).
pub fn review_embeds(rows: &[InteractionRow]) -> Vec<CreateEmbed> {
    let mut embeds: Vec<EmbedText> = rows
        .iter()
        .take(MAX_EMBEDS)
        .map(EmbedText::for_row)
        .collect();
    for embed in &mut embeds {
        for (text, cap) in embed.texts_mut() {
            truncate(text, cap);
        }
    }
    let mut lengths = Vec::new();
    for embed in &mut embeds {
        lengths.extend(embed.texts_mut().map(|(text, _)| text.chars().count()));
    }
    let common = common_length(&lengths, TOTAL_CHARS);
    for embed in &mut embeds {
        for (text, _) in embed.texts_mut() {
            truncate(text, common);
        }
    }
    embeds.into_iter().map(EmbedText::into_embed).collect()
}

/// The longest length `L` such that the texts, each cut to at most `L`,
/// fit in `budget` together.
fn common_length(lengths: &[usize], budget: usize) -> usize {
    let total_at = |cap: usize| lengths.iter().map(|&l| l.min(cap)).sum::<usize>();
    let (mut fits, mut too_long) = (0, lengths.iter().copied().max().unwrap_or(0) + 1);
    if total_at(too_long) <= budget {
        return too_long;
    }
    while too_long - fits > 1 {
        let middle = (fits + too_long) / 2;
        if total_at(middle) <= budget {
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    fits
}

/// Cuts `text` to at most `max` characters, the last one an ellipsis.
fn truncate(text: &mut String, max: usize) {
    if text.chars().count() <= max {
        return;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    *text = cut;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn row(id: i64, long: usize) -> InteractionRow {
        InteractionRow {
            id,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            source: "slash".into(),
            therapy: "cbt".into(),
            prompt_version: "cbt-v1".into(),
            model: "mock".into(),
            emotion: Some("é".repeat(long)),
            strategy: Some("exploration".into()),
            reasoning: vec!["ü".repeat(long); 3],
            outcome: "replied".into(),
            risk_tier: "none".into(),
            risk_layer: None,
            latency_ms: 12,
        }
    }

    /// Characters Discord counts in one embed, and whether each text is
    /// within its own cap.
    fn counted(embed: &Value) -> (usize, bool) {
        let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let mut within = chars(&embed["title"]) <= TITLE_CHARS
            && chars(&embed["description"]) <= 4_096
            && chars(&embed["footer"]["text"]) <= FOOTER_CHARS
            && chars(&embed["author"]["name"]) <= 256;
        let mut total = chars(&embed["title"])
            + chars(&embed["description"])
            + chars(&embed["footer"]["text"])
            + chars(&embed["author"]["name"]);
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        within &= fields.len() <= 25;
        for field in &fields {
            let (name, value) = (chars(&field["name"]), chars(&field["value"]));
            within &= name <= FIELD_NAME_CHARS && (1..=FIELD_VALUE_CHARS).contains(&value);
            total += name + value;
        }
        (total, within)
    }

    #[test]
    fn every_page_size_fits_discords_limits() {
        for long in [0, 300, 5_000] {
            for size in 1..=MAX_EMBEDS {
                let rows: Vec<_> = (0..size as i64).map(|i| row(i, long)).collect();
                let embeds = review_embeds(&rows);
                assert_eq!(embeds.len(), size);
                let mut total = 0;
                for embed in &embeds {
                    let (chars, within) = counted(&serde_json::to_value(embed).unwrap());
                    assert!(within, "an embed breaks a cap (size {size}, long {long})");
                    total += chars;
                }
                assert!(total <= TOTAL_CHARS, "{total} characters at size {size}");
            }
        }
    }

    #[test]
    fn short_pages_are_not_trimmed() {
        let embeds = review_embeds(&[row(1, 40)]);
        let json = serde_json::to_value(&embeds[0]).unwrap();
        let reasoning = json["fields"][3]["value"].as_str().unwrap();
        assert!(!reasoning.contains('…'), "{reasoning}");
        assert_eq!(reasoning.chars().count(), 3 * (3 + 40) + 2);
    }

    #[test]
    fn longest_texts_are_trimmed_first() {
        assert_eq!(common_length(&[10, 20, 30], 100), 31);
        assert_eq!(common_length(&[10, 20, 30], 50), 20);
        assert_eq!(common_length(&[10, 20, 30], 49), 19);
        assert_eq!(common_length(&[], 0), 1);
    }
}
