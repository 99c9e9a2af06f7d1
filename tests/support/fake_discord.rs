//! A fake Discord on 127.0.0.1: REST under `/api/v10` and the gateway at `/ws`, in one axum
//! server. The real serenity client is pointed at it with
//! `HttpBuilder::new(token).proxy(fake.http_url()).ratelimiter_disabled(true)`.
//!
//! Every REST call is recorded (unknown routes too, answered 404) so tests assert on what the
//! bot actually sent. Guilds and channels must be added before the client connects: they are
//! announced only in READY / GUILD_CREATE.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::expect::describe_requests;
use super::payloads::{member_json, Caller};
use super::state::{snowflake, PendingClick, Shared, State};
use super::{gateway, limits, models, rest};

mod shards;
// For the tests that pick guilds per shard; most test binaries do not use it.
#[allow(unused_imports)]
pub use super::state::shard_of;
pub use shards::Delivery;

/// The kind of a registered channel; the number is Discord's channel `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Text,
    PublicThread,
    PrivateThread,
}

impl ChannelKind {
    pub fn code(self) -> u64 {
        match self {
            ChannelKind::Text => 0,
            ChannelKind::PublicThread => 11,
            ChannelKind::PrivateThread => 12,
        }
    }

    pub fn is_thread(self) -> bool {
        self != ChannelKind::Text
    }
}

/// A channel the fake knows about. For threads `parent_id` is the text channel; for text
/// channels it is the category (usually `None`).
#[derive(Clone, Debug)]
pub struct ChannelSpec {
    pub id: u64,
    pub guild_id: u64,
    pub kind: ChannelKind,
    pub parent_id: Option<u64>,
    pub name: String,
}

impl ChannelSpec {
    pub fn text(id: u64, guild_id: u64, name: &str) -> Self {
        ChannelSpec {
            id,
            guild_id,
            kind: ChannelKind::Text,
            parent_id: None,
            name: name.into(),
        }
    }

    pub fn thread(id: u64, guild_id: u64, parent_id: u64, name: &str) -> Self {
        ChannelSpec {
            kind: ChannelKind::PublicThread,
            parent_id: Some(parent_id),
            ..ChannelSpec::text(id, guild_id, name)
        }
    }
}

/// One REST call as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Without the `/api/v10` prefix, e.g. `/channels/5/typing`. Requests outside the prefix keep
    /// their full path.
    pub path: String,
    pub query: Option<String>,
    /// JSON body, `Null` if none. For multipart: the `payload_json` part plus
    /// `files: [{name, size, content}]` (content as lossy UTF-8).
    pub body: Value,
    pub at: Instant,
    pub peer: SocketAddr,
    /// The status the fake answered with, so tests can see rejected calls.
    pub status: u16,
}

impl RecordedRequest {
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

struct ServerTask(JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Handle to a running fake Discord; clones share the same server.
#[derive(Clone)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    _server: Arc<ServerTask>,
}

impl FakeDiscord {
    /// The bot's user id (READY's `user`, author of every message the bot creates).
    pub const BOT_USER_ID: u64 = 1_100_000_000_000_000_001;
    /// The application id (READY's `application.id`; followups go to `/webhooks/{this}/...`).
    /// Deliberately different from the user id so a test catches code that mixes them up.
    pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_002;
    /// Owner of the application (`GET /oauth2/applications/@me`) and of every guild.
    pub const OWNER_USER_ID: u64 = 1_100_000_000_000_000_003;

    /// Binds 127.0.0.1:0. Also sets `NO_PROXY` for loopback: reqwest honours `HTTP(S)_PROXY`
    /// even for 127.0.0.1, which would send the bot's calls to a proxy instead of here.
    pub async fn start() -> FakeDiscord {
        bypass_proxies_for_loopback();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Discord on 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared::new(State::new(port)));
        // Bodies are limited by Discord's rules (`limits`), not by axum's 2 MB default.
        let body_limit = DefaultBodyLimit::max(2 * limits::upload_limit(3));
        let app = Router::new()
            .route("/ws", get(gateway::upgrade))
            .fallback(rest::handle)
            .layer(body_limit)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(err) = axum::serve(listener, service).await {
                eprintln!("fake Discord server stopped: {err}");
            }
        });
        FakeDiscord {
            shared,
            _server: Arc::new(ServerTask(server)),
        }
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.lock().port)
    }

    /// An `HttpBuilder` aimed at this fake. The ratelimiter must stay disabled: with it on,
    /// serenity builds URLs without the proxy and would call the real discord.com.
    pub fn http_builder(&self) -> serenity::http::HttpBuilder {
        serenity::http::HttpBuilder::new("fake-token")
            .proxy(self.http_url())
            .ratelimiter_disabled(true)
    }

    pub fn ws_url(&self) -> String {
        models::ws_url(self.shared.lock().port)
    }

    pub fn add_guild(&self, guild_id: u64) {
        let mut st = self.shared.lock();
        if !st.guilds.contains(&guild_id) {
            st.guilds.push(guild_id);
        }
    }

    /// A guild's boost tier (0 to 3), which sets its upload limit. Set it before the client
    /// connects for the tier to be in GUILD_CREATE; `GET /guilds/{g}` always reports it.
    pub fn set_premium_tier(&self, guild_id: u64, tier: u8) {
        self.shared.lock().premium_tiers.insert(guild_id, tier);
    }

    /// Arms one click by `caller` on the button labelled `label`, made as soon as a bot message
    /// carries it and before the bot gets the answer to the call that posted it: a listener
    /// set up only after that answer misses the click.
    pub fn click_when_posted(&self, caller: &Caller, label: &str) {
        self.shared.lock().pending_click = Some(PendingClick {
            caller: caller.clone(),
            label: label.into(),
        });
    }

    /// Interaction ids of the clicks armed by `click_when_posted` that were made.
    pub fn made_clicks(&self) -> Vec<u64> {
        self.shared.lock().made_clicks.clone()
    }

    pub fn add_channel(&self, channel: ChannelSpec) {
        self.shared.lock().channels.insert(channel.id, channel);
    }

    /// Makes `GET /guilds/{g}/members/{uid}` answer for a user no event has mentioned yet.
    pub fn add_member(&self, guild_id: u64, caller: &Caller) {
        self.shared
            .lock()
            .remember_member(guild_id, member_json(caller), caller.permissions);
    }

    pub async fn wait_ready(&self, timeout: Duration) {
        let ready = self
            .poll(timeout, |st| (st.gateway.ready_count > 0).then_some(()))
            .await;
        if ready.is_none() {
            let st = self.shared.lock();
            panic!(
                "fake Discord: no IDENTIFY answered with READY within {timeout:?} \
                 (gateway lookups: {}, ws connections: {}). Did the client use \
                 HttpBuilder::proxy + ratelimiter_disabled and get started?\nREST calls:\n{}",
                st.requests.iter().filter(|r| r.path == "/gateway").count(),
                st.gateway.connections,
                describe_requests(&st.requests)
            );
        }
    }

    /// Pushes a dispatch to the shard owning its guild after checking serenity can parse it: a
    /// payload serenity cannot deserialize would otherwise be dropped silently as `UnknownEvent`.
    pub async fn dispatch(&self, event: &str, data: Value) {
        let data = self.shared.lock().enrich(event, data);
        if let Err(why) = models::check_serenity_accepts(event, &data) {
            panic!("fake Discord: serenity would drop this {event} ({why}):\n{data:#}");
        }
        self.dispatch_raw(event, data).await;
    }

    /// Like `dispatch` but without the serenity check, to send deliberately odd payloads.
    /// Goes to the shard owning the event's `guild_id`, as on Discord.
    pub async fn dispatch_raw(&self, event: &str, data: Value) {
        let guild = snowflake(&data["guild_id"]);
        let connected = |st: &State| st.gateway.shard_for(guild);
        if self.poll(Duration::from_secs(5), connected).await.is_none() {
            panic!(
                "fake Discord: no shard connected to dispatch {event} (guild {guild:?}) to; \
                 call wait_ready first"
            );
        }
        let mut st = self.shared.lock();
        let data = st.enrich(event, data);
        st.observe_dispatch(event, &data);
        if !st.send_dispatch(event, data) {
            panic!("fake Discord: the shard disconnected before {event} could be sent");
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The first recorded request matching `pred`, waiting for it up to `timeout`.
    pub async fn wait_for_request(
        &self,
        pred: impl Fn(&RecordedRequest) -> bool,
        timeout: Duration,
    ) -> RecordedRequest {
        let found = self
            .poll(timeout, |st| st.requests.iter().find(|r| pred(r)).cloned())
            .await;
        found.unwrap_or_else(|| {
            let requests = self.requests();
            panic!(
                "fake Discord: no matching request within {timeout:?}; recorded:\n{}",
                describe_requests(&requests)
            )
        })
    }

    /// `wait_for_request` for an exact method and path (no query), the common case.
    pub async fn wait_for_call(
        &self,
        method: &str,
        path: &str,
        timeout: Duration,
    ) -> RecordedRequest {
        self.wait_for_request(|r| r.is(method, path), timeout).await
    }

    pub fn saw_gateway_lookup(&self) -> bool {
        let st = self.shared.lock();
        st.requests.iter().any(|r| r.is("GET", "/gateway"))
    }

    /// Body of the last `PUT .../commands` (global or guild), `Null` if none yet.
    pub fn registered_commands(&self) -> Value {
        self.shared.lock().last_commands.clone()
    }

    /// The id the fake assigned to a registered command, for building its INTERACTION_CREATE.
    pub fn command_id(&self, name: &str) -> Option<u64> {
        self.shared.lock().command_ids.get(name).copied()
    }

    /// Changes Discord's 3-second callback deadline, so a test can exercise a late
    /// acknowledgement (404, code 10062) without sleeping for seconds.
    pub fn set_interaction_deadline(&self, deadline: Duration) {
        self.shared.lock().interaction_deadline = deadline;
    }

    /// Messages authored by the bot in `channel_id`, oldest first, with later edits applied.
    /// Includes interaction responses and ephemeral ones (check `flags` & 64).
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        let bot = Self::BOT_USER_ID.to_string();
        let history = self.history(channel_id);
        history
            .into_iter()
            .filter(|m| m["author"]["id"] == bot.as_str())
            .collect()
    }

    /// Every message in `channel_id` (the bot's and dispatched user messages), oldest first.
    pub fn history(&self, channel_id: u64) -> Vec<Value> {
        let channel = channel_id.to_string();
        let st = self.shared.lock();
        st.messages
            .iter()
            .filter(|m| m["channel_id"] == channel.as_str())
            .cloned()
            .collect()
    }

    /// `d.intents` of the latest IDENTIFY.
    pub fn identify_intents(&self) -> Option<u64> {
        self.shared
            .lock()
            .gateway
            .identifies
            .last()
            .and_then(|d| d["intents"].as_u64())
    }

    /// How many times a shard identified (a new session each time).
    pub fn ready_count(&self) -> usize {
        self.shared.lock().gateway.ready_count
    }

    async fn poll<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = check(&self.shared.lock());
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whether serenity parses `data` as the dispatch `event`: the check `dispatch` applies, for
/// testing payload builders without a gateway.
pub fn serenity_accepts(event: &str, data: &Value) -> Result<(), String> {
    models::check_serenity_accepts(event, data)
}

/// The Discord error code of a failed serenity call (e.g. 40060, 10062, 50035). Panics on
/// success or on a non-HTTP error, with what happened instead.
pub fn discord_error_code<T>(result: serenity::Result<T>) -> isize {
    use serenity::http::HttpError;
    match result {
        Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response))) => response.error.code,
        Err(other) => panic!("expected a Discord error response, got {other}"),
        Ok(_) => panic!("expected a Discord error response, got success"),
    }
}

fn bypass_proxies_for_loopback() {
    for key in ["NO_PROXY", "no_proxy"] {
        let current = std::env::var(key).unwrap_or_default();
        if !current.split(',').any(|h| h.trim() == "127.0.0.1") {
            let joined = if current.is_empty() {
                String::new()
            } else {
                format!("{current},")
            };
            std::env::set_var(key, format!("{joined}127.0.0.1,localhost"));
        }
    }
}
