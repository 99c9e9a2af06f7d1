//! Answering a member, shared by every front door in Discord (support
//! channels and `/coe`): admission while shutting down, guild settings and
//! consent, the pipeline, moderator alerts, and the busy notice.

use super::alerts::alert_moderators;
use super::in_flight::InFlightGuard;
pub use super::incoming::{Handled, Incoming};
use super::Data;
use crate::pipeline::{fixed_reply, Member, Request};
use crate::safety::helplines::thread_paused;
use crate::safety::risk::Tier;
use crate::store::{GuildSettings, Outcome};
use futures::future::BoxFuture;
use poise::serenity_prelude as serenity;
use serenity::{ChannelId, GuildId};
use std::sync::Mutex;
use tokio::task::JoinHandle;

/// What to send back, and the row to mark if sending fails.
pub struct Answer {
    pub reply: String,
    /// The final tier, the model screen included.
    pub tier: Tier,
    /// The reply is an apology: the model could not be used.
    pub failed: bool,
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
/// and alerts moderators when the gate saw risk. `busy` is told when the
/// message waits in a long queue for the model. `None`: nothing to send.
pub async fn respond_to_member(
    data: &Data,
    ctx: &serenity::Context,
    incoming: &Incoming<'_>,
    working: &InFlightGuard,
    mode: Mode,
    busy: Option<&BusyNotice>,
) -> Option<Answer> {
    let settings = guild_settings(data, incoming.guild_id).await;
    let region = helpline_region(data, &settings);
    // After a crisis in a support thread, only people speak there until a
    // moderator clears it: a short pointer to them, never model text.
    if incoming.risk.tier < Tier::Crisis && thread_is_paused(data, incoming.channel_id).await {
        return Some(Answer {
            reply: thread_paused(&region),
            tier: incoming.risk.tier,
            failed: false,
            interaction_id: None,
        });
    }
    let (answer, risk) = match mode {
        Mode::FixedOnly => {
            let reply = fixed_reply(&incoming.risk, &region)?;
            let answer = Answer {
                reply,
                tier: incoming.risk.tier,
                failed: false,
                interaction_id: None,
            };
            (answer, incoming.risk)
        }
        Mode::Full => {
            let tell = || busy.into_iter().for_each(BusyNotice::tell);
            let response = data
                .pipeline
                .respond_with(
                    &request(data, incoming, &settings, &region).await,
                    Some(&tell),
                )
                .await;
            let answer = Answer {
                reply: response.reply,
                tier: response.risk.tier,
                failed: matches!(response.outcome, Outcome::LlmError | Outcome::ParseError),
                interaction_id: response.interaction_id,
            };
            (answer, response.risk)
        }
    };
    alert_moderators(data, &ctx.http, incoming, &settings, &risk, working);
    Some(answer)
}

/// The region whose helplines this guild's fixed texts list.
pub fn helpline_region(data: &Data, settings: &GuildSettings) -> String {
    settings
        .helpline_region
        .clone()
        .unwrap_or_else(|| data.config.helpline_region.clone())
}

/// The guild's settings; the defaults when they cannot be read.
pub async fn guild_settings(data: &Data, guild: Option<GuildId>) -> GuildSettings {
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

/// Tells a member once that many people are waiting for the model, from a
/// task of its own; delivery settles it first, so the notice never lands
/// after the answer.
pub struct BusyNotice {
    send: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
    sent: Mutex<Option<JoinHandle<()>>>,
    told: std::sync::atomic::AtomicBool,
}

impl BusyNotice {
    pub fn new(send: impl Fn() -> BoxFuture<'static, ()> + Send + Sync + 'static) -> BusyNotice {
        BusyNotice {
            send: Box::new(send),
            sent: Mutex::new(None),
            told: Default::default(),
        }
    }

    pub fn tell(&self) {
        if !self.told.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let task = tokio::spawn((self.send)());
            *self.sent.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        }
    }

    /// Waits for the notice, if one was sent.
    pub async fn settle(&self) {
        let task = self.sent.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Whether replies in a thread are paused after a crisis (unknown: paused).
pub async fn thread_is_paused(data: &Data, thread: ChannelId) -> bool {
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
