//! The supporter assist's commands: two message context menus (Apps →
//! "Draft a supportive reply", "Feedback on my reply") and
//! `/coe-assist feedback`. Each defers privately first: the gate, the
//! database and the model all take longer than Discord's 3 seconds.

use super::coe::TherapyChoice;
use crate::discord::assist::{
    draft_for, feedback_for, feedback_on_message, refuse_asker, About, Asker, Card,
};
use crate::discord::{Context, Error};
use poise::serenity_prelude as serenity;

const GUILD_ONLY: &str = "Drafts and feedback work inside a server.";

/// Draft a private, editable reply to a member's message (supporters).
#[poise::command(context_menu_command = "Draft a supportive reply", guild_only)]
pub async fn draft_reply(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let card = match ctx.author_member().await {
        Some(member) => {
            let asker = asker(ctx, &member);
            draft_for(
                ctx.serenity_context(),
                ctx.data(),
                &asker,
                &message,
                None,
                None,
            )
            .await
        }
        None => Card::text(GUILD_ONLY),
    };
    ctx.send(card.reply()).await?;
    Ok(())
}

/// Private feedback on your own reply to a member (supporters).
#[poise::command(context_menu_command = "Feedback on my reply", guild_only)]
pub async fn feedback_on_reply(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let card = match ctx.author_member().await {
        Some(member) => {
            let asker = asker(ctx, &member);
            feedback_on_message(ctx.serenity_context(), ctx.data(), &asker, &message).await
        }
        None => Card::text(GUILD_ONLY),
    };
    ctx.send(card.reply()).await?;
    Ok(())
}

/// Help for peer supporters: feedback on your own draft reply.
#[poise::command(
    slash_command,
    rename = "coe-assist",
    guild_only,
    subcommands("feedback"),
    subcommand_required
)]
pub async fn coe_assist(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Feedback on a reply you are writing: strategies, suggestions, a light edit.
#[poise::command(slash_command)]
async fn feedback(
    ctx: Context<'_>,
    #[description = "The member's message you are answering"]
    #[max_length = 4000]
    message: String,
    #[description = "Your draft reply"]
    #[max_length = 4000]
    draft: String,
    #[description = "How to understand the member (default: this server's therapy)"]
    therapy: Option<TherapyChoice>,
) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let card = match ctx.author_member().await {
        Some(member) => {
            let asker = asker(ctx, &member);
            match refuse_asker(ctx.data(), &asker).await {
                Some(refusal) => refusal,
                None => {
                    let therapy = therapy.map(Into::into);
                    let serenity = ctx.serenity_context();
                    let about = About::Pasted(&message);
                    feedback_for(serenity, ctx.data(), &asker, about, &draft, therapy).await
                }
            }
        }
        None => Card::text(GUILD_ONLY),
    };
    ctx.send(card.reply()).await?;
    Ok(())
}

fn asker<'a>(ctx: Context<'_>, member: &'a serenity::Member) -> Asker<'a> {
    Asker {
        member,
        guild: ctx.guild_id().unwrap_or(member.guild_id),
        channel: ctx.channel_id(),
    }
}
