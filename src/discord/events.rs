//! Gateway events: plain messages in support channels and their threads.

use super::alerts::alert_moderators;
use super::answer::{
    admit, guild_settings, respond_to_member, Answer, BusyNotice, Handled, Incoming,
};
use super::assist::on_click;
use super::reply::{reply_chunks, send_in_channel, BUSY, SLOW_DOWN};
use super::threads::{support_mode, thread_history};
use super::{Data, Error};
use crate::llm::Call;
use crate::pipeline::Member;
use crate::safety::risk::{Risk, Tier};
use crate::store::Source;
use poise::serenity_prelude as serenity;
use serenity::{AutoArchiveDuration, ChannelType, CreateThread, FullEvent, Interaction, Message};

pub async fn on_event(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    match event {
        FullEvent::Message { new_message } => {
            on_message(framework.serenity_context, framework.user_data, new_message).await;
        }
        FullEvent::InteractionCreate {
            interaction: Interaction::Component(click),
        } => on_click(framework.serenity_context, framework.user_data, click).await,
        _ => {}
    }
    Ok(())
}

async fn on_message(ctx: &serenity::Context, data: &Data, msg: &Message) {
    // Bots (ourselves included) and webhooks never get an answer: no loops.
    if msg.author.bot || msg.webhook_id.is_some() || msg.author.id == ctx.cache.current_user().id {
        return;
    }
    let Some(guild_id) = msg.guild_id else {
        return;
    };
    let (channel_mode, thread_parent) =
        match support_mode(ctx, data, guild_id, msg.channel_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "could not read support channels");
                return;
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
    let store = data.pipeline.store();
    if store.is_opted_out(&key).await.unwrap_or(true) && risk.tier < Tier::Crisis {
        return;
    }
    // Where people answer (drafts only), the bot speaks only to a crisis,
    // with its fixed reply; a concern reaches the moderators alone. No
    // chain runs there, so the model screen (when on) runs by itself.
    let risk = if channel_mode.public_replies() || risk.tier == Tier::Crisis {
        risk
    } else {
        let screened = data.pipeline.screen(Call::default(), &msg.content).await;
        risk.max(screened)
    };
    if !channel_mode.public_replies() && risk.tier < Tier::Crisis {
        if risk.tier == Tier::Concern {
            tell_moderators(ctx, data, msg, risk).await;
        }
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
        handled: Handled::Answered,
    };
    let http = ctx.http.clone();
    let (channel, original) = (msg.channel_id, msg.id);
    let busy = BusyNotice::new(move || {
        let http = http.clone();
        Box::pin(async move {
            let notice = [BUSY.to_string()];
            if let Err(error) = send_in_channel(&http, channel, &notice, Some(original)).await {
                tracing::warn!(%error, "could not send the busy notice");
            }
        })
    });
    let answer = respond_to_member(data, ctx, &incoming, &working, mode, Some(&busy)).await;
    busy.settle().await;
    if let Some(answer) = answer {
        deliver(ctx, data, msg, thread_parent.is_some(), &answer).await;
    }
}

/// A concern in a channel where people answer: the moderators' notice,
/// and nothing to the member.
async fn tell_moderators(ctx: &serenity::Context, data: &Data, msg: &Message, risk: Risk) {
    let Some(working) = data.in_flight.enter() else {
        return;
    };
    let incoming = Incoming {
        source: Source::Channel,
        guild_id: msg.guild_id,
        channel_id: msg.channel_id,
        message_id: Some(msg.id),
        author: msg.author.id.get(),
        therapy: None,
        text: &msg.content,
        history: &[],
        risk,
        handled: Handled::LeftToPeople,
    };
    let settings = guild_settings(data, msg.guild_id).await;
    alert_moderators(data, &ctx.http, &incoming, &settings, &risk, &working);
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
