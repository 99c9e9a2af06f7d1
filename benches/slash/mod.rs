//! `/coe` through the fake Discord for the benches that drive the real bot: building the
//! interactions from what the bot registered, and reading back what the fake received.
//!
//! Each bench binary uses a different part of this module, so dead code is expected here.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fake::{slash_command, Caller, ChannelSpec, FakeDiscord};
use crate::support;
use coe_bot::discord::BotHandle;
use coe_bot::pipeline::Pipeline;
use serde_json::{json, Value};

/// Where every bench interaction happens.
pub const GUILD: u64 = 4_000;
pub const CHANNEL: u64 = 5_001;

/// The real bot behind a fresh fake Discord (one guild, one text channel), ready for `/coe`.
pub struct Running {
    pub fake: FakeDiscord,
    pub bot: BotHandle,
    /// Shares the bot's store and model client (its learned limit can be read).
    pub pipeline: Pipeline,
    pub coe: Coe,
    _dir: tempfile::TempDir,
}

/// Starts the bot against the model at `llm_base_url`; `extra` adds or overrides variables.
pub async fn start_bot(llm_base_url: &str, extra: &[(&str, &str)]) -> Running {
    const WAIT: Duration = Duration::from_secs(10);
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD);
    fake.add_channel(ChannelSpec::text(CHANNEL, GUILD, "general"));
    let dir = tempfile::tempdir().expect("temp dir");
    let proxy = fake.http_url();
    let mut vars = vec![
        ("DISCORD_TOKEN", "MTEwMDAwMDAw.fake.token-for-bench"),
        ("DISCORD_PROXY_URL", proxy.as_str()),
        ("COE_HELPLINE_REGION", "us"),
    ];
    vars.extend_from_slice(extra);
    let config = support::config(llm_base_url, &dir.path().join("bot.db"), &vars);
    let pipeline = support::pipeline(&config).await;
    let bot = coe_bot::discord::start(Arc::new(config), pipeline.clone())
        .await
        .expect("bot starts");
    fake.wait_ready(WAIT).await;
    let commands = format!("/applications/{}/commands", FakeDiscord::APPLICATION_ID);
    fake.wait_for_call("PUT", &commands, WAIT).await;
    let coe = Coe::read(&fake);
    Running {
        fake,
        bot,
        pipeline,
        coe,
        _dir: dir,
    }
}

/// Builds `/coe therapy:cbt message:…` invocations from what the bot registered.
pub struct Coe {
    command_id: u64,
    therapy: Value,
}

impl Coe {
    pub fn read(fake: &FakeDiscord) -> Coe {
        let commands = fake.registered_commands();
        let coe = commands
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == "coe"))
            .unwrap_or_else(|| panic!("/coe not registered: {commands:#}"))
            .clone();
        let option = coe["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == "therapy"))
            .expect("therapy option");
        let choice = option["choices"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("CBT")))
            })
            .expect("CBT choice");
        Coe {
            command_id: fake.command_id("coe").expect("/coe id"),
            therapy: json!({"type": option["type"], "name": "therapy", "value": choice["value"]}),
        }
    }

    pub fn event(&self, id: u64) -> Value {
        let caller = Caller::member(7_000_000 + id, &format!("member{id}"));
        let message = support::POSTS[id as usize % support::POSTS.len()];
        let options = json!([self.therapy, {"type": 3, "name": "message", "value": message}]);
        slash_command(id, GUILD, CHANNEL, &caller, "coe", self.command_id, options)
    }
}

pub fn callback_path(id: u64) -> String {
    format!("/interactions/{id}/tok-{id}/callback")
}

pub fn followup_path(id: u64) -> String {
    format!("/webhooks/{}/tok-{id}", FakeDiscord::APPLICATION_ID)
}

/// When the fake received each interaction's first callback (with its status) and followup.
pub struct Seen {
    pub callbacks: HashMap<u64, (Instant, u16)>,
    pub followups: HashMap<u64, Instant>,
}

pub fn seen(fake: &FakeDiscord, ids: &[u64]) -> Seen {
    let mut by_path: HashMap<String, (Instant, u16)> = HashMap::new();
    for r in fake.requests().into_iter().filter(|r| r.method == "POST") {
        by_path.entry(r.path).or_insert((r.at, r.status));
    }
    let mut out = Seen {
        callbacks: HashMap::new(),
        followups: HashMap::new(),
    };
    for &id in ids {
        if let Some(found) = by_path.get(&callback_path(id)) {
            out.callbacks.insert(id, *found);
        }
        if let Some((at, _)) = by_path.get(&followup_path(id)) {
            out.followups.insert(id, *at);
        }
    }
    out
}

/// Waits until every interaction in `ids` has a followup; returns what the fake saw.
pub async fn wait_followups(fake: &FakeDiscord, ids: &[u64], timeout: Duration) -> Seen {
    let deadline = Instant::now() + timeout;
    loop {
        let s = seen(fake, ids);
        if s.followups.len() == ids.len() || Instant::now() >= deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
