//! Building and running the poise framework on a serenity client, and
//! shutting it down gracefully.

use super::in_flight::{InFlight, MemberLimiter, SeenMessages};
use super::reply::no_mentions;
use super::{commands, events, Data, Error};
use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::telemetry::{self, DatabaseProbe, Health};
use ::serenity::gateway::ConnectionStage;
use anyhow::{anyhow, Context as _};
use poise::serenity_prelude as serenity;
use serenity::{ClientBuilder, GatewayIntents, GuildId, HttpBuilder, Permissions, ShardManager};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Message Content is privileged: enable it in the Developer Portal.
pub const INTENTS: GatewayIntents = GatewayIntents::GUILDS
    .union(GatewayIntents::GUILD_MESSAGES)
    .union(GatewayIntents::MESSAGE_CONTENT);

/// What the bot needs in a server (shown in the invite URL).
pub fn required_permissions() -> Permissions {
    Permissions::VIEW_CHANNEL
        | Permissions::SEND_MESSAGES
        | Permissions::SEND_MESSAGES_IN_THREADS
        | Permissions::CREATE_PUBLIC_THREADS
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::EMBED_LINKS
        | Permissions::ATTACH_FILES
}

/// A running bot.
pub struct BotHandle {
    pub data: Data,
    shard_manager: Arc<ShardManager>,
    task: JoinHandle<Result<(), serenity::Error>>,
    metrics_addr: Option<SocketAddr>,
}

/// Connects to Discord (or `DISCORD_PROXY_URL`) and starts answering, and
/// serves metrics and health on `COE_METRICS_ADDR` when it is set.
pub async fn start(config: Arc<Config>, pipeline: Pipeline) -> anyhow::Result<BotHandle> {
    let metrics_addr = config.metrics_addr;
    let http = discord_http(&config)?;
    let store = pipeline.store().clone();
    store
        .seed_support_channels(&config.discord.support_channels)
        .await
        .context("could not seed COE_SUPPORT_CHANNELS")?;
    let data = Data {
        pipeline,
        limiter: Arc::new(MemberLimiter::per_minute(
            config.discord.user_messages_per_minute,
        )),
        alerts: Arc::new(MemberLimiter::per_period(Duration::from_secs(600))),
        notices: Arc::new(MemberLimiter::per_period(Duration::from_secs(600))),
        slow_down_notices: Arc::new(MemberLimiter::per_period(Duration::from_secs(60))),
        seen: Arc::new(SeenMessages::new(10_000)),
        in_flight: InFlight::default(),
        config: config.clone(),
    };
    let mut client = ClientBuilder::new_with_http(http, INTENTS)
        .framework(framework(config.discord.dev_guild, data.clone()))
        .await
        .context("could not build the Discord client")?;
    let shard_manager = client.shard_manager.clone();
    let metrics_addr = match metrics_addr {
        Some(addr) => Some(serve_metrics(addr, &config, &store, &shard_manager).await?),
        None => None,
    };
    tokio::spawn(forget_idle_members(data.clone()));
    let shards = config.discord.shards;
    match shards {
        Some(range) => tracing::info!(
            "running shards {}-{} of {} (DISCORD_SHARDS of DISCORD_SHARD_TOTAL)",
            range.first,
            range.last,
            range.total
        ),
        None => tracing::info!("running every shard, as many as Discord recommends"),
    }
    let task = tokio::spawn(async move {
        match shards {
            // Serenity reads the range's end as the last shard to run, inclusive
            // (`start_connection(start, end, total)`): `0..3` runs shards 0 to 3.
            Some(range) => {
                client
                    .start_shard_range(range.first..range.last, range.total)
                    .await
            }
            None => client.start_autosharded().await,
        }
    });
    Ok(BotHandle {
        data,
        shard_manager,
        task,
        metrics_addr,
    })
}

fn discord_http(config: &Config) -> anyhow::Result<serenity::Http> {
    let token = config.discord.token.as_ref().ok_or_else(|| {
        anyhow!("DISCORD_TOKEN is not set; copy the bot token from the Discord Developer Portal (Bot → Reset Token) into .env")
    })?;
    serenity::validate_token(token.expose())
        .map_err(|_| anyhow!("DISCORD_TOKEN does not look like a bot token; copy it again from the Developer Portal (Bot → Reset Token)"))?;
    let mut http = HttpBuilder::new(token.expose());
    if let Some(proxy) = &config.discord.proxy_url {
        // The in-process rate limiter builds URLs without the proxy
        // (serenity #1739), and the proxy limits for us anyway.
        http = http
            .proxy(proxy.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    Ok(http.build())
}

fn framework(dev_guild: Option<u64>, data: Data) -> poise::Framework<Data, Error> {
    poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |error| Box::pin(on_error(error)),
            event_handler: |framework, event| Box::pin(events::on_event(framework, event)),
            allowed_mentions: Some(no_mentions()),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                let registered = match dev_guild {
                    Some(guild) => {
                        poise::builtins::register_in_guild(ctx, commands, GuildId::new(guild)).await
                    }
                    None => poise::builtins::register_globally(ctx, commands).await,
                };
                // A failed registration (a 5xx or 429 at start) must not
                // leave a bot that answers nothing, crises included: poise
                // would never run the framework. Commands registered
                // earlier keep working; the next start registers again.
                if let Err(error) = registered {
                    tracing::error!(%error, "could not register slash commands; continuing");
                }
                tracing::info!(
                    bot = %ready.user.name,
                    guilds = ready.guilds.len(),
                    invite = %invite_url(ready.application.id.get()),
                    intents = ?INTENTS,
                    "connected; commands registered{}",
                    if dev_guild.is_some() { " in the dev guild" } else { " globally (may take up to an hour to appear)" }
                );
                Ok(data)
            })
        })
        .build()
}

/// Starts `/metrics` and `/healthz`; returns the address they listen on.
async fn serve_metrics(
    addr: SocketAddr,
    config: &Config,
    store: &Store,
    shard_manager: &Arc<ShardManager>,
) -> anyhow::Result<SocketAddr> {
    let gateway = Arc::new(AtomicBool::new(false));
    let shards = config.discord.shards.map_or(1, |range| range.count()) as usize;
    tokio::spawn(watch_gateway(
        Arc::downgrade(shard_manager),
        shards,
        gateway.clone(),
    ));
    let store = store.clone();
    let database_writable: DatabaseProbe = Box::new(move || {
        let store = store.clone();
        Box::pin(async move { store.is_writable().await })
    });
    let health = Health::new(gateway, database_writable, &config.llm.base_url)
        .context("could not set up the health checks")?;
    let bound = telemetry::serve(addr, health).await?;
    tracing::info!(%bound, "serving /metrics and /healthz");
    Ok(bound)
}

/// How often the gateway flag of `/healthz` is brought up to date.
const GATEWAY_POLL: Duration = Duration::from_secs(1);

/// Keeps `connected` true while all `shards` of this process are
/// connected, from the shard manager's own record of each shard's stage.
/// Stage-update events would not do: serenity dispatches each in its own
/// task (they can arrive out of order) and a shard restarted after a missed
/// heartbeat sends none. A shard still queued to boot, or being restarted,
/// has no runner yet, so the count matters too. Ends, leaving `connected`
/// false, once the client is gone.
async fn watch_gateway(manager: Weak<ShardManager>, shards: usize, connected: Arc<AtomicBool>) {
    let mut every = tokio::time::interval(GATEWAY_POLL);
    loop {
        every.tick().await;
        let Some(manager) = manager.upgrade() else {
            break;
        };
        let runners = manager.runners.lock().await;
        let up = runners.len() >= shards
            && runners
                .values()
                .all(|runner| runner.stage == ConnectionStage::Connected);
        drop(runners);
        connected.store(up, Ordering::Relaxed);
    }
    connected.store(false, Ordering::Relaxed);
}

/// Trims the per-member limiters every ten minutes.
async fn forget_idle_members(data: Data) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        for limiter in [
            &data.limiter,
            &data.alerts,
            &data.notices,
            &data.slow_down_notices,
        ] {
            limiter.forget_idle();
        }
    }
}

pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot%20applications.commands&permissions={}",
        required_permissions().bits()
    )
}

impl BotHandle {
    /// Stops taking new work, lets replies in flight finish within the
    /// grace period, closes the shards and the database. Returns the
    /// client's error if it had stopped by itself (e.g. a bad token).
    pub async fn shutdown(self, grace: Duration) -> anyhow::Result<()> {
        let unfinished = self.data.in_flight.close_and_drain(grace).await;
        if unfinished > 0 {
            tracing::warn!(unfinished, "shutting down with replies still in flight");
        }
        self.shard_manager.shutdown_all().await;
        let ended = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.data.pipeline.store().close().await;
        match ended {
            Ok(Ok(Err(error))) => Err(anyhow!("the Discord client stopped: {error}")),
            Ok(Err(panic)) => Err(anyhow!("the Discord client failed: {panic}")),
            Err(_) => {
                tracing::warn!("client did not stop within 5 s");
                Ok(())
            }
            Ok(Ok(Ok(()))) => {
                tracing::info!("shut down cleanly");
                Ok(())
            }
        }
    }

    /// True once the client stopped by itself (e.g. an invalid token).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Where `/metrics` and `/healthz` are served, if `COE_METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }
}

/// One place where command errors are logged and answered kindly.
async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        poise::FrameworkError::Setup { error, .. } => {
            tracing::error!(%error, "bot set-up failed (command registration)");
        }
        poise::FrameworkError::Command { error, ctx, .. }
        | poise::FrameworkError::CommandCheckFailed {
            error: Some(error),
            ctx,
            ..
        } => {
            // Never the author: poise's own handler would log their name.
            tracing::error!(command = %ctx.command().qualified_name, %error, "command failed");
            let apology = super::reply::ephemeral_text(
                "Sorry, something went wrong on my side and I couldn't finish that. Please try again in a moment.",
            );
            if let Err(error) = ctx.send(apology).await {
                tracing::error!(%error, "could not send the apology");
            }
        }
        // A check that refused has already told the member why.
        poise::FrameworkError::CommandCheckFailed { error: None, .. } => {}
        other => {
            if let Err(error) = poise::builtins::on_error(other).await {
                tracing::error!(%error, "error while handling an error");
            }
        }
    }
}
