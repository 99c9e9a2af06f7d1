//! `/coe-mod review|flag|stats|export|clear`: moderators read the redacted
//! reasoning behind replies, flag concerns, see per-therapy mixes, and let
//! the companion speak again in a thread paused after a crisis.
//!
//! The parent's check admits moderators only and acknowledges the command
//! before anything reads the database; every answer is private
//! (`ephemeral` on each subcommand, which is where poise reads it).

mod csv_files;
mod embeds;
mod export;
mod review;

use super::guild;
use crate::discord::checks::moderators_only;
use crate::discord::{Context, Error};
use crate::pipeline::Member;
use crate::safety::sanitize::moderator_text;
use crate::store::{AssistKind, AssistSummary, SummaryScope, TherapySummary, Verdict};
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::CreateEmbed;

/// Review the reasoning behind the companion's replies (moderators).
#[poise::command(
    slash_command,
    rename = "coe-mod",
    guild_only,
    default_member_permissions = "MANAGE_MESSAGES",
    check = "moderators_only",
    subcommands("review::review", "flag", "stats", "export::export", "clear"),
    subcommand_required
)]
pub async fn coe_mod(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum VerdictChoice {
    #[name = "ok"]
    Ok,
    #[name = "concern"]
    Concern,
}

/// Record your review of one logged reply.
#[poise::command(slash_command, ephemeral)]
async fn flag(
    ctx: Context<'_>,
    #[description = "The reply's number (from /coe-mod review)"] id: i64,
    #[description = "Was the reply appropriate?"] verdict: VerdictChoice,
    #[description = "A short note (no personal details please)"]
    #[max_length = 500]
    note: Option<String>,
) -> Result<(), Error> {
    let data = ctx.data();
    let reviewer = data
        .pipeline
        .user_key(&Member::Discord(ctx.author().id.get()));
    let verdict = match verdict {
        VerdictChoice::Ok => Verdict::Ok,
        VerdictChoice::Concern => Verdict::Concern,
    };
    // The store redacts the note.
    let stored = data
        .pipeline
        .store()
        .add_review(guild(ctx), id, &reviewer, verdict, note.as_deref())
        .await?;
    let text = if stored {
        format!("Saved: reply #{id} marked **{}**.", verdict.as_str())
    } else {
        format!("There is no reply #{id} in this server.")
    };
    ctx.say(text).await?;
    Ok(())
}

/// Strategy mix per therapy, outcomes, reviews and supporters' verdicts in this server.
#[poise::command(slash_command, ephemeral)]
async fn stats(ctx: Context<'_>) -> Result<(), Error> {
    let scope = SummaryScope {
        guild_id: Some(guild(ctx)),
        since: None,
    };
    let store = ctx.data().pipeline.store();
    let summaries = store.summarize(&scope).await?;
    let assist = store.assist_summary(&scope).await?;
    if summaries.is_empty() && assist.is_empty() {
        ctx.say("No recorded replies or supporter verdicts here yet.")
            .await?;
        return Ok(());
    }
    let mut reply = CreateReply::default();
    if !summaries.is_empty() {
        reply = reply.embed(replies_embed(&summaries));
    }
    if !assist.is_empty() {
        reply = reply.embed(assist_embed(&assist));
    }
    ctx.send(reply).await?;
    Ok(())
}

/// One short field per therapy: five at most, far inside 25 fields and
/// 6,000 characters.
fn replies_embed(summaries: &[TherapySummary]) -> CreateEmbed {
    let list = |counts: &[(String, u64)]| {
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts
                .iter()
                .map(|(name, n)| format!("{} {n}", moderator_text(name)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut embed = CreateEmbed::new().title("Companion replies by therapy");
    for summary in summaries {
        embed = embed.field(
            format!(
                "{} ({} messages)",
                moderator_text(&summary.therapy),
                summary.total
            ),
            format!(
                "Strategies: {}\nOutcomes: {}\nReviews: {}",
                list(&summary.strategies),
                list(&summary.outcomes),
                list(&summary.verdicts)
            ),
            false,
        );
    }
    embed
}

/// Discord's cap on one field's value.
const FIELD_VALUE_CHARS: usize = 1_024;

/// Suggestion acceptance: per kind (draft, feedback), one line per therapy
/// and strategy. A kind's twenty lines can pass one field's cap, so they
/// go on in a second field rather than being dropped.
fn assist_embed(rows: &[AssistSummary]) -> CreateEmbed {
    let mut embed = CreateEmbed::new().title("Supporters' verdicts on suggestions");
    for kind in AssistKind::ALL {
        let name = match kind {
            AssistKind::Draft => "Drafts",
            AssistKind::Feedback => "Feedback on supporters' replies",
        };
        let lines = rows
            .iter()
            .filter(|row| row.kind == kind.as_str())
            .map(acceptance_line);
        for (part, value) in packed(lines).into_iter().enumerate() {
            let name = if part == 0 {
                name.to_string()
            } else {
                format!("{name} (continued)")
            };
            embed = embed.field(name, value, false);
        }
    }
    embed
}

fn acceptance_line(row: &AssistSummary) -> String {
    format!(
        "{} · {}: {:.0}% used ({} used, {} edited, {} not helpful)",
        moderator_text(&row.therapy),
        moderator_text(&row.strategy),
        100.0 * row.acceptance(),
        row.used,
        row.used_with_edits,
        row.not_helpful
    )
}

/// The lines as field values, each within Discord's cap (a line alone is
/// far shorter).
fn packed(lines: impl Iterator<Item = String>) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for line in lines {
        match values.last_mut() {
            Some(value)
                if value.chars().count() + 1 + line.chars().count() <= FIELD_VALUE_CHARS =>
            {
                value.push('\n');
                value.push_str(&line);
            }
            _ => values.push(line),
        }
    }
    values
}

/// Let the companion reply again in a support thread paused after a crisis.
#[poise::command(slash_command, ephemeral)]
async fn clear(
    ctx: Context<'_>,
    #[description = "The paused thread (default: this one)"]
    #[channel_types("PublicThread", "PrivateThread")]
    thread: Option<serenity::GuildChannel>,
) -> Result<(), Error> {
    let channel = thread.map_or(ctx.channel_id(), |t| t.id);
    let cleared = ctx
        .data()
        .pipeline
        .store()
        .clear_thread_pause(guild(ctx), channel.get())
        .await?;
    let text = if cleared {
        format!("The companion may reply in <#{channel}> again.")
    } else {
        format!("<#{channel}> is not paused.")
    };
    ctx.say(text).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Strategy, Therapy};
    use crate::store::Outcome;

    /// Every text of an embed, as Discord counts them towards 6,000.
    fn texts(embed: &CreateEmbed) -> Vec<String> {
        let json = serde_json::to_value(embed).unwrap();
        let mut texts = vec![json["title"].as_str().unwrap_or_default().to_string()];
        for field in json["fields"].as_array().into_iter().flatten() {
            for key in ["name", "value"] {
                texts.push(field[key].as_str().unwrap().to_string());
            }
        }
        texts
    }

    #[test]
    fn busy_stats_keep_every_line_within_discords_limits() {
        let big = 999_999;
        let strategies: Vec<&str> = Strategy::ALL
            .iter()
            .map(|s| s.as_str())
            .chain(["unknown"])
            .collect();
        let mut assist = Vec::new();
        for kind in AssistKind::ALL {
            for therapy in Therapy::ALL {
                for strategy in &strategies {
                    assist.push(AssistSummary {
                        kind: kind.as_str().into(),
                        therapy: therapy.as_str().into(),
                        strategy: strategy.to_string(),
                        used: big,
                        used_with_edits: big,
                        not_helpful: big,
                    });
                }
            }
        }
        let counts = |labels: &[&str]| labels.iter().map(|l| (l.to_string(), big)).collect();
        let outcomes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        let replies: Vec<TherapySummary> = Therapy::ALL
            .iter()
            .map(|t| TherapySummary {
                therapy: t.as_str().into(),
                total: big,
                strategies: counts(&strategies),
                outcomes: counts(&outcomes),
                verdicts: counts(&["ok", "concern"]),
            })
            .collect();

        let assist_texts = texts(&assist_embed(&assist));
        let all: Vec<String> = texts(&replies_embed(&replies))
            .into_iter()
            .chain(assist_texts.iter().cloned())
            .collect();
        assert!(all.iter().all(|t| t.chars().count() <= FIELD_VALUE_CHARS));
        let total: usize = all.iter().map(|t| t.chars().count()).sum();
        assert!(total <= 6_000, "{total} characters");
        let lines = assist_texts
            .iter()
            .filter(|t| t.contains("% used"))
            .map(|t| t.lines().count());
        assert_eq!(lines.sum::<usize>(), assist.len());
        assert!(
            assist_texts.contains(&"Drafts (continued)".to_string()),
            "{assist_texts:?}"
        );
    }
}
