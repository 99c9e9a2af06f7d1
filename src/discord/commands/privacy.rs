//! `/coe-privacy about|optout|optin|forget`: every member's control over
//! what the companion keeps about them. Every answer is private
//! (`ephemeral` on each subcommand, which is where poise reads it); the
//! subcommands that use the database acknowledge first, since it may stay
//! busy for longer than the 3 seconds Discord waits for an answer.

use crate::discord::{Context, Error};
use crate::pipeline::Member;

/// What the companion is and keeps, and your choices about it.
#[poise::command(
    slash_command,
    rename = "coe-privacy",
    subcommands("about", "optout", "optin", "forget"),
    subcommand_required
)]
pub async fn coe_privacy(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

fn user_key(ctx: Context<'_>) -> String {
    ctx.data()
        .pipeline
        .user_key(&Member::Discord(ctx.author().id.get()))
}

/// What this companion is, what it stores, and for how long.
#[poise::command(slash_command, ephemeral)]
async fn about(ctx: Context<'_>) -> Result<(), Error> {
    let days = ctx.data().config.retention_days;
    let text = format!(
        "**coe-bot is an AI peer-support companion, not a therapist, counsellor or crisis service.** \
         Its replies are written by a language model that reasons in the style of a therapy model \
         (CBT, DBT, person-centred or reality therapy); they can be wrong, and they are no substitute \
         for professional help. If you are in danger, contact your local emergency number or a crisis line now.\n\n\
         **What is stored:** for each reply, an anonymous row: a keyed hash instead of your Discord ID, the therapy, \
         the strategy and a one-word emotion label the model named, its reasoning (which may paraphrase what you wrote) with emails, phone numbers, links, mentions and IDs redacted, \
         the outcome, timing and token counts. Your message text is not stored. Moderators of this server can \
         read the redacted reasoning to check the companion's work.\n\
         **For how long:** the reasoning text and the emotion label are deleted after {days} days; the anonymous labels stay for research.\n\n\
         **Your choices:**\n\
         • `/coe-privacy optout`: no replies to your support-channel messages and nothing recorded about you.\n\
         • `/coe-privacy optin`: undo that.\n\
         • `/coe-privacy forget`: delete every row linked to you, now."
    );
    ctx.say(text).await?;
    Ok(())
}

/// Stop replies to your support-channel messages and stop recording you.
#[poise::command(slash_command, ephemeral)]
async fn optout(ctx: Context<'_>) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let changed = ctx.data().pipeline.store().opt_out(&user_key(ctx)).await?;
    let text = if changed {
        "Done. I won't reply to your messages in support channels or record anything about you. \
         `/coe` still answers you, without recording. `/coe-privacy optin` undoes this."
    } else {
        "You had already opted out; nothing about you is being recorded."
    };
    ctx.say(text).await?;
    Ok(())
}

/// Let the companion reply to you and record anonymous rows again.
#[poise::command(slash_command, ephemeral)]
async fn optin(ctx: Context<'_>) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let changed = ctx.data().pipeline.store().opt_in(&user_key(ctx)).await?;
    let text = if changed {
        "Welcome back. I'll reply in support channels again and keep anonymous rows (see `/coe-privacy about`)."
    } else {
        "You were not opted out, so nothing changed."
    };
    ctx.say(text).await?;
    Ok(())
}

/// Delete every row linked to you.
#[poise::command(slash_command, ephemeral)]
async fn forget(ctx: Context<'_>) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let deleted = ctx.data().pipeline.store().forget(&user_key(ctx)).await?;
    let text = format!(
        "Deleted {deleted} row{} linked to you. This cannot be undone.",
        if deleted == 1 { "" } else { "s" }
    );
    ctx.say(text).await?;
    Ok(())
}
