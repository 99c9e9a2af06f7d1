//! Gateway events: plain messages in support channels and their threads,
//! and the part of answering a member that slash commands share.

use super::commands::SLOW_DOWN;
use super::reply::{reply_chunks, send_in_channel, without_footer};
use super::{Data, Error};
use crate::chain::{Therapy, Turn, MAX_HISTORY_TURNS};
use crate::pipeline::{Member, Request};
use crate::store::{Outcome, Source};
use poise::serenity_prelude as serenity;
use serenity::{
    AutoArchiveDuration, Channel, ChannelId, ChannelType, CreateAllowedMentions, CreateMessage,
    CreateThread, FullEvent, GetMessages, GuildId, Message, MessageId, RoleId,
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
}

/// What to send back, and the row to mark if sending fails.
pub struct Answer {
    pub reply: String,
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

/// Runs the pipeline with the guild's settings and the member's consent,
/// and alerts moderators when the crisis gate fired.
pub async fn respond_to_member(
    data: &Data,
    ctx: &serenity::Context,
    incoming: &Incoming<'_>,
) -> Answer {
    let store = data.pipeline.store();
    let settings = match incoming.guild_id {
        Some(guild) => store
            .guild_settings(guild.get())
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%error, "could not read guild settings; using defaults");
                Default::default()
            }),
        None => Default::default(),
    };
    let member = Member::Discord(incoming.author);
    let opted_out = store
        .is_opted_out(&data.pipeline.user_key(&member))
        .await
        .unwrap_or_else(|error| {
            // Unknown consent: answer, but record nothing.
            tracing::error!(%error, "could not read opt-out; not recording");
            true
        });
    let region = settings
        .helpline_region
        .clone()
        .unwrap_or_else(|| data.config.helpline_region.clone());
    let request = Request {
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
        helpline_region: &region,
    };
    let response = data.pipeline.respond(&request).await;
    if let (Some(concern), Some(channel)) = (response.concern, settings.alert_channel_id) {
        if data.alerts.allow(incoming.author) {
            let role = settings.moderator_role_id.map(RoleId::new);
            // Spawned: the person at risk must not wait on the moderators' message.
            let alert = crisis_alert(incoming, concern.as_str(), role);
            let http = ctx.http.clone();
            tokio::spawn(async move {
                if let Err(error) = ChannelId::new(channel).send_message(&http, alert).await {
                    tracing::error!(%error, "could not send crisis alert");
                }
            });
        } else {
            tracing::info!("crisis alert suppressed by the per-member cooldown");
        }
    }
    Answer {
        reply: response.reply,
        interaction_id: response.interaction_id,
    }
}

/// A private note to moderators: where to look, never what was written.
fn crisis_alert(incoming: &Incoming<'_>, concern: &str, role: Option<RoleId>) -> CreateMessage {
    let guild = incoming.guild_id.map_or(0, GuildId::get);
    let link = match incoming.message_id {
        Some(message) => format!(
            "https://discord.com/channels/{guild}/{}/{message}",
            incoming.channel_id
        ),
        None => format!(
            "https://discord.com/channels/{guild}/{}",
            incoming.channel_id
        ),
    };
    let ping = role.map(|r| format!("<@&{r}> ")).unwrap_or_default();
    let via = if incoming.source == Source::Slash {
        "/coe"
    } else {
        "a support channel"
    };
    let text = format!(
        "{ping}**Possible crisis ({concern})** in <#{}> via {via}: {link}\n\
         The member received the crisis reply with helplines. Please check in with care.",
        incoming.channel_id
    );
    // Only the moderator role may be pinged, never anyone else.
    CreateMessage::new()
        .content(text)
        .allowed_mentions(CreateAllowedMentions::new().roles(role))
}

/// Whether the crisis gate would fire: such messages skip rate limits and
/// opt-outs, because a person at risk must always get the helplines.
pub fn is_crisis(text: &str) -> bool {
    crate::safety::crisis::assess(text).concern.is_some()
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
    // Opted-out members are left alone, except that a crisis still gets
    // the helplines (nothing is recorded for them either way).
    // Judged once here; the pipeline's own gate decides the reply.
    let crisis = is_crisis(&msg.content);
    if store.is_opted_out(&key).await.unwrap_or(true) && !crisis {
        return;
    }
    let Some(_working) = data.in_flight.enter() else {
        return;
    };
    if !data.limiter.allow(author) && !crisis {
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
    };
    let answer = respond_to_member(data, ctx, &incoming).await;
    let chunks = reply_chunks(&answer.reply);
    let sent = if thread_parent.is_some() {
        send_in_channel(&ctx.http, msg.channel_id, &chunks, None).await
    } else {
        let thread = CreateThread::new("Peer support")
            .kind(ChannelType::PublicThread)
            .auto_archive_duration(AutoArchiveDuration::OneDay);
        match msg
            .channel_id
            .create_thread_from_message(&ctx.http, msg.id, thread)
            .await
        {
            Ok(thread) => send_in_channel(&ctx.http, thread.id, &chunks, None).await,
            Err(error) => {
                tracing::info!(%error, "cannot start a thread here; replying in the channel");
                send_in_channel(&ctx.http, msg.channel_id, &chunks, Some(msg.id)).await
            }
        }
    };
    if let Err(error) = sent {
        tracing::error!(%error, "could not deliver a support-channel reply");
        answer.mark_undelivered(data).await;
    }
}

/// The support channel a thread belongs to, if the channel is such a thread.
async fn support_thread_parent(
    ctx: &serenity::Context,
    data: &Data,
    guild_id: GuildId,
    channel_id: ChannelId,
) -> Option<ChannelId> {
    let parent = match cached_thread_parent(ctx, guild_id, channel_id) {
        Some(parent) => parent?,
        // Not in the cache (e.g. an old thread): ask Discord once.
        None => match channel_id.to_channel(ctx).await {
            Ok(Channel::Guild(channel))
                if matches!(
                    channel.kind,
                    ChannelType::PublicThread | ChannelType::PrivateThread
                ) =>
            {
                channel.parent_id?
            }
            _ => return None,
        },
    };
    let store = data.pipeline.store();
    match store.is_support_channel(guild_id.get(), parent.get()).await {
        Ok(true) => Some(parent),
        _ => None,
    }
}

/// What the cache knows, without a REST call per chat message in busy
/// servers: `Some(None)` for a cached regular channel, `Some(Some(parent))`
/// for a cached thread, `None` when the cache does not know the channel.
fn cached_thread_parent(
    ctx: &serenity::Context,
    guild_id: GuildId,
    channel_id: ChannelId,
) -> Option<Option<ChannelId>> {
    let guild = ctx.cache.guild(guild_id)?;
    if guild.channels.contains_key(&channel_id) {
        return Some(None);
    }
    let thread = guild.threads.iter().find(|t| t.id == channel_id)?;
    Some(thread.parent_id)
}

/// Earlier turns of a support thread, fetched from Discord (never stored):
/// the starter message in the parent channel, then the thread's messages.
/// Only this member's words and the bot's replies are kept: other people
/// in the thread (who may have opted out) never reach the model.
async fn thread_history(ctx: &serenity::Context, msg: &Message, parent: ChannelId) -> Vec<Turn> {
    let bot = ctx.cache.current_user().id;
    let member = msg.author.id;
    let mut turns = Vec::new();
    // A thread started from a message shares that message's id.
    if let Ok(starter) = parent
        .message(&ctx.http, MessageId::new(msg.channel_id.get()))
        .await
    {
        if starter.author.id == member {
            turns.push(Turn {
                from_member: true,
                text: starter.content,
            });
        }
    }
    let query = GetMessages::new()
        .before(msg.id)
        .limit(MAX_HISTORY_TURNS as u8 * 2);
    match msg.channel_id.messages(&ctx.http, query).await {
        Ok(mut earlier) => {
            earlier.reverse();
            for message in earlier {
                let from_bot = message.author.id == bot;
                if !(from_bot || message.author.id == member) || message.content.trim().is_empty() {
                    continue;
                }
                turns.push(Turn {
                    from_member: !from_bot,
                    text: without_footer(&message.content).to_string(),
                });
            }
        }
        Err(error) => tracing::warn!(%error, "could not fetch thread history"),
    }
    turns
}
