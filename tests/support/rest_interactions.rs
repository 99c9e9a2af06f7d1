//! Interaction responses: the callback (with Discord's 3-second and single-acknowledgement
//! rules) and the interaction webhook (followups, `@original`).

use serde_json::json;

use super::fake_discord::FakeDiscord;
use super::limits::{refusal, MessageRules};
use super::models::{self, NewMessage, EPHEMERAL, LOADING};
use super::multipart::Decoded;
use super::rest::{attachments, Reply};
use super::state::{InteractionRecord, State};

pub(super) fn callback(st: &mut State, interaction_id: u64, token: &str, req: &Decoded) -> Reply {
    let Some(record) = st.interactions.get(&interaction_id) else {
        return Reply::error(404, 10062, "Unknown interaction");
    };
    if record.token != token {
        return Reply::error(401, 50027, "Invalid Webhook Token");
    }
    // Checked before the deadline: an acknowledged interaction stays known for 15 minutes.
    if record.acknowledged {
        return Reply::error(400, 40060, "Interaction has already been acknowledged.");
    }
    if record.dispatched_at.elapsed() > st.interaction_deadline {
        return Reply::error(404, 10062, "Unknown interaction");
    }
    let kind = req.payload["type"].as_u64().unwrap_or(0);
    // The message of a type 4/7 response is in `data`; its files come with the request.
    let data = Decoded {
        payload: req.payload["data"].clone(),
        files: req.files.clone(),
        multipart: req.multipart,
    };
    let rules = MessageRules {
        at: &["data"],
        require_any: kind == 4,
        upload_limit: st.upload_limit_in(record.guild_id),
    };
    if let Some(refusal) = refusal(&data, &rules) {
        return refusal;
    }

    let (channel_id, guild_id) = (record.channel_id, record.guild_id);
    let component_message = record.component_message_id;
    let new_id = st.new_id();
    let attachments = attachments(st, &data);
    let new = |extra_flags| NewMessage {
        id: new_id,
        channel_id,
        guild_id,
        webhook_id: Some(FakeDiscord::APPLICATION_ID),
        attachments: attachments.clone(),
        extra_flags,
    };
    let (original, awaiting) = match kind {
        // CHANNEL_MESSAGE_WITH_SOURCE: the response message exists at once.
        4 => {
            st.messages.push(models::bot_message(new(0), &data.payload));
            (Some(new_id), false)
        }
        // DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: a "thinking" placeholder, ephemeral if asked.
        5 => {
            let flags = data.payload["flags"].as_u64().unwrap_or(0) & EPHEMERAL;
            let placeholder = json!({"flags": flags});
            st.messages
                .push(models::bot_message(new(LOADING), &placeholder));
            (Some(new_id), true)
        }
        // DEFERRED_UPDATE_MESSAGE / UPDATE_MESSAGE: `@original` is the clicked message.
        6 | 7 => {
            if let (7, Some(message)) = (kind, component_message.and_then(|m| st.message_mut(m))) {
                models::apply_edit(message, &data.payload, attachments.clone());
            }
            (component_message, false)
        }
        _ => (None, false),
    };
    let record = st
        .interactions
        .get_mut(&interaction_id)
        .expect("looked up above");
    record.acknowledged = true;
    record.original_id = original;
    record.awaiting_first_followup = awaiting;
    Reply::no_content()
}

/// The interaction a webhook token belongs to, if it may be used yet: Discord only creates the
/// interaction webhook once the interaction was acknowledged.
fn acknowledged_interaction<'a>(
    st: &'a mut State,
    app: &str,
    token: &str,
) -> Option<&'a mut InteractionRecord> {
    if app != FakeDiscord::APPLICATION_ID.to_string() {
        return None;
    }
    st.interactions
        .values_mut()
        .find(|i| i.token == token && i.acknowledged)
}

/// `POST /webhooks/{app}/{token}`: a followup. The first followup after a deferred response
/// replaces the "thinking" placeholder (keeping its ephemeral flag), as Discord does.
pub(super) fn followup(
    st: &mut State,
    method: &str,
    app: &str,
    token: &str,
    req: &Decoded,
) -> Reply {
    if method != "POST" {
        return Reply::not_found();
    }
    let guild_id = acknowledged_interaction(st, app, token).and_then(|i| i.guild_id);
    let rules = MessageRules {
        at: &[],
        require_any: true,
        upload_limit: st.upload_limit_in(guild_id),
    };
    if let Some(refusal) = refusal(req, &rules) {
        return refusal;
    }
    let new_id = st.new_id();
    let attachments = attachments(st, req);
    let Some(record) = acknowledged_interaction(st, app, token) else {
        return Reply::error(404, 10015, "Unknown Webhook");
    };
    let (channel_id, guild_id) = (record.channel_id, record.guild_id);
    if record.awaiting_first_followup {
        record.awaiting_first_followup = false;
        if let Some(message) = record.original_id.and_then(|id| st.message_mut(id)) {
            models::apply_edit(message, &req.payload, attachments);
            return Reply::ok(message.clone());
        }
    }
    let new = NewMessage {
        id: new_id,
        channel_id,
        guild_id,
        webhook_id: Some(FakeDiscord::APPLICATION_ID),
        attachments,
        extra_flags: 0,
    };
    let message = models::bot_message(new, &req.payload);
    st.messages.push(message.clone());
    Reply::ok(message)
}

/// `GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{@original|id}`.
pub(super) fn webhook_message(
    st: &mut State,
    method: &str,
    app: &str,
    token: &str,
    which: &str,
    req: &Decoded,
) -> Reply {
    let Some(record) = acknowledged_interaction(st, app, token) else {
        return Reply::error(404, 10015, "Unknown Webhook");
    };
    let message_id = match which {
        "@original" => record.original_id,
        id => id.parse().ok(),
    };
    if which == "@original" && method == "PATCH" {
        record.awaiting_first_followup = false;
    }
    let channel = record.channel_id.to_string();
    let Some(message_id) = message_id else {
        return Reply::error(404, 10008, "Unknown Message");
    };
    let in_channel = st
        .message_mut(message_id)
        .is_some_and(|m| m["channel_id"] == channel.as_str());
    if !in_channel {
        return Reply::error(404, 10008, "Unknown Message");
    }
    super::rest_channels::stored_message(st, method, message_id, req)
}
