//! End to end, a busy model server: the real bot against the fake Discord, wiremock as a
//! slow model with one place (`LLM_CONCURRENCY=fixed:1`). A member far back in the queue is
//! told once that the bot is busy and still gets the model's reply; a concern never waits
//! in that queue; a queued reply that runs out of deadline gets the apology, privately.

mod support;

use std::time::{Duration, Instant};

use coe_bot::pipeline::LLM_ERROR_REPLY;
use coe_bot::safety::helplines::concern_check_in;
use coe_bot::safety::risk::RiskKind;
use support::bot::common::{chain_answer, completion};
use support::bot::*;
use support::{Caller, FakeDiscord, RecordedRequest};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const REPLY: &str = "Waiting for news is exhausting. What has helped you get through today?";
const CONCERN_TEXT: &str =
    "honestly everyone would be better off without me, i just make things harder for them";
/// The start of `BUSY` in src/discord/reply.rs, as members read it.
const BUSY_START: &str = "Many people are talking to me right now.";

async fn slow_model(latency: Duration) -> MockServer {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(&chain_answer("exploration", REPLY)).set_delay(latency))
        .mount(&llm)
        .await;
    llm
}

fn member(n: u64) -> Caller {
    Caller::member(8_000 + n, &format!("member{n}"))
}

/// Sends `/coe` and waits until its model request is in flight or queued, so members
/// reach the model in the order they are sent.
async fn coe_in_line(bot: &TestBot, n: u64, private: bool) -> u64 {
    let before = bot.pipeline.llm().load();
    let id = bot
        .coe(&member(n), "cbt", "I'm waiting for results.", private)
        .await;
    bot.wait_until("the request in line", || {
        let now = bot.pipeline.llm().load();
        (now.in_flight + now.queued > before.in_flight + before.queued).then_some(())
    })
    .await;
    id
}

fn original_path(id: u64) -> String {
    format!(
        "/webhooks/{}/tok-{id}/messages/@original",
        FakeDiscord::APPLICATION_ID
    )
}

fn busy_notices(bot: &TestBot, id: u64) -> Vec<RecordedRequest> {
    let path = original_path(id);
    bot.fake
        .requests()
        .into_iter()
        .filter(|r| r.is("PATCH", &path) && content(r).starts_with(BUSY_START))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn far_back_in_the_queue_a_member_is_told_once_and_still_answered() {
    bounded("busy notice", busy_notice()).await;
}

async fn busy_notice() {
    let extra = [("LLM_CONCURRENCY", "fixed:1"), ("LLM_MAX_QUEUE", "1")];
    let bot = TestBot::start(slow_model(Duration::from_millis(700)).await, &extra).await;
    // In flight, first in the queue (within LLM_MAX_QUEUE), second in it (beyond).
    let ids = [
        coe_in_line(&bot, 1, false).await,
        coe_in_line(&bot, 2, false).await,
        coe_in_line(&bot, 3, true).await,
    ];
    for id in ids {
        let answer = bot.followup(id, 0).await;
        assert_eq!(content(&answer), with_footer(REPLY));
    }
    assert!(busy_notices(&bot, ids[0]).is_empty());
    assert!(busy_notices(&bot, ids[1]).is_empty());
    let told = busy_notices(&bot, ids[2]);
    assert_eq!(told.len(), 1, "told exactly once");
    assert_pings_nobody(&told[0].body);
    let answer = bot.followup(ids[2], 0).await;
    assert!(told[0].at < answer.at, "the notice comes before the answer");
    assert_eq!(bot.llm_request_count().await, 3);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concern_skips_the_queue_with_its_fixed_check_in() {
    bounded("concern skips the queue", concern_skips_the_queue()).await;
}

async fn concern_skips_the_queue() {
    let extra = [("LLM_CONCURRENCY", "fixed:1")];
    let bot = TestBot::start(slow_model(Duration::from_secs(3)).await, &extra).await;
    let holder = coe_in_line(&bot, 1, false).await;
    let asked = Instant::now();
    let id = bot.coe(&member(2), "cbt", CONCERN_TEXT, true).await;
    let answer = bot.followup(id, 0).await;
    let check_in = concern_check_in(RiskKind::SelfRisk, "us");
    assert_eq!(content(&answer), with_footer(&check_in));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "answered without waiting for the model: {:?}",
        asked.elapsed()
    );
    assert_eq!(bot.llm_request_count().await, 1, "only the first member's");
    assert_eq!(content(&bot.followup(holder, 0).await), with_footer(REPLY));
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_reply_past_its_deadline_gets_the_apology_privately() {
    bounded("deadline", deadline_apology()).await;
}

async fn deadline_apology() {
    let extra = [
        ("LLM_CONCURRENCY", "fixed:1"),
        ("LLM_DEADLINE_SECS", "5"),
        ("LLM_TIMEOUT_SECS", "10"),
    ];
    let bot = TestBot::start(slow_model(Duration::from_secs(4)).await, &extra).await;
    let holder = coe_in_line(&bot, 1, false).await;
    let asked = Instant::now();
    let late = coe_in_line(&bot, 2, false).await;
    let apology = bot.followup(late, 0).await;
    let waited = asked.elapsed();
    assert_eq!(content(&apology), with_footer(LLM_ERROR_REPLY));
    assert_eq!(
        apology.body["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "seen by the member alone"
    );
    assert!(
        waited >= Duration::from_millis(4_500) && waited < Duration::from_secs(7),
        "the apology comes at the deadline: {waited:?}"
    );
    assert_eq!(content(&bot.followup(holder, 0).await), with_footer(REPLY));
    bot.finish().await;
}
