//! The real coe-bot (`coe_bot::discord::start`) against the fake Discord, with wiremock as the
//! model server and a temporary SQLite file: the set-up every `discord_e2e*` test shares.

#[path = "../common/mod.rs"]
pub mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coe_bot::discord::BotHandle;
use coe_bot::llm::LlmClient;
use coe_bot::pipeline::{Member, Pipeline};
use coe_bot::store::Store;
use serde_json::{json, Value};
use wiremock::MockServer;

use super::expect::find_choice;
pub use super::expect::*;
use super::fake_discord::{ChannelSpec, FakeDiscord, RecordedRequest};
use super::payloads::{slash_command, user_message, Caller};
pub use super::people::*;

/// How long one step (a reply, a callback) may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(10);
/// The bound around each whole test, so no test can hang.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `test` under `TEST_TIMEOUT`.
pub async fn bounded<F: std::future::Future<Output = ()>>(name: &str, test: F) {
    if tokio::time::timeout(TEST_TIMEOUT, test).await.is_err() {
        panic!("{name} did not finish within {TEST_TIMEOUT:?}");
    }
}

/// A running bot, its fake Discord, its model server and its database.
pub struct TestBot {
    pub fake: FakeDiscord,
    pub llm: MockServer,
    pub store: Store,
    pub pipeline: Pipeline,
    /// The bot's SQLite file, for a second connection (see `lock_database`).
    pub database_url: String,
    handle: Option<BotHandle>,
    next_id: AtomicU64,
    _dir: tempfile::TempDir,
}

impl TestBot {
    /// Starts the bot with `llm` as its model server; `extra` adds or overrides variables.
    pub async fn start(llm: MockServer, extra: &[(&str, &str)]) -> TestBot {
        TestBot::start_with(llm, extra, |_| {}).await
    }

    /// `start`, with `prepare` shaping the fake (e.g. a guild's boost tier) before the bot
    /// connects.
    pub async fn start_with(
        llm: MockServer,
        extra: &[(&str, &str)],
        prepare: impl FnOnce(&FakeDiscord),
    ) -> TestBot {
        let fake = FakeDiscord::start().await;
        for guild in [GUILD, OTHER_GUILD] {
            fake.add_guild(guild);
        }
        let channels = [
            (SUPPORT, GUILD, "support"),
            (GENERAL, GUILD, "general"),
            (ALERTS, GUILD, "mod-alerts"),
            (SPARE, GUILD, "spare"),
            (SPARE_2, GUILD, "spare-2"),
            (OTHER_GENERAL, OTHER_GUILD, "general"),
        ];
        for (id, guild, name) in channels {
            fake.add_channel(ChannelSpec::text(id, guild, name));
        }
        prepare(&fake);
        let dir = tempfile::tempdir().expect("temporary directory");
        let proxy = fake.http_url();
        let support = format!("{GUILD}:{SUPPORT}");
        let mut vars = vec![
            ("DISCORD_TOKEN", "MTEwMDAwMDAw.fake.token-for-tests"),
            ("DISCORD_PROXY_URL", proxy.as_str()),
            ("COE_SUPPORT_CHANNELS", support.as_str()),
            ("COE_USER_MESSAGES_PER_MINUTE", "30"),
            ("COE_HELPLINE_REGION", "us"),
        ];
        vars.extend_from_slice(extra);
        let config = common::config(&llm, dir.path(), &vars);
        let config_url = config.database_url.clone();
        let store = Store::open(&config.database_url).await.expect("open store");
        let client = LlmClient::new(&config.llm).expect("LLM client");
        let pipeline = Pipeline::new(&config, client, store.clone(), common::gate());
        let handle = coe_bot::discord::start(Arc::new(config), pipeline.clone())
            .await
            .expect("bot starts");
        fake.wait_ready(WAIT).await;
        let commands = format!("/applications/{}/commands", FakeDiscord::APPLICATION_ID);
        fake.wait_for_call("PUT", &commands, WAIT).await;
        TestBot {
            fake,
            llm,
            store,
            pipeline,
            database_url: config_url,
            handle: Some(handle),
            next_id: AtomicU64::new(900_000),
            _dir: dir,
        }
    }

    /// A fresh small id for an interaction or a message.
    pub fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    pub fn handle(&self) -> &BotHandle {
        self.handle.as_ref().expect("bot still running")
    }

    pub fn take_handle(&mut self) -> BotHandle {
        self.handle.take().expect("bot still running")
    }

    pub fn user_key(&self, caller: &Caller) -> String {
        self.pipeline.user_key(&Member::Discord(caller.user_id))
    }

    /// Dispatches `/name options` from `caller` in `channel`; returns the interaction id.
    pub async fn slash(
        &self,
        caller: &Caller,
        (guild, channel): (u64, u64),
        name: &str,
        options: Value,
    ) -> u64 {
        self.slash_resolved(caller, (guild, channel), name, options, Value::Null)
            .await
    }

    /// `slash` with `data.resolved` (needed by channel, role and user options).
    pub async fn slash_resolved(
        &self,
        caller: &Caller,
        place: (u64, u64),
        name: &str,
        options: Value,
        resolved: Value,
    ) -> u64 {
        let id = self.interaction_id(Duration::ZERO);
        self.slash_with_id(id, caller, place, name, options, resolved)
            .await;
        id
    }

    /// `slash` for an interaction Discord created `age` ago (its token expires 15 minutes
    /// after that).
    pub async fn slash_aged(
        &self,
        age: Duration,
        caller: &Caller,
        place: (u64, u64),
        name: &str,
        options: Value,
    ) -> u64 {
        let id = self.interaction_id(age);
        self.slash_with_id(id, caller, place, name, options, Value::Null)
            .await;
        id
    }

    async fn slash_with_id(
        &self,
        id: u64,
        caller: &Caller,
        (guild, channel): (u64, u64),
        name: &str,
        options: Value,
        resolved: Value,
    ) {
        let command_id = self
            .fake
            .command_id(name)
            .unwrap_or_else(|| panic!("/{name} was not registered"));
        let mut event = slash_command(id, guild, channel, caller, name, command_id, options);
        if !resolved.is_null() {
            event["data"]["resolved"] = resolved;
        }
        self.fake.dispatch("INTERACTION_CREATE", event).await;
    }

    /// A snowflake for an interaction created `age` ago: the bot reads an interaction's age from
    /// its id. Worker bits 1 keep it apart from the ids the fake makes (worker 0).
    pub fn interaction_id(&self, age: Duration) -> u64 {
        const DISCORD_EPOCH_MS: u128 = 1_420_070_400_000;
        let created = SystemTime::now() - age;
        let unix_ms = created.duration_since(UNIX_EPOCH).expect("after 1970");
        let ms = (unix_ms.as_millis() - DISCORD_EPOCH_MS) as u64;
        (ms << 22) | (1 << 17) | (self.id() & 0xfff)
    }

    /// `/coe therapy:<choice> message:<text>` in `GENERAL`, optionally private.
    pub async fn coe(&self, caller: &Caller, therapy: &str, text: &str, private: bool) -> u64 {
        let mut options = vec![
            json!({"type": 4, "name": "therapy", "value": self.choice("coe", "therapy", therapy)}),
            json!({"type": 3, "name": "message", "value": text}),
        ];
        if private {
            options.push(json!({"type": 5, "name": "private", "value": true}));
        }
        self.slash(caller, (GUILD, GENERAL), "coe", Value::Array(options))
            .await
    }

    /// The registered command `name` (the body of the bot's `PUT .../commands`).
    pub fn command(&self, name: &str) -> Value {
        let registered = self.fake.registered_commands();
        let found = registered
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name));
        found
            .cloned()
            .unwrap_or_else(|| panic!("/{name} not registered: {registered:#}"))
    }

    /// The registered value of the choice of `command`'s `option` whose name starts with
    /// `prefix` (case-insensitive), searching nested subcommands too.
    pub fn choice(&self, command: &str, option: &str, prefix: &str) -> Value {
        let command = self.command(command);
        find_choice(&command["options"], option, &prefix.to_lowercase())
            .unwrap_or_else(|| panic!("no choice {prefix} for {option} in {command:#}"))
    }

    /// A member's message in `channel`; returns its id.
    pub async fn say(&self, caller: &Caller, channel: u64, text: &str) -> u64 {
        let id = self.id();
        let guild = if channel == OTHER_GENERAL {
            OTHER_GUILD
        } else {
            GUILD
        };
        let message = user_message(id, guild, channel, caller, text);
        self.fake.dispatch("MESSAGE_CREATE", message).await;
        id
    }

    pub async fn callback(&self, interaction: u64) -> RecordedRequest {
        self.fake
            .wait_for_call("POST", &callback_path(interaction), WAIT)
            .await
    }

    /// The message that answers an interaction: its callback when that carries one, else
    /// (deferred) its first followup. Read it with `content` and `flags`.
    pub async fn answer(&self, interaction: u64) -> RecordedRequest {
        let callback = self.callback(interaction).await;
        if callback.body["type"] == 5 {
            return self.followup(interaction, 0).await;
        }
        callback
    }

    /// The `n`-th (0-based) followup of an interaction, waiting for it.
    pub async fn followup(&self, interaction: u64, n: usize) -> RecordedRequest {
        self.wait_until(&format!("followup #{n} of {interaction}"), || {
            self.followups(interaction).get(n).cloned()
        })
        .await
    }

    /// The first request matching `pred` within `timeout`, or `None`.
    pub async fn find_request(
        &self,
        pred: impl Fn(&RecordedRequest) -> bool,
        timeout: Duration,
    ) -> Option<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.fake.requests().into_iter().find(|r| pred(r));
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `check` until it gives a value, failing after `WAIT` with `what`.
    pub async fn wait_until<T>(&self, what: &str, check: impl Fn() -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = check() {
                return found;
            }
            if Instant::now() >= deadline {
                let calls: Vec<String> = self
                    .fake
                    .requests()
                    .iter()
                    .map(|r| format!("  {} {} -> {}", r.method, r.path, r.status))
                    .collect();
                panic!(
                    "no {what} within {WAIT:?}; REST calls:\n{}",
                    calls.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn followups(&self, interaction: u64) -> Vec<RecordedRequest> {
        let path = followup_path(interaction);
        let requests = self.fake.requests();
        requests
            .into_iter()
            .filter(|r| r.is("POST", &path))
            .collect()
    }

    /// Waits for the bot's message in `channel` whose content starts with `prefix`.
    pub async fn message_in(&self, channel: u64, prefix: &str) -> RecordedRequest {
        let path = format!("/channels/{channel}/messages");
        self.fake
            .wait_for_request(
                |r| r.is("POST", &path) && content(r).starts_with(prefix),
                WAIT,
            )
            .await
    }

    /// Waits until the model server has received `n` requests.
    pub async fn wait_llm_requests(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let received = self.llm_request_count().await;
            if received >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the model got {received} requests, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn llm_request_count(&self) -> usize {
        self.llm.received_requests().await.unwrap_or_default().len()
    }

    pub async fn llm_bodies(&self) -> Vec<Value> {
        common::llm_requests(&self.llm).await
    }

    /// Requests that concern `channel` (typing, messages, threads started there).
    pub fn calls_in(&self, channel: u64) -> Vec<RecordedRequest> {
        let prefix = format!("/channels/{channel}/");
        let requests = self.fake.requests();
        requests
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with(&prefix))
            .collect()
    }

    /// The checks every test ends with, then a clean shutdown: everything stayed on loopback
    /// and the gateway URL came from the fake.
    pub async fn finish(mut self) {
        self.assert_offline();
        if let Some(handle) = self.handle.take() {
            handle
                .shutdown(Duration::from_secs(5))
                .await
                .expect("the client stopped only when asked");
        }
    }

    pub fn assert_offline(&self) {
        assert!(
            self.fake.saw_gateway_lookup(),
            "the gateway URL must come from the fake"
        );
        let requests = self.fake.requests();
        for request in &requests {
            assert!(
                request.peer.ip().is_loopback(),
                "{} {} came from {}",
                request.method,
                request.path,
                request.peer
            );
        }
    }
}
