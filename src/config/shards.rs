//! `DISCORD_SHARDS` and `DISCORD_SHARD_TOTAL`: which shards of the bot this
//! process runs.

use super::{invalid, number, ConfigError};

/// Shards `first..=last` of `total` (`DISCORD_SHARDS`, `DISCORD_SHARD_TOTAL`):
/// Discord sends a guild's events to shard `(guild_id >> 22) % total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl ShardRange {
    /// How many shards this process runs.
    pub fn count(&self) -> u32 {
        self.last - self.first + 1
    }
}

/// `DISCORD_SHARDS` (`a-b` or `n`) of `DISCORD_SHARD_TOTAL`: both or neither.
pub(super) fn shard_range(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ShardRange>, ConfigError> {
    const SHARDS: &str = "DISCORD_SHARDS";
    const TOTAL: &str = "DISCORD_SHARD_TOTAL";
    let raw = match (var(SHARDS), var(TOTAL)) {
        (None, None) => return Ok(None),
        (Some(raw), Some(_)) => raw,
        (Some(_), None) => {
            let fix = "is not set but DISCORD_SHARDS is; set it to the bot's total number of shards (e.g. 8), or unset DISCORD_SHARDS";
            return Err(invalid(TOTAL, fix));
        }
        (None, Some(_)) => {
            let fix = "is not set but DISCORD_SHARD_TOTAL is; set it to the shards this process runs (e.g. 0-3), or unset DISCORD_SHARD_TOTAL";
            return Err(invalid(SHARDS, fix));
        }
    };
    let total = number(var, TOTAL, 1, 1..=u32::MAX.into())? as u32;
    let id = |s: &str| s.trim().parse::<u32>().ok();
    let (first, last) = match raw.split_once('-') {
        Some((a, b)) => (id(a), id(b)),
        None => (id(&raw), id(&raw)),
    };
    let problem = match (first, last) {
        (Some(first), Some(last)) if first <= last && last < total => {
            return Ok(Some(ShardRange { first, last, total }))
        }
        (Some(first), Some(last)) if first > last => {
            format!("must be a range from low to high such as 0-3 (got '{raw}')")
        }
        (Some(_), Some(last)) => format!(
            "names shard {last}, but the ids of DISCORD_SHARD_TOTAL={total} shards run from 0 to {}; lower the range or raise the total",
            total - 1
        ),
        _ => format!("must be a shard id such as 3 or a range such as 0-3 (got '{raw}')"),
    };
    Err(invalid(SHARDS, problem))
}
