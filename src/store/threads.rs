//! Support threads paused after a crisis reply: the bot does not resume
//! improvising there until a moderator clears it or the pause ends. Kept in
//! the database, so a restart (or another process) honours it too.

use super::db::{Store, StoreError};
use super::time::{now, stored_time};
use chrono::{DateTime, Utc};

impl Store {
    /// Pauses model replies in a thread until `until` (a later crisis
    /// extends the pause; a shorter one never shortens it).
    #[tracing::instrument(skip_all)]
    pub async fn pause_thread(
        &self,
        guild_id: u64,
        channel_id: u64,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO paused_threads (channel_id, guild_id, paused_until) VALUES ($1, $2, $3)
             ON CONFLICT (channel_id) DO UPDATE
             SET paused_until = CASE WHEN excluded.paused_until > paused_threads.paused_until
                 THEN excluded.paused_until ELSE paused_threads.paused_until END",
        )
        .bind(channel_id as i64)
        .bind(guild_id as i64)
        .bind(stored_time(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether model replies in this thread are paused right now.
    #[tracing::instrument(skip_all)]
    pub async fn is_thread_paused(&self, channel_id: u64) -> Result<bool, StoreError> {
        let paused: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM paused_threads
             WHERE channel_id = $1 AND paused_until > $2",
        )
        .bind(channel_id as i64)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(paused.is_some())
    }

    /// Lifts a pause (`/coe-mod clear`); true when the thread was paused.
    #[tracing::instrument(skip_all)]
    pub async fn clear_thread_pause(
        &self,
        guild_id: u64,
        channel_id: u64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM paused_threads
             WHERE channel_id = $1 AND guild_id = $2 AND paused_until > $3",
        )
        .bind(channel_id as i64)
        .bind(guild_id as i64)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
