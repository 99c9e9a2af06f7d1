//! `eval_runs` and `eval_items`: evaluation results, written item by item.

use super::db::{Store, StoreError};
use super::redact::redact;
use super::writer::Write;
use crate::chain::{Emotion, Strategy, Therapy};
use futures::{Stream, StreamExt};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
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
        sqlx::query("INSERT INTO eval_runs (run_id, info) VALUES (?, ?)")
            .bind(run_id)
            .bind(info_json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored run description (JSON), if the run exists.
    pub async fn eval_run_info(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT info FROM eval_runs WHERE run_id = ?")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn finish_eval_run(&self, run_id: &str, info_json: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE eval_runs SET info = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE run_id = ?",
        )
        .bind(info_json)
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
        let rows = sqlx::query(
            "SELECT item_id, therapy FROM eval_items WHERE run_id = ? AND outcome <> 'llm_error'",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get(0), r.get::<String, _>(1).parse().ok()?)))
            .collect())
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
        let mut tx = self.pool.begin().await?;
        for (therapy, item_id, strategy) in judged {
            sqlx::query(
                "UPDATE eval_items SET judged_strategy = ? WHERE run_id = ? AND therapy = ? AND item_id = ?",
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
        let row = sqlx::query(
            "SELECT COALESCE(SUM(outcome = 'parse_error'), 0), COALESCE(SUM(outcome = 'llm_error'), 0),
                    COALESCE(SUM(crisis_flagged), 0)
             FROM eval_items WHERE run_id = ?",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(EvalCounts {
            parse_errors: row.get::<i64, _>(0) as usize,
            llm_errors: row.get::<i64, _>(1) as usize,
            crisis_flagged: row.get::<i64, _>(2) as usize,
        })
    }

    /// Every item of a run, streamed (for items.csv) so memory stays flat.
    pub fn eval_items<'a>(
        &'a self,
        run_id: &'a str,
    ) -> impl Stream<Item = Result<EvalItemRow, StoreError>> + 'a {
        sqlx::query(
            "SELECT item_id, therapy, gold, predicted, outcome, crisis_flagged, emotion, reply,
                    latency_ms, prompt_tokens, completion_tokens, judged_strategy
             FROM eval_items WHERE run_id = ? ORDER BY therapy, item_id",
        )
        .bind(run_id)
        .fetch(&self.pool)
        .map(|row| {
            let row = row?;
            let outcome = match row.get::<String, _>(4).as_str() {
                "replied" => EvalOutcome::Replied,
                "parse_error" => EvalOutcome::ParseError,
                _ => EvalOutcome::LlmError,
            };
            // The table's CHECK constraints keep these labels valid.
            Ok(EvalItemRow {
                item_id: row.get(0),
                therapy: row.get::<String, _>(1).parse().unwrap_or(Therapy::Base),
                gold: Strategy::parse_label(row.get(2)).unwrap_or(Strategy::Exploration),
                predicted: row
                    .get::<Option<String>, _>(3)
                    .and_then(|p| Strategy::parse_label(&p)),
                outcome,
                crisis_flagged: row.get(5),
                emotion: row
                    .get::<Option<String>, _>(6)
                    .and_then(|e| Emotion::from_model(&e)),
                reply: row.get(7),
                latency_ms: row.get::<i64, _>(8) as u64,
                prompt_tokens: row.get::<Option<i64>, _>(9).map(|n| n as u32),
                completion_tokens: row.get::<Option<i64>, _>(10).map(|n| n as u32),
                judged_strategy: row
                    .get::<Option<String>, _>(11)
                    .and_then(|p| Strategy::parse_label(&p)),
            })
        })
    }
}

/// One multi-row INSERT for the group-commit writer.
pub(super) async fn insert_eval_items(
    conn: &mut SqliteConnection,
    rows: &[(&str, &EvalItemRow)],
) -> Result<(), sqlx::Error> {
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT OR REPLACE INTO eval_items (run_id, item_id, therapy, gold, predicted, outcome,
             crisis_flagged, emotion, reply, latency_ms, prompt_tokens, completion_tokens,
             judged_strategy) ",
    );
    insert.push_values(rows, |mut values, (run_id, row)| {
        values
            .push_bind(run_id.to_string())
            .push_bind(row.item_id.clone())
            .push_bind(row.therapy.as_str())
            .push_bind(row.gold.as_str())
            .push_bind(row.predicted.map(Strategy::as_str))
            .push_bind(row.outcome.as_str())
            .push_bind(row.crisis_flagged)
            .push_bind(row.emotion.as_ref().map(|e| e.as_str().to_owned()))
            .push_bind(row.reply.as_deref().map(redact))
            .push_bind(row.latency_ms as i64)
            .push_bind(row.prompt_tokens.map(i64::from))
            .push_bind(row.completion_tokens.map(i64::from))
            .push_bind(row.judged_strategy.map(Strategy::as_str));
    });
    insert.build().execute(conn).await?;
    Ok(())
}
