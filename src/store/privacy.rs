//! Consent and data minimization: opt-outs, forget-me, retention.

use super::db::{Store, StoreError};
use super::engine::Engine;
use super::time::{ago, now};
use chrono::Duration;

/// The advisory lock that makes the retention purge once per deployment
/// when several processes share one PostgreSQL ("coe-purg" in ASCII).
const PURGE_LOCK: i64 = 0x636f_652d_7075_7267;

impl Store {
    pub async fn is_opted_out(&self, user_key: &str) -> Result<bool, StoreError> {
        let found = sqlx::query("SELECT 1 FROM opt_outs WHERE user_key = $1")
            .bind(user_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Returns false when the member had already opted out.
    #[tracing::instrument(skip_all)]
    pub async fn opt_out(&self, user_key: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("INSERT INTO opt_outs (user_key) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(user_key)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns false when the member had not opted out.
    #[tracing::instrument(skip_all)]
    pub async fn opt_in(&self, user_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM opt_outs WHERE user_key = $1")
            .bind(user_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes every row keyed to the member, in every table; returns how
    /// many rows went. An opt-out stays: it is the member's standing wish
    /// not to be recorded, and forgetting it would start recording them
    /// again. A tombstone is committed first, so a reply already in flight
    /// is not recorded afterwards (the insert itself refuses it).
    #[tracing::instrument(skip_all)]
    pub async fn forget(&self, user_key: &str) -> Result<u64, StoreError> {
        sqlx::query(
            "INSERT INTO forgotten (user_key, forgotten_at) VALUES ($1, $2)
             ON CONFLICT (user_key) DO UPDATE SET forgotten_at = excluded.forgotten_at",
        )
        .bind(user_key)
        .bind(now())
        .execute(&self.pool)
        .await?;
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            // Every insert that starts from now on sees the tombstone. One
            // already running may not have committed yet, and a DELETE does
            // not see uncommitted rows: the SHARE lock waits for it to end.
            // (SQLite's single write lock already orders the two.)
            sqlx::query("LOCK TABLE interactions IN SHARE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let mut deleted = 0;
        for sql in [
            // Reviews of the member's interactions, then reviews they wrote.
            "DELETE FROM reviews WHERE interaction_id IN (SELECT id FROM interactions WHERE user_key = $1)",
            "DELETE FROM reviews WHERE reviewer_key = $1",
            "DELETE FROM assist_verdicts WHERE supporter_key = $1",
            "DELETE FROM interactions WHERE user_key = $1",
        ] {
            deleted += sqlx::query(sql)
                .bind(user_key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Clears free text older than `days`: the model's reasoning and
    /// emotion, and moderators' review notes. The anonymous labels stay for
    /// evaluation. Returns how many rows were cleared, or `None` when
    /// another process sharing the PostgreSQL database is purging now (it
    /// holds the advisory lock; the work is done once per deployment).
    #[tracing::instrument(skip_all)]
    pub async fn purge_free_text(&self, days: u32) -> Result<Option<u64>, StoreError> {
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(PURGE_LOCK)
                .fetch_one(&mut *tx)
                .await?;
            if !mine {
                return Ok(None);
            }
        }
        let cutoff = ago(Duration::days(i64::from(days)));
        // A tombstone only matters while a reply that began before the
        // forget may still be written; no reply takes an hour.
        let tombstone_cutoff = ago(Duration::hours(1));
        let now = now();
        let mut cleared = 0;
        for (sql, time) in [
            (
                "UPDATE interactions SET reasoning = NULL, emotion = NULL
                 WHERE (reasoning IS NOT NULL OR emotion IS NOT NULL) AND created_at < $1",
                &cutoff,
            ),
            (
                "UPDATE reviews SET note = NULL WHERE note IS NOT NULL AND created_at < $1",
                &cutoff,
            ),
            // Pauses that have ended say nothing any more: drop them too.
            ("DELETE FROM paused_threads WHERE paused_until <= $1", &now),
            (
                "DELETE FROM forgotten WHERE forgotten_at < $1",
                &tombstone_cutoff,
            ),
        ] {
            cleared += sqlx::query(sql)
                .bind(time)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(Some(cleared))
    }
}
