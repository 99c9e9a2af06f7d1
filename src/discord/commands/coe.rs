//! `/coe therapy:<…> message:<…> [private]`: the chain on demand.

use crate::chain::Therapy;
use crate::discord::answer::{admit, respond_to_member, Answer, BusyNotice, Handled, Incoming};
use crate::discord::reply::{
    ephemeral_text, no_mentions, reply_chunks, BUSY, RESTARTING, SLOW_DOWN,
};
use crate::discord::{Context, Error};
use crate::safety::crisis;
use crate::store::Source;
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{CommandInteraction, CreateInteractionResponseFollowup, EditInteractionResponse};

/// The therapies as Discord choices with readable names.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum TherapyChoice {
    #[name = "Base (no reasoning)"]
    Base,
    #[name = "CBT (cognitive behavioural)"]
    Cbt,
    #[name = "DBT (dialectical behavioural)"]
    Dbt,
    #[name = "PCT (person-centred)"]
    Pct,
    #[name = "RT (reality therapy)"]
    Rt,
}

impl From<TherapyChoice> for Therapy {
    fn from(choice: TherapyChoice) -> Therapy {
        match choice {
            TherapyChoice::Base => Therapy::Base,
            TherapyChoice::Cbt => Therapy::Cbt,
            TherapyChoice::Dbt => Therapy::Dbt,
            TherapyChoice::Pct => Therapy::Pct,
            TherapyChoice::Rt => Therapy::Rt,
        }
    }
}

/// Share what's on your mind and get an empathetic reply from an AI peer-support companion.
#[poise::command(slash_command)]
pub async fn coe(
    ctx: Context<'_>,
    #[description = "How the companion reasons about your message"] therapy: TherapyChoice,
    #[description = "What's on your mind"]
    #[max_length = 4000]
    message: String,
    #[description = "Only you see the reply"] private: Option<bool>,
) -> Result<(), Error> {
    let private = private.unwrap_or(false);
    let data = ctx.data();
    // The patterns answer at once; the classifier may queue behind other
    // messages, so it runs after the deferral (Discord allows 3 seconds).
    let quick = crisis::assess(&message);
    // These refusals are answered at once and only to the member, before
    // any deferral could make them public. A crisis or concern is still
    // answered while shutting down: its fixed reply needs no model.
    let Some((working, mode)) = admit(data, quick.tier) else {
        ctx.send(ephemeral_text(RESTARTING)).await?;
        return Ok(());
    };
    let author = ctx.author().id.get();
    if !data.limiter.allow(author) && !quick.tier.shows_helplines() {
        ctx.send(ephemeral_text(SLOW_DOWN)).await?;
        return Ok(());
    }
    if private {
        ctx.defer_ephemeral().await?;
    } else {
        ctx.defer().await?;
    }
    let risk = data.pipeline.gate().assess(&message).await;
    let incoming = Incoming {
        source: Source::Slash,
        guild_id: ctx.guild_id(),
        channel_id: ctx.channel_id(),
        message_id: None,
        author,
        therapy: Some(therapy.into()),
        text: &message,
        history: &[],
        risk,
        handled: Handled::Answered,
    };
    let busy = busy_notice(ctx);
    let answer = respond_to_member(
        data,
        ctx.serenity_context(),
        &incoming,
        &working,
        mode,
        busy.as_ref(),
    )
    .await;
    if let Some(busy) = &busy {
        busy.settle().await;
    }
    let Some(answer) = answer else {
        ctx.send(ephemeral_text(RESTARTING)).await?;
        return Ok(());
    };
    if answer.failed && !private {
        return apologise_privately(ctx, &answer).await;
    }
    let mut delivered = true;
    for chunk in reply_chunks(&answer.reply) {
        let reply = CreateReply::default()
            .content(chunk)
            .ephemeral(private)
            .allowed_mentions(no_mentions());
        if let Err(error) = ctx.send(reply).await {
            tracing::error!(%error, "could not deliver /coe reply");
            delivered = false;
            break;
        }
    }
    if !delivered {
        answer.mark_undelivered(data).await;
    }
    Ok(())
}

/// The "thinking…" placeholder becomes the busy notice.
fn busy_notice(ctx: Context<'_>) -> Option<BusyNotice> {
    let interaction = ctx_interaction(ctx)?;
    let http = ctx.serenity_context().http.clone();
    Some(BusyNotice::new(move || {
        let (http, interaction) = (http.clone(), interaction.clone());
        Box::pin(async move {
            let notice = EditInteractionResponse::new()
                .content(BUSY)
                .allowed_mentions(no_mentions());
            if let Err(error) = interaction.edit_response(&http, notice).await {
                tracing::warn!(%error, "could not send the busy notice");
            }
        })
    }))
}

fn ctx_interaction(ctx: Context<'_>) -> Option<CommandInteraction> {
    match ctx {
        poise::Context::Application(app) => Some(app.interaction.clone()),
        poise::Context::Prefix(_) => None,
    }
}

/// A public `/coe` whose model failed: the public placeholder goes away and
/// the apology is seen by the member alone, not the whole channel.
async fn apologise_privately(ctx: Context<'_>, answer: &Answer) -> Result<(), Error> {
    let Some(interaction) = ctx_interaction(ctx) else {
        return Ok(());
    };
    let http = &ctx.serenity_context().http;
    if let Err(error) = interaction.delete_response(http).await {
        tracing::warn!(%error, "could not remove the /coe placeholder");
    }
    let apology = CreateInteractionResponseFollowup::new()
        .content(reply_chunks(&answer.reply).remove(0))
        .ephemeral(true)
        .allowed_mentions(no_mentions());
    if let Err(error) = interaction.create_followup(http, apology).await {
        tracing::error!(%error, "could not deliver the /coe apology");
        answer.mark_undelivered(ctx.data()).await;
    }
    Ok(())
}
