//! Per-guild settings and support channels.

use super::db::{Store, StoreError};
use super::sql::{known, known_or_null};
use super::time::now;
use crate::chain::Therapy;
use std::collections::HashMap;

const MODE: &str = "support_channels.mode";

const ADD_CHANNEL: &str =
    "INSERT INTO support_channels (guild_id, channel_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// What an admin configured for one guild; `None` means "use the default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuildSettings {
    pub default_therapy: Option<Therapy>,
    pub moderator_role_id: Option<u64>,
    pub alert_channel_id: Option<u64>,
    pub helpline_region: Option<String>,
    /// Members with this role may ask for drafts and feedback.
    pub supporter_role_id: Option<u64>,
}

/// How a support channel is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// The bot replies to plain messages (in a thread).
    Public,
    /// People answer; supporters may ask for drafts. The bot speaks only
    /// to a crisis, with its fixed reply.
    Drafts,
    Both,
}

impl ChannelMode {
    pub const ALL: [ChannelMode; 3] = [ChannelMode::Public, ChannelMode::Drafts, ChannelMode::Both];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelMode::Public => "public",
            ChannelMode::Drafts => "drafts",
            ChannelMode::Both => "both",
        }
    }

    pub fn parse(label: &str) -> Option<ChannelMode> {
        ChannelMode::ALL.into_iter().find(|m| m.as_str() == label)
    }

    pub fn public_replies(self) -> bool {
        self != ChannelMode::Drafts
    }

    pub fn drafts(self) -> bool {
        self != ChannelMode::Public
    }
}

/// One setting to change.
#[derive(Debug, Clone)]
pub enum GuildSetting {
    DefaultTherapy(Therapy),
    ModeratorRole(Option<u64>),
    AlertChannel(Option<u64>),
    HelplineRegion(String),
    SupporterRole(Option<u64>),
}

/// A `guild_settings` row as stored.
#[derive(sqlx::FromRow)]
struct StoredSettings {
    default_therapy: Option<String>,
    moderator_role_id: Option<i64>,
    alert_channel_id: Option<i64>,
    helpline_region: Option<String>,
    supporter_role_id: Option<i64>,
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
            supporter_role_id: id(row.supporter_role_id),
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
            "SELECT default_therapy, moderator_role_id, alert_channel_id, helpline_region,
                    supporter_role_id
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
            GuildSetting::SupporterRole(role) => ("supporter_role_id", None, Some(*role)),
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(upsert(column))).bind(guild_id as i64);
        let query = match id {
            Some(id) => query.bind(id.map(|v| v as i64)),
            None => query.bind(text),
        };
        query.bind(now()).execute(&self.pool).await?;
        Ok(())
    }

    /// How `channel_id` is answered; `None` when it is no support channel.
    #[tracing::instrument(skip_all)]
    pub async fn support_channel_mode(
        &self,
        guild_id: u64,
        channel_id: u64,
    ) -> Result<Option<ChannelMode>, StoreError> {
        let mode: Option<String> = sqlx::query_scalar(
            "SELECT mode FROM support_channels WHERE guild_id = $1 AND channel_id = $2",
        )
        .bind(guild_id as i64)
        .bind(channel_id as i64)
        .fetch_optional(&self.pool)
        .await?;
        known_or_null(MODE, mode.as_deref(), ChannelMode::parse)
    }

    /// The guild's support channels with their modes, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn support_channel_modes(
        &self,
        guild_id: u64,
    ) -> Result<Vec<(u64, ChannelMode)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT channel_id, mode FROM support_channels WHERE guild_id = $1 ORDER BY added_at",
        )
        .bind(guild_id as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(channel, mode)| Ok((channel as u64, known(MODE, &mode, ChannelMode::parse)?)))
            .collect()
    }

    /// Sets a channel's mode, making it a support channel if it was not.
    #[tracing::instrument(skip_all)]
    pub async fn set_channel_mode(
        &self,
        guild_id: u64,
        channel_id: u64,
        mode: ChannelMode,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO support_channels (guild_id, channel_id, mode) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, channel_id) DO UPDATE SET mode = excluded.mode",
        )
        .bind(guild_id as i64)
        .bind(channel_id as i64)
        .bind(mode.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
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
