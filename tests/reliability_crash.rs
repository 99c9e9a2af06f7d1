//! Crash durability: the real `coe-bot run` binary is killed with SIGKILL five times while
//! members keep writing in the support channel. After every restart the database passes
//! `PRAGMA integrity_check`, and every member who got a reply has their row (the pipeline
//! records the row before the reply is sent, so an acknowledged message is always on disk).
//!
//! Slow (six binary starts): `#[ignore]`d, run by scripts/reliability.sh.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::bot::common::{chain_answer, completion};
use support::child::{integrity, Harness};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

/// Per crash: the load runs until this round has `acks` delivered replies, then `more` messages
/// are sent and the SIGKILL comes `wait_ms` later. Waiting for replies first, rather than a fixed
/// number of messages, keeps every round meaningful on a slow machine (a fresh debug binary
/// spends ~0.3 s on its first message before the model call). 0 ms kills with several replies
/// in flight (model call, database write, REST); 150 ms mostly between them.
const ROUNDS: [Round; 5] = [
    Round {
        acks: 1,
        more: 0,
        wait_ms: 0,
    },
    Round {
        acks: 5,
        more: 3,
        wait_ms: 40,
    },
    Round {
        acks: 2,
        more: 8,
        wait_ms: 0,
    },
    Round {
        acks: 10,
        more: 1,
        wait_ms: 150,
    },
    Round {
        acks: 3,
        more: 5,
        wait_ms: 10,
    },
];
/// Bounds each round's load whatever happens.
const MAX_MESSAGES_PER_ROUND: usize = 400;
/// One message every `PACE`: with `MODEL_LATENCY` about five are being answered at any time.
const PACE: Duration = Duration::from_millis(25);
const MODEL_LATENCY: Duration = Duration::from_millis(120);
const FIRST_MEMBER: u64 = 8_000_000;
/// After the last restart: messages that must all be answered.
const AFTER_CRASHES: usize = 5;
const TEST_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread")]
#[ignore = "slow (six starts of the binary); run by scripts/reliability.sh"]
async fn five_kill_9s_during_load_lose_no_acknowledged_message() {
    if tokio::time::timeout(TEST_TIMEOUT, crash_durability())
        .await
        .is_err()
    {
        panic!("crash durability did not finish within {TEST_TIMEOUT:?}");
    }
}

struct Round {
    acks: usize,
    more: usize,
    wait_ms: u64,
}

/// What was sent: (message id, member id), in order.
type Sent = Vec<(u64, u64)>;

/// One support message from a new member, then the pause of the steady load.
async fn send_one(harness: &Harness, sent: &mut Sent) {
    let member = FIRST_MEMBER + sent.len() as u64;
    let id = harness
        .say(member, "Work has been stressful and I can't sleep well.")
        .await;
    sent.push((id, member));
    tokio::time::sleep(PACE).await;
}

async fn crash_durability() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            completion(&chain_answer("exploration", "I'm listening.")).set_delay(MODEL_LATENCY),
        )
        .mount(&llm)
        .await;
    let harness = Harness::new(llm, &[("LLM_TIMEOUT_SECS", "10")]).await;
    let mut sent: Sent = Vec::new();
    let mut bot = harness.spawn("start-0").await;

    for (number, round) in ROUNDS.iter().enumerate() {
        let first = sent.len();
        while acknowledged(&harness, &sent[first..]).len() < round.acks {
            assert!(
                sent.len() - first < MAX_MESSAGES_PER_ROUND,
                "round {number}: too few replies\n{}",
                bot.log_tail()
            );
            send_one(&harness, &mut sent).await;
        }
        for _ in 0..round.more {
            send_one(&harness, &mut sent).await;
        }
        tokio::time::sleep(Duration::from_millis(round.wait_ms)).await;
        bot.kill_9();
        // The process is gone: what the fake recorded now is final for these messages.
        let acknowledged = acknowledged(&harness, &sent);
        let wal = wal_size(&harness);

        let restarted = Instant::now();
        bot = harness.spawn(&format!("restart-{}", number + 1)).await;
        let restart_took = restarted.elapsed();
        let rows = check_database(&harness, &acknowledged).await;
        println!(
            "kill {}: {} sent, {} acknowledged, {rows} rows ({} recorded but not delivered), \
             WAL {wal} bytes at the kill, restart (new READY) in {restart_took:?}",
            number + 1,
            sent.len(),
            acknowledged.len(),
            rows - acknowledged.len()
        );
    }
    assert_eq!(
        harness.fake.ready_count(),
        ROUNDS.len() + 1,
        "one new gateway session per start"
    );

    // The bot that survived five crashes still answers everyone.
    let before = sent.len();
    for _ in 0..AFTER_CRASHES {
        let member = FIRST_MEMBER + sent.len() as u64;
        let id = harness.say(member, "Is anyone there tonight?").await;
        sent.push((id, member));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged(&harness, &sent[before..]).len() < AFTER_CRASHES {
        assert!(
            Instant::now() < deadline,
            "messages after the crashes not answered\n{}",
            bot.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.stop_cleanly().await;
    let acknowledged = acknowledged(&harness, &sent);
    let rows = check_database(&harness, &acknowledged).await;
    println!(
        "crash durability: {} messages, {} acknowledged, {rows} rows after 5 SIGKILLs",
        sent.len(),
        acknowledged.len()
    );
}

/// The messages whose reply the fake recorded.
fn acknowledged(harness: &Harness, sent: &[(u64, u64)]) -> Sent {
    sent.iter()
        .copied()
        .filter(|(message, _)| harness.reply_to(*message).is_some())
        .collect()
}

fn wal_size(harness: &Harness) -> u64 {
    let wal = harness.db_path().with_extension("db-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// Integrity, one row per acknowledged member, and never two rows for one member; returns the
/// number of rows.
async fn check_database(harness: &Harness, acknowledged: &Sent) -> usize {
    let pool = harness.open_db().await;
    assert_eq!(integrity(&pool).await, "ok", "PRAGMA integrity_check");
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT user_key, outcome FROM interactions")
        .fetch_all(&pool)
        .await
        .expect("read rows");
    pool.close().await;
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for (key, outcome) in &rows {
        assert_eq!(outcome, "replied", "the model never failed here");
        *per_key.entry(key.as_str()).or_default() += 1;
    }
    for (key, count) in &per_key {
        assert_eq!(*count, 1, "member {key} has {count} rows for one message");
    }
    for (message, member) in acknowledged {
        let key = harness.user_key(*member);
        assert!(
            per_key.contains_key(key.as_str()),
            "message {message} was answered but member {member} has no row"
        );
    }
    assert!(rows.len() >= acknowledged.len());
    rows.len()
}
