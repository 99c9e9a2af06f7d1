//! `/coe-mod review|flag|stats|export|clear`: moderators read the redacted
//! reasoning behind replies, flag concerns, see per-therapy mixes, and let
//! the companion speak again in a thread paused after a crisis.

use super::coe::ephemeral_text;
use crate::discord::checks::is_moderator;
use crate::discord::reply::no_mentions;
use crate::discord::{Context, Error};
use crate::pipeline::Member;
use crate::store::{InteractionRow, SummaryScope, Verdict};
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{
    ComponentInteractionCollector, CreateActionRow, CreateAttachment, CreateButton, CreateEmbed,
    CreateInteractionResponse, CreateInteractionResponseMessage,
};
use std::time::Duration;

const NOT_A_MODERATOR: &str = "This command is for this server's moderators.";
const EXPORT_ROW_LIMIT: u32 = 50_000;

/// Review the reasoning behind the companion's replies (moderators).
#[poise::command(
    slash_command,
    rename = "coe-mod",
    guild_only,
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("review", "flag", "stats", "export", "clear"),
    subcommand_required
)]
pub async fn coe_mod(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Answers non-moderators and returns false; nothing else is revealed.
async fn allowed(ctx: Context<'_>) -> Result<bool, Error> {
    if is_moderator(ctx).await {
        return Ok(true);
    }
    ctx.send(ephemeral_text(NOT_A_MODERATOR)).await?;
    Ok(false)
}

fn guild(ctx: Context<'_>) -> u64 {
    ctx.guild_id().map_or(0, |g| g.get())
}

/// Page through recent replies: therapy, emotion, strategy, redacted reasoning.
#[poise::command(slash_command)]
async fn review(
    ctx: Context<'_>,
    #[description = "Replies per page (1-10)"]
    #[min = 1]
    #[max = 10]
    limit: Option<u32>,
) -> Result<(), Error> {
    if !allowed(ctx).await? {
        return Ok(());
    }
    let store = ctx.data().pipeline.store();
    let page_size = limit.unwrap_or(5).clamp(1, 10);
    // `pages` holds the id each page starts before; the last is the current page.
    let mut pages: Vec<Option<i64>> = vec![None];
    let mut rows = store
        .recent_interactions(guild(ctx), page_size, None)
        .await?;
    let older_id = format!("{}:older", ctx.id());
    let newer_id = format!("{}:newer", ctx.id());
    let page = |rows: &[InteractionRow], first_page: bool| {
        let buttons = vec![
            CreateButton::new(&newer_id)
                .label("Newer")
                .disabled(first_page),
            CreateButton::new(&older_id)
                .label("Older")
                .disabled(rows.len() < page_size as usize),
        ];
        (
            review_embeds(rows, page_size),
            vec![CreateActionRow::Buttons(buttons)],
        )
    };
    let (embeds, components) = page(&rows, true);
    let reply = embeds
        .into_iter()
        .fold(ephemeral_text(&review_heading(&rows)), CreateReply::embed);
    ctx.send(reply.components(components)).await?;

    // The trailing ':' keeps one review's id from matching a longer one.
    let prefix = format!("{}:", ctx.id());
    while let Some(click) = ComponentInteractionCollector::new(ctx)
        .filter({
            let prefix = prefix.clone();
            move |click| click.data.custom_id.starts_with(&prefix)
        })
        .timeout(Duration::from_secs(600))
        .await
    {
        if click.data.custom_id == older_id {
            let before = rows.last().map(|r| r.id);
            pages.push(before);
        } else if pages.len() > 1 {
            pages.pop();
        }
        let before = *pages.last().expect("first page stays");
        rows = store
            .recent_interactions(guild(ctx), page_size, before)
            .await?;
        let (embeds, components) = page(&rows, pages.len() == 1);
        let update = CreateInteractionResponseMessage::new()
            .content(review_heading(&rows))
            .embeds(embeds)
            .components(components)
            .allowed_mentions(no_mentions());
        click
            .create_response(ctx, CreateInteractionResponse::UpdateMessage(update))
            .await?;
    }
    Ok(())
}

fn review_heading(rows: &[InteractionRow]) -> String {
    match (rows.first(), rows.last()) {
        (Some(newest), Some(oldest)) => format!(
            "Replies #{} to #{} (newest first). Reasoning is redacted; flag with `/coe-mod flag`.",
            oldest.id, newest.id
        ),
        _ => "No recorded replies here yet.".into(),
    }
}

/// Discord caps the text of all embeds of one message at 6,000 characters;
/// the reasoning fields share what the other fields leave.
const REASONING_BUDGET: usize = 4_500;

fn review_embeds(rows: &[InteractionRow], page_size: u32) -> Vec<CreateEmbed> {
    let per_row = (REASONING_BUDGET / page_size.max(1) as usize).min(1024);
    rows.iter()
        .map(|row| {
            let reasoning = if row.reasoning.is_empty() {
                "(none kept)".to_string()
            } else {
                row.reasoning
                    .iter()
                    .enumerate()
                    .map(|(i, step)| format!("{}. {step}", i + 1))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            CreateEmbed::new()
                .title(format!(
                    "#{} · {} · {} · risk {}{}",
                    row.id,
                    row.therapy,
                    row.outcome,
                    row.risk_tier,
                    row.risk_layer
                        .as_deref()
                        .map_or(String::new(), |l| format!(" ({l})"))
                ))
                .field("Emotion", row.emotion.as_deref().unwrap_or("unknown"), true)
                .field(
                    "Strategy",
                    row.strategy.as_deref().unwrap_or("unknown"),
                    true,
                )
                .field("When", &row.created_at, true)
                .field("Reasoning", truncate(&reasoning, per_row), false)
                .footer(serenity::CreateEmbedFooter::new(format!(
                    "{} · prompt {} · {} ms",
                    row.source, row.prompt_version, row.latency_ms
                )))
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum VerdictChoice {
    #[name = "ok"]
    Ok,
    #[name = "concern"]
    Concern,
}

/// Record your review of one logged reply.
#[poise::command(slash_command)]
async fn flag(
    ctx: Context<'_>,
    #[description = "The reply's number (from /coe-mod review)"] id: i64,
    #[description = "Was the reply appropriate?"] verdict: VerdictChoice,
    #[description = "A short note (no personal details please)"]
    #[max_length = 500]
    note: Option<String>,
) -> Result<(), Error> {
    if !allowed(ctx).await? {
        return Ok(());
    }
    let data = ctx.data();
    let reviewer = data
        .pipeline
        .user_key(&Member::Discord(ctx.author().id.get()));
    let verdict = match verdict {
        VerdictChoice::Ok => Verdict::Ok,
        VerdictChoice::Concern => Verdict::Concern,
    };
    let note = note.map(|n| crate::store::redact::redact(&n));
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
    ctx.send(ephemeral_text(&text)).await?;
    Ok(())
}

/// Strategy mix per therapy, outcomes and review verdicts in this server.
#[poise::command(slash_command)]
async fn stats(ctx: Context<'_>) -> Result<(), Error> {
    if !allowed(ctx).await? {
        return Ok(());
    }
    let scope = SummaryScope {
        guild_id: Some(guild(ctx)),
        since: None,
    };
    let summaries = ctx.data().pipeline.store().summarize(&scope).await?;
    if summaries.is_empty() {
        ctx.send(ephemeral_text("No recorded replies here yet."))
            .await?;
        return Ok(());
    }
    let mut embed = CreateEmbed::new().title("Companion replies by therapy");
    for summary in &summaries {
        let list = |counts: &[(String, u64)]| {
            if counts.is_empty() {
                "none".to_string()
            } else {
                counts
                    .iter()
                    .map(|(name, n)| format!("{name} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        embed = embed.field(
            format!("{} ({} messages)", summary.therapy, summary.total),
            format!(
                "Strategies: {}\nOutcomes: {}\nReviews: {}",
                list(&summary.strategies),
                list(&summary.outcomes),
                list(&summary.verdicts)
            ),
            false,
        );
    }
    ctx.send(CreateReply::default().embed(embed).ephemeral(true))
        .await?;
    Ok(())
}

/// Let the companion reply again in a support thread paused after a crisis.
#[poise::command(slash_command)]
async fn clear(
    ctx: Context<'_>,
    #[description = "The paused thread (default: this one)"]
    #[channel_types("PublicThread", "PrivateThread")]
    thread: Option<serenity::GuildChannel>,
) -> Result<(), Error> {
    if !allowed(ctx).await? {
        return Ok(());
    }
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
    ctx.send(ephemeral_text(&text)).await?;
    Ok(())
}

/// Download this server's anonymized rows as CSV.
#[poise::command(slash_command)]
async fn export(ctx: Context<'_>) -> Result<(), Error> {
    if !allowed(ctx).await? {
        return Ok(());
    }
    ctx.defer_ephemeral().await?;
    let rows = ctx
        .data()
        .pipeline
        .store()
        .recent_interactions(guild(ctx), EXPORT_ROW_LIMIT, None)
        .await?;
    let csv = rows_to_csv(&rows)?;
    let reply = ephemeral_text(&format!("{} anonymized rows (no user keys).", rows.len()))
        .attachment(CreateAttachment::bytes(csv, "coe-interactions.csv"));
    ctx.send(reply).await?;
    Ok(())
}

fn rows_to_csv(rows: &[InteractionRow]) -> Result<Vec<u8>, Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(CsvRow {
            id: row.id,
            created_at: &row.created_at,
            source: &row.source,
            therapy: &row.therapy,
            prompt_version: &row.prompt_version,
            model: &row.model,
            emotion: row.emotion.as_deref().unwrap_or(""),
            strategy: row.strategy.as_deref().unwrap_or("unknown"),
            outcome: &row.outcome,
            risk_tier: &row.risk_tier,
            risk_layer: row.risk_layer.as_deref().unwrap_or(""),
            latency_ms: row.latency_ms,
            reasoning: row.reasoning.join(" | "),
        })?;
    }
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}

#[derive(serde::Serialize)]
struct CsvRow<'a> {
    id: i64,
    created_at: &'a str,
    source: &'a str,
    therapy: &'a str,
    prompt_version: &'a str,
    model: &'a str,
    emotion: &'a str,
    strategy: &'a str,
    outcome: &'a str,
    risk_tier: &'a str,
    risk_layer: &'a str,
    latency_ms: i64,
    reasoning: String,
}
