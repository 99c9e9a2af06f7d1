//! Gateway event payloads a test pushes with `FakeDiscord::dispatch`. Field sets follow
//! serenity 0.12.5's models (`CommandInteraction`, `ComponentInteraction`, `Member`,
//! `Message`); `dispatch` re-checks each payload with serenity before sending it.

use serde_json::{json, Value};

use super::fake_discord::FakeDiscord;
use super::models::JOINED_AT;

pub const MANAGE_MESSAGES: u64 = 1 << 13;
/// What the bot may do in the channel (`app_permissions`): view, send, embed, attach, read
/// history, add reactions, use threads. Poise requires this field on every guild interaction.
pub const BOT_APP_PERMISSIONS: u64 = (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 31)
    | (1 << 34)
    | (1 << 35)
    | (1 << 38);

/// The user behind an event.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: u64,
    pub name: String,
    /// Permission bits in the channel, e.g. 0 or `MANAGE_MESSAGES`.
    pub permissions: u64,
    pub roles: Vec<u64>,
    pub bot: bool,
}

impl Caller {
    /// An ordinary member without permissions or roles.
    pub fn member(user_id: u64, name: &str) -> Caller {
        Caller {
            user_id,
            name: name.into(),
            permissions: 0,
            roles: Vec::new(),
            bot: false,
        }
    }

    /// A member whose role grants MANAGE_MESSAGES.
    pub fn moderator(user_id: u64, name: &str, role_id: u64) -> Caller {
        Caller {
            permissions: MANAGE_MESSAGES,
            roles: vec![role_id],
            ..Caller::member(user_id, name)
        }
    }
}

pub fn user_json(caller: &Caller) -> Value {
    json!({
        "id": caller.user_id.to_string(),
        "username": caller.name,
        "discriminator": "0",
        "global_name": caller.name,
        "avatar": null,
        "bot": caller.bot,
        "public_flags": 0,
    })
}

/// A guild member with `user`, as in interactions and `GET /guilds/{g}/members/{u}`.
/// `permissions` is what Discord computes for interactions; poise reads it for permission checks.
pub fn member_json(caller: &Caller) -> Value {
    let roles: Vec<String> = caller.roles.iter().map(u64::to_string).collect();
    json!({
        "user": user_json(caller),
        "nick": null,
        "avatar": null,
        "roles": roles,
        "joined_at": JOINED_AT,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "permissions": caller.permissions.to_string(),
        "communication_disabled_until": null,
    })
}

/// Fields shared by every guild interaction. `channel` is added by the fake on dispatch from the
/// registered channel, so thread channels are reported as threads.
fn interaction_base(
    kind: u64,
    interaction_id: u64,
    guild_id: u64,
    channel_id: u64,
    caller: &Caller,
) -> Value {
    json!({
        "id": interaction_id.to_string(),
        "application_id": FakeDiscord::APPLICATION_ID.to_string(),
        "type": kind,
        "guild_id": guild_id.to_string(),
        "channel_id": channel_id.to_string(),
        "member": member_json(caller),
        "token": format!("tok-{interaction_id}"),
        "version": 1,
        "app_permissions": BOT_APP_PERMISSIONS.to_string(),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "context": 0,
        "attachment_size_limit": 10_485_760,
    })
}

/// INTERACTION_CREATE data for a slash command. `options` is the invocation's option list
/// (`[{type, name, value}]`), with each `type` as registered (read `registered_commands()`);
/// use `subcommand_options` for subcommands. USER/ROLE/CHANNEL options also need
/// `data.resolved`, which the caller must add.
pub fn slash_command(
    interaction_id: u64,
    guild_id: u64,
    channel_id: u64,
    caller: &Caller,
    command_name: &str,
    command_id: u64,
    options: Value,
) -> Value {
    let mut interaction = interaction_base(2, interaction_id, guild_id, channel_id, caller);
    interaction["data"] = json!({
        "id": command_id.to_string(),
        "name": command_name,
        "type": 1,
        "options": if options.is_null() { json!([]) } else { options },
    });
    interaction
}

/// The `options` of a subcommand invocation: `[{type: 1, name: sub, options}]`.
pub fn subcommand_options(sub: &str, options: Value) -> Value {
    let options = if options.is_null() {
        json!([])
    } else {
        options
    };
    json!([{"type": 1, "name": sub, "options": options}])
}

/// INTERACTION_CREATE data for a message context-menu command (interaction type 2, command type
/// 3) on `target` (a Message JSON such as `user_message` makes): Discord names it in
/// `data.target_id` and sends it whole in `data.resolved.messages`.
pub fn message_command(
    interaction_id: u64,
    (guild_id, channel_id): (u64, u64),
    caller: &Caller,
    (command_name, command_id): (&str, u64),
    target: Value,
) -> Value {
    let mut interaction = interaction_base(2, interaction_id, guild_id, channel_id, caller);
    let target_id = target["id"].as_str().unwrap_or_default().to_string();
    interaction["data"] = json!({
        "id": command_id.to_string(),
        "name": command_name,
        "type": 3,
        "target_id": target_id,
        "resolved": {"messages": {target_id.clone(): target}},
    });
    interaction
}

/// INTERACTION_CREATE data for a button click on `message` (a Message JSON, e.g. from
/// `FakeDiscord::messages_in`).
pub fn component_click(
    interaction_id: u64,
    guild_id: u64,
    channel_id: u64,
    caller: &Caller,
    custom_id: &str,
    message: Value,
) -> Value {
    let mut interaction = interaction_base(3, interaction_id, guild_id, channel_id, caller);
    interaction["data"] = json!({"custom_id": custom_id, "component_type": 2});
    interaction["message"] = message;
    interaction
}

fn message_base(
    message_id: u64,
    guild_id: u64,
    channel_id: u64,
    author: Value,
    content: &str,
) -> Value {
    json!({
        "id": message_id.to_string(),
        "channel_id": channel_id.to_string(),
        "guild_id": guild_id.to_string(),
        "author": author,
        "content": content,
        "timestamp": super::models::now(),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "reactions": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "components": [],
    })
}

/// MESSAGE_CREATE data for a member's message, with the partial `member` Discord includes.
pub fn user_message(
    message_id: u64,
    guild_id: u64,
    channel_id: u64,
    author: &Caller,
    content: &str,
) -> Value {
    let mut message = message_base(message_id, guild_id, channel_id, user_json(author), content);
    let mut member = member_json(author);
    if let Some(member) = member.as_object_mut() {
        // MESSAGE_CREATE's member has neither `user` (that is `author`) nor permissions.
        member.remove("user");
        member.remove("permissions");
    }
    message["member"] = member;
    message
}

/// MESSAGE_CREATE data for a message posted through a webhook: `webhook_id` is set, the author
/// is the webhook's pseudo-user (flagged `bot`), and there is no `member`.
pub fn webhook_message(
    message_id: u64,
    guild_id: u64,
    channel_id: u64,
    webhook_id: u64,
    username: &str,
    content: &str,
) -> Value {
    let author = json!({
        "id": webhook_id.to_string(),
        "username": username,
        "discriminator": "0000",
        "global_name": null,
        "avatar": null,
        "bot": true,
    });
    let mut message = message_base(message_id, guild_id, channel_id, author, content);
    message["webhook_id"] = json!(webhook_id.to_string());
    message
}
