//! Moderator reviews of logged replies, and the per-therapy summaries that
//! moderators (`/coe-mod stats`) and researchers (`coe-bot report`) read.

use super::db::{Store, StoreError};
use super::redact::redact;
use serde::Serialize;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Row, Sqlite};

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
    /// The note is redacted here, like reasoning, so no caller can forget.
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
        .bind(note.map(redact))
        .bind(interaction_id)
        .bind(guild_id as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Per-therapy counts, in therapy order.
    #[tracing::instrument(skip_all)]
    pub async fn summarize(&self, scope: &SummaryScope) -> Result<Vec<TherapySummary>, StoreError> {
        let [strategies, outcomes, verdicts] = summary_queries(scope);
        let strategies = bind_scope(strategies, scope).fetch_all(&self.pool).await?;
        let outcomes = bind_scope(outcomes, scope).fetch_all(&self.pool).await?;
        let verdicts = bind_scope(verdicts, scope).fetch_all(&self.pool).await?;

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

/// The three counts of a summary, each `(therapy, label, count)`, with a
/// filter for exactly the scope given: an `?1 IS NULL OR` filter would
/// keep SQLite from using the per-guild index.
fn summary_queries(scope: &SummaryScope) -> [String; 3] {
    let mut filter = vec!["TRUE"];
    if scope.guild_id.is_some() {
        filter.push("i.guild_id = ?");
    }
    if scope.since.is_some() {
        filter.push("i.created_at >= ?");
    }
    let filter = filter.join(" AND ");
    [
        format!(
            "SELECT i.therapy, COALESCE(i.strategy, 'unknown'), COUNT(*) FROM interactions i
             WHERE {filter} AND i.outcome = 'replied' GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        format!(
            "SELECT i.therapy, i.outcome, COUNT(*) FROM interactions i
             WHERE {filter} GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        format!(
            "SELECT i.therapy, r.verdict, COUNT(*) FROM reviews r
             JOIN interactions i ON i.id = r.interaction_id
             WHERE {filter} GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    ]
}

/// A summary query with the scope's values bound, in the filter's order.
fn bind_scope(sql: String, scope: &SummaryScope) -> Query<'static, Sqlite, SqliteArguments> {
    // Only the constant filters of `summary_queries` are spliced in.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(guild_id) = scope.guild_id {
        query = query.bind(guild_id as i64);
    }
    if let Some(since) = &scope.since {
        query = query.bind(since.clone());
    }
    query
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

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan of a summary query, one line per step.
    async fn plan(store: &Store, sql: String, scope: &SummaryScope) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        bind_scope(explain, scope)
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect()
    }

    #[tokio::test]
    async fn guild_scoped_summaries_search_the_per_guild_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("coe.db").display());
        let store = Store::open(&url).await.unwrap();
        for since in [None, Some("2024-01-01T00:00:00.000Z".to_string())] {
            let scope = SummaryScope {
                guild_id: Some(1),
                since,
            };
            for sql in summary_queries(&scope) {
                let plan = plan(&store, sql.clone(), &scope).await;
                let interactions: Vec<&String> =
                    plan.iter().filter(|step| step.contains(" i ")).collect();
                assert!(
                    !interactions.is_empty()
                        && interactions.iter().all(|step| {
                            step.starts_with("SEARCH i USING")
                                && step.contains("INDEX interactions_by_guild (guild_id=?")
                        }),
                    "{sql}\n{plan:#?}"
                );
                assert!(
                    plan.iter().all(|step| !step.starts_with("SCAN")),
                    "{sql}\n{plan:#?}"
                );
            }
        }
    }
}
