//! Per-guild settings and support channels.

use super::db::{Store, StoreError};
use super::sql::known_or_null;
use super::time::now;
use crate::chain::Therapy;
use std::collections::HashMap;

const ADD_CHANNEL: &str =
    "INSERT INTO support_channels (guild_id, channel_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

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

/// A `guild_settings` row as stored.
#[derive(sqlx::FromRow)]
struct StoredSettings {
    default_therapy: Option<String>,
    moderator_role_id: Option<i64>,
    alert_channel_id: Option<i64>,
    helpline_region: Option<String>,
}

impl TryFrom<StoredSettings> for GuildSettings {
    type Error = StoreError;

    fn try_from(row: StoredSettings) -> Result<GuildSettings, StoreError> {
        let id = |value: Option<i64>| value.map(|v| v as u64);
        Ok(GuildSettings {
            default_therapy: known_or_null(
                "guild_settings.default_therapy",
                row.default_therapy.as_deref(),
                |t| t.parse().ok(),
            )?,
            moderator_role_id: id(row.moderator_role_id),
            alert_channel_id: id(row.alert_channel_id),
            helpline_region: row.helpline_region,
        })
    }
}

/// The upsert of one setting's column; the others stay as they are.
fn upsert(column: &str) -> String {
    format!(
        "INSERT INTO guild_settings (guild_id, {column}, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id) DO UPDATE
         SET {column} = excluded.{column}, updated_at = excluded.updated_at"
    )
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn guild_settings(&self, guild_id: u64) -> Result<GuildSettings, StoreError> {
        let row: Option<StoredSettings> = sqlx::query_as(
            "SELECT default_therapy, moderator_role_id, alert_channel_id, helpline_region
             FROM guild_settings WHERE guild_id = $1",
        )
        .bind(guild_id as i64)
        .fetch_optional(&self.pool)
        .await?;
        row.map_or(Ok(GuildSettings::default()), GuildSettings::try_from)
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_guild_setting(
        &self,
        guild_id: u64,
        setting: &GuildSetting,
    ) -> Result<(), StoreError> {
        // The column names are the constants below, never input.
        let (column, text, id) = match setting {
            GuildSetting::DefaultTherapy(t) => ("default_therapy", Some(t.as_str().into()), None),
            GuildSetting::ModeratorRole(role) => ("moderator_role_id", None, Some(*role)),
            GuildSetting::AlertChannel(channel) => ("alert_channel_id", None, Some(*channel)),
            GuildSetting::HelplineRegion(region) => ("helpline_region", Some(region.clone()), None),
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(upsert(column))).bind(guild_id as i64);
        let query = match id {
            Some(id) => query.bind(id.map(|v| v as i64)),
            None => query.bind(text),
        };
        query.bind(now()).execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn support_channels(&self, guild_id: u64) -> Result<Vec<u64>, StoreError> {
        let channels: Vec<i64> = sqlx::query_scalar(
            "SELECT channel_id FROM support_channels WHERE guild_id = $1 ORDER BY added_at",
        )
        .bind(guild_id as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(channels.into_iter().map(|c| c as u64).collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn is_support_channel(
        &self,
        guild_id: u64,
        channel_id: u64,
    ) -> Result<bool, StoreError> {
        let found =
            sqlx::query("SELECT 1 FROM support_channels WHERE guild_id = $1 AND channel_id = $2")
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
        let done = sqlx::query(ADD_CHANNEL)
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
            sqlx::query("DELETE FROM support_channels WHERE guild_id = $1 AND channel_id = $2")
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
        let mut tx = self.begin_write().await?;
        let mut fresh: HashMap<u64, bool> = HashMap::new();
        for (guild_id, _) in pairs {
            if !fresh.contains_key(guild_id) {
                let known = sqlx::query("SELECT 1 FROM guild_settings WHERE guild_id = $1")
                    .bind(*guild_id as i64)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                fresh.insert(*guild_id, !known);
            }
        }
        for (guild_id, channel_id) in pairs.iter().filter(|(g, _)| fresh[g]) {
            sqlx::query(ADD_CHANNEL)
                .bind(*guild_id as i64)
                .bind(*channel_id as i64)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO guild_settings (guild_id) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(*guild_id as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
