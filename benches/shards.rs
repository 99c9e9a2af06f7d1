//! Figure 11 (issue 12): two real `coe-bot run` processes, shard 0 and shard 1 of 2
//! (`DISCORD_SHARDS=0-0` / `1-1`, `DISCORD_SHARD_TOTAL=2`), against the fake Discord of the
//! end-to-end tests (it routes a guild's events to shard `(guild_id >> 22) % 2`) and the
//! bench's mock model at L = 2 s, sharing one database. 200 members per process send `/coe`
//! at once (one guild per shard, dispatched interleaved); wall = first dispatch → last
//! followup at the fake, as a multiple of L (target ≤ 1.2). Default model settings
//! (adaptive concurrency); the crisis gate with patterns only, and with its classifier too.
//! The database is a shared SQLite file, and a fresh PostgreSQL database
//! (`coe_shards_<pid>_<n>`, dropped after) when COE_TEST_POSTGRES_URL is set.
//!
//! `cargo bench --bench shards` (COE_BENCH_MEMBERS changes the members per process;
//! COE_EMBED_MODEL_DIR from scripts/embed-model.sh for the classifier rows).

#[path = "../tests/support/mod.rs"]
mod fake;
mod slash;
mod support;

use std::time::{Duration, Instant};

use fake::child::{BotProcess, Harness};
use fake::fake_discord::shard_of;
use fake::{slash_command, Caller, ChannelSpec, FakeDiscord};
use serde_json::{json, Value};
use slash::followup_path;
use support::mock::{Mock, MockStats};
use support::{print_table, row, verdict};

const L: Duration = Duration::from_secs(2);
const TOTAL: u64 = 2;
/// (guild, channel): the harness's own guild is on shard 0, this one on shard 1.
const GUILDS: [(u64, u64); 2] = [(4_000, 5_001), ((1 << 22) | 4_000, 6_101)];
/// The mock's chain answer carries this reply.
const MODEL_REPLY: &str = "I hear you.";

fn main() {
    support::start();
    let members = support::env_usize("COE_BENCH_MEMBERS", 200);
    support::runtime().block_on(run(members));
}

/// `/coe therapy:<first choice> message:…` in any guild, from what the bots registered.
struct Coe {
    command_id: u64,
    therapy: Value,
}

impl Coe {
    fn read(fake: &FakeDiscord) -> Coe {
        let commands = fake.registered_commands();
        let coe = commands.as_array().and_then(|all| {
            let found = all.iter().find(|c| c["name"] == "coe");
            found.and_then(|c| c["options"].as_array().cloned())
        });
        let therapy = coe
            .and_then(|o| o.into_iter().find(|o| o["name"] == "therapy"))
            .map(|o| json!({"type": o["type"], "name": "therapy", "value": o["choices"][0]["value"]}))
            .unwrap_or_else(|| panic!("/coe therapy option not registered: {commands:#}"));
        let command_id = fake.command_id("coe").expect("/coe id");
        Coe {
            command_id,
            therapy,
        }
    }

    fn event(&self, id: u64, (guild, channel): (u64, u64)) -> Value {
        let caller = Caller::member(8_000_000 + id, &format!("member{id}"));
        let message = support::POSTS[id as usize % support::POSTS.len()];
        let options = json!([self.therapy, {"type": 3, "name": "message", "value": message}]);
        slash_command(id, guild, channel, &caller, "coe", self.command_id, options)
    }
}

struct Burst {
    sent: usize,
    answered: usize,
    model_replies: usize,
    wall: Duration,
    mock: MockStats,
}

/// `per_guild` members in each guild send `/coe` at once; waits for every followup.
async fn burst(harness: &Harness, coe: &Coe, mock: &Mock, first: u64, per_guild: usize) -> Burst {
    let ids: Vec<(u64, (u64, u64))> = (0..per_guild * GUILDS.len())
        .map(|i| (first + i as u64, GUILDS[i % GUILDS.len()]))
        .collect();
    let events: Vec<Value> = ids.iter().map(|&(id, at)| coe.event(id, at)).collect();
    mock.reset().await;
    let started = Instant::now();
    for event in events {
        harness.fake.dispatch_raw("INTERACTION_CREATE", event).await;
    }
    let ids: Vec<u64> = ids.into_iter().map(|(id, _)| id).collect();
    let seen = slash::wait_followups(&harness.fake, &ids, 30 * L).await;
    let last = seen.followups.values().max().copied().unwrap_or(started);
    let requests = harness.fake.requests();
    let model_replies = ids.iter().filter(|&&id| {
        let path = followup_path(id);
        requests.iter().any(|r| {
            r.is("POST", &path)
                && r.body["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains(MODEL_REPLY)
        })
    });
    Burst {
        sent: ids.len(),
        answered: seen.followups.len(),
        model_replies: model_replies.count(),
        wall: last.duration_since(started),
        mock: mock.stats().await,
    }
}

/// Two processes, one shard each, on `database` (None: the harness's SQLite file).
async fn scenario(members: usize, database: Option<&str>, classifier: bool) -> Burst {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let base = mock.base_url();
    let mut env = vec![
        ("DISCORD_SHARD_TOTAL", "2"),
        ("LLM_BASE_URL", base.as_str()),
        (
            "COE_CRISIS_CLASSIFIER",
            if classifier { "on" } else { "off" },
        ),
    ];
    env.extend(database.map(|url| ("DATABASE_URL", url)));
    let unused_model = wiremock::MockServer::start().await;
    let harness = Harness::new(unused_model, &env).await;
    let (guild, channel) = GUILDS[1];
    harness.fake.add_guild(guild);
    harness
        .fake
        .add_channel(ChannelSpec::text(channel, guild, "general"));
    for (shard, (guild, _)) in GUILDS.iter().enumerate() {
        assert_eq!(
            shard_of(*guild, TOTAL),
            shard as u64,
            "guild {guild}'s shard"
        );
    }
    let mut bots: Vec<BotProcess> = Vec::new();
    for range in ["0-0", "1-1"] {
        let label = format!("shard-{range}");
        bots.push(
            harness
                .spawn_with(&label, &[("DISCORD_SHARDS", range)])
                .await,
        );
    }
    let coe = Coe::read(&harness.fake);
    let warm = burst(&harness, &coe, &mock, 2_000_000, 1).await;
    assert_eq!(warm.model_replies, 2, "warm-up /coe in both guilds");
    mock.set(L, 0.0).await;
    let result = burst(&harness, &coe, &mock, 3_000_000, members).await;
    for bot in &bots {
        bot.signal("TERM");
    }
    for bot in &mut bots {
        if bot.wait_exit(Duration::from_secs(20)).await.is_none() {
            eprintln!("a bot did not exit within 20 s:\n{}", bot.log_tail());
        }
    }
    result
}

async fn run(members: usize) {
    let pg = std::env::var("COE_TEST_POSTGRES_URL").ok();
    let pg_url = |n: usize| {
        let mut url = url::Url::parse(pg.as_deref()?).expect("COE_TEST_POSTGRES_URL");
        url.set_path(&format!("/coe_shards_{}_{n}", std::process::id()));
        Some(url.to_string())
    };
    let mut cases: Vec<(String, Option<String>, bool)> = vec![
        ("SQLite file, gate patterns only".into(), None, false),
        ("SQLite file, gate with classifier".into(), None, true),
    ];
    if let (Some(a), Some(b)) = (pg_url(0), pg_url(1)) {
        cases.push(("PostgreSQL, gate patterns only".into(), Some(a), false));
        cases.push(("PostgreSQL, gate with classifier".into(), Some(b), true));
    }
    let mut table = Vec::new();
    let mut summary = Vec::new();
    for (name, database, classifier) in &cases {
        let b = scenario(members, database.as_deref(), *classifier).await;
        if let Some(url) = database {
            drop_database(url).await;
        }
        let ratio = b.wall.as_secs_f64() / L.as_secs_f64();
        table.push(row(&[
            name,
            &b.sent,
            &b.answered,
            &b.model_replies,
            &format!("{:.0}", support::ms(b.wall)),
            &format!("{ratio:.3}"),
            &b.mock.requests,
            &b.mock.max_in_flight,
        ]));
        let ok = ratio <= 1.2 && b.model_replies == b.sent;
        summary.push(row(&[
            &format!("wall / L, {name}"),
            &format!("{ratio:.3}"),
            &"≤ 1.2",
            &verdict(ok),
        ]));
    }
    print_table(
        &format!("Figure 11: 2 processes × {members} members send /coe at once, L = {L:?}"),
        &[
            "database, gate",
            "sent",
            "answered",
            "model replies",
            "wall ms",
            "wall / L",
            "model requests",
            "max in flight at mock",
        ],
        &table,
    );
    print_table(
        "Figure 11 summary",
        &["measure", "value", "target", "verdict"],
        &summary,
    );
}

async fn drop_database(url: &str) {
    use sqlx::migrate::MigrateDatabase;
    sqlx::any::install_default_drivers();
    if let Err(error) = sqlx::Any::drop_database(url).await {
        eprintln!("could not drop {}: {error}", coe_bot::store::shown_url(url));
    }
}
