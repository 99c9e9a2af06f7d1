//! The buttons of the supporter's cards. Each button carries all it needs
//! in its custom id (Discord allows 100 characters), so a click is
//! understood by any process of the bot, after a restart too, and nothing
//! about the card is kept in memory.

use crate::chain::{Strategy, Therapy};
use crate::store::{AssistKind, AssistVerdict};
use poise::serenity_prelude as serenity;
use serenity::{ButtonStyle, ChannelId, CreateActionRow, CreateButton, MessageId};

/// Every assist custom id starts with this; other buttons are not ours.
pub const PREFIX: &str = "coe-assist:";

/// What a click asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Draft again for the message at `channel`/`message`.
    Redraft {
        channel: ChannelId,
        message: MessageId,
        therapy: Therapy,
        strategy: Option<Strategy>,
    },
    /// The supporter's verdict on the card clicked.
    Verdict {
        kind: AssistKind,
        therapy: Therapy,
        strategy: Option<Strategy>,
        verdict: AssistVerdict,
    },
}

impl Action {
    /// The custom id; `row` tells apart two buttons that ask the same
    /// (a strategy and a therapy button can name one redraft, and Discord
    /// wants every id on a message to be unique).
    fn custom_id(self, row: char) -> String {
        match self {
            Action::Redraft {
                channel,
                message,
                therapy,
                strategy,
            } => format!(
                "{PREFIX}{row}:{channel}:{message}:{therapy}:{}",
                label(strategy)
            ),
            Action::Verdict {
                kind,
                therapy,
                strategy,
                verdict,
            } => format!(
                "{PREFIX}v:{}:{therapy}:{}:{}",
                kind.as_str(),
                label(strategy),
                verdict.as_str()
            ),
        }
    }

    /// The action of a custom id of ours; `None` for anything else.
    pub fn parse(custom_id: &str) -> Option<Action> {
        let parts: Vec<&str> = custom_id.strip_prefix(PREFIX)?.split(':').collect();
        match parts.as_slice() {
            [row, channel, message, therapy, strategy] if matches!(*row, "s" | "t") => {
                Some(Action::Redraft {
                    channel: ChannelId::new(snowflake(channel)?),
                    message: MessageId::new(snowflake(message)?),
                    therapy: therapy.parse().ok()?,
                    strategy: strategy_of(strategy)?,
                })
            }
            ["v", kind, therapy, strategy, verdict] => Some(Action::Verdict {
                kind: AssistKind::parse(kind)?,
                therapy: therapy.parse().ok()?,
                strategy: strategy_of(strategy)?,
                verdict: AssistVerdict::parse(verdict)?,
            }),
            _ => None,
        }
    }
}

fn label(strategy: Option<Strategy>) -> &'static str {
    strategy.map_or("any", Strategy::as_str)
}

/// `Some(None)` for "any"; `None` for text that is no strategy.
fn strategy_of(label: &str) -> Option<Option<Strategy>> {
    match label {
        "any" => Some(None),
        other => Strategy::ALL
            .into_iter()
            .find(|s| s.as_str() == other)
            .map(Some),
    }
}

fn snowflake(text: &str) -> Option<u64> {
    text.parse().ok().filter(|id| *id > 0)
}

/// A draft card's rows: the same message with another strategy, with
/// another therapy, and the verdicts.
pub fn draft_rows(
    channel: ChannelId,
    message: MessageId,
    therapy: Therapy,
    asked: Option<Strategy>,
    used: Option<Strategy>,
) -> Vec<CreateActionRow> {
    let redraft = |therapy, strategy| Action::Redraft {
        channel,
        message,
        therapy,
        strategy,
    };
    let strategies = Strategy::ALL
        .into_iter()
        .map(|strategy| {
            let action = redraft(therapy, Some(strategy));
            let style = if used == Some(strategy) {
                ButtonStyle::Secondary
            } else {
                ButtonStyle::Primary
            };
            CreateButton::new(action.custom_id('s'))
                .label(strategy_button(strategy))
                .style(style)
        })
        .collect();
    let therapies = Therapy::ALL
        .into_iter()
        .filter(|t| *t != therapy)
        .map(|other| {
            CreateButton::new(redraft(other, asked).custom_id('t'))
                .label(format!("With {}", other.as_str().to_uppercase()))
                .style(ButtonStyle::Secondary)
        })
        .collect();
    vec![
        CreateActionRow::Buttons(strategies),
        CreateActionRow::Buttons(therapies),
        verdict_row(AssistKind::Draft, therapy, used),
    ]
}

/// The verdict buttons every card carries.
pub fn verdict_row(
    kind: AssistKind,
    therapy: Therapy,
    strategy: Option<Strategy>,
) -> CreateActionRow {
    let buttons = AssistVerdict::ALL
        .into_iter()
        .map(|verdict| {
            let action = Action::Verdict {
                kind,
                therapy,
                strategy,
                verdict,
            };
            let style = match verdict {
                AssistVerdict::Used => ButtonStyle::Success,
                AssistVerdict::UsedWithEdits => ButtonStyle::Primary,
                AssistVerdict::NotHelpful => ButtonStyle::Secondary,
            };
            CreateButton::new(action.custom_id('v'))
                .label(verdict_label(verdict))
                .style(style)
        })
        .collect();
    CreateActionRow::Buttons(buttons)
}

fn strategy_button(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::EmotionalReaction => "More warmth",
        Strategy::Exploration => "Ask to hear more",
        Strategy::Interpretation => "Reflect the feeling",
    }
}

/// A verdict as the button and the thank-you name it.
pub fn verdict_label(verdict: AssistVerdict) -> &'static str {
    match verdict {
        AssistVerdict::Used => "Used it",
        AssistVerdict::UsedWithEdits => "Used it with edits",
        AssistVerdict::NotHelpful => "Not helpful",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_of_a_card_reads_back_as_its_action_and_fits() {
        let (channel, message) = (ChannelId::new(u64::MAX >> 1), MessageId::new(u64::MAX >> 1));
        let rows = draft_rows(
            channel,
            message,
            Therapy::Cbt,
            None,
            Some(Strategy::Exploration),
        );
        let ids: Vec<String> = rows
            .iter()
            .flat_map(
                |row| match serde_json::to_value(row).unwrap()["components"].clone() {
                    serde_json::Value::Array(buttons) => buttons,
                    _ => Vec::new(),
                },
            )
            .map(|button| button["custom_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 3 + 4 + 3);
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:#?}");
        for id in &ids {
            assert!(id.len() <= 100, "{id}");
            assert!(Action::parse(id).is_some(), "{id}");
        }
        assert_eq!(
            Action::parse(&ids[0]),
            Some(Action::Redraft {
                channel,
                message,
                therapy: Therapy::Cbt,
                strategy: Some(Strategy::EmotionalReaction),
            })
        );
        assert_eq!(
            Action::parse(&ids[9]),
            Some(Action::Verdict {
                kind: AssistKind::Draft,
                therapy: Therapy::Cbt,
                strategy: Some(Strategy::Exploration),
                verdict: AssistVerdict::NotHelpful,
            })
        );
    }

    #[test]
    fn ids_that_are_not_ours_or_are_broken_are_ignored() {
        for id in [
            "review:next",
            "coe-assist:",
            "coe-assist:x:1:2:cbt:any",
            "coe-assist:s:0:2:cbt:any",
            "coe-assist:s:1:2:freud:any",
            "coe-assist:s:1:2:cbt:advice",
            "coe-assist:v:draft:cbt:any:loved_it",
            "coe-assist:v:draft:cbt:any:used:extra",
        ] {
            assert_eq!(Action::parse(id), None, "{id}");
        }
    }
}
