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

/// Suggestion acceptance: one field per kind (draft, feedback), one line
/// per therapy and strategy (at most 20 short lines, inside 1,024 characters).
fn assist_embed(rows: &[AssistSummary]) -> CreateEmbed {
    let mut embed = CreateEmbed::new().title("Supporters' verdicts on suggestions");
    for kind in AssistKind::ALL {
        let lines: Vec<String> = rows
            .iter()
            .filter(|row| row.kind == kind.as_str())
            .map(|row| {
                format!(
                    "{} · {}: {:.0}% used ({} used, {} edited, {} not helpful)",
                    moderator_text(&row.therapy),
                    moderator_text(&row.strategy),
                    100.0 * row.acceptance(),
                    row.used,
                    row.used_with_edits,
                    row.not_helpful
                )
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let name = match kind {
            AssistKind::Draft => "Drafts",
            AssistKind::Feedback => "Feedback on supporters' replies",
        };
        let mut value = String::new();
        for line in lines {
            if value.chars().count() + line.chars().count() + 1 > 1_024 {
                break;
            }
            value.push_str(&line);
            value.push('\n');
        }
        embed = embed.field(name, value, false);
    }
    embed
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
