//! `eval_runs` and `eval_items`: evaluation results, written item by item.

use super::db::{Store, StoreError};
use super::redact::redact;
use super::sql::{known, known_or_null, parse_therapy, values_list};
use super::time::now;
use super::writer::Write;
use crate::chain::{Emotion, Strategy, Therapy};
use futures::{Stream, StreamExt};
use sqlx::AnyConnection;
use std::collections::HashSet;

/// How one (item, therapy) pair ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalOutcome {
    Replied,
    ParseError,
    /// Not counted as done: `--resume` tries these again.
    LlmError,
}

impl EvalOutcome {
    pub const ALL: [EvalOutcome; 3] = [
        EvalOutcome::Replied,
        EvalOutcome::ParseError,
        EvalOutcome::LlmError,
    ];

    pub fn parse(label: &str) -> Option<EvalOutcome> {
        EvalOutcome::ALL.into_iter().find(|o| o.as_str() == label)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EvalOutcome::Replied => "replied",
            EvalOutcome::ParseError => "parse_error",
            EvalOutcome::LlmError => "llm_error",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalItemRow {
    pub item_id: String,
    pub therapy: Therapy,
    pub gold: Strategy,
    pub predicted: Option<Strategy>,
    pub outcome: EvalOutcome,
    pub crisis_flagged: bool,
    pub emotion: Option<Emotion>,
    pub reply: Option<String>,
    pub latency_ms: u64,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// What the eval's strategy judge found in the reply, if it ran.
    pub judged_strategy: Option<Strategy>,
}

/// Error counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalCounts {
    pub parse_errors: usize,
    pub llm_errors: usize,
    pub crisis_flagged: usize,
}

impl Store {
    pub async fn create_eval_run(&self, run_id: &str, info_json: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO eval_runs (run_id, info) VALUES ($1, $2)")
            .bind(run_id)
            .bind(info_json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored run description (JSON), if the run exists.
    pub async fn eval_run_info(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT info FROM eval_runs WHERE run_id = $1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn finish_eval_run(&self, run_id: &str, info_json: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE eval_runs SET info = $1, finished_at = $2 WHERE run_id = $3")
            .bind(info_json)
            .bind(now())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// (item_id, therapy) pairs finished for good (LLM errors are retried).
    pub async fn finished_eval_items(
        &self,
        run_id: &str,
    ) -> Result<HashSet<(String, Therapy)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT item_id, therapy FROM eval_items WHERE run_id = $1 AND outcome <> 'llm_error'",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(item, therapy)| Ok((item, known(THERAPY, &therapy, parse_therapy)?)))
            .collect()
    }

    /// Writes (or, for a retried LLM error, replaces) one item's result,
    /// through the group-commit writer; returns once it is committed.
    pub async fn record_eval_item(
        &self,
        run_id: &str,
        row: &EvalItemRow,
    ) -> Result<(), StoreError> {
        let write = Write::EvalItem {
            run_id: run_id.to_string(),
            row: row.clone(),
        };
        self.writer.write(write).await.map(drop)
    }

    /// Records judged strategies of rows judged after the fact (a run
    /// resumed with the judge on); one transaction for the batch.
    pub async fn set_judged_strategies(
        &self,
        run_id: &str,
        judged: &[(Therapy, String, Strategy)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (therapy, item_id, strategy) in judged {
            sqlx::query(
                "UPDATE eval_items SET judged_strategy = $1
                 WHERE run_id = $2 AND therapy = $3 AND item_id = $4",
            )
            .bind(strategy.as_str())
            .bind(run_id)
            .bind(therapy.as_str())
            .bind(item_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn eval_counts(&self, run_id: &str) -> Result<EvalCounts, StoreError> {
        let (parse_errors, llm_errors, crisis_flagged): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE outcome = 'parse_error'),
                    COUNT(*) FILTER (WHERE outcome = 'llm_error'),
                    COUNT(*) FILTER (WHERE crisis_flagged = 1)
             FROM eval_items WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(EvalCounts {
            parse_errors: parse_errors as usize,
            llm_errors: llm_errors as usize,
            crisis_flagged: crisis_flagged as usize,
        })
    }

    /// Every item of a run, streamed (for items.csv) so memory stays flat.
    pub fn eval_items<'a>(
        &'a self,
        run_id: &'a str,
    ) -> impl Stream<Item = Result<EvalItemRow, StoreError>> + 'a {
        sqlx::query_as::<_, StoredEvalItem>(
            "SELECT item_id, therapy, gold, predicted, outcome, crisis_flagged, emotion, reply,
                    latency_ms, prompt_tokens, completion_tokens, judged_strategy
             FROM eval_items WHERE run_id = $1 ORDER BY therapy, item_id",
        )
        .bind(run_id)
        .fetch(&self.pool)
        .map(|row| EvalItemRow::try_from(row?))
    }
}

const THERAPY: &str = "eval_items.therapy";

/// An `eval_items` row as stored.
#[derive(sqlx::FromRow)]
struct StoredEvalItem {
    item_id: String,
    therapy: String,
    gold: String,
    predicted: Option<String>,
    outcome: String,
    crisis_flagged: i64,
    emotion: Option<String>,
    reply: Option<String>,
    latency_ms: i64,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    judged_strategy: Option<String>,
}

impl TryFrom<StoredEvalItem> for EvalItemRow {
    type Error = StoreError;

    fn try_from(row: StoredEvalItem) -> Result<EvalItemRow, StoreError> {
        let strategy = Strategy::parse_label;
        Ok(EvalItemRow {
            therapy: known(THERAPY, &row.therapy, parse_therapy)?,
            gold: known("eval_items.gold", &row.gold, strategy)?,
            predicted: known_or_null("eval_items.predicted", row.predicted.as_deref(), strategy)?,
            outcome: known("eval_items.outcome", &row.outcome, EvalOutcome::parse)?,
            crisis_flagged: row.crisis_flagged != 0,
            // Rows from before labels were enforced may hold prose: it goes.
            emotion: row.emotion.as_deref().and_then(Emotion::from_model),
            item_id: row.item_id,
            reply: row.reply,
            latency_ms: row.latency_ms as u64,
            prompt_tokens: row.prompt_tokens.map(|n| n as u32),
            completion_tokens: row.completion_tokens.map(|n| n as u32),
            judged_strategy: known_or_null(
                "eval_items.judged_strategy",
                row.judged_strategy.as_deref(),
                strategy,
            )?,
        })
    }
}

/// One multi-row INSERT for the group-commit writer; a retried LLM error
/// replaces its row.
pub(super) async fn insert_eval_items(
    conn: &mut AnyConnection,
    rows: &[(&str, &EvalItemRow)],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO eval_items (run_id, item_id, therapy, gold, predicted, outcome,
             crisis_flagged, emotion, reply, latency_ms, prompt_tokens, completion_tokens,
             judged_strategy) VALUES {}
         ON CONFLICT (run_id, therapy, item_id) DO UPDATE SET
             gold = excluded.gold, predicted = excluded.predicted, outcome = excluded.outcome,
             crisis_flagged = excluded.crisis_flagged, emotion = excluded.emotion,
             reply = excluded.reply, latency_ms = excluded.latency_ms,
             prompt_tokens = excluded.prompt_tokens,
             completion_tokens = excluded.completion_tokens,
             judged_strategy = excluded.judged_strategy",
        values_list(rows.len(), 13)
    );
    // Only placeholders are spliced in; every value is bound.
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (run_id, row) in rows {
        insert = insert
            .bind(run_id.to_string())
            .bind(row.item_id.clone())
            .bind(row.therapy.as_str())
            .bind(row.gold.as_str())
            .bind(row.predicted.map(Strategy::as_str))
            .bind(row.outcome.as_str())
            .bind(i64::from(row.crisis_flagged))
            .bind(row.emotion.as_ref().map(|e| e.as_str().to_owned()))
            .bind(row.reply.as_deref().map(redact))
            .bind(row.latency_ms as i64)
            .bind(row.prompt_tokens.map(i64::from))
            .bind(row.completion_tokens.map(i64::from))
            .bind(row.judged_strategy.map(Strategy::as_str));
    }
    insert.execute(conn).await?;
    Ok(())
}
