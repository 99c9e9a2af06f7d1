//! Supporters' verdicts on the assist's cards ("used it", "used it with
//! edits", "not helpful"), and the acceptance that moderators and
//! researchers read. Labels only: a card's text is never stored.

use super::db::{Store, StoreError};
use super::reviews::SummaryScope;
use super::sql::{known, known_or_null, parse_therapy};
use super::time::now;
use crate::chain::{Strategy, Therapy};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a card offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssistKind {
    Draft,
    Feedback,
}

impl AssistKind {
    pub const ALL: [AssistKind; 2] = [AssistKind::Draft, AssistKind::Feedback];

    pub fn as_str(self) -> &'static str {
        match self {
            AssistKind::Draft => "draft",
            AssistKind::Feedback => "feedback",
        }
    }

    pub fn parse(label: &str) -> Option<AssistKind> {
        AssistKind::ALL.into_iter().find(|k| k.as_str() == label)
    }
}

/// What the supporter made of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssistVerdict {
    Used,
    UsedWithEdits,
    NotHelpful,
}

impl AssistVerdict {
    pub const ALL: [AssistVerdict; 3] = [
        AssistVerdict::Used,
        AssistVerdict::UsedWithEdits,
        AssistVerdict::NotHelpful,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssistVerdict::Used => "used",
            AssistVerdict::UsedWithEdits => "used_with_edits",
            AssistVerdict::NotHelpful => "not_helpful",
        }
    }

    pub fn parse(label: &str) -> Option<AssistVerdict> {
        AssistVerdict::ALL.into_iter().find(|v| v.as_str() == label)
    }
}

/// One verdict to record.
#[derive(Debug, Clone)]
pub struct NewAssistVerdict<'a> {
    /// The Discord id of the card message (not personal data).
    pub card_id: u64,
    pub guild_id: Option<u64>,
    /// Already keyed, like `user_key`.
    pub supporter_key: &'a str,
    pub kind: AssistKind,
    pub therapy: Therapy,
    pub strategy: Option<Strategy>,
    pub verdict: AssistVerdict,
}

/// Verdicts of one (kind, therapy, strategy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssistSummary {
    pub kind: String,
    pub therapy: String,
    /// A strategy label, or "unknown".
    pub strategy: String,
    pub used: u64,
    pub used_with_edits: u64,
    pub not_helpful: u64,
}

impl AssistSummary {
    pub fn total(&self) -> u64 {
        self.used + self.used_with_edits + self.not_helpful
    }

    /// The share of cards used, as they were or edited; 0 when none.
    pub fn acceptance(&self) -> f64 {
        let accepted = (self.used + self.used_with_edits) as f64;
        accepted / self.total().max(1) as f64
    }
}

/// An `assist_verdicts` count as stored.
#[derive(sqlx::FromRow)]
struct StoredCount {
    kind: String,
    therapy: String,
    strategy: Option<String>,
    verdict: String,
    count: i64,
}

const TABLE: &str = "assist_verdicts";

impl Store {
    /// One verdict per card, the latest wins (a supporter may change their
    /// mind); a click by another supporter key never overwrites it.
    /// Returns whether the row was written.
    #[tracing::instrument(skip_all)]
    pub async fn record_assist_verdict(
        &self,
        verdict: &NewAssistVerdict<'_>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO assist_verdicts
                 (card_id, guild_id, supporter_key, kind, therapy, strategy, verdict, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (card_id) DO UPDATE
             SET verdict = excluded.verdict, created_at = excluded.created_at
             WHERE assist_verdicts.supporter_key = excluded.supporter_key",
        )
        .bind(verdict.card_id as i64)
        .bind(verdict.guild_id.map(|g| g as i64))
        .bind(verdict.supporter_key)
        .bind(verdict.kind.as_str())
        .bind(verdict.therapy.as_str())
        .bind(verdict.strategy.map(Strategy::as_str))
        .bind(verdict.verdict.as_str())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Verdict counts per (kind, therapy, strategy), in that order
    /// (therapies as in `Therapy::ALL`), for the rows of `scope`.
    #[tracing::instrument(skip_all)]
    pub async fn assist_summary(
        &self,
        scope: &SummaryScope,
    ) -> Result<Vec<AssistSummary>, StoreError> {
        // Only the scope's constant filter is spliced in.
        let sql = format!(
            "SELECT kind, therapy, strategy, verdict, COUNT(*) AS count FROM {TABLE}
             WHERE {} GROUP BY kind, therapy, strategy, verdict",
            scope.filter("")
        );
        let query = scope.bind(sqlx::query_as::<_, StoredCount>(sqlx::AssertSqlSafe(sql)));
        // Keyed in the order of the result: kind, therapy, strategy (an
        // unknown one last, as in `summarize`).
        let mut summaries = BTreeMap::new();
        for row in query.fetch_all(&self.pool).await? {
            let kind = known("assist_verdicts.kind", &row.kind, AssistKind::parse)?;
            let therapy = known("assist_verdicts.therapy", &row.therapy, parse_therapy)?;
            let strategy = known_or_null(
                "assist_verdicts.strategy",
                row.strategy.as_deref(),
                Strategy::parse_label,
            )?;
            let verdict = known(
                "assist_verdicts.verdict",
                &row.verdict,
                AssistVerdict::parse,
            )?;
            let summary = summaries
                .entry((kind as u8, therapy, strategy.is_none(), strategy))
                .or_insert_with(|| empty(kind, therapy, strategy));
            let count = row.count as u64;
            match verdict {
                AssistVerdict::Used => summary.used += count,
                AssistVerdict::UsedWithEdits => summary.used_with_edits += count,
                AssistVerdict::NotHelpful => summary.not_helpful += count,
            }
        }
        Ok(summaries.into_values().collect())
    }
}

fn empty(kind: AssistKind, therapy: Therapy, strategy: Option<Strategy>) -> AssistSummary {
    AssistSummary {
        kind: kind.as_str().into(),
        therapy: therapy.as_str().into(),
        strategy: strategy.map_or("unknown", Strategy::as_str).into(),
        used: 0,
        used_with_edits: 0,
        not_helpful: 0,
    }
}
