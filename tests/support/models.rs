//! JSON the fake answers with. Each shape carries every field serenity 0.12.5 requires (fields
//! that are neither `Option` nor `#[serde(default)]`); a missing one makes serenity fail the REST
//! call or drop a gateway event. Snowflakes are strings, as on Discord.

use serde_json::{json, Value};

use super::fake_discord::{ChannelSpec, FakeDiscord};

pub(super) const JOINED_AT: &str = "2024-01-01T00:00:00.000Z";
/// Discord's `MessageFlags::EPHEMERAL` and `LOADING` ("Bot is thinking...").
pub(super) const EPHEMERAL: u64 = 1 << 6;
pub(super) const LOADING: u64 = 1 << 7;
const SUPPRESS_EMBEDS: u64 = 1 << 2;

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn ws_url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/ws")
}

pub(super) fn bot_user() -> Value {
    json!({
        "id": FakeDiscord::BOT_USER_ID.to_string(),
        "username": "coe-bot-test",
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "system": false,
        "mfa_enabled": false,
        "verified": true,
        "flags": 0,
        "public_flags": 0,
    })
}

pub(super) fn application() -> Value {
    json!({
        "id": FakeDiscord::APPLICATION_ID.to_string(),
        "name": "coe-bot-test",
        "icon": null,
        "description": "",
        "rpc_origins": [],
        "bot_public": false,
        "bot_require_code_grant": false,
        "owner": {
            "id": FakeDiscord::OWNER_USER_ID.to_string(),
            "username": "owner",
            "discriminator": "0",
            "global_name": "Owner",
            "avatar": null,
            "public_flags": 0,
        },
        "verify_key": "0".repeat(64),
        "team": null,
        "flags": 0,
        "bot": bot_user(),
    })
}

pub(super) fn ready(port: u16, guilds: &[u64], session_id: &str, shard: Value) -> Value {
    let guilds: Vec<Value> = guilds
        .iter()
        .map(|g| json!({"id": g.to_string(), "unavailable": true}))
        .collect();
    json!({
        "v": 10,
        "user": bot_user(),
        "guilds": guilds,
        "session_id": session_id,
        "resume_gateway_url": ws_url(port),
        "shard": shard,
        "application": {"id": FakeDiscord::APPLICATION_ID.to_string(), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
    })
}

/// `Role` needs `colors` (serenity 0.12.5 reads the enhanced role colours) and `position`.
pub(super) fn role(id: u64, name: &str, permissions: u64, position: u64) -> Value {
    json!({
        "id": id.to_string(),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": position,
        "permissions": permissions.to_string(),
        "managed": false,
        "mentionable": false,
        "flags": 0,
    })
}

/// The @everyone role has the guild's id and, here, no permissions at all.
pub(super) fn everyone_role(guild_id: u64) -> Value {
    role(guild_id, "@everyone", 0, 0)
}

/// `PartialGuild` (REST). AFK fields are left out: serenity flattens them into an
/// `Option<AfkMetadata>` that expects a real channel id.
pub(super) fn guild(guild_id: u64, roles: Vec<Value>, premium_tier: u8) -> Value {
    json!({
        "id": guild_id.to_string(),
        "name": format!("guild-{guild_id}"),
        "icon": null,
        "icon_hash": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": FakeDiscord::OWNER_USER_ID.to_string(),
        "widget_enabled": false,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": roles,
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "max_members": 500000,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
    })
}

/// GUILD_CREATE: the guild plus the gateway-only fields serenity's `Guild` requires. `members`
/// stays empty, so serenity's cache-side permission checks are skipped (member not cached)
/// instead of failing against an @everyone role with no permissions.
pub(super) fn guild_create(
    guild_id: u64,
    premium_tier: u8,
    channels: Vec<Value>,
    threads: Vec<Value>,
) -> Value {
    let mut guild = guild(guild_id, vec![everyone_role(guild_id)], premium_tier);
    let extra = json!({
        "joined_at": JOINED_AT,
        "large": false,
        "unavailable": false,
        "member_count": 1,
        "voice_states": [],
        "members": [],
        "channels": channels,
        "threads": threads,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    });
    merge(&mut guild, extra);
    guild
}

pub(super) fn channel(spec: &ChannelSpec) -> Value {
    let mut channel = json!({
        "id": spec.id.to_string(),
        "type": spec.kind.code(),
        "guild_id": spec.guild_id.to_string(),
        "name": spec.name,
        "parent_id": spec.parent_id.map(|p| p.to_string()),
        "position": 0,
        "permission_overwrites": [],
        "nsfw": false,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "flags": 0,
    });
    if spec.kind.is_thread() {
        let thread = json!({
            "owner_id": FakeDiscord::BOT_USER_ID.to_string(),
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": false,
                "auto_archive_duration": 1440,
                "archive_timestamp": now(),
                "locked": false,
                "create_timestamp": now(),
            },
        });
        merge(&mut channel, thread);
    } else {
        channel["topic"] = Value::Null;
    }
    channel
}

/// The `channel` object Discord puts into interactions.
pub(super) fn partial_channel(spec: &ChannelSpec) -> Value {
    let full = channel(spec);
    let mut partial = json!({
        "id": full["id"],
        "type": full["type"],
        "name": full["name"],
        "guild_id": full["guild_id"],
        "parent_id": full["parent_id"],
    });
    if let Some(meta) = full.get("thread_metadata") {
        partial["thread_metadata"] = meta.clone();
    }
    partial
}

/// Where a new message goes and who sends it.
pub(super) struct NewMessage {
    pub id: u64,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    /// Set for interaction responses and followups (Discord sets `webhook_id` to the app id).
    pub webhook_id: Option<u64>,
    pub attachments: Vec<Value>,
    /// Flags Discord adds on its own (`LOADING` for a deferred response).
    pub extra_flags: u64,
}

/// A `Message` the bot created, echoing what it sent (content, embeds, components, flags,
/// reply reference). `mentions` stays empty: the fake does not parse mentions.
pub(super) fn bot_message(m: NewMessage, body: &Value) -> Value {
    let flags = body["flags"].as_u64().unwrap_or(0) | m.extra_flags;
    let mut message = json!({
        "id": m.id.to_string(),
        "channel_id": m.channel_id.to_string(),
        "author": bot_user(),
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": now(),
        "edited_timestamp": null,
        "tts": body["tts"].as_bool().unwrap_or(false),
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": m.attachments,
        "embeds": embeds(body),
        "reactions": [],
        "pinned": false,
        "type": 0,
        "flags": flags,
        "components": body.get("components").cloned().unwrap_or_else(|| json!([])),
    });
    if let Some(g) = m.guild_id {
        message["guild_id"] = json!(g.to_string());
    }
    if let Some(webhook_id) = m.webhook_id {
        message["webhook_id"] = json!(webhook_id.to_string());
        message["application_id"] = json!(FakeDiscord::APPLICATION_ID.to_string());
    }
    if let Some(reference) = body.get("message_reference").filter(|r| r.is_object()) {
        let mut reference = reference.clone();
        if reference.get("channel_id").is_none() {
            reference["channel_id"] = json!(m.channel_id.to_string());
        }
        message["message_reference"] = reference;
        message["type"] = json!(19); // REPLY
    }
    message
}

/// Applies an edit (PATCH) body to a stored message. Only SUPPRESS_EMBEDS may change in
/// `flags`; an edit ends the "thinking" state.
pub(super) fn apply_edit(message: &mut Value, body: &Value, new_attachments: Vec<Value>) {
    if let Some(content) = body.get("content").filter(|c| !c.is_null()) {
        message["content"] = content.clone();
    }
    if body.get("embeds").is_some_and(|e| e.is_array()) {
        message["embeds"] = json!(embeds(body));
    }
    if let Some(components) = body.get("components").filter(|c| c.is_array()) {
        message["components"] = components.clone();
    }
    let old = message["flags"].as_u64().unwrap_or(0) & !LOADING;
    let flags = match body["flags"].as_u64() {
        Some(f) => (old & !SUPPRESS_EMBEDS) | (f & SUPPRESS_EMBEDS),
        None => old,
    };
    message["flags"] = json!(flags);
    if let Some(list) = message["attachments"].as_array_mut() {
        list.extend(new_attachments);
    }
    message["edited_timestamp"] = json!(now());
}

fn embeds(body: &Value) -> Vec<Value> {
    let list = body["embeds"].as_array().cloned().unwrap_or_default();
    list.into_iter()
        .map(|mut embed| {
            if embed.is_object() && embed.get("type").is_none() {
                embed["type"] = json!("rich");
            }
            embed
        })
        .collect()
}

pub(super) fn attachment(id: u64, port: u16, name: &str, size: usize) -> Value {
    let url = format!("http://127.0.0.1:{port}/attachments/{id}/{name}");
    json!({
        "id": id.to_string(),
        "filename": name,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": null,
    })
}

/// Discord's error body: `{"code", "message"}`.
pub(super) fn error(code: u64, message: &str) -> Value {
    json!({"code": code, "message": message})
}

/// Discord's 50035 "Invalid Form Body" with its `errors` tree.
pub(super) fn invalid_form_body(errors: Value) -> Value {
    json!({"code": 50035, "message": "Invalid Form Body", "errors": errors})
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

/// Parses a dispatch the way serenity's shard does. Serenity falls back to `Event::Unknown`
/// when a known event fails to parse, so the common events are parsed as their own types to
/// get serde's error text.
pub(super) fn check_serenity_accepts(event: &str, data: &Value) -> Result<(), String> {
    use serenity::model::application::Interaction;
    use serenity::model::channel::Message;
    use serenity::model::event::{Event, GuildCreateEvent};

    let specific = match event {
        "MESSAGE_CREATE" => serde_json::from_value::<Message>(data.clone()).map(drop),
        "INTERACTION_CREATE" => serde_json::from_value::<Interaction>(data.clone()).map(drop),
        "GUILD_CREATE" => serde_json::from_value::<GuildCreateEvent>(data.clone()).map(drop),
        _ => Ok(()),
    };
    specific.map_err(|e| e.to_string())?;
    let wrapped = json!({"t": event, "d": data});
    match serde_json::from_value::<Event>(wrapped) {
        Ok(Event::Unknown(_)) => Err("serenity parses it as UnknownEvent".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
