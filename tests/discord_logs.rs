//! The logs of a full run hold no member text, no model text and no raw Discord user ids. The
//! bot runs in this process against the fake Discord, with `coe_bot` logging at debug (and
//! everything else at info) into a buffer; the test then searches that buffer.

mod support;

use coe_bot::store::GuildSetting;
use serde_json::{json, Value};
use support::bot::*;
use support::logs::CapturedLogs;
use support::{subcommand_options, Caller};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Snowflake-sized ids, which no counter or port in a log line can match by chance.
const MEMBER: u64 = 734_119_552_310_001_001;
const OTHER_MEMBER: u64 = 734_119_552_310_001_002;
const MODERATOR: u64 = 734_119_552_310_001_003;

const SLASH_TEXT: &str = "My sister Maribel stopped talking to me after the wedding";
const PRIVATE_TEXT: &str = "I keep rehearsing the argument with Tobias in my head";
const CHANNEL_TEXT: &str = "Nobody at the Lindqvist office noticed I was gone for a week";
const CRISIS_TEXT: &str = "honestly i want to kms tonight, the Oskarsson bridge is close";
const REPLY: &str = "It sounds like the quiet after the wedding has been heavy to carry";
const REASONING: &str = "Thought: Maribel went quiet after the toast";
/// The model's other fields: an emotion word kept as its label, an unknown strategy, and the
/// server's name for itself (a plain id, so it is stored).
const EMOTION: &str = "quillfeather";
const STRATEGY: &str = "zq-strategy-marker";
const SERVER_MODEL: &str = "zq-served-model-marker";

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_a_full_run_hold_no_member_text_model_text_or_user_ids() {
    let logs = CapturedLogs::install("info,coe_bot=debug");
    bounded("logs", full_run()).await;
    let text = logs.text();
    assert!(
        text.contains("coe_bot"),
        "nothing was captured from the bot:\n{text}"
    );
    let secrets = [
        SLASH_TEXT,
        PRIVATE_TEXT,
        CHANNEL_TEXT,
        CRISIS_TEXT,
        "Maribel",
        "Tobias",
        "Lindqvist",
        "Oskarsson",
        REPLY,
        REASONING,
        EMOTION,
        STRATEGY,
        SERVER_MODEL,
        // The callers' user names (poise's own error handler would log them).
        "riverstone",
        "fieldmouse",
        "keeper",
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "the logs quote {secret:?}:\n{text}");
    }
    for id in [MEMBER, OTHER_MEMBER, MODERATOR] {
        assert!(
            !text.contains(&id.to_string()),
            "the logs name user {id}:\n{text}"
        );
    }
}

/// `/coe` (public and private), support-channel messages (one a crisis, which alerts the
/// moderators), moderator and privacy commands, and one refusal.
async fn full_run() {
    let bot = TestBot::start(marked_model().await, &[]).await;
    let alert_channel = GuildSetting::AlertChannel(Some(ALERTS));
    bot.store
        .update_guild_setting(GUILD, &alert_channel)
        .await
        .unwrap();
    let member = Caller::member(MEMBER, "riverstone");
    let other = Caller::member(OTHER_MEMBER, "fieldmouse");
    let moderator = Caller::moderator(MODERATOR, "keeper", MODERATOR_ROLE);

    let public = bot.coe(&member, "cbt", SLASH_TEXT, false).await;
    assert!(content(&bot.followup(public, 0).await).starts_with(REPLY));
    let private = bot.coe(&other, "dbt", PRIVATE_TEXT, true).await;
    assert!(content(&bot.followup(private, 0).await).starts_with(REPLY));

    let message = bot.say(&member, SUPPORT, CHANNEL_TEXT).await;
    bot.message_in(message, REPLY).await;
    let crisis = bot.say(&other, SUPPORT, CRISIS_TEXT).await;
    bot.message_in(crisis, "").await;
    bot.message_in(ALERTS, "").await;

    for sub in ["review", "stats", "export"] {
        let options = subcommand_options(sub, Value::Null);
        let id = bot
            .slash(&moderator, (GUILD, GENERAL), "coe-mod", options)
            .await;
        bot.answer(id).await;
    }
    let refused = subcommand_options("stats", Value::Null);
    let refused = bot
        .slash(&member, (GUILD, GENERAL), "coe-mod", refused)
        .await;
    bot.answer(refused).await;
    // The markers reached the store, so the bot had them in hand while it logged.
    let marked = "SELECT COUNT(*) FROM interactions WHERE emotion = 'quillfeather'
                  AND model = 'zq-served-model-marker' AND strategy IS NULL";
    assert_eq!(bot.count(marked).await, 3);
    let forget = subcommand_options("forget", Value::Null);
    let forget = bot
        .slash(&member, (GUILD, GENERAL), "coe-privacy", forget)
        .await;
    assert!(content(&bot.answer(forget).await).starts_with("Deleted"));
    bot.finish().await;
}

/// A model server whose every field carries a marker the logs must never show.
async fn marked_model() -> MockServer {
    let answer = json!({
        "emotion": EMOTION, "reasoning": [REASONING], "strategy": STRATEGY, "reply": REPLY,
    });
    let body = json!({
        "id": "cmpl-markers", "object": "chat.completion", "model": SERVER_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.to_string()},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}
    });
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}
