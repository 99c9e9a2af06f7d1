//! Opt-out and forget against the group-commit writer, on both engines:
//! the insert itself refuses what must not be recorded, with no gap
//! between a check and the write.

mod common;

use chrono::{TimeDelta, Utc};
use coe_bot::chain::{Emotion, Therapy};
use coe_bot::store::{NewInteraction, Outcome, Source, Store};
use common::databases::TestDb;

fn row(user_key: &str) -> NewInteraction {
    NewInteraction {
        started_at: Utc::now(),
        guild_id: Some(1),
        source: Source::Channel,
        user_key: user_key.into(),
        therapy: Therapy::Cbt,
        prompt_version: Therapy::Cbt.prompt_version().into(),
        model: "m".into(),
        emotion: Emotion::from_model("sadness"),
        strategy: None,
        reasoning: None,
        outcome: Outcome::Replied,
        risk: Default::default(),
        latency_ms: 12,
        prompt_tokens: None,
        completion_tokens: None,
    }
}

/// Records a row the store must accept.
async fn record(store: &Store, row: &NewInteraction) {
    let id = store.record_interaction(row).await.unwrap();
    assert!(id.is_some(), "the row was refused");
}

async fn rows_of(store: &Store, user_key: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM interactions WHERE user_key = $1")
        .bind(user_key)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn the_insert_itself_refuses_rows_of_opted_out_members(db: TestDb) {
    let store = db.store().await;
    store.opt_out("out").await.unwrap();
    let refused = store.record_interaction(&row("out")).await.unwrap();
    assert_eq!(refused, None, "not recorded, and not an error");
    record(&store, &row("in")).await;
    assert_eq!(
        (rows_of(&store, "out").await, rows_of(&store, "in").await),
        (0, 1)
    );
    store.opt_in("out").await.unwrap();
    record(&store, &row("out")).await;
}

async fn a_reply_in_flight_when_forget_runs_is_not_recorded_afterwards(db: TestDb) {
    let store = db.store().await;
    // The member wrote; the model is still working when they ask to be forgotten.
    let mut in_flight = row("me");
    in_flight.started_at = Utc::now() - TimeDelta::seconds(5);
    record(&store, &row("me")).await;
    assert_eq!(store.forget("me").await.unwrap(), 1);
    assert_eq!(store.record_interaction(&in_flight).await.unwrap(), None);
    assert_eq!(rows_of(&store, "me").await, 0);
    // A message written after the forget is a new conversation: recorded.
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    record(&store, &row("me")).await;
    assert_eq!(rows_of(&store, "me").await, 1);
}

async fn every_caller_learns_whether_its_own_row_was_written(db: TestDb) {
    let store = db.store().await;
    store.opt_out("out").await.unwrap();
    let before_forget = Utc::now() - TimeDelta::seconds(5);
    store.forget("gone").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    // Keys repeat inside a batch, and the rows of one key differ in fate.
    let rows: Vec<(NewInteraction, bool)> = (0..240u64)
        .map(|i| {
            let (key, written) = match i % 4 {
                0 => ("out".to_string(), false),
                1 | 2 => ("gone".to_string(), i % 4 == 2),
                _ => (format!("k{}", i % 7), true),
            };
            let mut new = row(&key);
            if i % 4 == 1 {
                new.started_at = before_forget;
            }
            new.latency_ms = i;
            (new, written)
        })
        .collect();
    let results =
        futures::future::join_all(rows.iter().map(|(r, _)| store.record_interaction(r))).await;
    for ((new, written), result) in rows.iter().zip(results) {
        let id = result.unwrap();
        assert_eq!(id.is_some(), *written, "row {}", new.latency_ms);
        let Some(id) = id else { continue };
        let (key, tag): (String, i64) =
            sqlx::query_as("SELECT user_key, latency_ms FROM interactions WHERE id = $1")
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            (key.as_str(), tag),
            (new.user_key.as_str(), new.latency_ms as i64)
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, 120);
}

async fn forget_tombstones_outlive_any_reply_in_flight_then_go(db: TestDb) {
    let store = db.store().await;
    store.forget("long-ago").await.unwrap();
    store.forget("just-now").await.unwrap();
    sqlx::query("UPDATE forgotten SET forgotten_at = '2020-01-01T00:00:00.000Z' WHERE user_key = 'long-ago'")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.purge_free_text(30).await.unwrap(), Some(1));
    let left: Vec<String> = sqlx::query_scalar("SELECT user_key FROM forgotten")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left, vec!["just-now".to_string()]);
}

on_both_engines!(
    the_insert_itself_refuses_rows_of_opted_out_members,
    a_reply_in_flight_when_forget_runs_is_not_recorded_afterwards,
    every_caller_learns_whether_its_own_row_was_written,
    forget_tombstones_outlive_any_reply_in_flight_then_go,
);

/// Processes sharing one PostgreSQL purge once per deployment: while one
/// holds the purge's advisory lock, another's purge does nothing.
#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_a_purge_already_running_elsewhere_is_not_repeated() {
    use sqlx::Acquire;
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    let other = db.store().await;
    let mut elsewhere = other.pool().acquire().await.unwrap();
    let mut tx = elsewhere.begin().await.unwrap();
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(0x636f_652d_7075_7267_i64)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(held);
    assert_eq!(store.purge_free_text(30).await.unwrap(), None);
    tx.rollback().await.unwrap();
    assert_eq!(store.purge_free_text(30).await.unwrap(), Some(0));
}

/// PostgreSQL: a row inserted but not yet committed when the member asks to
/// be forgotten (the writer mid-commit) does not survive the forget.
#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_forget_waits_for_an_insert_in_flight() {
    use sqlx::Acquire;
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    let mut writer = store.pool().acquire().await.unwrap();
    let mut insert = writer.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO interactions (source, user_key, therapy, prompt_version, model, outcome,
             latency_ms) VALUES ('channel', 'late', 'cbt', 'cbt-v1', 'm', 'replied', 1)",
    )
    .execute(&mut *insert)
    .await
    .unwrap();
    let forgetting = tokio::spawn({
        let store = store.clone();
        async move { store.forget("late").await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!forgetting.is_finished(), "forget must wait for the insert");
    insert.commit().await.unwrap();
    assert_eq!(forgetting.await.unwrap(), 1, "the late row was deleted");
    assert_eq!(rows_of(&store, "late").await, 0);
}
