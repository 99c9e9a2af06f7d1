//! Supporter assist in Discord: who may ask, for which messages, and the
//! private cards they get. The context menus and `/coe-assist` live in
//! `commands/assist.rs`; button clicks in `clicks.rs`. Every card is
//! ephemeral and the bot never posts in the channel for a supporter.

mod buttons;
mod clicks;

pub use clicks::on_click;

use super::alerts::alert_moderators;
use super::answer::{guild_settings, Handled, Incoming};
use super::checks::may_assist;
use super::in_flight::InFlightGuard;
use super::reply::{no_mentions, RESTARTING};
use super::threads::support_mode;
use super::Data;
use crate::assist::card::{draft_card, feedback_card, guidance_card};
use crate::assist::{self, Assisted, DraftAsk, FeedbackAsk};
use crate::chain::{Strategy, Therapy};
use crate::pipeline::Member as Person;
use crate::safety::risk::Risk;
use crate::store::{AssistKind, GuildSettings, Source};
use buttons::{draft_rows, verdict_row};
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{
    ChannelId, CreateActionRow, CreateInteractionResponseFollowup, GuildId, Member, Message,
};

pub const NOT_A_SUPPORTER: &str = "Drafts and feedback are for this server's supporters. \
     If you'd like to help here, ask an admin about the supporter role.";
const ROLES_UNREADABLE: &str =
    "I couldn't check this server's supporter role just now. Please try again in a moment.";
const NOT_A_MEMBER: &str = "I draft replies to members' messages, not to bots or webhooks.";
const OWN_MESSAGE: &str =
    "That's your own message. For feedback on it, use Apps → Feedback on my reply.";
const NOT_YOURS: &str = "Feedback on my reply works on your own messages. For someone else's \
     message, use Apps → Draft a supportive reply.";
const DRAFTS_OFF: &str = "Drafts are off in this channel. An admin can turn them on with \
     `/coe-admin channel mode`.";
pub const OPTED_OUT: &str = "This member asked the companion to stay out of their conversations, \
     so I won't draft anything for their messages. Your own words are what matter here.";
const CONSENT_UNREADABLE: &str =
    "I couldn't check this member's privacy choice just now, so I'll leave this one. Please try again in a moment.";
const NO_ANSWERED_MESSAGE: &str = "I couldn't find the message your reply answers. Use Discord's \
     Reply on it, or run `/coe-assist feedback` and paste both.";
const SLOW_DOWN: &str = "You've asked for a lot of suggestions in a short time. Please give it a \
     minute; your own words are the heart of a reply anyway.";
const ALERTED: &str = "The moderators have been told.";
const NOT_ALERTED: &str = "Please tell a moderator too.";

/// A card: its text and buttons, sent privately to the supporter.
pub struct Card {
    content: String,
    components: Vec<CreateActionRow>,
}

impl Card {
    pub fn text(content: &str) -> Card {
        Card {
            content: content.to_string(),
            components: Vec::new(),
        }
    }

    pub fn reply(self) -> CreateReply {
        CreateReply::default()
            .content(self.content)
            .components(self.components)
            .ephemeral(true)
            .allowed_mentions(no_mentions())
    }

    pub fn followup(self) -> CreateInteractionResponseFollowup {
        CreateInteractionResponseFollowup::new()
            .content(self.content)
            .components(self.components)
            .ephemeral(true)
            .allowed_mentions(no_mentions())
    }
}

/// Who asks, where: the supporter (with the permissions Discord computed
/// for the interaction) and the channel of the message they act on.
pub struct Asker<'a> {
    pub member: &'a Member,
    pub guild: GuildId,
    pub channel: ChannelId,
}

/// The refusal for a member who may not use the assist, if they may not.
pub async fn refuse_asker(data: &Data, asker: &Asker<'_>) -> Option<Card> {
    match may_assist(data, asker.guild, asker.member).await {
        Ok(true) => None,
        Ok(false) => Some(Card::text(NOT_A_SUPPORTER)),
        Err(error) => {
            tracing::error!(%error, "could not read the supporter role");
            Some(Card::text(ROLES_UNREADABLE))
        }
    }
}

/// A draft card for `target`, a member's message (`therapy` and
/// `strategy` as chosen on an earlier card; else the guild's default).
pub async fn draft_for(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    target: &Message,
    therapy: Option<Therapy>,
    strategy: Option<Strategy>,
) -> Card {
    if let Some(refusal) = refuse_asker(data, asker).await {
        return refusal;
    }
    if target.author.id == asker.member.user.id {
        return Card::text(OWN_MESSAGE);
    }
    if let Some(refusal) = refuse_target(ctx, data, asker, target).await {
        return refusal;
    }
    let _working = match begin(data, asker) {
        Ok(working) => working,
        Err(refusal) => return refusal,
    };
    let settings = guild_settings(data, Some(asker.guild)).await;
    let region = region(data, &settings);
    let ask = DraftAsk {
        therapy: therapy_for(data, &settings, therapy),
        strategy,
        message: &target.content,
        helpline_region: &region,
    };
    match assist::draft(&data.pipeline, &ask).await {
        Assisted::Ready(draft) => Card {
            content: draft_card(&draft),
            components: draft_rows(
                target.channel_id,
                target.id,
                draft.therapy,
                draft.asked,
                draft.strategy,
            ),
        },
        Assisted::AtRisk { risk, guidance } => {
            let about = About::Message(target);
            guide(ctx, data, asker, about, &settings, risk, &guidance)
        }
        Assisted::Declined(reason) => Card::text(reason),
    }
}

/// A feedback card on the supporter's own message `own`, which answers
/// another member's message (the one it replies to, else the latest one
/// before it from someone else).
pub async fn feedback_on_message(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    own: &Message,
) -> Card {
    if let Some(refusal) = refuse_asker(data, asker).await {
        return refusal;
    }
    if own.author.id != asker.member.user.id {
        return Card::text(NOT_YOURS);
    }
    let Some(answered) = answered_message(ctx, own).await else {
        return Card::text(NO_ANSWERED_MESSAGE);
    };
    if let Some(refusal) = refuse_target(ctx, data, asker, &answered).await {
        return refusal;
    }
    let texts = Texts {
        message: &answered.content,
        draft: &own.content,
    };
    feedback_for(ctx, data, asker, About::Message(&answered), texts, None).await
}

/// The member's message and the supporter's draft that answers it.
pub struct Texts<'a> {
    pub message: &'a str,
    pub draft: &'a str,
}

/// Whom a card is about, for the moderators' alert.
#[derive(Clone, Copy)]
pub enum About<'a> {
    /// A member's message in the channel.
    Message(&'a Message),
    /// Text the supporter pasted into `/coe-assist feedback`.
    Pasted,
}

/// A feedback card on `texts.draft` (the asker has been checked).
pub async fn feedback_for(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    about: About<'_>,
    texts: Texts<'_>,
    therapy: Option<Therapy>,
) -> Card {
    let _working = match begin(data, asker) {
        Ok(working) => working,
        Err(refusal) => return refusal,
    };
    let settings = guild_settings(data, Some(asker.guild)).await;
    let region = region(data, &settings);
    let ask = FeedbackAsk {
        therapy: therapy_for(data, &settings, therapy),
        message: texts.message,
        draft: texts.draft,
        helpline_region: &region,
    };
    match assist::feedback(&data.pipeline, &ask).await {
        Assisted::Ready(feedback) => Card {
            content: feedback_card(&feedback),
            components: vec![verdict_row(
                AssistKind::Feedback,
                feedback.therapy,
                feedback.adds,
            )],
        },
        Assisted::AtRisk { risk, guidance } => {
            guide(ctx, data, asker, about, &settings, risk, &guidance)
        }
        Assisted::Declined(reason) => Card::text(reason),
    }
}

/// Whether the assist may act on `target`: a member's message, in a
/// channel where drafts are on, from a member who has not opted out.
async fn refuse_target(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    target: &Message,
) -> Option<Card> {
    if target.author.bot || target.webhook_id.is_some() {
        return Some(Card::text(NOT_A_MEMBER));
    }
    let drafts = support_mode(ctx, data, asker.guild, target.channel_id)
        .await
        .is_some_and(|(mode, _)| mode.drafts());
    if !drafts {
        return Some(Card::text(DRAFTS_OFF));
    }
    let key = data
        .pipeline
        .user_key(&Person::Discord(target.author.id.get()));
    match data.pipeline.store().is_opted_out(&key).await {
        Ok(false) => None,
        Ok(true) => Some(Card::text(OPTED_OUT)),
        Err(error) => {
            tracing::error!(%error, "could not read an opt-out for a supporter assist");
            Some(Card::text(CONSENT_UNREADABLE))
        }
    }
}

/// The message the supporter's own message answers: the one it replies
/// to, else the latest earlier one in the channel from another member.
async fn answered_message(ctx: &serenity::Context, own: &Message) -> Option<Message> {
    if let Some(replied) = &own.referenced_message {
        return Some((**replied).clone());
    }
    let earlier = serenity::GetMessages::new().before(own.id).limit(20);
    let messages = match own.channel_id.messages(&ctx.http, earlier).await {
        Ok(messages) => messages,
        Err(error) => {
            tracing::warn!(%error, "could not read the messages before a supporter's reply");
            return None;
        }
    };
    messages
        .into_iter()
        .find(|m| m.author.id != own.author.id && !m.author.bot && !m.content.trim().is_empty())
}

/// At risk: the supporter's guidance, and the moderators' alert.
fn guide(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    about: About<'_>,
    settings: &GuildSettings,
    risk: Risk,
    guidance: &str,
) -> Card {
    let (message_id, author, text) = match about {
        About::Message(message) => (
            Some(message.id),
            message.author.id.get(),
            message.content.as_str(),
        ),
        // No member to name: the cooldown counts the supporter's asks.
        About::Pasted => (None, asker.member.user.id.get(), ""),
    };
    let incoming = Incoming {
        source: Source::Channel,
        guild_id: Some(asker.guild),
        channel_id: asker.channel,
        message_id,
        author,
        therapy: None,
        text,
        history: &[],
        risk,
        handled: Handled::SupporterGuided,
    };
    let note = if settings.alert_channel_id.is_some() {
        match data.in_flight.enter() {
            Some(working) => {
                alert_moderators(data, &ctx.http, &incoming, settings, &risk, &working);
                ALERTED
            }
            None => NOT_ALERTED,
        }
    } else {
        NOT_ALERTED
    };
    Card::text(&guidance_card(guidance, note))
}

/// The ask as work in flight, within the supporter's rate limit; or the
/// card that says why not.
fn begin(data: &Data, asker: &Asker<'_>) -> Result<InFlightGuard, Card> {
    let working = data
        .in_flight
        .enter()
        .ok_or_else(|| Card::text(RESTARTING))?;
    if !data.limiter.allow(asker.member.user.id.get()) {
        return Err(Card::text(SLOW_DOWN));
    }
    Ok(working)
}

fn region(data: &Data, settings: &GuildSettings) -> String {
    settings
        .helpline_region
        .clone()
        .unwrap_or_else(|| data.config.helpline_region.clone())
}

fn therapy_for(data: &Data, settings: &GuildSettings, chosen: Option<Therapy>) -> Therapy {
    chosen
        .or(settings.default_therapy)
        .unwrap_or(data.config.default_therapy)
}
