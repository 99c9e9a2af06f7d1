//! The supporter assist's storage on both engines (a SQLite file, and PostgreSQL when
//! `COE_TEST_POSTGRES_URL` is set): verdicts per card, acceptance summaries, forget, the
//! supporter role and support channels' modes.

mod common;

use coe_bot::chain::{Strategy, Therapy};
use coe_bot::store::{
    AssistKind, AssistSummary, AssistVerdict, ChannelMode, Engine, GuildSetting, NewAssistVerdict,
    StoreError, SummaryScope,
};
use common::databases::TestDb;

fn verdict<'a>(
    card: u64,
    guild: u64,
    key: &'a str,
    verdict: AssistVerdict,
) -> NewAssistVerdict<'a> {
    NewAssistVerdict {
        card_id: card,
        guild_id: Some(guild),
        supporter_key: key,
        kind: AssistKind::Draft,
        therapy: Therapy::Cbt,
        strategy: Some(Strategy::Exploration),
        verdict,
    }
}

fn scope(guild: Option<u64>, since: Option<&str>) -> SummaryScope {
    SummaryScope {
        guild_id: guild,
        since: since.map(str::to_string),
    }
}

async fn one_verdict_per_card_the_latest_of_its_supporter(db: TestDb) {
    let store = db.store().await;
    let card = u64::MAX >> 1;
    let first = verdict(card, 1, "sam", AssistVerdict::Used);
    assert!(store.record_assist_verdict(&first).await.unwrap());
    let changed = verdict(card, 1, "sam", AssistVerdict::NotHelpful);
    assert!(store.record_assist_verdict(&changed).await.unwrap());
    let stranger = verdict(card, 1, "eve", AssistVerdict::Used);
    assert!(
        !store.record_assist_verdict(&stranger).await.unwrap(),
        "refused"
    );
    let rows = store.assist_summary(&scope(Some(1), None)).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].used, rows[0].not_helpful, rows[0].total()),
        (0, 1, 1)
    );
}

async fn summaries_count_acceptance_per_kind_therapy_and_strategy(db: TestDb) {
    let store = db.store().await;
    let cards = [
        (
            1,
            AssistKind::Draft,
            Therapy::Pct,
            Some(Strategy::Exploration),
            AssistVerdict::Used,
        ),
        (
            2,
            AssistKind::Draft,
            Therapy::Pct,
            Some(Strategy::Exploration),
            AssistVerdict::UsedWithEdits,
        ),
        (
            3,
            AssistKind::Draft,
            Therapy::Pct,
            Some(Strategy::Exploration),
            AssistVerdict::NotHelpful,
        ),
        (
            4,
            AssistKind::Draft,
            Therapy::Base,
            None,
            AssistVerdict::Used,
        ),
        (
            5,
            AssistKind::Feedback,
            Therapy::Cbt,
            Some(Strategy::Interpretation),
            AssistVerdict::Used,
        ),
    ];
    for (card, kind, therapy, strategy, verdict) in cards {
        let row = NewAssistVerdict {
            card_id: card,
            guild_id: Some(7),
            supporter_key: "sam",
            kind,
            therapy,
            strategy,
            verdict,
        };
        store.record_assist_verdict(&row).await.unwrap();
    }
    store
        .record_assist_verdict(&verdict(6, 8, "kim", AssistVerdict::Used))
        .await
        .unwrap();
    let rows = store.assist_summary(&scope(Some(7), None)).await.unwrap();
    let labels: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.therapy.as_str(), r.strategy.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("draft", "base", "unknown"),
            ("draft", "pct", "exploration"),
            ("feedback", "cbt", "interpretation"),
        ]
    );
    let pct: &AssistSummary = &rows[1];
    assert_eq!((pct.used, pct.used_with_edits, pct.not_helpful), (1, 1, 1));
    assert!((pct.acceptance() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        store
            .assist_summary(&scope(None, None))
            .await
            .unwrap()
            .len(),
        4
    );
    let future = scope(Some(7), Some("2999-01-01T00:00:00.000Z"));
    assert!(store.assist_summary(&future).await.unwrap().is_empty());
    let past = scope(None, Some("2000-01-01T00:00:00.000Z"));
    assert_eq!(store.assist_summary(&past).await.unwrap().len(), 4);
}

async fn forget_removes_the_supporters_verdicts(db: TestDb) {
    let store = db.store().await;
    for (card, key) in [(1, "sam"), (2, "sam"), (3, "kim")] {
        let row = verdict(card, 1, key, AssistVerdict::Used);
        store.record_assist_verdict(&row).await.unwrap();
    }
    assert_eq!(store.forget("sam").await.unwrap(), 2);
    let rows = store.assist_summary(&scope(None, None)).await.unwrap();
    assert_eq!(rows.iter().map(AssistSummary::total).sum::<u64>(), 1);
}

async fn channel_modes_and_the_supporter_role(db: TestDb) {
    let store = db.store().await;
    assert!(store.add_support_channel(1, 10).await.unwrap());
    assert_eq!(
        store.support_channel_mode(1, 10).await.unwrap(),
        Some(ChannelMode::Public)
    );
    assert_eq!(store.support_channel_mode(1, 11).await.unwrap(), None);
    store
        .set_channel_mode(1, 10, ChannelMode::Drafts)
        .await
        .unwrap();
    store
        .set_channel_mode(1, 11, ChannelMode::Both)
        .await
        .unwrap();
    assert!(
        !store.add_support_channel(1, 10).await.unwrap(),
        "keeps its mode"
    );
    let modes = store.support_channel_modes(1).await.unwrap();
    assert_eq!(
        modes,
        vec![(10, ChannelMode::Drafts), (11, ChannelMode::Both)]
    );

    let role = GuildSetting::SupporterRole(Some(42));
    store.update_guild_setting(1, &role).await.unwrap();
    let settings = store.guild_settings(1).await.unwrap();
    assert_eq!(
        (settings.supporter_role_id, settings.moderator_role_id),
        (Some(42), None)
    );
    store
        .update_guild_setting(1, &GuildSetting::SupporterRole(None))
        .await
        .unwrap();
    assert_eq!(
        store.guild_settings(1).await.unwrap().supporter_role_id,
        None
    );
}

async fn unknown_stored_labels_are_errors(db: TestDb) {
    let store = db.store().await;
    store.add_support_channel(1, 10).await.unwrap();
    // Another version (or a hand edit) may write what this one does not
    // know: step past the CHECK on one connection, as such a writer would.
    let mut conn = store.pool().acquire().await.unwrap();
    let bypass = match store.engine() {
        Engine::Sqlite => "PRAGMA ignore_check_constraints = ON",
        Engine::Postgres => {
            "ALTER TABLE support_channels DROP CONSTRAINT support_channels_mode_check"
        }
    };
    sqlx::query(bypass).execute(&mut *conn).await.unwrap();
    sqlx::query("UPDATE support_channels SET mode = 'loud'")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let error = store.support_channel_mode(1, 10).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::UnknownValue {
                column: "support_channels.mode",
                ..
            }
        ),
        "{error}"
    );
    assert!(store.support_channel_modes(1).await.is_err());
}

on_both_engines!(
    one_verdict_per_card_the_latest_of_its_supporter,
    summaries_count_acceptance_per_kind_therapy_and_strategy,
    forget_removes_the_supporters_verdicts,
    channel_modes_and_the_supporter_role,
    unknown_stored_labels_are_errors,
);
