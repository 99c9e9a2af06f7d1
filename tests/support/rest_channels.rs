//! Channel routes: create/read/edit/delete messages, history, threads.

use serde_json::{json, Value};

use super::fake_discord::{ChannelKind, ChannelSpec, FakeDiscord};
use super::limits::{refusal, MessageRules};
use super::models::{self, NewMessage, EPHEMERAL};
use super::multipart::Decoded;
use super::rest::{attachments, Reply};
use super::state::State;

/// Unregistered channels are accepted (no guild id then), so a test only registers channels
/// whose GET or GUILD_CREATE it needs.
pub(super) fn create_message(st: &mut State, channel_id: u64, req: &Decoded) -> Reply {
    let guild_id = st.channels.get(&channel_id).map(|c| c.guild_id);
    let rules = MessageRules {
        at: &[],
        require_any: true,
        upload_limit: st.upload_limit_in(guild_id),
    };
    if let Some(refusal) = refusal(req, &rules) {
        return refusal;
    }
    let id = st.new_id();
    let attachments = attachments(st, req);
    let new = NewMessage {
        id,
        channel_id,
        guild_id,
        webhook_id: None,
        attachments,
        extra_flags: 0,
    };
    let message = models::bot_message(new, &req.payload);
    st.messages.push(message.clone());
    Reply::ok(message)
}

/// Newest first, like Discord. `before`/`after` are resolved by position in the channel so
/// small ids picked by tests and time-based ids made here still order by arrival. Ephemeral
/// messages are not part of a channel's history.
pub(super) fn history(st: &State, channel_id: u64, query: Option<&str>) -> Reply {
    let channel = channel_id.to_string();
    let list: Vec<&Value> = st
        .messages
        .iter()
        .filter(|m| m["channel_id"] == channel.as_str())
        .filter(|m| m["flags"].as_u64().unwrap_or(0) & EPHEMERAL == 0)
        .collect();
    if list.is_empty() && !st.channels.contains_key(&channel_id) {
        return Reply::error(404, 10003, "Unknown Channel");
    }
    let param = |key: &str| {
        query?
            .split('&')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
    };
    let limit = param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let position = |id: String| list.iter().position(|m| m["id"] == id.as_str());
    let (start, end) = match (param("before"), param("after")) {
        (Some(before), _) => (0, position(before).unwrap_or(list.len())),
        (None, Some(after)) => (position(after).map_or(0, |p| p + 1), list.len()),
        (None, None) => (0, list.len()),
    };
    let slice = &list[start.min(end)..end];
    let newest_first: Vec<Value> = slice
        .iter()
        .rev()
        .take(limit)
        .map(|m| (*m).clone())
        .collect();
    Reply::ok(Value::Array(newest_first))
}

pub(super) fn channel_message(
    st: &mut State,
    method: &str,
    message_id: u64,
    req: &Decoded,
) -> Reply {
    let bot = FakeDiscord::BOT_USER_ID.to_string();
    let Some(message) = st.message_mut(message_id) else {
        return Reply::error(404, 10008, "Unknown Message");
    };
    if method == "PATCH" && message["author"]["id"] != bot.as_str() {
        return Reply::error(403, 50005, "Cannot edit a message authored by another user");
    }
    stored_message(st, method, message_id, req)
}

/// GET, PATCH or DELETE of one stored message, once the caller has checked
/// that it exists and may be touched this way (shared by channel and
/// webhook routes).
pub(super) fn stored_message(
    st: &mut State,
    method: &str,
    message_id: u64,
    req: &Decoded,
) -> Reply {
    if method == "DELETE" {
        let id = message_id.to_string();
        st.messages.retain(|m| m["id"] != id.as_str());
        return Reply::no_content();
    }
    let Some(guild_id) = st.message_mut(message_id).map(|m| m["guild_id"].clone()) else {
        return Reply::error(404, 10008, "Unknown Message");
    };
    let rules = MessageRules {
        at: &[],
        require_any: false,
        upload_limit: st.upload_limit_in(guild_id.as_str().and_then(|g| g.parse().ok())),
    };
    let new_attachments = attachments(st, req);
    let Some(message) = st.message_mut(message_id) else {
        return Reply::error(404, 10008, "Unknown Message");
    };
    match method {
        "GET" => Reply::ok(message.clone()),
        "PATCH" => {
            if let Some(refusal) = refusal(req, &rules) {
                return refusal;
            }
            models::apply_edit(message, &req.payload, new_attachments);
            Reply::ok(message.clone())
        }
        _ => Reply::not_found(),
    }
}

/// A thread started from a message takes the message's id, as on Discord, and Discord refuses
/// a second thread on the same message (160004). THREAD_CREATE is dispatched like Discord does.
pub(super) fn create_thread(
    st: &mut State,
    parent: u64,
    message: Option<u64>,
    body: &Value,
) -> Reply {
    let Some(parent_spec) = st.channels.get(&parent).cloned() else {
        return Reply::error(404, 10003, "Unknown Channel");
    };
    let id = match message {
        Some(m) if st.channels.contains_key(&m) => {
            return Reply::error(
                400,
                160004,
                "A thread has already been created for this message",
            )
        }
        Some(m) => m,
        None => st.new_id(),
    };
    let kind = match body["type"].as_u64() {
        Some(12) => ChannelKind::PrivateThread,
        _ => ChannelKind::PublicThread,
    };
    let name = body["name"].as_str().unwrap_or("thread");
    let spec = ChannelSpec {
        id,
        guild_id: parent_spec.guild_id,
        kind,
        parent_id: Some(parent),
        name: name.into(),
    };
    let mut channel = models::channel(&spec);
    if let Some(duration) = body["auto_archive_duration"].as_u64() {
        channel["thread_metadata"]["auto_archive_duration"] = json!(duration);
    }
    st.channels.insert(id, spec);
    let mut event = channel.clone();
    event["newly_created"] = json!(true);
    st.send_dispatch("THREAD_CREATE", event);
    Reply {
        status: 201,
        body: Some(channel),
    }
}
