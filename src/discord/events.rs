//! Gateway events: plain messages in support channels and their threads,
//! and the part of answering a member that slash commands share.

use super::alerts::alert_moderators;
use super::commands::SLOW_DOWN;
use super::in_flight::InFlightGuard;
use super::reply::{reply_chunks, send_in_channel};
use super::threads::{support_thread_parent, thread_history};
use super::{Data, Error};
use crate::chain::{Therapy, Turn};
use crate::pipeline::{fixed_reply, Member, Request};
use crate::safety::helplines::thread_paused;
use crate::safety::risk::{Risk, Tier};
use crate::store::{GuildSettings, Outcome, Source};
use poise::serenity_prelude as serenity;
use serenity::{
    AutoArchiveDuration, ChannelId, ChannelType, CreateThread, FullEvent, GuildId, Message,
    MessageId,
};

pub async fn on_event(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    if let FullEvent::Message { new_message } = event {
        on_message(framework.serenity_context, framework.user_data, new_message).await;
    }
    Ok(())
}

/// A member's message from any front door, as the pipeline needs it.
pub struct Incoming<'a> {
    pub source: Source,
    pub guild_id: Option<GuildId>,
    pub channel_id: ChannelId,
    pub message_id: Option<MessageId>,
    pub author: u64,
    /// Chosen by the member (`/coe`); else the guild's default.
    pub therapy: Option<Therapy>,
    pub text: &'a str,
    pub history: &'a [Turn],
    /// The gate's verdict, judged once by the front door.
    pub risk: Risk,
}

/// What to send back, and the row to mark if sending fails.
pub struct Answer {
    pub reply: String,
    /// The final tier, the model screen included.
    pub tier: Tier,
    interaction_id: Option<i64>,
}

impl Answer {
    pub async fn mark_undelivered(&self, data: &Data) {
        if let Some(id) = self.interaction_id {
            if let Err(error) = data
                .pipeline
                .store()
                .set_outcome(id, Outcome::ReplyFailed)
                .await
            {
                tracing::error!(%error, "could not mark an undelivered reply");
            }
        }
    }
}

/// Whether the model may be used for this answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    /// Shutting down: only tiers with a fixed reply (crisis, concern) are
    /// answered, since they need no model.
    FixedOnly,
}

/// Takes the message as work in flight: `Full` normally; while shutting
/// down, `FixedOnly` for a tier whose fixed text needs no model, else none.
pub fn admit(data: &Data, tier: Tier) -> Option<(InFlightGuard, Mode)> {
    match data.in_flight.enter() {
        Some(working) => Some((working, Mode::Full)),
        None if tier.shows_helplines() => Some((data.in_flight.enter_urgent(), Mode::FixedOnly)),
        None => None,
    }
}

/// Runs the pipeline with the guild's settings and the member's consent,
/// and alerts moderators when the gate saw risk. `None`: nothing to send.
pub async fn respond_to_member(
    data: &Data,
    ctx: &serenity::Context,
    incoming: &Incoming<'_>,
    working: &InFlightGuard,
    mode: Mode,
) -> Option<Answer> {
    let settings = guild_settings(data, incoming.guild_id).await;
    let region = settings
        .helpline_region
        .clone()
        .unwrap_or_else(|| data.config.helpline_region.clone());
    // After a crisis in a support thread, only people speak there until a
    // moderator clears it: a short pointer to them, never model text.
    if incoming.risk.tier < Tier::Crisis && thread_is_paused(data, incoming.channel_id).await {
        return Some(Answer {
            reply: thread_paused(&region),
            tier: incoming.risk.tier,
            interaction_id: None,
        });
    }
    let (answer, risk) = match mode {
        Mode::FixedOnly => {
            let reply = fixed_reply(&incoming.risk, &region)?;
            let answer = Answer {
                reply,
                tier: incoming.risk.tier,
                interaction_id: None,
            };
            (answer, incoming.risk)
        }
        Mode::Full => {
            let response = data
                .pipeline
                .respond(&request(data, incoming, &settings, &region).await)
                .await;
            let answer = Answer {
                reply: response.reply,
                tier: response.risk.tier,
                interaction_id: response.interaction_id,
            };
            (answer, response.risk)
        }
    };
    alert_moderators(data, &ctx.http, incoming, &settings, &risk, working);
    Some(answer)
}

async fn guild_settings(data: &Data, guild: Option<GuildId>) -> GuildSettings {
    let Some(guild) = guild else {
        return GuildSettings::default();
    };
    data.pipeline
        .store()
        .guild_settings(guild.get())
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "could not read guild settings; using defaults");
            Default::default()
        })
}

async fn request<'a>(
    data: &Data,
    incoming: &'a Incoming<'a>,
    settings: &GuildSettings,
    region: &'a str,
) -> Request<'a> {
    let member = Member::Discord(incoming.author);
    let opted_out = data
        .pipeline
        .store()
        .is_opted_out(&data.pipeline.user_key(&member))
        .await
        .unwrap_or_else(|error| {
            // Unknown consent: answer, but record nothing.
            tracing::error!(%error, "could not read opt-out; not recording");
            true
        });
    Request {
        source: incoming.source,
        guild_id: incoming.guild_id.map(GuildId::get),
        member,
        therapy: incoming
            .therapy
            .or(settings.default_therapy)
            .unwrap_or(data.config.default_therapy),
        message: incoming.text,
        history: incoming.history,
        record: !opted_out,
        helpline_region: region,
        risk: Some(incoming.risk),
    }
}

async fn on_message(ctx: &serenity::Context, data: &Data, msg: &Message) {
    // Bots (ourselves included) and webhooks never get an answer: no loops.
    if msg.author.bot || msg.webhook_id.is_some() || msg.author.id == ctx.cache.current_user().id {
        return;
    }
    let Some(guild_id) = msg.guild_id else {
        return;
    };
    let store = data.pipeline.store();
    let in_support = store
        .is_support_channel(guild_id.get(), msg.channel_id.get())
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "could not read support channels");
            false
        });
    let thread_parent = if in_support {
        None
    } else {
        match support_thread_parent(ctx, data, guild_id, msg.channel_id).await {
            Some(parent) => Some(parent),
            None => return,
        }
    };
    if !data.seen.first_time(msg.id.get()) {
        return;
    }
    let author = msg.author.id.get();
    let key = data.pipeline.user_key(&Member::Discord(author));
    // Judged once here; the pipeline uses the same verdict. Opted-out
    // members are left alone, except that a crisis still gets the helplines
    // (nothing is recorded for them either way).
    let risk = data.pipeline.gate().assess(&msg.content).await;
    if store.is_opted_out(&key).await.unwrap_or(true) && risk.tier < Tier::Crisis {
        return;
    }
    let Some((working, mode)) = admit(data, risk.tier) else {
        return;
    };
    // Past the rate limit, anything that earns helplines still gets them.
    if !data.limiter.allow(author) && !risk.tier.shows_helplines() {
        if data.slow_down_notices.allow(author) {
            let notice = [SLOW_DOWN.to_string()];
            let _ = send_in_channel(&ctx.http, msg.channel_id, &notice, Some(msg.id)).await;
        }
        return;
    }
    let _typing = msg.channel_id.start_typing(&ctx.http);
    let history = match thread_parent {
        Some(parent) => thread_history(ctx, msg, parent).await,
        None => Vec::new(),
    };
    let incoming = Incoming {
        source: Source::Channel,
        guild_id: Some(guild_id),
        channel_id: msg.channel_id,
        message_id: Some(msg.id),
        author,
        therapy: None,
        text: &msg.content,
        history: &history,
        risk,
    };
    let Some(answer) = respond_to_member(data, ctx, &incoming, &working, mode).await else {
        return;
    };
    deliver(ctx, data, msg, thread_parent.is_some(), &answer).await;
}

/// Sends the answer in the thread (a new one for a channel message), and
/// pauses that thread when the answer was a crisis reply.
async fn deliver(
    ctx: &serenity::Context,
    data: &Data,
    msg: &Message,
    in_thread: bool,
    answer: &Answer,
) {
    let chunks = reply_chunks(&answer.reply);
    let (sent, thread) = if in_thread {
        let sent = send_in_channel(&ctx.http, msg.channel_id, &chunks, None).await;
        (sent, Some(msg.channel_id))
    } else {
        let thread = CreateThread::new("Peer support")
            .kind(ChannelType::PublicThread)
            .auto_archive_duration(AutoArchiveDuration::OneDay);
        match msg
            .channel_id
            .create_thread_from_message(&ctx.http, msg.id, thread)
            .await
        {
            Ok(thread) => (
                send_in_channel(&ctx.http, thread.id, &chunks, None).await,
                Some(thread.id),
            ),
            Err(error) => {
                tracing::info!(%error, "cannot start a thread here; replying in the channel");
                let sent = send_in_channel(&ctx.http, msg.channel_id, &chunks, Some(msg.id)).await;
                (sent, None)
            }
        }
    };
    if let Err(error) = sent {
        tracing::error!(%error, "could not deliver a support-channel reply");
        answer.mark_undelivered(data).await;
    }
    if let (Tier::Crisis, Some(thread), Some(guild)) = (answer.tier, thread, msg.guild_id) {
        let until = chrono::Utc::now() + data.config.crisis_pause;
        if let Err(error) = data
            .pipeline
            .store()
            .pause_thread(guild.get(), thread.get(), until)
            .await
        {
            tracing::error!(%error, "could not pause a thread after a crisis reply");
        }
    }
}

async fn thread_is_paused(data: &Data, thread: ChannelId) -> bool {
    data.pipeline
        .store()
        .is_thread_paused(thread.get())
        .await
        .unwrap_or_else(|error| {
            // Unknown: err on the side of not improvising.
            tracing::error!(%error, "could not read thread pause; treating as paused");
            true
        })
}
