//! Supporter assist in Discord: who may ask, for which messages, and the
//! private cards they get. The context menus and `/coe-assist` live in
//! `commands/assist.rs`; button clicks in `clicks.rs`. Every card is
//! ephemeral and the bot never posts in the channel for a supporter.

mod buttons;
mod clicks;

pub use clicks::on_click;

use super::alerts::alert_moderators;
use super::answer::{guild_settings, helpline_region, thread_is_paused, Handled, Incoming};
use super::checks::may_assist;
use super::in_flight::InFlightGuard;
use super::reply::{no_mentions, RESTARTING};
use super::threads::{support_mode, thread_history};
use super::Data;
use crate::assist::card::{draft_card, feedback_card, guidance_card};
use crate::assist::{self, Assisted, DraftAsk, FeedbackAsk, MemberMessage};
use crate::chain::{Strategy, Therapy, Turn};
use crate::pipeline::Member as Person;
use crate::safety::helplines::supporter_guidance;
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
const PAUSED: &str = "After a crisis reply here, the companion stays out of this thread until a \
     moderator clears it (`/coe-mod clear`). Please answer in your own words, with care; a \
     moderator can help.";
const MODE_UNREADABLE: &str =
    "I couldn't check this channel's settings just now. Please try again in a moment.";
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
    let ready = match prepare(ctx, data, asker, About::Message(target)).await {
        Ok(ready) => ready,
        Err(card) => return card,
    };
    let ask = DraftAsk {
        therapy: therapy_for(data, &ready.settings, therapy),
        strategy,
        member: ready.member(&target.content),
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
        Assisted::AtRisk { risk, guidance } => guide(
            ctx,
            data,
            asker,
            About::Message(target),
            &ready.settings,
            risk,
            &guidance,
        ),
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
    let about = About::Message(&answered);
    feedback_for(ctx, data, asker, about, &own.content, None).await
}

/// Whom a card is about.
#[derive(Clone, Copy)]
pub enum About<'a> {
    /// A member's message in the channel.
    Message(&'a Message),
    /// Text the supporter pasted into `/coe-assist feedback`.
    Pasted(&'a str),
}

impl About<'_> {
    fn text(&self) -> &str {
        match self {
            About::Message(message) => &message.content,
            About::Pasted(text) => text,
        }
    }
}

/// A feedback card on the supporter's `draft`, which answers the member's
/// message `about` (the asker has been checked).
pub async fn feedback_for(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    about: About<'_>,
    draft: &str,
    therapy: Option<Therapy>,
) -> Card {
    let ready = match prepare(ctx, data, asker, about).await {
        Ok(ready) => ready,
        Err(card) => return card,
    };
    let ask = FeedbackAsk {
        therapy: therapy_for(data, &ready.settings, therapy),
        member: ready.member(about.text()),
        draft,
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
            guide(ctx, data, asker, about, &ready.settings, risk, &guidance)
        }
        Assisted::Declined(reason) => Card::text(reason),
    }
}

/// What an ask needs before the model: the guild's settings, the thread's
/// earlier turns and the gate's verdict, the ask as work in flight.
struct Ready {
    settings: GuildSettings,
    region: String,
    history: Vec<Turn>,
    risk: Risk,
    _working: InFlightGuard,
}

impl Ready {
    /// The member's message as the assist reads it, with what was learned here.
    fn member<'a>(&'a self, text: &'a str) -> MemberMessage<'a> {
        MemberMessage {
            text,
            history: &self.history,
            risk: Some(self.risk),
            helpline_region: &self.region,
        }
    }
}

/// Checks the message an ask is about and reads it as the pipeline
/// would; or the card that ends the ask here. The gate comes before the
/// rate limit and shutdown: a member at risk always brings guidance and
/// the moderators' alert, never a model call.
async fn prepare(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    about: About<'_>,
) -> Result<Ready, Card> {
    let parent = match about {
        About::Message(target) => refuse_target(ctx, data, asker, target).await?,
        About::Pasted(_) => None,
    };
    let settings = guild_settings(data, Some(asker.guild)).await;
    let region = helpline_region(data, &settings);
    let history = match (about, parent) {
        (About::Message(target), Some(parent)) => thread_history(ctx, target, parent).await,
        _ => Vec::new(),
    };
    let risk = data
        .pipeline
        .member_risk(about.text(), &history, None)
        .await;
    if risk.tier.shows_helplines() {
        let guidance = supporter_guidance(&region);
        return Err(guide(ctx, data, asker, about, &settings, risk, &guidance));
    }
    let working = data
        .in_flight
        .enter()
        .ok_or_else(|| Card::text(RESTARTING))?;
    if !data.limiter.allow(asker.member.user.id.get()) {
        return Err(Card::text(SLOW_DOWN));
    }
    Ok(Ready {
        settings,
        region,
        history,
        risk,
        _working: working,
    })
}

/// Whether the assist may act on `target`: a member's message, in a
/// channel where drafts are on (not a thread paused after a crisis), from
/// a member who has not opted out. Gives the support thread's parent
/// channel when the message is in one.
async fn refuse_target(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    target: &Message,
) -> Result<Option<ChannelId>, Card> {
    if target.author.bot || target.webhook_id.is_some() {
        return Err(Card::text(NOT_A_MEMBER));
    }
    let channel = target.channel_id;
    let parent = match support_mode(ctx, data, asker.guild, channel).await {
        Ok(Some((mode, parent))) if mode.drafts() => parent,
        Ok(_) => return Err(Card::text(DRAFTS_OFF)),
        Err(error) => {
            tracing::error!(%error, "could not read a channel's mode for a supporter assist");
            return Err(Card::text(MODE_UNREADABLE));
        }
    };
    if parent.is_some() && thread_is_paused(data, channel).await {
        return Err(Card::text(PAUSED));
    }
    let key = data
        .pipeline
        .user_key(&Person::Discord(target.author.id.get()));
    match data.pipeline.store().is_opted_out(&key).await {
        Ok(false) => Ok(parent),
        Ok(true) => Err(Card::text(OPTED_OUT)),
        Err(error) => {
            tracing::error!(%error, "could not read an opt-out for a supporter assist");
            Err(Card::text(CONSENT_UNREADABLE))
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

/// Snowflakes fit in 63 bits: this bit keeps the cooldown of pasted asks
/// (keyed by the supporter, as no member is known) apart from the
/// supporter's own messages.
const PASTED_KEY_BIT: u64 = 1 << 63;

/// At risk: the supporter's guidance, and the moderators' alert (sent even
/// while shutting down, as for the member's own crisis).
fn guide(
    ctx: &serenity::Context,
    data: &Data,
    asker: &Asker<'_>,
    about: About<'_>,
    settings: &GuildSettings,
    risk: Risk,
    guidance: &str,
) -> Card {
    let (channel_id, message_id, author) = match about {
        About::Message(message) => (
            message.channel_id,
            Some(message.id),
            message.author.id.get(),
        ),
        About::Pasted(_) => (
            asker.channel,
            None,
            asker.member.user.id.get() | PASTED_KEY_BIT,
        ),
    };
    let incoming = Incoming {
        source: Source::Channel,
        guild_id: Some(asker.guild),
        channel_id,
        message_id,
        author,
        therapy: None,
        text: about.text(),
        history: &[],
        risk,
        handled: Handled::SupporterGuided,
    };
    let working = data.in_flight.enter_urgent();
    let told = alert_moderators(data, &ctx.http, &incoming, settings, &risk, &working);
    Card::text(&guidance_card(
        guidance,
        if told { ALERTED } else { NOT_ALERTED },
    ))
}

fn therapy_for(data: &Data, settings: &GuildSettings, chosen: Option<Therapy>) -> Therapy {
    chosen
        .or(settings.default_therapy)
        .unwrap_or(data.config.default_therapy)
}
