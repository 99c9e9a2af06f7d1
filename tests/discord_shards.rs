//! Shards split over processes: two real `coe-bot run` processes hold shard 0 and shard 1 of 2
//! (`DISCORD_SHARDS` of `DISCORD_SHARD_TOTAL`) against the fake Discord, sharing one database.
//! Each identifies as its own shard and hears only its guilds (the fake routes a guild's events
//! to shard `(guild_id >> 22) % total`, as Discord does); every support message is answered
//! exactly once, by the process owning its guild; after a `kill -9` of one process the other
//! goes on answering its guilds, and every message it answered before dying has its row. Privacy
//! commands reach across the processes: `/coe-privacy forget` through one deletes the rows both
//! wrote, and an opt-out made through one silences the other. All of it on SQLite and, when
//! `COE_TEST_POSTGRES_URL` names a server, on a fresh PostgreSQL database. And one process may
//! run several shards: it is healthy only once all of them are connected.

mod support;

#[path = "support/shard_scenarios.rs"]
mod scenarios;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bot::common::databases::TestDb;
use support::bot::common::{chain_answer, completion};
use support::bot::{bounded, TestBot, GUILD, SUPPORT};
use support::child::{BotProcess, Harness};
use support::fake_discord::shard_of;
use support::ChannelSpec;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const TOTAL: u64 = 2;
/// (guild, support channel). Guild ids are snowflakes whose shard, `(id >> 22) % 2`, goes
/// 0, 1, 0, 1.
const SUPPORT_CHANNELS: [(u64, u64); 4] = [
    (GUILD, SUPPORT),
    ((1 << 22) | 4_000, 6_001),
    ((2 << 22) | 4_000, 6_002),
    ((3 << 22) | 4_000, 6_003),
];
const WAIT: Duration = Duration::from_secs(20);
const TEST_TIMEOUT: Duration = Duration::from_secs(150);
/// After the last expected reply: time for a duplicate (which must not come) to show up.
const SETTLE: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_two_processes_split_the_shards_and_outlive_each_other() {
    within_timeout(split_shards(TestDb::sqlite())).await;
}

/// Skipped (passes) when `COE_TEST_POSTGRES_URL` is unset.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_two_processes_split_the_shards_and_outlive_each_other() {
    if let Some(db) = TestDb::postgres() {
        within_timeout(split_shards(db)).await;
    }
}

async fn within_timeout(test: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_TIMEOUT, test).await.is_err() {
        panic!("the shard test did not finish within {TEST_TIMEOUT:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_process_runs_a_range_and_is_healthy_once_every_shard_is_up() {
    bounded("shard range", shard_range_in_one_process()).await;
}

/// Serenity boots the shards of a range 5 s apart, so shard 1 comes well after shard 0.
async fn shard_range_in_one_process() {
    let env = [
        ("DISCORD_SHARDS", "0-1"),
        ("DISCORD_SHARD_TOTAL", "2"),
        ("COE_METRICS_ADDR", "127.0.0.1:0"),
    ];
    let bot = TestBot::start(MockServer::start().await, &env).await;
    let addr = bot.handle().metrics_addr().expect("metrics served");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let early = healthz(addr).await;
    if !bot.fake.identified_shards().contains(&[1, 2]) {
        assert_eq!(early["gateway"], false, "shard 1 not up yet: {early}");
    }
    assert!(
        bot.fake.wait_shard_connected(1, WAIT).await,
        "shard 1 never connected"
    );
    gateway_healthy(addr).await;
    assert_eq!(bot.fake.identified_shards(), vec![[0, 2], [1, 2]]);

    // The recommended count is the fake's to set, as Discord's is.
    bot.fake.set_recommended_shards(2);
    let http = bot.fake.http_builder().build();
    let gateway = http.get_bot_gateway().await.expect("GET /gateway/bot");
    assert_eq!(gateway.shards, 2);
    bot.finish().await;
}

/// The two-process scenario on the database `db`.
async fn split_shards(db: TestDb) {
    let harness = harness(&db.url).await;
    assert_eq!(harness.database_url(), db.url);
    let mut first = harness
        .spawn_with("shard-0", &[("DISCORD_SHARDS", "0-0")])
        .await;
    let second = harness
        .spawn_with("shard-1", &[("DISCORD_SHARDS", "1-1")])
        .await;
    each_identifies_as_its_shard(&harness, &first, &second);

    // Every guild, both shards: each message answered once, by the process of its shard.
    let sent = say_everywhere(&harness, &SUPPORT_CHANNELS, 7_000_000).await;
    answered_once_by_their_shard(&harness, &sent, &[&first, &second]).await;
    assert_eq!(
        channel_messages(&first).await,
        2.0,
        "shard 0 has two guilds"
    );
    assert_eq!(
        channel_messages(&second).await,
        2.0,
        "shard 1 has two guilds"
    );

    // The database is shared: privacy choices made through one process hold in the other.
    scenarios::forget_reaches_both_processes(&harness, &[&first, &second]).await;
    scenarios::opt_out_holds_in_the_other_process(&harness, &[&first, &second]).await;

    // Shard 0's process dies with messages in flight; what it answered is on record, and shard
    // 1's goes on with its own guilds and stays healthy.
    let (second_metrics, log) = (metrics_addr(&second), second.log_tail());
    let handled = channel_messages(&second).await;
    scenarios::kill_with_messages_in_flight(&harness, &mut first).await;
    let survivors: Vec<(u64, u64)> = SUPPORT_CHANNELS
        .into_iter()
        .filter(|(guild, _)| shard_of(*guild, TOTAL) == 1)
        .collect();
    let sent = say_everywhere(&harness, &survivors, 7_100_000).await;
    answered_once_by_their_shard(&harness, &sent, &[&second]).await;
    assert_eq!(channel_messages(&second).await, handled + 2.0, "{log}");
    gateway_healthy(second_metrics).await;
    second.stop_cleanly().await;
}

/// Each process identified as its own shard, says so, and got only its guilds.
fn each_identifies_as_its_shard(harness: &Harness, first: &BotProcess, second: &BotProcess) {
    assert_eq!(
        harness.fake.identified_shards(),
        vec![[0, TOTAL], [1, TOTAL]],
        "each process identifies as its own shard of {TOTAL}"
    );
    assert!(
        first.log().contains("running shards 0-0 of 2"),
        "{}",
        first.log_tail()
    );
    assert!(
        second.log().contains("running shards 1-1 of 2"),
        "{}",
        second.log_tail()
    );
    for (guild, _) in SUPPORT_CHANNELS {
        let got = harness.fake.shards_that_got("GUILD_CREATE", guild);
        assert_eq!(
            got,
            vec![shard_of(guild, TOTAL)],
            "GUILD_CREATE of guild {guild}"
        );
    }
}

/// The fake with four guilds, two per shard, each with a support channel, a model that always
/// answers, and every bot process on the database at `database_url`.
async fn harness(database_url: &str) -> Harness {
    let llm = MockServer::start().await;
    let answer = chain_answer("exploration", "I'm listening.");
    Mock::given(method("POST"))
        .respond_with(completion(&answer))
        .mount(&llm)
        .await;
    let channels: Vec<String> = SUPPORT_CHANNELS
        .iter()
        .map(|(guild, channel)| format!("{guild}:{channel}"))
        .collect();
    let (channels, total) = (channels.join(","), TOTAL.to_string());
    let env = [
        ("DATABASE_URL", database_url),
        ("COE_SUPPORT_CHANNELS", channels.as_str()),
        ("DISCORD_SHARD_TOTAL", total.as_str()),
        // Each process on a port of its own, found in its log.
        ("COE_METRICS_ADDR", "127.0.0.1:0"),
    ];
    let harness = Harness::new(llm, &env).await;
    for (guild, channel) in SUPPORT_CHANNELS {
        assert_eq!(
            shard_of(guild, TOTAL) as usize,
            SUPPORT_CHANNELS
                .iter()
                .position(|(g, _)| *g == guild)
                .unwrap()
                % 2,
            "guild {guild} on the shard the test expects"
        );
        harness.fake.add_guild(guild);
        harness
            .fake
            .add_channel(ChannelSpec::text(channel, guild, "support"));
    }
    harness
}

/// One message from a new member in each support channel: (guild, channel, message id).
async fn say_everywhere(
    harness: &Harness,
    channels: &[(u64, u64)],
    first_member: u64,
) -> Vec<(u64, u64, u64)> {
    let mut sent = Vec::new();
    for (n, (guild, channel)) in channels.iter().copied().enumerate() {
        let member = first_member + n as u64;
        let text = "Work has been stressful and I can't sleep well.";
        let id = harness.say_in((guild, channel), member, text).await;
        sent.push((guild, channel, id));
    }
    sent
}

/// Waits for a reply to each message, then checks it reached only its guild's shard and got
/// exactly one reply.
async fn answered_once_by_their_shard(
    harness: &Harness,
    sent: &[(u64, u64, u64)],
    bots: &[&BotProcess],
) {
    let deadline = Instant::now() + WAIT;
    while sent
        .iter()
        .any(|(_, channel, id)| harness.replies_to(*channel, *id).is_empty())
    {
        let logs: Vec<String> = bots.iter().map(|b| b.log_tail()).collect();
        assert!(
            Instant::now() < deadline,
            "not every message answered within {WAIT:?}\n{}",
            logs.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(SETTLE).await;
    for (guild, channel, id) in sent.iter().copied() {
        let shards = harness.fake.shards_that_got("MESSAGE_CREATE", id);
        let owner = shard_of(guild, TOTAL);
        assert_eq!(shards, vec![owner], "message {id} of guild {guild}");
        let replies = harness.replies_to(channel, id).len();
        assert_eq!(
            replies, 1,
            "message {id} of guild {guild}: {replies} replies"
        );
    }
}

fn metrics_addr(bot: &BotProcess) -> SocketAddr {
    bot.metrics_addr()
        .unwrap_or_else(|| panic!("no metrics address in the log\n{}", bot.log_tail()))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// `coe_messages_total` of support-channel messages this process handled.
async fn channel_messages(bot: &BotProcess) -> f64 {
    let url = format!("http://{}/metrics", metrics_addr(bot));
    let response = http().get(url).send().await.expect("GET /metrics");
    let text = response.text().await.expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("coe_messages_total{") && l.contains("source=\"channel\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn healthz(addr: SocketAddr) -> Value {
    let url = format!("http://{addr}/healthz");
    let response = http().get(url).send().await.expect("GET /healthz");
    response.json().await.expect("healthz JSON")
}

/// `/healthz` reports every shard of the process connected (within 10 s).
async fn gateway_healthy(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = healthz(addr).await;
        if body["gateway"] == true {
            return;
        }
        assert!(Instant::now() < deadline, "gateway not healthy: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
