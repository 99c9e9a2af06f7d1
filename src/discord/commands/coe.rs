//! `/coe therapy:<…> message:<…> [private]`: the chain on demand.

use crate::chain::Therapy;
use crate::discord::events::{admit, respond_to_member, Incoming};
use crate::discord::reply::{no_mentions, reply_chunks};
use crate::discord::{Context, Error};
use crate::safety::crisis;
use crate::store::Source;
use poise::CreateReply;

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
    };
    let Some(answer) =
        respond_to_member(data, ctx.serenity_context(), &incoming, &working, mode).await
    else {
        ctx.send(ephemeral_text(RESTARTING)).await?;
        return Ok(());
    };
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

const RESTARTING: &str = "I'm restarting right now. Please try again in a minute.";

pub const SLOW_DOWN: &str = "You're sending messages faster than I can give each one real attention. Please take a breath and try again in a minute; I'll still be here.";

pub fn ephemeral_text(text: &str) -> CreateReply {
    CreateReply::default()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(no_mentions())
}
