//! Moderator reviews of logged replies, and the per-therapy summaries that
//! moderators (`/coe-mod stats`) and researchers (`coe-bot report`) read.

use super::db::{Store, StoreError};
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Concern,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Concern => "concern",
        }
    }
}

/// Counts of one therapy's rows: by strategy, by outcome, by verdict.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TherapySummary {
    pub therapy: String,
    pub total: u64,
    /// (strategy or "unknown", count), among replied rows.
    pub strategies: Vec<(String, u64)>,
    pub outcomes: Vec<(String, u64)>,
    pub verdicts: Vec<(String, u64)>,
}

/// Which rows a summary covers.
#[derive(Debug, Clone, Default)]
pub struct SummaryScope {
    pub guild_id: Option<u64>,
    /// RFC 3339 date or time; rows at or after it.
    pub since: Option<String>,
}

impl Store {
    /// Stores a review if the interaction belongs to `guild_id`; returns
    /// false when it does not (so one guild cannot review another's rows).
    #[tracing::instrument(skip_all)]
    pub async fn add_review(
        &self,
        guild_id: u64,
        interaction_id: i64,
        reviewer_key: &str,
        verdict: Verdict,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO reviews (interaction_id, reviewer_key, verdict, note)
             SELECT id, ?, ?, ? FROM interactions WHERE id = ? AND guild_id = ?",
        )
        .bind(reviewer_key)
        .bind(verdict.as_str())
        .bind(note)
        .bind(interaction_id)
        .bind(guild_id as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Per-therapy counts, in therapy order.
    #[tracing::instrument(skip_all)]
    pub async fn summarize(&self, scope: &SummaryScope) -> Result<Vec<TherapySummary>, StoreError> {
        let filter = "(?1 IS NULL OR i.guild_id = ?1) AND (?2 IS NULL OR i.created_at >= ?2)";
        let count = |sql: String| {
            // Only the constant filter above is spliced in; values are bound.
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(scope.guild_id.map(|g| g as i64))
                .bind(scope.since.clone())
                .fetch_all(&self.pool)
        };
        let strategies = count(format!(
            "SELECT i.therapy, COALESCE(i.strategy, 'unknown'), COUNT(*) FROM interactions i
             WHERE {filter} AND i.outcome = 'replied' GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .await?;
        let outcomes = count(format!(
            "SELECT i.therapy, i.outcome, COUNT(*) FROM interactions i
             WHERE {filter} GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .await?;
        let verdicts = count(format!(
            "SELECT i.therapy, r.verdict, COUNT(*) FROM reviews r
             JOIN interactions i ON i.id = r.interaction_id
             WHERE {filter} GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .await?;

        let mut summaries: Vec<TherapySummary> = Vec::new();
        for (rows, column) in [(strategies, 0), (outcomes, 1), (verdicts, 2)] {
            for row in rows {
                let summary = slot(&mut summaries, row.get(0));
                let counts = match column {
                    0 => &mut summary.strategies,
                    1 => &mut summary.outcomes,
                    _ => &mut summary.verdicts,
                };
                counts.push((row.get(1), row.get::<i64, _>(2) as u64));
            }
        }
        for summary in &mut summaries {
            summary.total = summary.outcomes.iter().map(|(_, n)| n).sum();
        }
        summaries.sort_by_key(|s| {
            crate::chain::Therapy::ALL
                .iter()
                .position(|t| t.as_str() == s.therapy)
        });
        Ok(summaries)
    }
}

fn slot(summaries: &mut Vec<TherapySummary>, therapy: String) -> &mut TherapySummary {
    let index = match summaries.iter().position(|s| s.therapy == therapy) {
        Some(index) => index,
        None => {
            summaries.push(TherapySummary {
                therapy,
                ..Default::default()
            });
            summaries.len() - 1
        }
    };
    &mut summaries[index]
}
