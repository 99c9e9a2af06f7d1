//! The `interactions` table: one anonymized row per reply.

use super::db::{Store, StoreError};
use super::redact::redact;
use super::sql::{known, known_or_null, values_list};
use super::time::stored_time;
use super::writer::Write;
use crate::chain::{Emotion, Strategy, Therapy};
use crate::safety::risk::{Risk, Tier};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};

/// Which front door a message came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Slash,
    Channel,
    Cli,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Slash, Source::Channel, Source::Cli];

    pub fn parse(label: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == label)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Slash => "slash",
            Source::Channel => "channel",
            Source::Cli => "cli",
        }
    }
}

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The chain's reply was given.
    Replied,
    /// The crisis gate answered with the fixed safe-messaging reply.
    Crisis,
    /// The model's answer could not be read even after one repair.
    ParseError,
    /// The model server failed; the member got an apology.
    LlmError,
    /// The input (empty) or the output (prompt leak) was not answered as is.
    Refused,
    /// The reply was produced but could not be delivered.
    ReplyFailed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Replied,
        Outcome::Crisis,
        Outcome::ParseError,
        Outcome::LlmError,
        Outcome::Refused,
        Outcome::ReplyFailed,
    ];

    pub fn parse(label: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == label)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Replied => "replied",
            Outcome::Crisis => "crisis",
            Outcome::ParseError => "parse_error",
            Outcome::LlmError => "llm_error",
            Outcome::Refused => "refused",
            Outcome::ReplyFailed => "reply_failed",
        }
    }
}

/// A row to record. `reasoning` is redacted here, in the store, so no
/// caller can forget it.
#[derive(Debug, Clone)]
pub struct NewInteraction {
    /// When the member's message arrived: the row is refused if the member
    /// asked to be forgotten since, while the reply was being written.
    pub started_at: DateTime<Utc>,
    pub guild_id: Option<u64>,
    pub source: Source,
    pub user_key: String,
    pub therapy: Therapy,
    pub prompt_version: String,
    pub model: String,
    pub emotion: Option<Emotion>,
    pub strategy: Option<Strategy>,
    pub reasoning: Option<Vec<String>>,
    pub outcome: Outcome,
    /// The gate's verdict: tier, deciding layer, classifier score; no text.
    pub risk: Risk,
    pub latency_ms: u64,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
}

/// A recorded row as moderators and reports see it (no user key).
#[derive(Debug, Clone, Serialize)]
pub struct InteractionRow {
    pub id: i64,
    pub created_at: String,
    pub source: String,
    pub therapy: String,
    pub prompt_version: String,
    pub model: String,
    pub emotion: Option<String>,
    pub strategy: Option<String>,
    pub reasoning: Vec<String>,
    pub outcome: String,
    pub risk_tier: String,
    pub risk_layer: Option<String>,
    pub latency_ms: i64,
}

impl Store {
    /// Records one row and returns its id once it is committed, or `None`
    /// when the store refused it: the member has opted out, or was
    /// forgotten after `started_at`. Redaction runs here, in the caller's
    /// task, so the single writer only writes.
    #[tracing::instrument(skip_all)]
    pub async fn record_interaction(
        &self,
        row: &NewInteraction,
    ) -> Result<Option<i64>, StoreError> {
        let mut row = row.clone();
        if let Some(steps) = &mut row.reasoning {
            for step in steps.iter_mut() {
                *step = redact(step);
            }
        }
        self.writer.write(Write::Interaction(row)).await
    }

    /// Marks a recorded reply as undelivered (Discord refused it).
    #[tracing::instrument(skip_all)]
    pub async fn set_outcome(&self, id: i64, outcome: Outcome) -> Result<(), StoreError> {
        sqlx::query("UPDATE interactions SET outcome = $1 WHERE id = $2")
            .bind(outcome.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Newest rows of one guild, older than `before_id` when paging.
    #[tracing::instrument(skip_all)]
    pub async fn recent_interactions(
        &self,
        guild_id: u64,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<InteractionRow>, StoreError> {
        let rows: Vec<StoredInteraction> = sqlx::query_as(
            "SELECT id, created_at, source, therapy, prompt_version, model, emotion, strategy,
                    reasoning, outcome, risk_tier, risk_layer, latency_ms
             FROM interactions
             WHERE guild_id = $1 AND id < $2
             ORDER BY id DESC LIMIT $3",
        )
        .bind(guild_id as i64)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(InteractionRow::try_from).collect()
    }
}

/// Rows of a batch with distinct user keys, each with its position in the
/// batch.
pub(super) type KeyGroup<'a> = Vec<(usize, &'a NewInteraction)>;

/// Splits a batch into groups of rows with distinct user keys, in order
/// (nearly always one group): each group is one INSERT whose `RETURNING
/// user_key` then names the row behind each new id.
pub(super) fn distinct_key_groups<'a>(rows: &[&'a NewInteraction]) -> Vec<KeyGroup<'a>> {
    let mut groups: Vec<(HashSet<&str>, KeyGroup<'a>)> = Vec::new();
    for (index, &row) in rows.iter().enumerate() {
        let key = row.user_key.as_str();
        match groups.iter_mut().find(|(keys, _)| !keys.contains(key)) {
            Some((keys, group)) => {
                keys.insert(key);
                group.push((index, row));
            }
            None => groups.push((HashSet::from([key]), vec![(index, row)])),
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

/// One multi-row INSERT of rows with distinct user keys (already
/// redacted) for the group-commit writer. The statement itself refuses
/// the rows of opted-out members and of members forgotten since their
/// message arrived, so no opt-out or forget can slip in between a check
/// and the write. Returns `(position in the batch, new id)` of the rows
/// written.
pub(super) async fn insert_interactions(
    conn: &mut AnyConnection,
    group: &[(usize, &NewInteraction)],
) -> Result<Vec<(usize, i64)>, sqlx::Error> {
    // A forget in the same millisecond as the message refuses the row too.
    let sql = format!(
        "WITH candidate (guild_id, source, user_key, therapy, prompt_version, model,
             emotion, strategy, reasoning, outcome, risk_tier, risk_layer, risk_score,
             latency_ms, prompt_tokens, completion_tokens, started_at) AS (VALUES {})
         INSERT INTO interactions (guild_id, source, user_key, therapy, prompt_version, model,
             emotion, strategy, reasoning, outcome, risk_tier, risk_layer, risk_score,
             latency_ms, prompt_tokens, completion_tokens)
         SELECT guild_id, source, user_key, therapy, prompt_version, model,
             emotion, strategy, reasoning, outcome, risk_tier, risk_layer, risk_score,
             latency_ms, prompt_tokens, completion_tokens
         FROM candidate c
         WHERE NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.user_key = c.user_key)
           AND NOT EXISTS (SELECT 1 FROM forgotten f
                           WHERE f.user_key = c.user_key AND f.forgotten_at >= c.started_at)
         RETURNING id, user_key",
        values_list(group.len(), 17)
    );
    // Only placeholders are spliced in; every value is bound.
    let mut insert = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
    for (_, row) in group {
        let reasoning = row
            .reasoning
            .as_ref()
            .map(|steps| serde_json::to_string(steps).expect("strings serialize"));
        insert = insert
            .bind(row.guild_id.map(|g| g as i64))
            .bind(row.source.as_str())
            .bind(row.user_key.clone())
            .bind(row.therapy.as_str())
            .bind(row.prompt_version.clone())
            .bind(row.model.clone())
            .bind(row.emotion.as_ref().map(|e| e.as_str().to_owned()))
            .bind(row.strategy.map(Strategy::as_str))
            .bind(reasoning)
            .bind(row.outcome.as_str())
            .bind(row.risk.tier.as_str())
            .bind(row.risk.layer.map(|l| l.as_str()))
            .bind(row.risk.score.map(f64::from))
            .bind(row.latency_ms as i64)
            .bind(row.prompt_tokens.map(i64::from))
            .bind(row.completion_tokens.map(i64::from))
            .bind(stored_time(row.started_at));
    }
    let written = insert.fetch_all(conn).await?;
    let position: HashMap<&str, usize> = group
        .iter()
        .map(|(index, row)| (row.user_key.as_str(), *index))
        .collect();
    Ok(written
        .into_iter()
        .filter_map(|(id, key)| Some((*position.get(key.as_str())?, id)))
        .collect())
}

/// An `interactions` row as stored.
#[derive(sqlx::FromRow)]
struct StoredInteraction {
    id: i64,
    created_at: String,
    source: String,
    therapy: String,
    prompt_version: String,
    model: String,
    emotion: Option<String>,
    strategy: Option<String>,
    reasoning: Option<String>,
    outcome: String,
    risk_tier: String,
    risk_layer: Option<String>,
    latency_ms: i64,
}

impl TryFrom<StoredInteraction> for InteractionRow {
    type Error = StoreError;

    /// Every label is checked against what this version knows.
    fn try_from(row: StoredInteraction) -> Result<InteractionRow, StoreError> {
        known("interactions.source", &row.source, Source::parse)?;
        known("interactions.therapy", &row.therapy, |t| {
            t.parse::<Therapy>().ok()
        })?;
        known_or_null(
            "interactions.strategy",
            row.strategy.as_deref(),
            Strategy::parse_label,
        )?;
        known("interactions.outcome", &row.outcome, Outcome::parse)?;
        known("interactions.risk_tier", &row.risk_tier, Tier::parse)?;
        Ok(InteractionRow {
            id: row.id,
            created_at: row.created_at,
            source: row.source,
            therapy: row.therapy,
            prompt_version: row.prompt_version,
            model: row.model,
            // Read back through the label rule too, as eval rows are.
            emotion: row
                .emotion
                .as_deref()
                .and_then(Emotion::from_model)
                .map(|e| e.as_str().to_owned()),
            strategy: row.strategy,
            reasoning: row
                .reasoning
                .and_then(|r| serde_json::from_str(&r).ok())
                .unwrap_or_default(),
            outcome: row.outcome,
            risk_tier: row.risk_tier,
            risk_layer: row.risk_layer,
            latency_ms: row.latency_ms,
        })
    }
}
