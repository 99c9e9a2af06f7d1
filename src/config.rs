//! Typed settings from the environment (and `.env`), validated once at start.
//!
//! Every error names the variable and says how to fix it, because the first
//! person to read it is an operator setting the bot up for the first time.

use crate::chain::Therapy;
use crate::llm::{shown_url, Concurrency, JsonMode, LlmConfig, Secret};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Where the chain's model is served unless `LLM_BASE_URL` says otherwise:
/// the local server of `scripts/local-llm.sh`. Mental-health text must never
/// go to a hosted API by accident, so there is no cloud default.
pub const DEFAULT_LLM_BASE_URL: &str = "http://127.0.0.1:8079/v1";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://coe-bot.db";

#[derive(Debug, thiserror::Error)]
#[error("{var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn invalid(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// Settings of the Discord front door (`coe-bot run`).
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// Required by `run` only; the terminal commands work without it.
    pub token: Option<Secret>,
    /// REST (and thereby the gateway lookup) through an HTTP proxy; with it
    /// set, serenity's in-process rate limiter is off (the proxy limits).
    pub proxy_url: Option<Url>,
    /// Register commands in this guild only (instant updates while developing).
    pub dev_guild: Option<u64>,
    /// `guild_id:channel_id` pairs seeded as support channels.
    pub support_channels: Vec<(u64, u64)>,
    /// How long shutdown waits for replies in flight.
    pub shutdown_grace: Duration,
    /// Messages one member may send the bot per minute.
    pub user_messages_per_minute: u32,
    /// The shards this process runs; `None`: every shard Discord recommends.
    pub shards: Option<ShardRange>,
}

/// Its `Debug` (in `shown.rs`) shows no secret and no database password.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub llm: LlmConfig,
    pub hash_key: Secret,
    pub default_therapy: Therapy,
    /// Keep the (redacted) reasoning steps for moderator review.
    pub store_reasoning: bool,
    /// Helplines listed in crisis replies where a guild set no region.
    pub helpline_region: String,
    /// Days before reasoning text and review notes are purged.
    pub retention_days: u32,
    /// Ask the model for its own risk tier beside the reply; the highest
    /// tier of all layers wins, so it can only escalate.
    pub crisis_llm: bool,
    /// Where the crisis classifier's embedding model lives; `None` only
    /// when the operator set `COE_CRISIS_CLASSIFIER=off`.
    pub crisis_classifier: Option<PathBuf>,
    /// How long a support thread stays paused after a crisis reply.
    pub crisis_pause: Duration,
    pub discord: DiscordConfig,
    /// Where Prometheus `/metrics` and `/healthz` are served; off when unset.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Config {
    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        // A missing .env is normal (containers pass real env vars).
        let _ = dotenvy::dotenv();
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if crate::store::Engine::of_url(&database_url).is_none() {
            let shown = crate::store::shown_url(&database_url);
            return Err(invalid(
                "DATABASE_URL",
                format!(
                    "must be a SQLite URL such as {DEFAULT_DATABASE_URL} or a PostgreSQL one such as postgres://coe:PASSWORD@localhost/coe (got '{shown}')"
                ),
            ));
        }

        let hash_key = var("COE_HASH_KEY").ok_or_else(|| {
            invalid(
                "COE_HASH_KEY",
                "is not set; it keys the anonymous user hashes. Generate one with: openssl rand -hex 32 (and put it in .env)",
            )
        })?;
        if hash_key.chars().count() < 32 {
            return Err(invalid(
                "COE_HASH_KEY",
                "must be at least 32 characters; generate one with: openssl rand -hex 32",
            ));
        }

        let base = var("LLM_BASE_URL").unwrap_or_else(|| DEFAULT_LLM_BASE_URL.into());
        let base_url = Url::parse(&base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                // Unparsable, it may still carry a password: then it is not echoed.
                let shown = match Url::parse(&base) {
                    Ok(url) => shown_url(&url),
                    Err(_) if base.contains('@') => "a value with credentials, not shown".into(),
                    Err(_) => base.clone(),
                };
                invalid(
                    "LLM_BASE_URL",
                    format!(
                        "must be an http(s) URL such as {DEFAULT_LLM_BASE_URL} (got '{shown}')"
                    ),
                )
            })?;

        let json_mode = match var("LLM_JSON_MODE").as_deref().unwrap_or("off") {
            "off" => JsonMode::Off,
            "json_object" => JsonMode::JsonObject,
            "json_schema" => JsonMode::JsonSchema,
            other => {
                return Err(invalid(
                    "LLM_JSON_MODE",
                    format!("must be off, json_object or json_schema (got '{other}')"),
                ))
            }
        };

        let llm = LlmConfig {
            base_url,
            model: var("LLM_MODEL").unwrap_or_else(|| "smollm2".into()),
            api_key: var("LLM_API_KEY").map(Secret::new),
            timeout: Duration::from_secs(number(&var, "LLM_TIMEOUT_SECS", 60, 1..=600)?),
            connect_timeout: Duration::from_secs(5),
            temperature: ranged_float(&var, "LLM_TEMPERATURE", 0.9, 0.0, 2.0)?,
            top_p: ranged_float(&var, "LLM_TOP_P", 1.0, 0.0, 1.0)?,
            json_mode,
            max_attempts: number(&var, "LLM_MAX_ATTEMPTS", 3, 1..=10)? as u32,
            max_tokens: number(&var, "LLM_MAX_TOKENS", 600, 16..=8192)? as u32,
            concurrency: concurrency(&var)?,
            max_queue: number(&var, "LLM_MAX_QUEUE", 100, 1..=100_000)? as usize,
            // Inside Discord's 15-minute interaction token, with room for
            // the apology itself.
            deadline: Duration::from_secs(number(&var, "LLM_DEADLINE_SECS", 300, 5..=840)?),
            retry_base: Duration::from_millis(number(&var, "LLM_RETRY_BASE_MS", 500, 0..=60_000)?),
            seed: match var("LLM_SEED") {
                None => None,
                Some(raw) => Some(raw.parse().map_err(|_| {
                    invalid("LLM_SEED", format!("must be a whole number (got '{raw}')"))
                })?),
            },
        };

        let default_therapy = match var("COE_DEFAULT_THERAPY") {
            None => Therapy::Cbt,
            Some(name) => name
                .parse()
                .map_err(|e: String| invalid("COE_DEFAULT_THERAPY", e))?,
        };

        let proxy_url = match var("DISCORD_PROXY_URL") {
            None => None,
            Some(raw) => Some(Url::parse(&raw).map_err(|_| {
                invalid(
                    "DISCORD_PROXY_URL",
                    format!("must be a URL such as http://127.0.0.1:3000 (got '{raw}')"),
                )
            })?),
        };
        let discord = DiscordConfig {
            token: var("DISCORD_TOKEN").map(Secret::new),
            proxy_url,
            dev_guild: match var("COE_DEV_GUILD") {
                None => None,
                Some(raw) => Some(snowflake("COE_DEV_GUILD", &raw)?),
            },
            support_channels: var("COE_SUPPORT_CHANNELS")
                .map(|raw| channel_pairs(&raw))
                .transpose()?
                .unwrap_or_default(),
            shutdown_grace: Duration::from_secs(number(
                &var,
                "COE_SHUTDOWN_GRACE_SECS",
                20,
                1..=600,
            )?),
            user_messages_per_minute: number(&var, "COE_USER_MESSAGES_PER_MINUTE", 6, 1..=600)?
                as u32,
            shards: shard_range(&var)?,
        };

        Ok(Config {
            database_url,
            llm,
            hash_key: Secret::new(hash_key),
            default_therapy,
            store_reasoning: flag(&var, "COE_STORE_REASONING", true)?,
            helpline_region: var("COE_HELPLINE_REGION")
                .unwrap_or_default()
                .to_ascii_lowercase(),
            retention_days: number(&var, "COE_RETENTION_DAYS", 30, 1..=3650)? as u32,
            crisis_llm: flag(&var, "COE_CRISIS_LLM", false)?,
            crisis_classifier: flag(&var, "COE_CRISIS_CLASSIFIER", true)?
                .then(|| embed_model_dir(&var))
                .transpose()?,
            crisis_pause: Duration::from_secs(
                3600 * number(&var, "COE_CRISIS_PAUSE_HOURS", 24, 1..=720)?,
            ),
            discord,
            metrics_addr: crate::telemetry::parse_addr(var("COE_METRICS_ADDR").as_deref())
                .map_err(|problem| invalid("COE_METRICS_ADDR", problem))?,
        })
    }
}

/// `LLM_CONCURRENCY` (`adaptive`, the default, or `fixed:N`) under the
/// ceiling `LLM_MAX_CONCURRENCY`.
fn concurrency(var: &impl Fn(&str) -> Option<String>) -> Result<Concurrency, ConfigError> {
    let ceiling = number(var, "LLM_MAX_CONCURRENCY", 256, 1..=4096)? as usize;
    let raw = var("LLM_CONCURRENCY").map(|v| v.to_ascii_lowercase());
    let fixed = |n: &str| {
        n.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=4096).contains(n))
    };
    match raw.as_deref() {
        None | Some("adaptive") => Ok(Concurrency::Adaptive { ceiling }),
        Some(other) => match other.strip_prefix("fixed:").and_then(fixed) {
            Some(n) => Ok(Concurrency::Fixed(n)),
            None => Err(invalid(
                "LLM_CONCURRENCY",
                format!("must be adaptive or fixed:N with N from 1 to 4096 (got '{other}')"),
            )),
        },
    }
}

/// `COE_EMBED_MODEL_DIR`, else where `scripts/embed-model.sh` puts it
/// (`$COE_CACHE_DIR` or `$HOME/.cache/coe-bot`, then `minilm-l6-v2`).
pub fn embed_model_dir(var: &impl Fn(&str) -> Option<String>) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = var("COE_EMBED_MODEL_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let cache = match (var("COE_CACHE_DIR"), var("HOME")) {
        (Some(cache), _) => PathBuf::from(cache),
        (None, Some(home)) => PathBuf::from(home).join(".cache/coe-bot"),
        (None, None) => return Err(invalid(
            "COE_EMBED_MODEL_DIR",
            "is not set and neither is HOME: set it to the folder scripts/embed-model.sh printed",
        )),
    };
    Ok(cache.join("minilm-l6-v2"))
}

fn snowflake(name: &'static str, raw: &str) -> Result<u64, ConfigError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            invalid(
                name,
                format!("must be a Discord ID (digits only; got '{raw}')"),
            )
        })
}

/// `guild:channel,guild:channel` (spaces allowed).
fn channel_pairs(raw: &str) -> Result<Vec<(u64, u64)>, ConfigError> {
    const NAME: &str = "COE_SUPPORT_CHANNELS";
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once(':') {
            Some((guild, channel)) => Ok((snowflake(NAME, guild)?, snowflake(NAME, channel)?)),
            None => Err(invalid(
                NAME,
                format!("must list guild_id:channel_id pairs separated by commas (got '{item}')"),
            )),
        })
        .collect()
}

fn number(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    raw.parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid(
                name,
                format!(
                    "must be a whole number from {} to {} (got '{raw}')",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn ranged_float(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: f32,
    min: f32,
    max: f32,
) -> Result<f32, ConfigError> {
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    raw.parse::<f32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            invalid(
                name,
                format!("must be a number from {min} to {max} (got '{raw}')"),
            )
        })
}

pub(crate) fn flag(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(other) => Err(invalid(name, format!("must be on or off (got '{other}')"))),
    }
}

mod shards;
mod shown;

use shards::shard_range;
pub use shards::ShardRange;

#[cfg(test)]
mod tests;
