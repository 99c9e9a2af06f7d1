//! The real `coe-bot run` binary as a child process against the fake Discord and a wiremock
//! model server, for tests that must signal or kill the process (crash durability, SIGTERM).
//!
//! Every wait is bounded, and a `BotProcess` that is dropped (a failed assertion) is killed, so
//! no test leaves a bot running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coe_bot::store::anon::UserKeyer;
use coe_bot::store::Store;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;
use wiremock::MockServer;

use super::bot::common::HASH_KEY;
use super::bot::{GENERAL, GUILD, SUPPORT};
use super::expect::{callback_path, followup_path};
use super::fake_discord::{ChannelSpec, FakeDiscord, RecordedRequest};
use super::payloads::{slash_command, subcommand_options, user_message, Caller};

/// How long a (debug) binary may take to connect, identify and register its commands.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The fake, the model server and the database directory, which outlive each bot process.
pub struct Harness {
    pub fake: FakeDiscord,
    pub llm: MockServer,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    next_id: AtomicU64,
    keyer: UserKeyer,
    database_url: String,
}

impl Harness {
    /// `extra` adds or overrides the bot's environment.
    pub async fn new(llm: MockServer, extra: &[(&str, &str)]) -> Harness {
        let fake = FakeDiscord::start().await;
        fake.add_guild(GUILD);
        fake.add_channel(ChannelSpec::text(SUPPORT, GUILD, "support"));
        fake.add_channel(ChannelSpec::text(GENERAL, GUILD, "general"));
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut env: Vec<(String, String)> = [
            (
                "DISCORD_TOKEN",
                "MTEwMDAwMDAw.fake.token-for-tests".to_string(),
            ),
            ("DISCORD_PROXY_URL", fake.http_url()),
            ("DATABASE_URL", database_url(dir.path())),
            ("COE_HASH_KEY", HASH_KEY.to_string()),
            ("LLM_BASE_URL", format!("{}/v1", llm.uri())),
            ("LLM_MODEL", "mock-model".to_string()),
            ("LLM_RETRY_BASE_MS", "5".to_string()),
            ("COE_SUPPORT_CHANNELS", format!("{GUILD}:{SUPPORT}")),
            ("COE_USER_MESSAGES_PER_MINUTE", "600".to_string()),
            ("COE_HELPLINE_REGION", "us".to_string()),
            // The bot must reach only the loopback fakes, never a proxy.
            ("NO_PROXY", "127.0.0.1,localhost".to_string()),
            ("RUST_LOG", "info".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        let database_url = env.iter().find(|(k, _)| k == "DATABASE_URL");
        let database_url = database_url.map(|(_, v)| v.clone()).unwrap_or_default();
        Harness {
            fake,
            llm,
            dir,
            env,
            next_id: AtomicU64::new(900_000),
            keyer: UserKeyer::new(HASH_KEY.as_bytes()),
            database_url,
        }
    }

    /// The SQLite file of the default `DATABASE_URL` (not of one that `extra` overrode).
    pub fn db_path(&self) -> PathBuf {
        db_path(self.dir.path())
    }

    /// Starts `coe-bot run` and waits until it identified anew and registered its commands.
    pub async fn spawn(&self, label: &str) -> BotProcess {
        self.spawn_with(label, &[]).await
    }

    /// `spawn` with `extra` added to (or overriding) the harness's environment for this process
    /// only, e.g. its `DISCORD_SHARDS`.
    pub async fn spawn_with(&self, label: &str, extra: &[(&str, &str)]) -> BotProcess {
        let readies = self.fake.ready_count();
        let registrations = self.command_registrations();
        let log = self.dir.path().join(format!("{label}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_coe-bot"));
        command
            .arg("run")
            // A clean environment and a directory without .env: nothing from the developer's
            // shell or the repository's .env (dotenvy searches parent directories) leaks in.
            .env_clear()
            // The crisis classifier's model, which `run` needs.
            .env(
                "COE_EMBED_MODEL_DIR",
                std::env::var("COE_EMBED_MODEL_DIR").unwrap_or_default(),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().copied())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = command.spawn().expect("spawn coe-bot run");
        let process = BotProcess {
            pid: child.id(),
            child,
            log,
            started: Instant::now(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while self.fake.ready_count() <= readies || self.command_registrations() <= registrations {
            if Instant::now() >= deadline {
                panic!(
                    "{label}: no new READY + command registration within {START_TIMEOUT:?}\n{}",
                    process.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        process
    }

    fn command_registrations(&self) -> usize {
        let path = format!("/applications/{}/commands", FakeDiscord::APPLICATION_ID);
        let requests = self.fake.requests();
        requests.iter().filter(|r| r.is("PUT", &path)).count()
    }

    /// A fresh small id for a message or an interaction.
    pub fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// A message from member `user_id` in the support channel; returns its id.
    pub async fn say(&self, user_id: u64, text: &str) -> u64 {
        self.say_in((GUILD, SUPPORT), user_id, text).await
    }

    /// A message from member `user_id` in `channel` of `guild`; returns its id.
    pub async fn say_in(&self, (guild, channel): (u64, u64), user_id: u64, text: &str) -> u64 {
        let id = self.id();
        let caller = Caller::member(user_id, &format!("member{user_id}"));
        let message = user_message(id, guild, channel, &caller, text);
        self.fake.dispatch("MESSAGE_CREATE", message).await;
        id
    }

    /// `/coe therapy:<first choice> message:<text>` from member `user_id` in the general
    /// channel; returns the interaction id.
    pub async fn coe(&self, user_id: u64, text: &str) -> u64 {
        let registered = self.fake.registered_commands();
        let coe = registered
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == "coe"))
            .expect("/coe registered");
        let therapy = coe["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == "therapy"))
            .map(|o| o["choices"][0]["value"].clone())
            .expect("a therapy choice");
        let options = json!([
            {"type": 4, "name": "therapy", "value": therapy},
            {"type": 3, "name": "message", "value": text},
        ]);
        let command_id = self.fake.command_id("coe").expect("/coe has an id");
        let id = self.id();
        let caller = Caller::member(user_id, &format!("member{user_id}"));
        let event = slash_command(id, GUILD, GENERAL, &caller, "coe", command_id, options);
        self.fake.dispatch("INTERACTION_CREATE", event).await;
        id
    }

    /// `/<command> <sub>` (a subcommand without options) from member `user_id` in `channel` of
    /// `guild`; waits for the answer: the callback when it carries one, else (deferred) the
    /// first followup.
    pub async fn subcommand(
        &self,
        (guild, channel): (u64, u64),
        user_id: u64,
        (command, sub): (&str, &str),
    ) -> RecordedRequest {
        let command_id = self.fake.command_id(command);
        let command_id = command_id.unwrap_or_else(|| panic!("/{command} has no id"));
        let id = self.id();
        let caller = Caller::member(user_id, &format!("member{user_id}"));
        let options = subcommand_options(sub, Value::Null);
        let event = slash_command(id, guild, channel, &caller, command, command_id, options);
        self.fake.dispatch("INTERACTION_CREATE", event).await;
        let fake = &self.fake;
        let callback = fake
            .wait_for_call("POST", &callback_path(id), START_TIMEOUT)
            .await;
        if callback.body["type"] != 5 {
            return callback;
        }
        fake.wait_for_call("POST", &followup_path(id), START_TIMEOUT)
            .await
    }

    /// The bot's delivered reply to support message `message_id`: a message in the thread
    /// started from it (the thread takes the message's id), or a channel reply to it.
    pub fn reply_to(&self, message_id: u64) -> Option<RecordedRequest> {
        self.replies_to(SUPPORT, message_id).into_iter().next()
    }

    /// Every delivered reply to message `message_id` of `channel` (see `reply_to`), oldest first.
    pub fn replies_to(&self, channel: u64, message_id: u64) -> Vec<RecordedRequest> {
        let in_thread = format!("/channels/{message_id}/messages");
        let in_channel = format!("/channels/{channel}/messages");
        let reference = message_id.to_string();
        let requests = self.fake.requests();
        let replies = requests.into_iter().filter(|r| {
            r.status == 200
                && (r.is("POST", &in_thread)
                    || (r.is("POST", &in_channel)
                        && r.body["message_reference"]["message_id"] == reference.as_str()))
        });
        replies.collect()
    }

    pub fn user_key(&self, user_id: u64) -> String {
        self.keyer.key(user_id)
    }

    /// The database every bot process of this harness uses (`DATABASE_URL`).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// A store of the test's own on the bot's database, on either engine: read it through
    /// `pool()` with `$1`-style placeholders.
    pub async fn open_store(&self) -> Store {
        let url = &self.database_url;
        let shown = coe_bot::store::shown_url(url);
        let store = Store::open(url).await;
        store.unwrap_or_else(|e| panic!("open the bot's database {shown}: {e}"))
    }

    /// Rows of `interactions` of member `user_id`, on either engine.
    pub async fn rows_of(&self, user_id: u64) -> i64 {
        let store = self.open_store().await;
        let sql = "SELECT COUNT(*) FROM interactions WHERE user_key = $1";
        let count = sqlx::query_scalar(sql).bind(self.user_key(user_id));
        let count = count.fetch_one(store.pool()).await.expect("count rows");
        store.pool().close().await;
        count
    }

    /// A SQLite connection of the test's own to the bot's database file (the bot may be
    /// running: WAL lets readers in). Never creates the file.
    pub async fn open_db(&self) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(self.db_path())
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(5));
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open the bot's database")
    }

    pub async fn model_requests(&self) -> usize {
        self.llm.received_requests().await.unwrap_or_default().len()
    }
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("coe.db")
}

/// The one place the shared database's URL is made: every bot process of a harness uses it.
/// A SQLite file in the harness's directory (WAL lets several processes share it).
fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", db_path(dir).display())
}

/// `PRAGMA integrity_check`'s answer ("ok" when the file is sound).
pub async fn integrity(pool: &SqlitePool) -> String {
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(pool)
        .await
        .expect("integrity check");
    rows.join("; ")
}

/// One running `coe-bot run`.
pub struct BotProcess {
    pub pid: u32,
    child: Child,
    log: PathBuf,
    pub started: Instant,
}

impl BotProcess {
    /// Sends `signal` (e.g. "TERM") with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid);
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL the bot");
        self.child.wait().expect("reap the bot");
    }

    /// SIGTERM, then a clean exit within 30 s, or the test fails with the log.
    pub async fn stop_cleanly(mut self) {
        self.signal("TERM");
        let status = self.wait_exit(Duration::from_secs(30)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "clean exit after SIGTERM: {status:?}\n{}",
            self.log_tail()
        );
    }

    /// The exit status, waiting at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the bot") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last lines of the bot's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("--- bot log ({}) ---\n{tail}", self.log.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where the process serves `/metrics` and `/healthz` (run with `COE_METRICS_ADDR`), as its
    /// log says: with `127.0.0.1:0` each process gets its own port.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        let log = strip_ansi(&self.log());
        let line = log.lines().find(|l| l.contains("serving /metrics"))?;
        let bound = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("bound="))?;
        bound.parse().ok()
    }
}

/// The log without terminal colour codes (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            plain.push(c);
        }
    }
    plain
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
