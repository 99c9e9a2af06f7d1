//! Per-guild settings and support channels.

use super::db::{Store, StoreError};
use crate::chain::Therapy;
use sqlx::Row;
use std::collections::HashMap;

/// What an admin configured for one guild; `None` means "use the default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuildSettings {
    pub default_therapy: Option<Therapy>,
    pub moderator_role_id: Option<u64>,
    pub alert_channel_id: Option<u64>,
    pub helpline_region: Option<String>,
}

/// One setting to change.
#[derive(Debug, Clone)]
pub enum GuildSetting {
    DefaultTherapy(Therapy),
    ModeratorRole(Option<u64>),
    AlertChannel(Option<u64>),
    HelplineRegion(String),
}

fn id(value: Option<i64>) -> Option<u64> {
    value.map(|v| v as u64)
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn guild_settings(&self, guild_id: u64) -> Result<GuildSettings, StoreError> {
        let row = sqlx::query(
            "SELECT default_therapy, moderator_role_id, alert_channel_id, helpline_region
             FROM guild_settings WHERE guild_id = ?",
        )
        .bind(guild_id as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| GuildSettings {
                default_therapy: row
                    .get::<Option<String>, _>("default_therapy")
                    .and_then(|t| t.parse().ok()),
                moderator_role_id: id(row.get("moderator_role_id")),
                alert_channel_id: id(row.get("alert_channel_id")),
                helpline_region: row.get("helpline_region"),
            })
            .unwrap_or_default())
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_guild_setting(
        &self,
        guild_id: u64,
        setting: &GuildSetting,
    ) -> Result<(), StoreError> {
        // One upsert per column keeps each statement static (no SQL built
        // from strings) while leaving the other settings untouched.
        let (sql, value): (&str, Option<String>) = match setting {
            GuildSetting::DefaultTherapy(t) => (
                "INSERT INTO guild_settings (guild_id, default_therapy) VALUES (?, ?)
                 ON CONFLICT (guild_id) DO UPDATE SET default_therapy = excluded.default_therapy,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                Some(t.as_str().into()),
            ),
            GuildSetting::ModeratorRole(role) => (
                "INSERT INTO guild_settings (guild_id, moderator_role_id) VALUES (?, ?)
                 ON CONFLICT (guild_id) DO UPDATE SET moderator_role_id = excluded.moderator_role_id,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                role.map(|r| r.to_string()),
            ),
            GuildSetting::AlertChannel(channel) => (
                "INSERT INTO guild_settings (guild_id, alert_channel_id) VALUES (?, ?)
                 ON CONFLICT (guild_id) DO UPDATE SET alert_channel_id = excluded.alert_channel_id,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                channel.map(|c| c.to_string()),
            ),
            GuildSetting::HelplineRegion(region) => (
                "INSERT INTO guild_settings (guild_id, helpline_region) VALUES (?, ?)
                 ON CONFLICT (guild_id) DO UPDATE SET helpline_region = excluded.helpline_region,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                Some(region.clone()),
            ),
        };
        // SQLite's type affinity stores the digit strings of ids as INTEGER.
        sqlx::query(sql)
            .bind(guild_id as i64)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn support_channels(&self, guild_id: u64) -> Result<Vec<u64>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel_id FROM support_channels WHERE guild_id = ? ORDER BY added_at",
        )
        .bind(guild_id as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get::<i64, _>(0) as u64).collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn is_support_channel(
        &self,
        guild_id: u64,
        channel_id: u64,
    ) -> Result<bool, StoreError> {
        let found =
            sqlx::query("SELECT 1 FROM support_channels WHERE guild_id = ? AND channel_id = ?")
                .bind(guild_id as i64)
                .bind(channel_id as i64)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Returns whether the channel was newly added.
    #[tracing::instrument(skip_all)]
    pub async fn add_support_channel(
        &self,
        guild_id: u64,
        channel_id: u64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO support_channels (guild_id, channel_id) VALUES (?, ?)",
        )
        .bind(guild_id as i64)
        .bind(channel_id as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns whether the channel was there to remove.
    #[tracing::instrument(skip_all)]
    pub async fn remove_support_channel(
        &self,
        guild_id: u64,
        channel_id: u64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM support_channels WHERE guild_id = ? AND channel_id = ?")
                .bind(guild_id as i64)
                .bind(channel_id as i64)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Seeds support channels from `COE_SUPPORT_CHANNELS` into guilds that
    /// have no settings yet; after that `/coe-admin` rules, so a removed
    /// channel is not brought back by the next restart.
    pub async fn seed_support_channels(&self, pairs: &[(u64, u64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut fresh: HashMap<u64, bool> = HashMap::new();
        for (guild_id, _) in pairs {
            if !fresh.contains_key(guild_id) {
                let known = sqlx::query("SELECT 1 FROM guild_settings WHERE guild_id = ?")
                    .bind(*guild_id as i64)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                fresh.insert(*guild_id, !known);
            }
        }
        for (guild_id, channel_id) in pairs.iter().filter(|(g, _)| fresh[g]) {
            sqlx::query(
                "INSERT OR IGNORE INTO support_channels (guild_id, channel_id) VALUES (?, ?)",
            )
            .bind(*guild_id as i64)
            .bind(*channel_id as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT OR IGNORE INTO guild_settings (guild_id) VALUES (?)")
                .bind(*guild_id as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
