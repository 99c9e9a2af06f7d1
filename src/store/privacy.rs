//! Consent and data minimization: opt-outs, forget-me, retention.

use super::db::{Store, StoreError};

impl Store {
    pub async fn is_opted_out(&self, user_key: &str) -> Result<bool, StoreError> {
        let found = sqlx::query("SELECT 1 FROM opt_outs WHERE user_key = ?")
            .bind(user_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Returns false when the member had already opted out.
    #[tracing::instrument(skip_all)]
    pub async fn opt_out(&self, user_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT OR IGNORE INTO opt_outs (user_key) VALUES (?)")
            .bind(user_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns false when the member had not opted out.
    #[tracing::instrument(skip_all)]
    pub async fn opt_in(&self, user_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM opt_outs WHERE user_key = ?")
            .bind(user_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes every row keyed to the member, in every table, in one
    /// transaction; returns how many rows went. An opt-out stays: it is
    /// the member's standing wish not to be recorded, and forgetting it
    /// would start recording them again. The same transaction leaves a
    /// tombstone, so a reply already in flight is not recorded afterwards.
    #[tracing::instrument(skip_all)]
    pub async fn forget(&self, user_key: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = 0;
        for sql in [
            // Reviews of the member's interactions, then reviews they wrote.
            "DELETE FROM reviews WHERE interaction_id IN (SELECT id FROM interactions WHERE user_key = ?)",
            "DELETE FROM reviews WHERE reviewer_key = ?",
            "DELETE FROM interactions WHERE user_key = ?",
        ] {
            deleted += sqlx::query(sql)
                .bind(user_key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        sqlx::query("INSERT OR REPLACE INTO forgotten (user_key) VALUES (?)")
            .bind(user_key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Clears free text older than `days`: the model's reasoning and
    /// emotion, and moderators' review notes. The anonymous labels stay for
    /// evaluation. Returns how many rows were cleared.
    #[tracing::instrument(skip_all)]
    pub async fn purge_free_text(&self, days: u32) -> Result<u64, StoreError> {
        let cutoff = format!("-{days} days");
        let mut cleared = 0;
        for sql in [
            "UPDATE interactions SET reasoning = NULL, emotion = NULL
             WHERE (reasoning IS NOT NULL OR emotion IS NOT NULL)
               AND created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
            "UPDATE reviews SET note = NULL
             WHERE note IS NOT NULL AND created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
        ] {
            cleared += sqlx::query(sql)
                .bind(&cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        for sql in [
            // Pauses that have ended say nothing any more: drop them too.
            "DELETE FROM paused_threads
             WHERE paused_until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            // A tombstone only matters while a reply that began before the
            // forget may still be written; no reply takes an hour.
            "DELETE FROM forgotten
             WHERE forgotten_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hours')",
        ] {
            cleared += sqlx::query(sql).execute(&self.pool).await?.rows_affected();
        }
        Ok(cleared)
    }
}

#[cfg(test)]
mod tests;
