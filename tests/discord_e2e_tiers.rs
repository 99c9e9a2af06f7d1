//! End to end, the gate's risk tiers through the fake Discord with the
//! real embedding classifier: crisis (fixed reply, urgent alert, no model,
//! the thread paused until `/coe-mod clear`), concern (the model's reply
//! written with the safety note, then the check-in and helplines, a
//! lower-urgency notice), mention (the model's reply and one support line,
//! no alert).

mod support;

use coe_bot::discord::reply_chunks;
use coe_bot::safety::helplines::{concern_check_in, crisis_reply, mention_line, thread_paused};
use coe_bot::safety::risk::{RiskKind, Tier};
use serde_json::json;
use std::time::Duration;
use support::bot::common::{chain_answer, completion, llm_answering};
use support::bot::*;
use support::{subcommand_options, RecordedRequest};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const REPLY: &str = "That sounds like so much to carry. What has today been like for you?";
const CONCERN_TEXT: &str =
    "honestly everyone would be better off without me, i just make things harder for them";
const MENTION_TEXT: &str =
    "i used to cut myself when i was in school, but i've been clean for two years now";
const CRISIS_TEXT: &str = "i have been saving up my pills and tonight i am going to take them all";

async fn set_alerts(bot: &TestBot) {
    let option = json!([{"type": 7, "name": "channel", "value": ALERTS.to_string()}]);
    let resolved = resolved_channel(ALERTS, "alerts");
    let id = bot
        .slash_resolved(
            &admin(),
            (GUILD, GENERAL),
            "coe-admin",
            subcommand_options("alerts", option),
            resolved,
        )
        .await;
    bot.answer(id).await;
}

fn alerts(bot: &TestBot) -> Vec<RecordedRequest> {
    let path = format!("/channels/{ALERTS}/messages");
    bot.fake
        .requests()
        .into_iter()
        .filter(|r| r.is("POST", &path))
        .collect()
}

async fn tier_of(bot: &TestBot, text: &str) -> Tier {
    bot.pipeline.gate().assess(text).await.tier
}

#[tokio::test(flavor = "multi_thread")]
async fn concern_gets_the_model_reply_then_the_check_in_and_a_quiet_notice() {
    bounded("concern", concern()).await;
}

async fn concern() {
    let bot = TestBot::start(llm_answering("exploration", REPLY).await, &[]).await;
    set_alerts(&bot).await;
    assert_eq!(tier_of(&bot, CONCERN_TEXT).await, Tier::Concern);
    let message = bot.say(&alice(), SUPPORT, CONCERN_TEXT).await;
    let expected = reply_chunks(&format!(
        "{REPLY}\n\n{}",
        concern_check_in(RiskKind::SelfRisk, "us")
    ));
    let first = bot.message_in(message, &expected[0]).await;
    assert!(content(&first).contains("thoughts of ending your life"));
    assert!(content(&first).contains("988"));
    assert_pings_nobody(&first.body);

    let bodies = bot.llm_bodies().await;
    assert_eq!(bodies.len(), 1);
    let note = bodies[0]["messages"][1]["content"].as_str().unwrap();
    assert!(
        note.starts_with("Safety note"),
        "the model was told: {note}"
    );

    bot.wait_until("the notice", || (alerts(&bot).len() == 1).then_some(()))
        .await;
    let notice = &alerts(&bot)[0];
    assert!(
        content(notice).starts_with("Lower urgency"),
        "{}",
        content(notice)
    );
    assert!(!content(notice).contains("<@&"), "a notice pings nobody");
    assert!(!content(notice).contains("better off"), "no message text");
    let tier = bot
        .count(
            "SELECT COUNT(*) FROM interactions WHERE risk_tier = 'concern' AND outcome = 'replied'",
        )
        .await;
    assert_eq!(tier, 1);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mention_gets_the_model_reply_and_a_support_line_without_an_alert() {
    bounded("mention", mention()).await;
}

async fn mention() {
    let bot = TestBot::start(llm_answering("interpretation", REPLY).await, &[]).await;
    set_alerts(&bot).await;
    assert_eq!(tier_of(&bot, MENTION_TEXT).await, Tier::Mention);
    let id = bot.coe(&alice(), "pct", MENTION_TEXT, false).await;
    let reply = bot.followup(id, 0).await;
    let text = content(&reply);
    assert!(
        text.starts_with(&format!("{REPLY}\n\n{}", mention_line("us"))),
        "{text}"
    );
    assert!(!text.contains("thoughts of ending your life"));
    assert_eq!(bot.llm_request_count().await, 1);
    // Give a wrong alert time to appear before saying there was none.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(alerts(&bot).is_empty(), "no alert for a mention");
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_crisis_the_thread_is_paused_until_a_moderator_clears_it() {
    bounded("pause", pause()).await;
}

async fn pause() {
    let bot = TestBot::start(llm_answering("exploration", REPLY).await, &[]).await;
    set_alerts(&bot).await;
    let alice = alice();
    let first = bot.say(&alice, SUPPORT, CRISIS_TEXT).await;
    let crisis = reply_chunks(&crisis_reply(RiskKind::SelfRisk, "us"));
    bot.message_in(first, &crisis[0]).await;
    assert_eq!(bot.llm_request_count().await, 0, "no model for a crisis");
    bot.wait_until("the alert", || (alerts(&bot).len() == 1).then_some(()))
        .await;
    assert!(content(&alerts(&bot)[0]).contains("Possible crisis"));

    // The thread (its id is the first message's) no longer gets model text.
    let thread = first;
    bot.say(
        &alice,
        thread,
        "thanks. can we talk about my exams instead?",
    )
    .await;
    let paused = reply_chunks(&thread_paused("us"));
    bot.message_in(thread, &paused[0]).await;
    assert_eq!(bot.llm_request_count().await, 0, "still no model text");

    let refused = clear(&bot, &bob(), thread).await;
    assert_eq!(
        content(&refused),
        "This command is for this server's moderators."
    );
    let cleared = clear(&bot, &moderator(), thread).await;
    assert!(
        content(&cleared).contains("may reply"),
        "{}",
        content(&cleared)
    );
    bot.say(&alice, thread, "ok. exams are stressing me out a lot")
        .await;
    bot.message_in(thread, REPLY).await;
    assert_eq!(bot.llm_request_count().await, 1);
    bot.finish().await;
}

async fn clear(bot: &TestBot, caller: &support::Caller, thread: u64) -> RecordedRequest {
    let id = bot
        .slash(
            caller,
            (GUILD, thread),
            "coe-mod",
            subcommand_options("clear", serde_json::Value::Null),
        )
        .await;
    bot.answer(id).await
}

#[tokio::test(flavor = "multi_thread")]
async fn while_shutting_down_crisis_and_concern_still_get_their_fixed_texts() {
    bounded("drain", drain()).await;
}

async fn drain() {
    let llm = MockServer::start().await;
    let slow = completion(&chain_answer("exploration", REPLY)).set_delay(Duration::from_secs(2));
    Mock::given(method("POST"))
        .respond_with(slow)
        .mount(&llm)
        .await;
    let mut bot = TestBot::start(llm, &[]).await;
    set_alerts(&bot).await;
    let id = bot
        .coe(
            &alice(),
            "cbt",
            "my week has been a long slog of deadlines and noise",
            false,
        )
        .await;
    bot.wait_llm_requests(1).await;

    let handle = bot.take_handle();
    let data = handle.data.clone();
    let stopping = tokio::spawn(handle.shutdown(Duration::from_secs(10)));
    bot.wait_until("shutdown to stop taking work", || {
        data.in_flight.enter().is_none().then_some(())
    })
    .await;
    let crisis = bot.say(&bob(), SUPPORT, CRISIS_TEXT).await;
    let fixed = reply_chunks(&crisis_reply(RiskKind::SelfRisk, "us"));
    bot.message_in(crisis, &fixed[0]).await;
    let concern = bot.say(&alice(), SUPPORT, CONCERN_TEXT).await;
    let check_in = reply_chunks(&concern_check_in(RiskKind::SelfRisk, "us"));
    bot.message_in(concern, &check_in[0]).await;
    let calm = bot
        .say(
            &alice(),
            SUPPORT,
            "is anyone around to chat about music tonight",
        )
        .await;
    stopping
        .await
        .expect("shutdown task")
        .expect("stopped when asked");

    assert_eq!(content(&bot.followup(id, 0).await), with_footer(REPLY));
    assert_eq!(
        bot.llm_request_count().await,
        1,
        "no model call while draining"
    );
    assert!(
        bot.calls_in(calm).is_empty(),
        "ordinary messages wait for the restart"
    );
    let alerts = alerts(&bot);
    assert_eq!(
        alerts.len(),
        2,
        "the alert and the notice went out before the exit"
    );
    bot.finish().await;
}
