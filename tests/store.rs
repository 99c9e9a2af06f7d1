//! The store on real databases, each test on both engines (a SQLite file,
//! and PostgreSQL when `COE_TEST_POSTGRES_URL` is set): migrations,
//! privacy operations, reviews, summaries and guild settings.

mod common;

use chrono::Utc;
use coe_bot::chain::{Emotion, Strategy, Therapy};
use coe_bot::store::{
    Engine, GuildSetting, NewInteraction, Outcome, Source, Store, SummaryScope, Verdict,
};
use common::databases::TestDb;

/// Records a row the store must accept; returns its id.
async fn record(store: &Store, row: &NewInteraction) -> i64 {
    let id = store.record_interaction(row).await.unwrap();
    id.expect("the row was refused")
}

fn row(guild: u64, user_key: &str, therapy: Therapy, strategy: Option<Strategy>) -> NewInteraction {
    NewInteraction {
        started_at: Utc::now(),
        guild_id: Some(guild),
        source: Source::Channel,
        user_key: user_key.into(),
        therapy,
        prompt_version: therapy.prompt_version().into(),
        model: "m".into(),
        emotion: Emotion::from_model("sadness"),
        strategy,
        reasoning: Some(vec![
            "Emotion: sadness; mentions <@123456789012345678>".into(),
            "Call me at +44 7700 900123 or see https://example.com/x".into(),
        ]),
        outcome: Outcome::Replied,
        risk: Default::default(),
        latency_ms: 12,
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
    }
}

#[tokio::test]
async fn migrations_create_every_table_on_a_fresh_file() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    for table in [
        "forgotten",
        "guild_settings",
        "interactions",
        "opt_outs",
        "reviews",
        "support_channels",
    ] {
        assert!(
            tables.contains(&table.to_string()),
            "{table} missing from {tables:?}"
        );
    }
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

async fn reopening_a_migrated_file_keeps_its_rows(db: TestDb) {
    let store = db.store().await;
    record(&store, &row(1, "k", Therapy::Cbt, None)).await;
    store.close().await;
    let again = db.store().await;
    assert_eq!(
        again.recent_interactions(1, 10, None).await.unwrap().len(),
        1
    );
}

/// Rows written before emotions were labels: migration 0007 keeps an emotion only where it fits
/// the label rule and a model name only where it is a plain id.
async fn migration_0007_keeps_only_labels_and_model_ids_in_old_rows(db: TestDb) {
    let store = db.store().await;
    let old = [
        (
            "Sadness",
            "gpt-4o-2024-08-06",
            Some("sadness"),
            "gpt-4o-2024-08-06",
        ),
        (
            r#"=HYPERLINK("[url]"&A1,"#,
            "=cmd|' /C calc'!A0",
            None,
            "unknown",
        ),
        (
            "deep sadness",
            "meta/llama-3:q4",
            Some("deep sadness"),
            "meta/llama-3:q4",
        ),
        ("<@&123> @everyone", "<script>", None, "unknown"),
    ];
    for (i, (emotion, model, _, _)) in old.iter().enumerate() {
        sqlx::query(
            "INSERT INTO interactions (source, user_key, therapy, prompt_version, model, emotion,
                 outcome, latency_ms) VALUES ('channel', $1, 'cbt', 'cbt-v1', $2, $3, 'replied', 1)",
        )
        .bind(format!("old-key-{i}"))
        .bind(model)
        .bind(emotion)
        .execute(store.pool())
        .await
        .unwrap();
    }
    let migration = match store.engine() {
        Engine::Sqlite => include_str!("../migrations/sqlite/0007_labels.sql"),
        Engine::Postgres => include_str!("../migrations/postgres/0007_labels.sql"),
    };
    sqlx::raw_sql(migration)
        .execute(store.pool())
        .await
        .unwrap();
    let rows: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT emotion, model FROM interactions ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let expected: Vec<(Option<String>, String)> = old
        .iter()
        .map(|(_, _, emotion, model)| (emotion.map(str::to_owned), model.to_string()))
        .collect();
    assert_eq!(rows, expected);
}

async fn reasoning_is_redacted_before_it_is_written(db: TestDb) {
    let store = db.store().await;
    record(
        &store,
        &row(1, "k", Therapy::Cbt, Some(Strategy::Exploration)),
    )
    .await;
    let stored: String = sqlx::query_scalar("SELECT reasoning FROM interactions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    for secret in ["123456789012345678", "7700 900123", "example.com"] {
        assert!(!stored.contains(secret), "{secret} kept in {stored}");
    }
}

async fn forget_deletes_every_row_of_that_key_only(db: TestDb) {
    let store = db.store().await;
    let mine = record(&store, &row(1, "me", Therapy::Cbt, None)).await;
    record(&store, &row(1, "me", Therapy::Dbt, None)).await;
    let theirs = record(&store, &row(1, "them", Therapy::Cbt, None)).await;
    assert!(store
        .add_review(1, mine, "mod", Verdict::Concern, Some("n"))
        .await
        .unwrap());
    assert!(store
        .add_review(1, theirs, "me", Verdict::Ok, None)
        .await
        .unwrap());
    store.opt_out("me").await.unwrap();

    // 2 interactions + the review of mine + the review I wrote.
    assert_eq!(store.forget("me").await.unwrap(), 4);
    let left: Vec<String> = sqlx::query_scalar("SELECT user_key FROM interactions")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left, vec!["them".to_string()]);
    assert!(
        store.is_opted_out("me").await.unwrap(),
        "the opt-out is still honoured"
    );
    assert_eq!(store.forget("me").await.unwrap(), 0);
}

async fn opt_out_and_in_are_idempotent(db: TestDb) {
    let store = db.store().await;
    assert!(!store.is_opted_out("k").await.unwrap());
    assert!(store.opt_out("k").await.unwrap());
    assert!(!store.opt_out("k").await.unwrap());
    assert!(store.is_opted_out("k").await.unwrap());
    assert!(store.opt_in("k").await.unwrap());
    assert!(!store.opt_in("k").await.unwrap());
}

async fn retention_purges_old_reasoning_and_keeps_labels(db: TestDb) {
    let store = db.store().await;
    let old = record(
        &store,
        &row(1, "k", Therapy::Cbt, Some(Strategy::Interpretation)),
    )
    .await;
    let new = record(
        &store,
        &row(1, "k", Therapy::Cbt, Some(Strategy::Exploration)),
    )
    .await;
    sqlx::query("UPDATE interactions SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(old)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.purge_free_text(30).await.unwrap(), Some(1));
    let rows = store.recent_interactions(1, 10, None).await.unwrap();
    let old_row = rows.iter().find(|r| r.id == old).unwrap();
    let new_row = rows.iter().find(|r| r.id == new).unwrap();
    assert!(old_row.reasoning.is_empty());
    assert_eq!(
        old_row.emotion, None,
        "the model's free-text emotion goes too"
    );
    assert_eq!(new_row.emotion.as_deref(), Some("sadness"));
    assert_eq!(
        old_row.strategy.as_deref(),
        Some("interpretation"),
        "labels stay"
    );
    assert_eq!(new_row.reasoning.len(), 2);
}

async fn review_notes_are_redacted_before_they_are_written(db: TestDb) {
    let store = db.store().await;
    let id = record(&store, &row(1, "k", Therapy::Cbt, None)).await;
    let note = "asked <@123456789012345678> to call +44 7700 900123, see https://example.com/x";
    assert!(store
        .add_review(1, id, "mod", Verdict::Concern, Some(note))
        .await
        .unwrap());
    let stored: String = sqlx::query_scalar("SELECT note FROM reviews")
        .fetch_one(store.pool())
        .await
        .unwrap();
    for secret in ["123456789012345678", "7700 900123", "example.com"] {
        assert!(!stored.contains(secret), "{secret} kept in {stored}");
    }
}

async fn reviews_and_reads_stay_inside_their_guild(db: TestDb) {
    let store = db.store().await;
    let other_guilds = record(&store, &row(2, "k", Therapy::Cbt, None)).await;
    assert!(!store
        .add_review(1, other_guilds, "mod", Verdict::Ok, None)
        .await
        .unwrap());
    assert!(store
        .recent_interactions(1, 10, None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.recent_interactions(2, 10, None).await.unwrap().len(),
        1
    );
}

async fn paging_walks_back_through_older_rows(db: TestDb) {
    let store = db.store().await;
    for _ in 0..7 {
        record(&store, &row(1, "k", Therapy::Pct, None)).await;
    }
    let first = store.recent_interactions(1, 3, None).await.unwrap();
    let ids: Vec<i64> = first.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![7, 6, 5]);
    let second = store.recent_interactions(1, 3, Some(5)).await.unwrap();
    assert_eq!(
        second.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![4, 3, 2]
    );
}

async fn summaries_count_strategies_outcomes_and_verdicts_per_therapy(db: TestDb) {
    let store = db.store().await;
    let a = record(
        &store,
        &row(1, "k", Therapy::Cbt, Some(Strategy::Exploration)),
    )
    .await;
    record(
        &store,
        &row(1, "k", Therapy::Cbt, Some(Strategy::Exploration)),
    )
    .await;
    record(&store, &row(1, "k", Therapy::Cbt, None)).await;
    let mut crisis = row(1, "k", Therapy::Base, None);
    crisis.outcome = Outcome::Crisis;
    record(&store, &crisis).await;
    record(&store, &row(2, "k", Therapy::Rt, None)).await;
    store
        .add_review(1, a, "mod", Verdict::Concern, None)
        .await
        .unwrap();

    let scope = SummaryScope {
        guild_id: Some(1),
        since: None,
    };
    let summaries = store.summarize(&scope).await.unwrap();
    let names: Vec<&str> = summaries.iter().map(|s| s.therapy.as_str()).collect();
    assert_eq!(names, vec!["base", "cbt"], "therapy order, guild 1 only");
    let cbt = &summaries[1];
    assert_eq!(cbt.total, 3);
    assert_eq!(
        cbt.strategies,
        vec![("exploration".into(), 2), ("unknown".into(), 1)]
    );
    assert_eq!(cbt.verdicts, vec![("concern".into(), 1)]);
    assert_eq!(summaries[0].outcomes, vec![("crisis".into(), 1)]);
    let everything = store.summarize(&SummaryScope::default()).await.unwrap();
    assert_eq!(everything.len(), 3);
}

async fn guild_settings_update_one_field_at_a_time(db: TestDb) {
    let store = db.store().await;
    assert_eq!(store.guild_settings(9).await.unwrap(), Default::default());
    store
        .update_guild_setting(9, &GuildSetting::DefaultTherapy(Therapy::Rt))
        .await
        .unwrap();
    store
        .update_guild_setting(9, &GuildSetting::AlertChannel(Some(77)))
        .await
        .unwrap();
    store
        .update_guild_setting(9, &GuildSetting::HelplineRegion("uk".into()))
        .await
        .unwrap();
    let settings = store.guild_settings(9).await.unwrap();
    assert_eq!(settings.default_therapy, Some(Therapy::Rt));
    assert_eq!(settings.alert_channel_id, Some(77));
    assert_eq!(settings.helpline_region.as_deref(), Some("uk"));
    store
        .update_guild_setting(9, &GuildSetting::AlertChannel(None))
        .await
        .unwrap();
    assert_eq!(
        store.guild_settings(9).await.unwrap().alert_channel_id,
        None
    );
}

/// A guild's support channels, oldest first.
async fn channels(store: &Store, guild: u64) -> Vec<u64> {
    let modes = store.support_channel_modes(guild).await.unwrap();
    modes.into_iter().map(|(channel, _)| channel).collect()
}

async fn seeded_channels_apply_once_then_admins_rule(db: TestDb) {
    let store = db.store().await;
    store
        .seed_support_channels(&[(1, 10), (1, 11), (2, 20)])
        .await
        .unwrap();
    assert_eq!(channels(&store, 1).await, vec![10, 11]);
    assert!(store.remove_support_channel(1, 10).await.unwrap());
    store
        .seed_support_channels(&[(1, 10), (1, 11), (2, 20)])
        .await
        .unwrap();
    assert_eq!(channels(&store, 1).await, vec![11], "removal sticks");
    assert!(store.support_channel_mode(2, 20).await.unwrap().is_some());
    assert!(store.support_channel_mode(2, 10).await.unwrap().is_none());
}

async fn concurrent_writes_share_commits_and_each_gets_its_own_id(db: TestDb) {
    let store = db.store().await;
    let writes = (0..300).map(|i| {
        let store = store.clone();
        async move { record(&store, &row(1, &format!("k{i}"), Therapy::Cbt, None)).await }
    });
    let mut ids = futures::future::join_all(writes).await;
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, 300);
}

async fn one_bad_row_does_not_sink_the_rows_committed_with_it(db: TestDb) {
    use coe_bot::store::{EvalItemRow, EvalOutcome};
    let store = db.store().await;
    // No such run: the foreign key refuses this row.
    let orphan = EvalItemRow {
        item_id: "1".into(),
        therapy: Therapy::Base,
        gold: Strategy::Exploration,
        predicted: None,
        outcome: EvalOutcome::Replied,
        crisis_flagged: false,
        emotion: None,
        reply: None,
        latency_ms: 1,
        prompt_tokens: None,
        completion_tokens: None,
        judged_strategy: None,
    };
    let bad = store.record_eval_item("no-such-run", &orphan);
    let rows: Vec<_> = (0..20)
        .map(|i| row(1, &format!("k{i}"), Therapy::Rt, None))
        .collect();
    let good = futures::future::join_all(rows.iter().map(|r| store.record_interaction(r)));
    let (bad, good) = tokio::join!(bad, good);
    assert!(bad.is_err());
    assert!(good.iter().all(Result::is_ok), "{good:?}");
}

on_both_engines!(
    reopening_a_migrated_file_keeps_its_rows,
    migration_0007_keeps_only_labels_and_model_ids_in_old_rows,
    reasoning_is_redacted_before_it_is_written,
    forget_deletes_every_row_of_that_key_only,
    opt_out_and_in_are_idempotent,
    retention_purges_old_reasoning_and_keeps_labels,
    review_notes_are_redacted_before_they_are_written,
    reviews_and_reads_stay_inside_their_guild,
    paging_walks_back_through_older_rows,
    summaries_count_strategies_outcomes_and_verdicts_per_therapy,
    guild_settings_update_one_field_at_a_time,
    seeded_channels_apply_once_then_admins_rule,
    concurrent_writes_share_commits_and_each_gets_its_own_id,
    one_bad_row_does_not_sink_the_rows_committed_with_it,
);
