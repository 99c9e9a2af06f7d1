//! Slow model: with every completion taking 10 s, each `/coe` is still acknowledged within
//! Discord's 3 seconds (the fake refuses later callbacks with 10062, as Discord does), and the
//! replies arrive afterwards as followups.
//!
//! Run with `--nocapture` to see the acknowledgement times.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::bot::common::{chain_answer, completion};
use support::bot::*;
use support::Caller;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const REPLY: &str = "It sounds like the waiting itself is hard. What would help you right now?";
/// The model's latency for every request.
const MODEL_LATENCY: Duration = Duration::from_secs(10);
/// Discord's deadline for the first response to an interaction.
const DISCORD_DEADLINE: Duration = Duration::from_secs(3);
/// More than a small model server serves at once: the ones queued for the model must be
/// acknowledged just as fast.
const INTERACTIONS: u64 = 20;

#[tokio::test(flavor = "multi_thread")]
async fn every_coe_is_acknowledged_within_3_s_while_the_model_takes_10_s() {
    bounded("slow model", slow_model()).await;
}

async fn slow_model() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(&chain_answer("exploration", REPLY)).set_delay(MODEL_LATENCY))
        .mount(&llm)
        .await;
    let extra = [
        ("LLM_TIMEOUT_SECS", "30"),
        // Every conversation reaches the model at once, so the test waits ~10 s, not 30.
        ("LLM_MAX_CONCURRENCY", "32"),
    ];
    let bot = TestBot::start(llm, &extra).await;

    let mut dispatched: HashMap<u64, Instant> = HashMap::new();
    for n in 0..INTERACTIONS {
        let caller = Caller::member(7_000 + n, &format!("member{n}"));
        let at = Instant::now();
        let id = bot
            .coe(
                &caller,
                "cbt",
                "I have been waiting all day for news.",
                false,
            )
            .await;
        dispatched.insert(id, at);
    }

    let mut acknowledged = Vec::new();
    for (&id, &at) in &dispatched {
        let callback = bot.callback(id).await;
        assert_eq!(callback.status, 204, "callback refused: {callback:?}");
        assert_eq!(callback.body["type"], 5, "a deferred response");
        let took = callback.at.duration_since(at);
        assert!(
            took < DISCORD_DEADLINE,
            "interaction {id} acknowledged after {took:?}"
        );
        acknowledged.push(took);
    }
    acknowledged.sort();
    let median = acknowledged[acknowledged.len() / 2];
    let slowest = acknowledged[acknowledged.len() - 1];
    println!(
        "slow model ({MODEL_LATENCY:?}): {INTERACTIONS} /coe acknowledged in median {median:?}, \
         max {slowest:?}"
    );

    // The replies come once the model answers: each after the model's latency, none refused.
    let deadline = Instant::now() + MODEL_LATENCY + Duration::from_secs(20);
    let mut replied = Vec::new();
    for (&id, &at) in &dispatched {
        let followup = loop {
            if let Some(first) = bot.followups(id).into_iter().next() {
                break first;
            }
            assert!(Instant::now() < deadline, "no reply to {id} in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(followup.status, 200, "followup refused: {followup:?}");
        assert_eq!(content(&followup), with_footer(REPLY));
        let took = followup.at.duration_since(at);
        assert!(took >= MODEL_LATENCY, "reply before the model answered?");
        replied.push(took);
    }
    replied.sort();
    println!(
        "slow model: replies after {:?} .. {:?}",
        replied[0],
        replied[replied.len() - 1]
    );
    let rows = bot
        .count("SELECT COUNT(*) FROM interactions WHERE outcome = 'replied'")
        .await;
    assert_eq!(rows, INTERACTIONS as i64);
    bot.finish().await;
}
