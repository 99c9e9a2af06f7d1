//! A hostile model server through the Discord front door (issue 11): members' `/coe` and
//! support-channel messages get answers whose every field carries attack payloads; nothing the
//! bot sends carries a mention, a mass mention, a masked or payload link or a hidden character;
//! the stored emotion is a label; `/coe-mod review` shows the rows inert; `/coe-mod export`'s
//! attachment holds no cell a spreadsheet would run as a formula.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::bot::common::hostile::*;
use support::bot::*;
use support::moderation::*;
use support::RecordedRequest;

/// Every message body the bot sent or edited, with what it was.
fn bot_bodies(bot: &TestBot) -> Vec<(String, Value)> {
    let sent = |r: &RecordedRequest| ["POST", "PATCH"].contains(&r.method.as_str());
    let requests = bot.fake.requests();
    let bodies = requests.into_iter().filter(sent);
    bodies
        .map(|r| (format!("{} {}", r.method, r.path), r.body))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_model_cannot_reach_members_moderators_or_spreadsheets() {
    bounded("hostile model through Discord", hostile_run()).await;
}

async fn hostile_run() {
    let bot = TestBot::start(hostile_model().await, &[]).await;
    let members = [alice(), bob()];
    for (i, member) in members.iter().cycle().take(4).enumerate() {
        let therapy = ["cbt", "dbt", "pct", "rt"][i];
        let id = bot
            .coe(member, therapy, "Work has been a lot this week.", false)
            .await;
        let reply = bot.followup(id, 0).await;
        assert!(!content(&reply).is_empty(), "answer {i} is empty");
    }
    // A support channel's reply goes into a thread the bot opens on the message.
    bot.say(&bob(), SUPPORT, "I can't sleep again.").await;
    wait_for_rows(&bot, 5).await;
    assert!(
        bot.llm_request_count().await >= 5,
        "the hostile model was asked"
    );
    assert_stored_labels(&bot).await;
    for (what, body) in bot_bodies(&bot) {
        assert_discord_safe(&what, &body);
    }

    let review = mod_command(&bot, &moderator(), "review", review_limit(10)).await;
    let page = bot.answer(review).await;
    assert_eq!(embed_titles(&page.body).len(), 5, "{:#}", page.body);
    assert_moderator_safe("/coe-mod review", &page.body["embeds"]);
    let reasoning = page.body["embeds"][0]["fields"][3]["value"].as_str();
    assert!(
        reasoning.is_some_and(|r| r.len() > 100),
        "the reasoning is shown: {reasoning:?}"
    );

    let stats = mod_command(&bot, &moderator(), "stats", Value::Null).await;
    assert_moderator_safe("/coe-mod stats", &bot.answer(stats).await.body);

    let export = mod_command(&bot, &moderator(), "export", Value::Null).await;
    let sent = bot.answer(export).await;
    let file = sent.body["files"][0]["content"]
        .as_str()
        .unwrap_or_default();
    let records = assert_csv_safe("/coe-mod export", file.as_bytes());
    assert_eq!(records.len(), 6, "a header and five rows:\n{file}");
    let header: Vec<&str> = records[0].iter().collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for record in &records[1..] {
        assert!(
            !record[column("model")].starts_with('\''),
            "the server's name was not kept"
        );
        assert_eq!(&record[column("model")], "mock-model");
        let reasoning = &record[column("reasoning")];
        assert!(
            reasoning.len() > 100,
            "the reasoning is exported: {reasoning:?}"
        );
        for marker in LINK_MARKERS {
            assert!(
                !reasoning.contains(marker),
                "{marker} exported: {reasoning}"
            );
        }
    }
    bot.finish().await;
}

/// Each stored emotion is NULL or a label; the stored model name is the configured one.
async fn assert_stored_labels(bot: &TestBot) {
    let rows = bot.rows("SELECT emotion, model FROM interactions").await;
    assert_eq!(rows.len(), 5);
    let mut labelled = 0;
    for row in &rows {
        use sqlx::Row;
        if let Some(emotion) = row.get::<Option<String>, _>("emotion") {
            assert_label(&emotion);
            labelled += 1;
        }
        assert_eq!(row.get::<String, _>("model"), "mock-model");
    }
    assert!(
        labelled >= 2,
        "odd answers name an emotion word among payloads"
    );
}

/// Waits until `n` rows are recorded, then a moment for the last split replies to go out.
async fn wait_for_rows(bot: &TestBot, n: i64) {
    for _ in 0..1_000 {
        if bot.count("SELECT COUNT(*) FROM interactions").await >= n {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} rows were not recorded");
}
