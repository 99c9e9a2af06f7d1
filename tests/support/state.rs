//! The fake's mutable state behind one mutex: recorded requests, channels, messages,
//! interactions and the gateway sessions (one per shard). REST handlers and the gateway task
//! share it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::fake_discord::{ChannelSpec, Delivery, RecordedRequest};
use super::limits::upload_limit;
use super::models;
use super::payloads::{component_click, Caller};

/// What the fake remembers about an INTERACTION_CREATE it dispatched.
pub(super) struct InteractionRecord {
    pub token: String,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    pub dispatched_at: Instant,
    pub acknowledged: bool,
    /// The message `@original` refers to (the response, or for components the clicked message).
    pub original_id: Option<u64>,
    /// A deferred (type 5) "thinking" placeholder that the first followup replaces, as Discord
    /// does.
    pub awaiting_first_followup: bool,
    /// For component interactions: the message carrying the component.
    pub component_message_id: Option<u64>,
}

/// A click the fake makes itself on the first bot message that carries a button with `label`,
/// before the bot hears back from the call that posted it.
pub(super) struct PendingClick {
    pub caller: Caller,
    pub label: String,
}

/// One identified (or resumed) gateway session: where its frames go and which shard it is.
pub(super) struct Session {
    pub conn: u64,
    pub tx: UnboundedSender<String>,
    /// `[shard id, total]`, as in IDENTIFY.
    pub shard: [u64; 2],
    /// The session's last sequence number (each session counts on its own, as on Discord).
    pub seq: u64,
}

#[derive(Default)]
pub(super) struct GatewayState {
    /// Shard id → the connection that identified or resumed as that shard last.
    pub sessions: BTreeMap<u64, Session>,
    pub connections: u64,
    pub ready_count: usize,
    pub identifies: Vec<Value>,
    /// (connection, `[shard id, total]`) of every IDENTIFY, in order.
    pub identified: Vec<(u64, [u64; 2])>,
    /// Every dispatch sent, with the connection that got it.
    pub deliveries: Vec<Delivery>,
}

impl GatewayState {
    /// The shard id of the session Discord would send an event of `guild_id` to: shard
    /// `(guild_id >> 22) % total`, and shard 0 for events outside guilds.
    pub fn shard_for(&self, guild_id: Option<u64>) -> Option<u64> {
        let sessions = self.sessions.values();
        let mut owning =
            sessions.filter(|s| s.shard[0] == guild_id.map_or(0, |g| shard_of(g, s.shard[1])));
        owning.next().map(|s| s.shard[0])
    }

    /// The shard a connection identified as (for RESUME, which does not say).
    pub fn shard_of_connection(&self, conn: u64) -> Option<[u64; 2]> {
        let identified = self.identified.iter();
        identified
            .rev()
            .find(|(c, _)| *c == conn)
            .map(|(_, shard)| *shard)
    }
}

/// Discord's rule: a guild's events go to shard `(guild_id >> 22) % total`.
pub fn shard_of(guild_id: u64, total: u64) -> u64 {
    (guild_id >> 22) % total.max(1)
}

/// A snowflake field as Discord sends it (a string), or as a careless payload does (a number).
pub(super) fn snowflake(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
}

pub(super) struct State {
    pub port: u16,
    pub requests: Vec<RecordedRequest>,
    pub guilds: Vec<u64>,
    /// guild → boost tier (0 when unset), as in GUILD_CREATE and `GET /guilds/{g}`.
    pub premium_tiers: HashMap<u64, u8>,
    pub channels: BTreeMap<u64, ChannelSpec>,
    /// Every message in every channel, oldest first (bot messages and dispatched user ones).
    pub messages: Vec<Value>,
    pub interactions: HashMap<u64, InteractionRecord>,
    /// (guild, user) → member JSON with `user`, learned from dispatched events or `add_member`.
    pub members: HashMap<(u64, u64), Value>,
    /// guild → role id → permission bits, learned from callers' roles.
    pub roles: HashMap<u64, BTreeMap<u64, u64>>,
    /// Command name → id, so re-registering keeps ids stable like Discord does.
    pub command_ids: HashMap<String, u64>,
    pub last_commands: Value,
    pub next_id: u64,
    /// How long after dispatch an interaction callback is still accepted (Discord: 3 s).
    pub interaction_deadline: Duration,
    pub pending_click: Option<PendingClick>,
    /// Interaction ids of the clicks made for `pending_click`, in order.
    pub made_clicks: Vec<u64>,
    pub gateway: GatewayState,
    /// `shards` of `GET /gateway/bot`: Discord's recommended shard count.
    pub recommended_shards: u64,
}

impl State {
    pub fn new(port: u16) -> State {
        let discord_epoch_ms = 1_420_070_400_000u128;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis();
        State {
            port,
            requests: Vec::new(),
            guilds: Vec::new(),
            premium_tiers: HashMap::new(),
            channels: BTreeMap::new(),
            messages: Vec::new(),
            interactions: HashMap::new(),
            members: HashMap::new(),
            roles: HashMap::new(),
            command_ids: HashMap::new(),
            last_commands: Value::Null,
            next_id: ((now_ms - discord_epoch_ms) as u64) << 22,
            interaction_deadline: Duration::from_secs(3),
            pending_click: None,
            made_clicks: Vec::new(),
            gateway: GatewayState::default(),
            recommended_shards: 1,
        }
    }

    /// Snowflakes from the current time, so serenity's `created_at()` is plausible and they
    /// never collide with the small ids tests pick.
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn premium_tier(&self, guild_id: u64) -> u8 {
        self.premium_tiers.get(&guild_id).copied().unwrap_or(0)
    }

    /// The upload limit of a message in `guild_id` (outside servers: the base limit).
    pub fn upload_limit_in(&self, guild_id: Option<u64>) -> usize {
        upload_limit(guild_id.map_or(0, |g| self.premium_tier(g)))
    }

    pub fn message_mut(&mut self, id: u64) -> Option<&mut Value> {
        let id = id.to_string();
        self.messages.iter_mut().find(|m| m["id"] == id.as_str())
    }

    /// Sends a dispatch to the shard that owns its `guild_id` (shard 0 without one); false if
    /// that shard is not connected.
    pub fn send_dispatch(&mut self, event: &str, data: Value) -> bool {
        let guild_id = snowflake(&data["guild_id"]);
        match self.gateway.shard_for(guild_id) {
            Some(shard) => self.send_to_shard(shard, event, data),
            None => false,
        }
    }

    /// Sends a dispatch to the session of shard `shard`; false if it is not connected.
    pub fn send_to_shard(&mut self, shard: u64, event: &str, data: Value) -> bool {
        let Some(session) = self.gateway.sessions.get_mut(&shard) else {
            return false;
        };
        session.seq += 1;
        let frame = json!({"op": 0, "t": event, "s": session.seq, "d": data});
        let delivery = Delivery {
            connection: session.conn,
            shard: session.shard,
            event: event.to_string(),
            guild_id: snowflake(&data["guild_id"]),
            id: snowflake(&data["id"]),
        };
        let sent = session.tx.send(frame.to_string()).is_ok();
        self.gateway.deliveries.push(delivery);
        sent
    }

    pub fn remember_member(&mut self, guild_id: u64, member: Value, permissions: u64) {
        let Some(user_id) = member["user"]["id"].as_str().and_then(|s| s.parse().ok()) else {
            return;
        };
        let roles = self.roles.entry(guild_id).or_default();
        for role in member["roles"].as_array().into_iter().flatten() {
            if let Some(role) = role.as_str().and_then(|r| r.parse::<u64>().ok()) {
                *roles.entry(role).or_default() |= permissions;
            }
        }
        let mut member = member;
        if let Some(obj) = member.as_object_mut() {
            // Only interaction payloads carry computed permissions; a REST member has none.
            obj.remove("permissions");
        }
        self.members.insert((guild_id, user_id), member);
    }

    /// Fills in what Discord adds itself: an interaction's `channel` object (poise looks at its
    /// type to tell threads apart).
    pub fn enrich(&self, event: &str, mut data: Value) -> Value {
        if event == "INTERACTION_CREATE" {
            let guild_id = data["guild_id"].as_str().and_then(|g| g.parse().ok());
            data["attachment_size_limit"] = json!(self.upload_limit_in(guild_id));
        }
        if event == "INTERACTION_CREATE" && data.get("channel").is_none() {
            let channel_id = data["channel_id"]
                .as_str()
                .and_then(|c| c.parse::<u64>().ok());
            if let Some(spec) = channel_id.and_then(|c| self.channels.get(&c)) {
                data["channel"] = models::partial_channel(spec);
            }
        }
        data
    }

    /// Bookkeeping for events whose effects REST must reflect later.
    pub fn observe_dispatch(&mut self, event: &str, data: &Value) {
        let id = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
        let guild_id = id(&data["guild_id"]);
        match event {
            "MESSAGE_CREATE" => {
                if let (Some(g), Some(member)) = (guild_id, data.get("member")) {
                    let mut member = member.clone();
                    member["user"] = data["author"].clone();
                    self.remember_member(g, member, 0);
                }
                let mut message = data.clone();
                if let Some(obj) = message.as_object_mut() {
                    obj.remove("member");
                }
                self.messages.push(message);
            }
            "INTERACTION_CREATE" => {
                let Some(interaction_id) = id(&data["id"]) else {
                    return;
                };
                if let (Some(g), Some(member)) = (guild_id, data.get("member")) {
                    let permissions = id(&member["permissions"]).unwrap_or(0);
                    self.remember_member(g, member.clone(), permissions);
                }
                let record = InteractionRecord {
                    token: data["token"].as_str().unwrap_or_default().to_string(),
                    channel_id: id(&data["channel_id"]).unwrap_or(0),
                    guild_id,
                    dispatched_at: Instant::now(),
                    acknowledged: false,
                    original_id: None,
                    awaiting_first_followup: false,
                    component_message_id: id(&data["message"]["id"]),
                };
                self.interactions.insert(interaction_id, record);
            }
            _ => {}
        }
    }
}

impl State {
    /// Makes the pending click if a bot message now carries its button; true if it did.
    pub fn make_pending_click(&mut self) -> bool {
        let Some(label) = self.pending_click.as_ref().map(|p| p.label.clone()) else {
            return false;
        };
        let bot = super::fake_discord::FakeDiscord::BOT_USER_ID.to_string();
        let found = self.messages.iter().find_map(|m| {
            let custom_id = (m["author"]["id"] == bot.as_str())
                .then(|| button_id(m, &label))
                .flatten()?;
            Some((m.clone(), custom_id))
        });
        let Some((message, custom_id)) = found else {
            return false;
        };
        let pending = self.pending_click.take().expect("checked above");
        let id = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        let (guild, channel) = (id(&message["guild_id"]), id(&message["channel_id"]));
        let interaction_id = self.new_id();
        let click = component_click(
            interaction_id,
            guild,
            channel,
            &pending.caller,
            &custom_id,
            message,
        );
        let click = self.enrich("INTERACTION_CREATE", click);
        self.observe_dispatch("INTERACTION_CREATE", &click);
        self.made_clicks.push(interaction_id);
        self.send_dispatch("INTERACTION_CREATE", click)
    }
}

/// The `custom_id` of the button labelled `label` in a message's components.
fn button_id(message: &Value, label: &str) -> Option<String> {
    let rows = message["components"].as_array()?;
    rows.iter()
        .flat_map(|row| row["components"].as_array().into_iter().flatten())
        .find(|c| c["type"] == 2 && c["label"] == label)
        .and_then(|c| c["custom_id"].as_str().map(str::to_string))
}

pub(super) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub fn new(state: State) -> Shared {
        Shared {
            state: Mutex::new(state),
        }
    }

    /// A panicking test thread must not make every later call panic too.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
