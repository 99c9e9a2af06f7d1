//! Clicks on the supporter's cards: another draft, or a verdict. Each is
//! acknowledged at once (Discord waits 3 seconds), privately, and answered
//! with a follow-up when the work is done.

use super::buttons::{verdict_label, Action, PREFIX};
use super::{draft_for, refuse_asker, Asker, Card};
use crate::discord::Data;
use crate::pipeline::Member as Person;
use crate::store::NewAssistVerdict;
use poise::serenity_prelude as serenity;
use serenity::{ComponentInteraction, CreateInteractionResponse, CreateInteractionResponseMessage};

const GONE: &str = "That message isn't there any more, so there is nothing to draft for.";
const NOT_SAVED: &str = "I couldn't save that just now. Please try again in a moment.";
const STALE: &str =
    "This card's buttons are from an older version of me. Please ask again from the message.";

/// Handles a click on one of our buttons; other components are not ours.
pub async fn on_click(ctx: &serenity::Context, data: &Data, click: &ComponentInteraction) {
    if !click.data.custom_id.starts_with(PREFIX) {
        return;
    }
    let defer =
        CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(true));
    if let Err(error) = click.create_response(&ctx.http, defer).await {
        tracing::warn!(%error, "could not acknowledge a card click");
        return;
    }
    let card = answer(ctx, data, click).await;
    if let Err(error) = click.create_followup(&ctx.http, card.followup()).await {
        tracing::error!(%error, "could not deliver a supporter card");
    }
}

async fn answer(ctx: &serenity::Context, data: &Data, click: &ComponentInteraction) -> Card {
    let (Some(guild), Some(member)) = (click.guild_id, click.member.as_ref()) else {
        return Card::text(super::NOT_A_SUPPORTER);
    };
    let Some(action) = Action::parse(&click.data.custom_id) else {
        return Card::text(STALE);
    };
    let asker = Asker {
        member,
        guild,
        channel: click.channel_id,
    };
    match action {
        Action::Redraft {
            channel,
            message,
            therapy,
            strategy,
        } => match channel.message(&ctx.http, message).await {
            Ok(target) => draft_for(ctx, data, &asker, &target, Some(therapy), strategy).await,
            Err(error) => {
                tracing::info!(%error, "the message of a redraft is gone");
                Card::text(GONE)
            }
        },
        Action::Verdict {
            kind,
            therapy,
            strategy,
            verdict,
        } => {
            if let Some(refusal) = refuse_asker(data, &asker).await {
                return refusal;
            }
            let supporter_key = data
                .pipeline
                .user_key(&Person::Discord(member.user.id.get()));
            let row = NewAssistVerdict {
                card_id: click.message.id.get(),
                guild_id: Some(guild.get()),
                supporter_key: &supporter_key,
                kind,
                therapy,
                strategy,
                verdict,
            };
            let store = data.pipeline.store();
            // A supporter who opted out is thanked, and not recorded.
            let recorded = match store.is_opted_out(&supporter_key).await {
                Ok(true) => Ok(false),
                Ok(false) => store.record_assist_verdict(&row).await,
                Err(error) => Err(error),
            };
            match recorded {
                Ok(_) => Card::text(&format!(
                    "Thank you: noted as “{}”. It helps this server see which suggestions help.",
                    verdict_label(verdict).to_lowercase()
                )),
                Err(error) => {
                    tracing::error!(%error, "could not record a supporter's verdict");
                    Card::text(NOT_SAVED)
                }
            }
        }
    }
}
