//! End to end: the real bot (`coe_bot::discord::start`) against the fake Discord in
//! `tests/support`, wiremock as the model server and a temporary SQLite file (the `/coe` round
//! trip on PostgreSQL too, when `COE_TEST_POSTGRES_URL` is set). `/coe`, support
//! channels and threads, a failing model, long replies, and what the bot must ignore.
//! Moderation and safety live in `discord_e2e_moderation.rs` and `discord_e2e_safety.rs`.
//!
//! Run with `--nocapture` to see the measured `/coe` round trip.

mod support;

use std::time::{Duration, Instant};

use coe_bot::discord::FOOTER;
use coe_bot::pipeline::LLM_ERROR_REPLY;
use coe_bot::store::anon::UserKeyer;
use serde_json::json;
use sqlx::Row;
use support::bot::common::databases::TestDb;
use support::bot::common::{chain_answer, completion, llm_answering, HASH_KEY};
use support::bot::*;
use support::{webhook_message, Caller, FakeDiscord};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPLY: &str = "That sounds really heavy. It makes sense that one result feels like a verdict on you, but it is one exam, not who you are.";

#[tokio::test(flavor = "multi_thread")]
async fn coe_defers_then_follows_up_with_footer_and_an_anonymous_row() {
    bounded("/coe round trip", coe_round_trip(TestDb::sqlite())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_coe_defers_then_follows_up_with_an_anonymous_row() {
    if let Some(db) = TestDb::postgres() {
        bounded("/coe round trip on PostgreSQL", coe_round_trip(db)).await;
    }
}

async fn coe_round_trip(db: TestDb) {
    let llm = llm_answering("interpretation", REPLY).await;
    let bot = TestBot::start(llm, &[("DATABASE_URL", &db.url)]).await;
    let alice = alice();
    let therapy = &bot.command("coe")["options"][0];
    assert_eq!(therapy["name"], "therapy");
    assert_eq!(therapy["type"], 4, "a ChoiceParameter registers as INTEGER");
    assert_eq!(therapy["choices"].as_array().map(Vec::len), Some(5));

    let dispatched = Instant::now();
    let id = bot.coe(&alice, "cbt", "I failed my exam, I'm worthless.", false);
    let id = id.await;
    let deferred = bot.callback(id).await;
    let to_callback = deferred.at.duration_since(dispatched);
    assert_eq!(deferred.body["type"], 5, "deferred: {:#}", deferred.body);
    assert_eq!(deferred.status, 204);
    let followup = bot.followup(id, 0).await;
    let to_followup = followup.at.duration_since(dispatched);
    assert_eq!(content(&followup), with_footer(REPLY));
    assert_pings_nobody(&followup.body);
    assert!(deferred.at < followup.at);
    assert_eq!(bot.followups(id).len(), 1);

    let round_trip: Vec<String> = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.at >= dispatched && r.at <= followup.at)
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect();
    println!("/coe INTERACTION_CREATE -> deferred callback: {to_callback:?}");
    println!("/coe INTERACTION_CREATE -> followup: {to_followup:?}");
    println!("/coe REST calls, in order:\n  {}", round_trip.join("\n  "));
    assert!(
        to_callback.as_millis() < 1_000,
        "the defer must come well within Discord's 3 s ({to_callback:?})"
    );

    let rows = bot
        .rows("SELECT therapy, strategy, user_key, source, outcome, guild_id FROM interactions")
        .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.get::<String, _>("therapy"), "cbt");
    assert_eq!(row.get::<String, _>("strategy"), "interpretation");
    assert_eq!(row.get::<String, _>("source"), "slash");
    assert_eq!(row.get::<String, _>("outcome"), "replied");
    assert_eq!(row.get::<i64, _>("guild_id"), GUILD as i64);
    let key = row.get::<String, _>("user_key");
    assert_eq!(key, UserKeyer::new(HASH_KEY.as_bytes()).key(alice.user_id));
    let other_secret = UserKeyer::new(b"another-hash-key-0123456789abcdef0123456789");
    assert_ne!(
        key,
        other_secret.key(alice.user_id),
        "the key depends on the secret"
    );
    let stored = all_text(&bot).await;
    assert!(
        !stored.contains(&alice.user_id.to_string()),
        "raw id stored:\n{stored}"
    );
    assert!(
        !stored.contains("I failed my exam"),
        "message text stored:\n{stored}"
    );

    // `private:true`: the deferral and the followup are ephemeral.
    let dispatched = Instant::now();
    let id = bot.coe(&alice, "dbt", "Today was hard.", true).await;
    let deferred = bot.callback(id).await;
    let warm = deferred.at.duration_since(dispatched);
    println!("/coe INTERACTION_CREATE -> deferred callback, second (warm) /coe: {warm:?}");
    assert_eq!(deferred.body["type"], 5);
    assert_eq!(deferred.body["data"]["flags"], 64, "{:#}", deferred.body);
    let followup = bot.followup(id, 0).await;
    assert_eq!(followup.body["flags"], 64, "{:#}", followup.body);
    assert_eq!(content(&followup), with_footer(REPLY));
    bot.finish().await;
}

async fn all_text(bot: &TestBot) -> String {
    support::bot::common::all_stored_text(&bot.store)
        .await
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn support_channel_message_gets_a_thread_and_the_thread_keeps_context() {
    bounded("support thread", support_thread()).await;
}

async fn support_thread() {
    let bot = TestBot::start(llm_answering("exploration", REPLY).await, &[]).await;
    let alice = alice();
    let first = bot
        .say(
            &alice,
            SUPPORT,
            "My dog died last week and the flat is so quiet.",
        )
        .await;
    let typing = format!("/channels/{SUPPORT}/typing");
    let typing = bot.fake.wait_for_call("POST", &typing, WAIT).await;
    let threads = format!("/channels/{SUPPORT}/messages/{first}/threads");
    let thread = bot.fake.wait_for_call("POST", &threads, WAIT).await;
    assert_eq!(thread.status, 201, "{:#}", thread.body);
    let thread_id = first; // a thread started from a message takes its id
    let reply = bot.message_in(thread_id, REPLY).await;
    assert!(typing.at < thread.at && thread.at < reply.at);
    assert_eq!(content(&reply), with_footer(REPLY));
    assert_pings_nobody(&reply.body);

    let second = bot
        .say(
            &alice,
            thread_id,
            "I keep expecting to hear him at the door.",
        )
        .await;
    let path = format!("/channels/{thread_id}/messages");
    bot.wait_until("the second reply in the thread", || {
        let sent = bot.fake.requests();
        (sent.iter().filter(|r| r.is("POST", &path)).count() == 2).then_some(())
    })
    .await;
    let bodies = bot.llm_bodies().await;
    assert_eq!(bodies.len(), 2, "one model call per message");
    let messages = bodies[1]["messages"].as_array().expect("chat messages");
    let text = |i: usize| messages[i]["content"].as_str().unwrap_or_default();
    let roles: Vec<_> = messages.iter().map(|m| m["role"].clone()).collect();
    assert_eq!(
        roles,
        [
            json!("system"),
            json!("user"),
            json!("assistant"),
            json!("user")
        ],
        "{messages:#?}"
    );
    assert!(text(1).contains("My dog died last week"), "{}", text(1));
    assert_eq!(text(2), REPLY, "the bot's turn, without the footer");
    assert!(text(3).contains("hear him at the door"), "{}", text(3));
    let no_second_thread = format!("/channels/{thread_id}/messages/{second}/threads");
    assert!(bot
        .calls_in(thread_id)
        .iter()
        .all(|r| r.path != no_second_thread));
    let channel_rows = bot
        .count("SELECT COUNT(*) FROM interactions WHERE source = 'channel'")
        .await;
    assert_eq!(channel_rows, 2);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_model_gets_an_apology_and_the_bot_recovers() {
    bounded("LLM down", llm_down_then_up()).await;
}

async fn llm_down_then_up() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&llm)
        .await;
    let bot = TestBot::start(llm, &[]).await;
    let alice = alice();
    let id = bot.coe(&alice, "pct", "I had a rough day.", false).await;
    assert_eq!(bot.callback(id).await.body["type"], 5);
    let apology = bot.followup(id, 0).await;
    assert_eq!(content(&apology), with_footer(LLM_ERROR_REPLY));
    // A public /coe: the "thinking…" placeholder goes, and the apology is
    // the member's alone (Discord keeps a deferral's visibility for the
    // first followup, so the placeholder must be deleted first).
    assert_eq!(
        apology.body["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "{:#}",
        apology.body
    );
    let original = format!(
        "/webhooks/{}/tok-{id}/messages/@original",
        FakeDiscord::APPLICATION_ID
    );
    let deleted = bot
        .fake
        .requests()
        .into_iter()
        .find(|r| r.is("DELETE", &original));
    assert!(
        deleted.is_some_and(|d| d.at < apology.at),
        "placeholder not removed first"
    );
    assert!(bot.llm_request_count().await >= 2, "the client retried");
    assert!(!bot.handle().is_finished(), "the bot keeps running");

    bot.llm.reset().await;
    Mock::given(method("POST"))
        .respond_with(completion(&chain_answer("exploration", REPLY)))
        .mount(&bot.llm)
        .await;
    let id = bot
        .coe(&alice, "pct", "Still here, trying again.", false)
        .await;
    let answer = bot.followup(id, 0).await;
    assert_eq!(content(&answer), with_footer(REPLY));
    let outcomes = bot
        .rows("SELECT outcome FROM interactions ORDER BY id")
        .await;
    let outcomes: Vec<String> = outcomes.iter().map(|r| r.get("outcome")).collect();
    assert_eq!(outcomes, ["llm_error", "replied"]);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_reply_is_split_with_the_footer_only_at_the_end() {
    bounded("long reply", long_reply()).await;
}

async fn long_reply() {
    let sentence = "You have carried a lot this year, and it is understandable to feel worn down. ";
    let long: String = sentence.repeat(60).chars().take(4_000).collect();
    let long = long.trim().to_string();
    assert!(long.chars().count() > 3_900);
    let bot = TestBot::start(llm_answering("emotional_reaction", &long).await, &[]).await;
    let id = bot
        .coe(&alice(), "base", "Everything is too much.", false)
        .await;
    let first = bot.followup(id, 0).await;
    let second = bot.followup(id, 1).await;
    assert!(first.at < second.at);
    // Parts arrive one after another: wait for the last (it carries the footer).
    bot.wait_until("the part with the footer", || {
        bot.followups(id)
            .iter()
            .any(|r| content(r).contains(FOOTER))
            .then_some(())
    })
    .await;
    let bot_messages = bot.fake.messages_in(GENERAL);
    let parts: Vec<String> = bot
        .followups(id)
        .iter()
        .map(|r| content(r).to_string())
        .collect();
    assert!((2..=3).contains(&parts.len()), "{} parts", parts.len());
    for (i, part) in parts.iter().enumerate() {
        let chars = part.chars().count();
        assert!(chars <= 2_000, "part {i} has {chars} characters");
        assert_eq!(
            part.contains(FOOTER),
            i == parts.len() - 1,
            "footer on part {i}"
        );
    }
    let rebuilt = parts.join(" ").replace(FOOTER, "");
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(squash(&rebuilt), squash(&long), "no text lost in splitting");
    assert!(bot.followups(id).iter().all(|r| r.status == 200));
    assert_eq!(bot_messages.len(), parts.len(), "each part is a message");
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bots_webhooks_and_redelivered_messages_get_no_extra_reply() {
    bounded("ignored messages", ignored_messages()).await;
}

async fn ignored_messages() {
    let bot = TestBot::start(llm_answering("exploration", REPLY).await, &[]).await;
    let itself = Caller {
        bot: true,
        ..Caller::member(FakeDiscord::BOT_USER_ID, "coe-bot-test")
    };
    let other_bot = Caller {
        bot: true,
        ..Caller::member(7_777, "helper-bot")
    };
    let own = bot.say(&itself, SUPPORT, "I am the bot talking.").await;
    let foreign = bot
        .say(&other_bot, SUPPORT, "Beep, I am another bot.")
        .await;
    let hook_id = bot.id();
    let hook = webhook_message(
        hook_id,
        GUILD,
        SUPPORT,
        8_888,
        "news",
        "Posted by a webhook.",
    );
    bot.fake.dispatch("MESSAGE_CREATE", hook).await;

    // The same MESSAGE_CREATE twice (a gateway replay) gets one reply.
    let twice = bot.id();
    let member_message =
        support::user_message(twice, GUILD, SUPPORT, &alice(), "Is anyone around tonight?");
    bot.fake
        .dispatch("MESSAGE_CREATE", member_message.clone())
        .await;
    bot.fake.dispatch("MESSAGE_CREATE", member_message).await;
    bot.message_in(twice, REPLY).await;
    // A later message is answered, so everything before it has been handled.
    let marker = bot.say(&bob(), SUPPORT, "Me too, can't sleep.").await;
    bot.message_in(marker, REPLY).await;

    let calls = bot.calls_in(SUPPORT);
    for ignored in [own, foreign, hook_id] {
        let about = format!("/messages/{ignored}/");
        assert!(
            calls.iter().all(|r| !r.path.contains(&about)),
            "bot/webhook message {ignored} got an answer"
        );
    }
    let typing = calls.iter().filter(|r| r.path.ends_with("/typing")).count();
    let threads = calls
        .iter()
        .filter(|r| r.path.ends_with("/threads"))
        .count();
    let in_channel = calls
        .iter()
        .filter(|r| r.path.ends_with("/messages"))
        .count();
    assert_eq!(
        (threads, in_channel),
        (2, 0),
        "two threads, no channel messages"
    );
    assert_eq!(typing, 2, "typing only for the two member messages");
    assert_eq!(
        bot.calls_in(twice).len(),
        1,
        "one reply to the replayed message"
    );
    assert_eq!(bot.llm_request_count().await, 2);
    assert_eq!(bot.count("SELECT COUNT(*) FROM interactions").await, 2);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_the_reply_in_flight_then_stops() {
    bounded("shutdown", shutdown_in_flight()).await;
}

async fn shutdown_in_flight() {
    let llm = MockServer::start().await;
    let slow = completion(&chain_answer("exploration", REPLY)).set_delay(Duration::from_secs(1));
    Mock::given(method("POST"))
        .respond_with(slow)
        .mount(&llm)
        .await;
    let mut bot = TestBot::start(llm, &[]).await;
    let id = bot
        .coe(&alice(), "cbt", "Long day, slow thoughts.", false)
        .await;
    assert_eq!(bot.callback(id).await.body["type"], 5);
    bot.wait_llm_requests(1).await;

    let handle = bot.take_handle();
    let data = handle.data.clone();
    let started = Instant::now();
    let stopping = tokio::spawn(handle.shutdown(Duration::from_secs(10)));
    // Once shutdown began, new work is refused: a message now gets no reply.
    bot.wait_until("shutdown to stop taking work", || {
        data.in_flight.enter().is_none().then_some(())
    })
    .await;
    let late = bot.say(&bob(), SUPPORT, "Anyone there?").await;
    stopping
        .await
        .expect("shutdown task")
        .expect("the client stopped only when asked");
    let stopped = Instant::now();

    let followup = bot.followup(id, 0).await;
    assert_eq!(
        content(&followup),
        with_footer(REPLY),
        "the reply in flight was delivered"
    );
    assert!(followup.at < stopped, "delivered before shutdown returned");
    assert!(
        stopped.duration_since(started) < Duration::from_secs(4),
        "shutdown waits for the reply (1 s), not the grace period (10 s) nor the 5 s client-stop bound"
    );
    assert!(bot.calls_in(SUPPORT).is_empty() && bot.calls_in(late).is_empty());
    assert_eq!(bot.llm_request_count().await, 1);
    bot.finish().await;
}
