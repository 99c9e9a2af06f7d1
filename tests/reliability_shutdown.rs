//! Graceful shutdown of the real `coe-bot run` binary: SIGTERM during load lets the replies in
//! flight finish, takes no new work, exits 0 within the grace period and leaves a sound
//! database; and a reply that outlives the grace period does not hold the process up.
//!
//! Run with `--nocapture` to see the timings and what is left of the WAL.

mod support;

use std::time::{Duration, Instant};

use support::bot::common::{chain_answer, completion};
use support::bot::{callback_path, content, followup_path};
use support::child::{integrity, BotProcess, Harness};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const REPLY: &str = "That sounds like a lot to carry. What part of it weighs most today?";
const FIRST_MEMBER: u64 = 9_000_000;
/// Support messages and `/coe` commands in flight when SIGTERM arrives.
const BEFORE_MESSAGES: u64 = 8;
const BEFORE_COMMANDS: u64 = 2;
/// Work offered after SIGTERM.
const AFTER_MESSAGES: u64 = 4;
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Long enough that the work sent after SIGTERM reaches the bot while the shard is still open
/// (it closes once the replies in flight are done), even on a slow machine.
const MODEL_LATENCY: Duration = Duration::from_millis(2_500);

async fn slow_model(latency: Duration) -> MockServer {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(&chain_answer("exploration", REPLY)).set_delay(latency))
        .mount(&llm)
        .await;
    llm
}

/// Waits (bounded) until the bot logged that it received the signal, so "after the signal"
/// means after the bot acted on it, not merely after `kill` returned.
async fn wait_for_shutdown_start(bot: &BotProcess) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bot.log().contains("shutting down") {
        assert!(
            Instant::now() < deadline,
            "no shutdown log line\n{}",
            bot.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_replies_in_flight_refuses_new_work_and_exits_0() {
    let run = tokio::time::timeout(TEST_TIMEOUT, sigterm_during_load()).await;
    assert!(run.is_ok(), "did not finish within {TEST_TIMEOUT:?}");
}

async fn sigterm_during_load() {
    let grace = Duration::from_secs(10);
    let harness = Harness::new(
        slow_model(MODEL_LATENCY).await,
        &[
            ("COE_SHUTDOWN_GRACE_SECS", "10"),
            ("LLM_TIMEOUT_SECS", "10"),
        ],
    )
    .await;
    let mut bot = harness.spawn("bot").await;
    let mut before = Vec::new();
    for n in 0..BEFORE_MESSAGES {
        before.push(
            harness
                .say(FIRST_MEMBER + n, "I can't stop worrying.")
                .await,
        );
    }
    let mut commands = Vec::new();
    for n in 0..BEFORE_COMMANDS {
        let member = FIRST_MEMBER + BEFORE_MESSAGES + n;
        commands.push(harness.coe(member, "I feel alone this week.").await);
    }
    // Everything is waiting on the model when the signal comes.
    let in_flight = (BEFORE_MESSAGES + BEFORE_COMMANDS) as usize;
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.model_requests().await < in_flight {
        assert!(Instant::now() < deadline, "work never reached the model");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let signalled = Instant::now();
    bot.signal("TERM");
    wait_for_shutdown_start(&bot).await;
    let first_after = FIRST_MEMBER + 100;
    let mut after = Vec::new();
    for n in 0..AFTER_MESSAGES {
        after.push(harness.say(first_after + n, "Hello? Anyone?").await);
    }
    let late_command = harness
        .coe(first_after + AFTER_MESSAGES, "Are you there?")
        .await;

    let status = bot.wait_exit(grace + Duration::from_secs(5)).await;
    let exited_after = signalled.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}\n{}",
        bot.log_tail()
    );
    assert!(exited_after < grace, "exit took {exited_after:?}");
    assert!(
        bot.log().contains("shut down cleanly"),
        "{}",
        bot.log_tail()
    );

    // In-flight replies were delivered.
    for message in &before {
        let reply = harness.reply_to(*message);
        let reply = reply.unwrap_or_else(|| panic!("no reply to {message}\n{}", bot.log_tail()));
        assert!(content(&reply).starts_with(REPLY));
    }
    let requests = harness.fake.requests();
    for command in &commands {
        let followup = requests
            .iter()
            .find(|r| r.is("POST", &followup_path(*command)) && r.status == 200);
        let followup = followup.unwrap_or_else(|| panic!("no /coe followup for {command}"));
        assert!(content(followup).starts_with(REPLY));
    }
    // Nothing after the signal was worked on: no reply, no model call; /coe was told to retry.
    for message in &after {
        assert!(harness.reply_to(*message).is_none(), "{message} answered");
    }
    assert_eq!(harness.model_requests().await, in_flight, "model calls");
    let refusal = requests
        .iter()
        .find(|r| r.is("POST", &callback_path(late_command)))
        .expect("the late /coe is answered");
    assert_eq!(refusal.body["type"], 4);
    assert_eq!(refusal.body["data"]["flags"], 64, "ephemeral");
    assert!(
        content(refusal).contains("restarting"),
        "{:#}",
        refusal.body
    );

    let (wal, shm) = (sidecar(&harness, "db-wal"), sidecar(&harness, "db-shm"));
    let pool = harness.open_db().await;
    assert_eq!(integrity(&pool).await, "ok");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(&pool)
        .await
        .expect("count rows");
    pool.close().await;
    assert_eq!(
        rows, in_flight as i64,
        "one row per message in flight, none after"
    );
    println!(
        "SIGTERM with {in_flight} replies in flight (model latency {MODEL_LATENCY:?}): exit 0 \
         after {exited_after:?}; after exit: -wal {wal:?}, -shm {shm:?}"
    );
    // Closing the pool checkpoints the WAL and removes it: nothing is left to recover.
    assert_eq!(wal, None, "the WAL was not checkpointed on close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_slower_than_the_grace_period_does_not_hold_up_the_exit() {
    let run = tokio::time::timeout(TEST_TIMEOUT, stuck_reply()).await;
    assert!(run.is_ok(), "did not finish within {TEST_TIMEOUT:?}");
}

async fn stuck_reply() {
    let harness = Harness::new(
        slow_model(Duration::from_secs(30)).await,
        &[("COE_SHUTDOWN_GRACE_SECS", "1"), ("LLM_TIMEOUT_SECS", "60")],
    )
    .await;
    let mut bot = harness.spawn("bot").await;
    let message = harness.say(FIRST_MEMBER, "Nobody answers me.").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.model_requests().await < 1 {
        assert!(Instant::now() < deadline, "work never reached the model");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    bot.signal("TERM");
    // Grace (1 s) plus the shard close, which the bot bounds at 5 s.
    let status = bot.wait_exit(Duration::from_secs(10)).await;
    let exited_after = signalled.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}\n{}",
        bot.log_tail()
    );
    assert!(bot.log().contains("still in flight"), "{}", bot.log_tail());
    assert!(harness.reply_to(message).is_none());
    let pool = harness.open_db().await;
    assert_eq!(integrity(&pool).await, "ok");
    pool.close().await;
    println!("SIGTERM with a reply stuck on the model, grace 1 s: exit 0 after {exited_after:?}");
}

/// The size of the database's `-wal` or `-shm` file, `None` if it does not exist.
fn sidecar(harness: &Harness, extension: &str) -> Option<u64> {
    let path = harness.db_path().with_extension(extension);
    std::fs::metadata(path).ok().map(|m| m.len())
}
