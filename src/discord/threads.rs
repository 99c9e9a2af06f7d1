//! Support threads: which support channel a thread belongs to, and its
//! earlier turns, read from Discord (never stored).

use super::reply::without_footer;
use super::Data;
use crate::chain::{Turn, MAX_HISTORY_TURNS};
use crate::store::{ChannelMode, StoreError};
use poise::serenity_prelude as serenity;
use serenity::{Channel, ChannelId, ChannelType, GetMessages, GuildId, Message, MessageId};

/// How a channel is answered: its own mode when it is a support channel,
/// else its parent's when it is a thread of one (with that parent).
/// `None`: not a support channel's place.
pub async fn support_mode(
    ctx: &serenity::Context,
    data: &Data,
    guild_id: GuildId,
    channel_id: ChannelId,
) -> Result<Option<(ChannelMode, Option<ChannelId>)>, StoreError> {
    let store = data.pipeline.store();
    let guild = guild_id.get();
    if let Some(mode) = store.support_channel_mode(guild, channel_id.get()).await? {
        return Ok(Some((mode, None)));
    }
    let Some(parent) = thread_parent(ctx, guild_id, channel_id).await else {
        return Ok(None);
    };
    let mode = store.support_channel_mode(guild, parent.get()).await?;
    Ok(mode.map(|mode| (mode, Some(parent))))
}

/// The channel a thread belongs to; `None` when `channel_id` is no thread.
async fn thread_parent(
    ctx: &serenity::Context,
    guild_id: GuildId,
    channel_id: ChannelId,
) -> Option<ChannelId> {
    match cached_thread_parent(ctx, guild_id, channel_id) {
        Some(parent) => parent,
        // Not in the cache (e.g. an old thread): ask Discord once.
        None => match channel_id.to_channel(ctx).await {
            Ok(Channel::Guild(channel))
                if matches!(
                    channel.kind,
                    ChannelType::PublicThread | ChannelType::PrivateThread
                ) =>
            {
                channel.parent_id
            }
            _ => None,
        },
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
pub async fn thread_history(
    ctx: &serenity::Context,
    msg: &Message,
    parent: ChannelId,
) -> Vec<Turn> {
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
