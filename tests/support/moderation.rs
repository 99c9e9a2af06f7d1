//! Rows and commands the `/coe-mod` tests share: seeded interactions, subcommand invocations and
//! readers for what a review page shows.

use coe_bot::chain::{Emotion, Strategy, Therapy};
use coe_bot::store::{NewInteraction, Outcome, Source};
use serde_json::{json, Value};

use super::bot::{TestBot, GENERAL, GUILD, OTHER_GUILD};
use super::payloads::{subcommand_options, Caller};

pub const OTHER_GUILD_REASONING: &str = "bravo guild private reasoning";

/// A row of `guild` whose emotion and reasoning are as given.
pub fn seeded_row(guild: u64, i: usize, emotion: &str, reasoning: Vec<String>) -> NewInteraction {
    NewInteraction {
        started_at: chrono::Utc::now(),
        guild_id: Some(guild),
        source: Source::Slash,
        user_key: format!("seeded-user-key-{i}"),
        therapy: Therapy::Cbt,
        prompt_version: "cbt-v1".into(),
        model: "mock-model".into(),
        emotion: Emotion::from_model(emotion),
        strategy: Some(Strategy::ALL[i % 3]),
        reasoning: Some(reasoning),
        outcome: Outcome::Replied,
        risk: Default::default(),
        latency_ms: 100 + i as u64,
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
    }
}

/// One row in `OTHER_GUILD` (id 1), then seven in `GUILD` (ids 2 to 8).
pub async fn seed(bot: &TestBot) {
    let store = &bot.store;
    let other = seeded_row(
        OTHER_GUILD,
        0,
        "sadness",
        vec![OTHER_GUILD_REASONING.into()],
    );
    assert_eq!(store.record_interaction(&other).await.unwrap(), Some(1));
    for i in 1..=7 {
        let reasoning = vec![format!("alpha guild reasoning step {i}")];
        let row = seeded_row(GUILD, i, "sadness", reasoning);
        store.record_interaction(&row).await.unwrap();
    }
}

/// `/coe-mod <sub> <options>` in `GENERAL`; returns the interaction id.
pub async fn mod_command(bot: &TestBot, caller: &Caller, sub: &str, options: Value) -> u64 {
    let options = subcommand_options(sub, options);
    bot.slash(caller, (GUILD, GENERAL), "coe-mod", options)
        .await
}

/// `/coe-mod review` with `limit` replies per page.
pub fn review_limit(limit: u32) -> Value {
    json!([{"type": 4, "name": "limit", "value": limit}])
}

/// The titles of a message body's embeds.
pub fn embed_titles(body: &Value) -> Vec<String> {
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    let title = |e: &Value| e["title"].as_str().unwrap_or_default().to_string();
    embeds.iter().map(title).collect()
}

/// The row ids a review page shows, from its embeds' titles (`#8 · cbt · …`).
pub fn shown_ids(body: &Value) -> Vec<String> {
    let titles = embed_titles(body);
    let id = |t: &String| t.split(' ').next().unwrap_or_default().to_string();
    titles.iter().map(id).collect()
}

/// (label, custom_id, disabled) of each button of a message body.
pub fn buttons(body: &Value) -> Vec<(String, String, bool)> {
    let rows = body["components"].as_array().cloned().unwrap_or_default();
    let buttons = rows
        .iter()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default());
    let text = |b: &Value, key: &str| b[key].as_str().unwrap_or_default().to_string();
    let button = |b: Value| {
        let disabled = b["disabled"].as_bool().unwrap_or(false);
        (text(&b, "label"), text(&b, "custom_id"), disabled)
    };
    buttons.map(button).collect()
}

pub fn flag_options(bot: &TestBot, id: i64, verdict: &str, note: Option<&str>) -> Value {
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

/// `count` rows in `guild` whose reasoning is one `reasoning_bytes`-long step, in one statement
/// (the store's writer would take seconds for the thousands an export test needs).
pub async fn seed_bulk(bot: &TestBot, guild: u64, count: u32, reasoning_bytes: u32) {
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO interactions (guild_id, source, user_key, therapy, prompt_version, model,
             emotion, strategy, reasoning, outcome, latency_ms)
         SELECT ?2, 'slash', 'bulk-user-key', 'cbt', 'cbt-v1', 'mock-model', 'sadness',
             'exploration', json_array(substr(hex(zeroblob(?3)), 1, ?3)), 'replied', 100
         FROM n",
    )
    .bind(i64::from(count))
    .bind(guild as i64)
    .bind(i64::from(reasoning_bytes))
    .execute(bot.store.pool())
    .await
    .expect("bulk rows");
}
