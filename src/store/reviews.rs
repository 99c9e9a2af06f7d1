//! Moderator reviews of logged replies, and the per-therapy summaries that
//! moderators (`/coe-mod stats`) and researchers (`coe-bot report`) read.

use super::db::{Store, StoreError};
use super::redact::redact;
use super::sql::{known, parse_therapy};
use super::Outcome;
use crate::chain::{Strategy, Therapy};
use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::Any;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Concern,
}

impl Verdict {
    pub const ALL: [Verdict; 2] = [Verdict::Ok, Verdict::Concern];

    pub fn parse(label: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == label)
    }

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
             SELECT id, $1, $2, $3 FROM interactions WHERE id = $4 AND guild_id = $5",
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
        let is_strategy = |s: &str| s == "unknown" || Strategy::parse_label(s).is_some();
        let is_outcome = |o: &str| Outcome::parse(o).is_some();
        let is_verdict = |v: &str| Verdict::parse(v).is_some();
        add_counts(&mut summaries, strategies, STRATEGY, is_strategy, |s| {
            &mut s.strategies
        })?;
        add_counts(&mut summaries, outcomes, OUTCOME, is_outcome, |s| {
            &mut s.outcomes
        })?;
        add_counts(&mut summaries, verdicts, VERDICT, is_verdict, |s| {
            &mut s.verdicts
        })?;
        for summary in &mut summaries {
            summary.total = summary.outcomes.iter().map(|(_, n)| n).sum();
        }
        summaries.sort_by_key(|s| Therapy::ALL.iter().position(|t| t.as_str() == s.therapy));
        Ok(summaries)
    }
}

/// The three counts of a summary, each `(therapy, label, count)`, with a
/// filter for exactly the scope given: an `?1 IS NULL OR` filter would
/// keep SQLite from using the per-guild index.
fn summary_queries(scope: &SummaryScope) -> [String; 3] {
    let filter = scope.filter("i.");
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

/// `(therapy, label, count)`.
type Count = (String, String, i64);

const STRATEGY: &str = "interactions.strategy";
const OUTCOME: &str = "interactions.outcome";
const VERDICT: &str = "reviews.verdict";

/// Adds one query's counts to the summaries, each label checked against
/// what this version knows.
fn add_counts(
    summaries: &mut Vec<TherapySummary>,
    rows: Vec<Count>,
    column: &'static str,
    is_known: impl Fn(&str) -> bool,
    counts: impl Fn(&mut TherapySummary) -> &mut Vec<(String, u64)>,
) -> Result<(), StoreError> {
    for (therapy, label, count) in rows {
        let therapy = known("interactions.therapy", &therapy, parse_therapy)?;
        known(column, &label, |l| is_known(l).then_some(()))?;
        counts(slot(summaries, therapy.as_str())).push((label, count as u64));
    }
    Ok(())
}

/// A summary query with the scope's values bound.
fn bind_scope(sql: String, scope: &SummaryScope) -> QueryAs<'static, Any, Count, AnyArguments> {
    // Only the constant filters of `SummaryScope::filter` are spliced in.
    scope.bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
}

impl SummaryScope {
    /// The SQL condition for exactly this scope, on columns `{prefix}guild_id`
    /// and `{prefix}created_at` (an `$1 IS NULL OR` filter would keep SQLite
    /// from using the per-guild index). Bind its values with [`Self::bind`].
    pub(super) fn filter(&self, prefix: &str) -> String {
        let mut filter = vec!["TRUE".to_string()];
        let mut next = 1;
        if self.guild_id.is_some() {
            filter.push(format!("{prefix}guild_id = ${next}"));
            next += 1;
        }
        if self.since.is_some() {
            filter.push(format!("{prefix}created_at >= ${next}"));
        }
        filter.join(" AND ")
    }

    /// The values of [`Self::filter`], in its order.
    pub(super) fn bind<'q, O>(
        &self,
        mut query: QueryAs<'q, Any, O, AnyArguments>,
    ) -> QueryAs<'q, Any, O, AnyArguments> {
        if let Some(guild_id) = self.guild_id {
            query = query.bind(guild_id as i64);
        }
        if let Some(since) = &self.since {
            query = query.bind(since.clone());
        }
        query
    }
}

fn slot<'a>(summaries: &'a mut Vec<TherapySummary>, therapy: &str) -> &'a mut TherapySummary {
    let index = match summaries.iter().position(|s| s.therapy == therapy) {
        Some(index) => index,
        None => {
            summaries.push(TherapySummary {
                therapy: therapy.to_owned(),
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
        let query = scope.bind(sqlx::query_as(sqlx::AssertSqlSafe(explain)));
        let steps: Vec<(i64, i64, i64, String)> = query.fetch_all(store.pool()).await.unwrap();
        steps.into_iter().map(|(_, _, _, detail)| detail).collect()
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
