//! REST side of the fake: one fallback handler that records every call and routes on the path
//! under `/api/v10`. Interaction callbacks and webhooks live in `rest_interactions`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::fake_discord::{FakeDiscord, RecordedRequest};
use super::models;
use super::multipart::{self, Decoded};
use super::rest_channels::{channel_message, create_message, create_thread, history};
use super::rest_interactions;
use super::state::{Shared, State};

/// How long a click made by `FakeDiscord::click_when_posted` precedes the answer to the call
/// that posted its button.
const CLICK_HEAD_START: Duration = Duration::from_millis(300);

/// Status plus optional JSON body; kept free of axum types so routing stays plain code.
pub(super) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
        }
    }

    pub fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply {
            status,
            body: Some(models::error(code, message)),
        }
    }

    pub fn not_found() -> Reply {
        Reply::error(404, 0, "404: Not Found")
    }
}

pub(super) async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let decoded = multipart::decode(content_type, &body);
    let query = uri.query().map(str::to_string);
    let api_path = uri.path().strip_prefix("/api/v10").map(str::to_string);

    let (reply, clicked) = {
        let mut st = shared.lock();
        let reply = match &api_path {
            Some(path) => route(&mut st, method.as_str(), path, query.as_deref(), &decoded),
            None => Reply::not_found(),
        };
        st.requests.push(RecordedRequest {
            method: method.to_string(),
            path: api_path.unwrap_or_else(|| uri.path().to_string()),
            query,
            body: decoded.recorded(),
            at,
            peer,
            status: reply.status,
        });
        (reply, st.make_pending_click())
    };
    if clicked {
        // The click reaches the bot's shard before the bot hears back from this call, as can
        // happen on Discord.
        tokio::time::sleep(CLICK_HEAD_START).await;
    }

    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    }
}

fn route(st: &mut State, method: &str, path: &str, query: Option<&str>, req: &Decoded) -> Reply {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let id = |s: &str| s.parse::<u64>().ok();
    let body = &req.payload;
    match (method, segments.as_slice()) {
        ("GET", ["gateway"]) => Reply::ok(json!({"url": models::ws_url(st.port)})),
        ("GET", ["gateway", "bot"]) => Reply::ok(json!({
            "url": models::ws_url(st.port),
            "shards": st.recommended_shards,
            "session_start_limit": {
                "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1,
            },
        })),
        ("GET", ["oauth2", "applications", "@me"]) => Reply::ok(models::application()),
        ("GET", ["users", "@me"]) => Reply::ok(models::bot_user()),
        ("PUT", ["applications", app, "commands"]) => register_commands(st, app, None, body),
        ("PUT", ["applications", app, "guilds", g, "commands"]) => {
            register_commands(st, app, Some(g), body)
        }
        ("POST", ["interactions", i, token, "callback"]) => match id(i) {
            Some(i) => rest_interactions::callback(st, i, token, req),
            None => Reply::not_found(),
        },
        (_, ["webhooks", app, token]) => rest_interactions::followup(st, method, app, token, req),
        (_, ["webhooks", app, token, "messages", which]) => {
            rest_interactions::webhook_message(st, method, app, token, which, req)
        }
        ("POST", ["channels", c, "typing"]) if id(c).is_some() => Reply::no_content(),
        ("POST", ["channels", c, "messages"]) => match id(c) {
            Some(c) => create_message(st, c, req),
            None => Reply::not_found(),
        },
        ("GET", ["channels", c, "messages"]) => match id(c) {
            Some(c) => history(st, c, query),
            None => Reply::not_found(),
        },
        (_, ["channels", c, "messages", m]) => match (id(c), id(m)) {
            (Some(_), Some(m)) => channel_message(st, method, m, req),
            _ => Reply::not_found(),
        },
        ("POST", ["channels", c, "messages", m, "threads"]) => match (id(c), id(m)) {
            (Some(c), Some(m)) => create_thread(st, c, Some(m), body),
            _ => Reply::not_found(),
        },
        ("POST", ["channels", c, "threads"]) => match id(c) {
            Some(c) => create_thread(st, c, None, body),
            None => Reply::not_found(),
        },
        ("GET", ["channels", c]) => match id(c).and_then(|c| st.channels.get(&c)) {
            Some(spec) => Reply::ok(models::channel(spec)),
            None => Reply::error(404, 10003, "Unknown Channel"),
        },
        ("GET", ["guilds", g, rest @ ..]) => match id(g).filter(|g| st.guilds.contains(g)) {
            Some(g) => guild_route(st, g, rest),
            None => Reply::error(404, 10004, "Unknown Guild"),
        },
        _ => Reply::not_found(),
    }
}

/// Echoes the commands with ids, as Discord's bulk overwrite does; serenity parses the answer
/// as `Vec<Command>`, so every field it requires is filled in.
fn register_commands(st: &mut State, app: &str, guild: Option<&str>, body: &Value) -> Reply {
    if app != FakeDiscord::APPLICATION_ID.to_string() {
        return Reply::error(403, 50001, "Missing Access");
    }
    if guild.is_some_and(|g| !g.parse().is_ok_and(|g| st.guilds.contains(&g))) {
        return Reply::error(404, 10004, "Unknown Guild");
    }
    st.last_commands = body.clone();
    let commands = body.as_array().cloned().unwrap_or_default();
    let mut echoed = Vec::new();
    for mut command in commands {
        let name = command["name"].as_str().unwrap_or_default().to_string();
        let id = match st.command_ids.get(&name) {
            Some(id) => *id,
            None => {
                let id = st.new_id();
                st.command_ids.insert(name, id);
                id
            }
        };
        let version = st.new_id();
        let defaults = [
            ("type", json!(1)),
            ("description", json!("")),
            ("default_member_permissions", Value::Null),
            ("nsfw", json!(false)),
        ];
        for (key, value) in defaults {
            if command.get(key).is_none() {
                command[key] = value;
            }
        }
        command["id"] = json!(id.to_string());
        command["application_id"] = json!(FakeDiscord::APPLICATION_ID.to_string());
        command["version"] = json!(version.to_string());
        if let Some(g) = guild {
            command["guild_id"] = json!(g);
        }
        fill_option_descriptions(&mut command["options"]);
        echoed.push(command);
    }
    Reply::ok(Value::Array(echoed))
}

/// `CommandOption.description` is required when serenity reads commands back.
fn fill_option_descriptions(options: &mut Value) {
    for option in options.as_array_mut().into_iter().flatten() {
        if option.get("description").is_none() {
            option["description"] = json!("");
        }
        fill_option_descriptions(&mut option["options"]);
    }
}

pub(super) fn attachments(st: &mut State, req: &Decoded) -> Vec<Value> {
    let mut list = Vec::new();
    for file in &req.files {
        let id = st.new_id();
        list.push(models::attachment(id, st.port, &file.name, file.data.len()));
    }
    list
}

fn guild_route(st: &State, guild_id: u64, rest: &[&str]) -> Reply {
    let roles = || {
        let mut roles = vec![models::everyone_role(guild_id)];
        for (position, (role, perms)) in st.roles.get(&guild_id).into_iter().flatten().enumerate() {
            roles.push(models::role(
                *role,
                &format!("role-{role}"),
                *perms,
                position as u64 + 1,
            ));
        }
        roles
    };
    match rest {
        [] => Reply::ok(models::guild(guild_id, roles(), st.premium_tier(guild_id))),
        ["roles"] => Reply::ok(Value::Array(roles())),
        ["channels"] => {
            let specs = st.channels.values().filter(|c| c.guild_id == guild_id);
            Reply::ok(Value::Array(
                specs
                    .filter(|c| !c.kind.is_thread())
                    .map(models::channel)
                    .collect(),
            ))
        }
        ["members", user] => {
            let member = user.parse::<u64>().ok().and_then(|u| {
                if u == FakeDiscord::BOT_USER_ID {
                    Some(bot_member())
                } else {
                    st.members.get(&(guild_id, u)).cloned()
                }
            });
            match member {
                Some(member) => Reply::ok(member),
                None => Reply::error(404, 10007, "Unknown Member"),
            }
        }
        _ => Reply::not_found(),
    }
}

fn bot_member() -> Value {
    json!({
        "user": models::bot_user(),
        "nick": null,
        "avatar": null,
        "roles": [],
        "joined_at": models::JOINED_AT,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
    })
}
