//! End to end: `/coe-mod review|flag|stats|export` through the fake Discord. Members are refused
//! without seeing anything; moderators see their own guild's redacted reasoning only.

mod support;

use std::time::Duration;

use coe_bot::chain::{Strategy, Therapy};
use coe_bot::store::{GuildSetting, NewInteraction, Outcome, Source};
use serde_json::{json, Value};
use sqlx::Row;
use support::bot::common::llm_answering;
use support::bot::*;
use support::{component_click, subcommand_options, Caller, RecordedRequest};

const NOT_A_MODERATOR: &str = "This command is for this server's moderators.";
const OTHER_GUILD_REASONING: &str = "bravo guild private reasoning";

/// One row in `OTHER_GUILD` (id 1), then seven in `GUILD` (ids 2 to 8).
async fn seed(bot: &TestBot) {
    let row = |guild: u64, i: usize, reasoning: String| NewInteraction {
        guild_id: Some(guild),
        source: Source::Slash,
        user_key: format!("seeded-user-key-{i}"),
        therapy: Therapy::Cbt,
        prompt_version: "cbt-v1".into(),
        model: "mock-model".into(),
        emotion: Some("sadness".into()),
        strategy: Some(Strategy::ALL[i % 3]),
        reasoning: Some(vec![reasoning]),
        outcome: Outcome::Replied,
        risk: Default::default(),
        latency_ms: 100 + i as u64,
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
    };
    let store = &bot.store;
    let other = row(OTHER_GUILD, 0, OTHER_GUILD_REASONING.into());
    assert_eq!(store.record_interaction(&other).await.unwrap(), 1);
    for i in 1..=7 {
        let reasoning = format!("alpha guild reasoning step {i}");
        store
            .record_interaction(&row(GUILD, i, reasoning))
            .await
            .unwrap();
    }
}

async fn mod_command(bot: &TestBot, caller: &Caller, sub: &str, options: Value) -> u64 {
    let options = subcommand_options(sub, options);
    bot.slash(caller, (GUILD, GENERAL), "coe-mod", options)
        .await
}

fn embed_titles(data: &Value) -> Vec<String> {
    let embeds = data["embeds"].as_array().cloned().unwrap_or_default();
    let title = |e: &Value| e["title"].as_str().unwrap_or_default().to_string();
    embeds.iter().map(title).collect()
}

fn assert_refused(callback: &RecordedRequest) {
    assert_eq!(callback.body["type"], 4, "{:#}", callback.body);
    let data = &callback.body["data"];
    assert_eq!(data["content"], NOT_A_MODERATOR);
    assert_eq!(data["flags"], 64, "the refusal is ephemeral");
    assert!(embed_titles(data).is_empty(), "nothing revealed: {data:#}");
    assert!(!data.to_string().contains("reasoning"), "{data:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn review_is_for_moderators_and_shows_only_their_guild() {
    bounded("/coe-mod review", review()).await;
}

async fn review() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;

    let refused = mod_command(&bot, &alice(), "review", Value::Null).await;
    assert_refused(&bot.callback(refused).await);

    let moderator = moderator();
    let shown = mod_command(&bot, &moderator, "review", Value::Null).await;
    let page = bot.callback(shown).await;
    assert_eq!(page.body["type"], 4);
    let data = &page.body["data"];
    assert_eq!(data["flags"], 64, "review pages are ephemeral");
    assert_eq!(
        data["content"].as_str().unwrap_or_default().get(..19),
        Some("Replies #4 to #8 (n")
    );
    let titles = embed_titles(data);
    let ids: Vec<&str> = titles
        .iter()
        .map(|t| t.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids, ["#8", "#7", "#6", "#5", "#4"], "{titles:?}");
    let text = data.to_string();
    assert!(text.contains("alpha guild reasoning step 7"), "{data:#}");
    assert!(
        !text.contains("bravo"),
        "another guild's reasoning leaked: {data:#}"
    );
    assert!(
        !text.contains("seeded-user-key"),
        "user keys are never shown"
    );

    // "Older" pages back; the click updates the same message (UPDATE_MESSAGE, type 7).
    let message = bot
        .fake
        .messages_in(GENERAL)
        .into_iter()
        .find(|m| m["components"].as_array().is_some_and(|c| !c.is_empty()))
        .expect("the review message carries buttons");
    let buttons = message["components"][0]["components"].clone();
    let older = buttons
        .as_array()
        .and_then(|b| b.iter().find(|b| b["label"] == "Older"))
        .and_then(|b| b["custom_id"].as_str())
        .expect("an Older button")
        .to_string();
    let update = click(&bot, &moderator, &older, &message).await;
    assert_eq!(update.body["type"], 7, "{:#}", update.body);
    let data = &update.body["data"];
    let titles = embed_titles(data);
    let ids: Vec<&str> = titles
        .iter()
        .map(|t| t.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids, ["#3", "#2"], "the older page: {data:#}");
    assert!(!data.to_string().contains("bravo"));
    let newer = &data["components"][0]["components"][0];
    assert_eq!(
        (newer["label"].as_str(), newer["disabled"].as_bool()),
        (Some("Newer"), Some(false))
    );
    let edited = bot.fake.messages_in(GENERAL);
    let edited = edited.iter().find(|m| m["id"] == message["id"]).unwrap();
    assert!(edited["content"]
        .as_str()
        .unwrap()
        .starts_with("Replies #2 to #3"));

    // The configured moderator role is enough, without Manage Messages.
    let role = 4_300;
    let setting = GuildSetting::ModeratorRole(Some(role));
    bot.store
        .update_guild_setting(GUILD, &setting)
        .await
        .unwrap();
    let by_role = Caller {
        roles: vec![role],
        ..Caller::member(6_010, "helper")
    };
    let allowed = mod_command(&bot, &by_role, "review", Value::Null).await;
    assert_eq!(
        embed_titles(&bot.callback(allowed).await.body["data"]).len(),
        5
    );
    bot.finish().await;
}

/// Clicks a button. The bot listens for clicks only once its reply went out, so a click sent
/// in that instant can go unheard; it is then sent again (as a person would click again).
async fn click(
    bot: &TestBot,
    caller: &Caller,
    custom_id: &str,
    message: &Value,
) -> RecordedRequest {
    for _ in 0..20 {
        let id = bot.id();
        let event = component_click(id, GUILD, GENERAL, caller, custom_id, message.clone());
        bot.fake.dispatch("INTERACTION_CREATE", event).await;
        let path = callback_path(id);
        let answered = bot.find_request(|r| r.is("POST", &path), Duration::from_millis(500));
        if let Some(found) = answered.await {
            return found;
        }
    }
    panic!("the bot never answered a click on {custom_id}");
}

#[tokio::test(flavor = "multi_thread")]
async fn flag_stats_and_export() {
    bounded("/coe-mod flag|stats|export", flag_stats_export()).await;
}

async fn flag_stats_export() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let moderator = moderator();
    for sub in ["flag", "stats", "export"] {
        let options = match sub {
            "flag" => flag_options(&bot, 2, "ok", None),
            _ => Value::Null,
        };
        let refused = mod_command(&bot, &bob(), sub, options).await;
        assert_refused(&bot.callback(refused).await);
    }
    assert_eq!(bot.count("SELECT COUNT(*) FROM reviews").await, 0);

    let note = Some("Too directive; reach me at 555-123-4567");
    let flagged = mod_command(
        &bot,
        &moderator,
        "flag",
        flag_options(&bot, 5, "concern", note),
    )
    .await;
    let answer = bot.callback(flagged).await;
    assert_eq!(content(&answer), "Saved: reply #5 marked **concern**.");
    assert_eq!(answer.body["data"]["flags"], 64);
    let reviews = bot
        .rows("SELECT interaction_id, verdict, note, reviewer_key FROM reviews")
        .await;
    assert_eq!(reviews.len(), 1);
    let review = &reviews[0];
    assert_eq!(review.get::<i64, _>("interaction_id"), 5);
    assert_eq!(review.get::<String, _>("verdict"), "concern");
    assert_eq!(
        review.get::<String, _>("note"),
        "Too directive; reach me at [phone]"
    );
    assert_eq!(
        review.get::<String, _>("reviewer_key"),
        bot.user_key(&moderator)
    );
    // Row 1 belongs to the other guild: it cannot be flagged from here.
    let elsewhere = mod_command(&bot, &moderator, "flag", flag_options(&bot, 1, "ok", None)).await;
    assert_eq!(
        content(&bot.callback(elsewhere).await),
        "There is no reply #1 in this server."
    );
    assert_eq!(bot.count("SELECT COUNT(*) FROM reviews").await, 1);

    let stats = mod_command(&bot, &moderator, "stats", Value::Null).await;
    let stats = bot.callback(stats).await;
    assert_eq!(stats.body["data"]["flags"], 64);
    let embed = &stats.body["data"]["embeds"][0];
    assert_eq!(embed["title"], "Companion replies by therapy");
    let field = &embed["fields"][0];
    assert_eq!(field["name"], "cbt (7 messages)", "{embed:#}");
    let value = field["value"].as_str().unwrap_or_default();
    assert!(
        value.contains("replied 7") && value.contains("concern 1"),
        "{value}"
    );

    let export = mod_command(&bot, &moderator, "export", Value::Null).await;
    let deferred = bot.callback(export).await;
    assert_eq!(
        (
            deferred.body["type"].clone(),
            deferred.body["data"]["flags"].clone()
        ),
        (json!(5), json!(64))
    );
    let sent = bot.followup(export, 0).await;
    assert_eq!(content(&sent), "7 anonymized rows (no user keys).");
    let file = &sent.body["files"][0];
    assert_eq!(file["name"], "coe-interactions.csv");
    let csv = file["content"].as_str().unwrap_or_default();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 8, "a header and seven rows:\n{csv}");
    assert!(
        lines[0].starts_with("id,created_at,source,therapy"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("user_key"));
    assert!(
        !csv.contains("seeded-user-key"),
        "no user keys in the export"
    );
    assert!(!csv.contains("bravo"), "only this guild's rows");
    assert!(csv.contains("alpha guild reasoning step 3"));
    bot.finish().await;
}

fn flag_options(bot: &TestBot, id: i64, verdict: &str, note: Option<&str>) -> Value {
    let verdict = bot.choice("coe-mod", "verdict", verdict);
    let mut options = vec![
        json!({"type": 4, "name": "id", "value": id}),
        json!({"type": 4, "name": "verdict", "value": verdict}),
    ];
    if let Some(note) = note {
        options.push(json!({"type": 3, "name": "note", "value": note}));
    }
    Value::Array(options)
}
