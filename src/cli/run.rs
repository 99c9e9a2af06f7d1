//! `coe-bot run` (the Discord bot) and `coe-bot purge` (retention now).

use crate::config::Config;
use crate::discord;
use crate::pipeline::Pipeline;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

const PURGE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

pub async fn run_bot((config, pipeline): (Config, Pipeline)) -> anyhow::Result<()> {
    let config = Arc::new(config);
    // Before connecting, so a SIGTERM during start-up is handled too.
    let mut terminate = signal(SignalKind::terminate())?;
    let purger = tokio::spawn(purge_daily(pipeline.store().clone(), config.retention_days));
    let bot = discord::start(config.clone(), pipeline).await?;
    let mut watchdog = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = watchdog.tick() => if bot.is_finished() { break },
        }
    }
    tracing::info!("shutting down: no new messages, finishing replies in flight");
    purger.abort();
    bot.shutdown(config.discord.shutdown_grace).await
}

/// Retention: at start, then daily.
async fn purge_daily(store: Store, days: u32) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        every.tick().await;
        match store.purge_free_text(days).await {
            Ok(Some(cleared)) => tracing::info!(cleared, days, "purged reasoning past retention"),
            Ok(None) => tracing::info!("another process is running the retention purge"),
            Err(error) => tracing::error!(%error, "retention purge failed"),
        }
    }
}

pub async fn purge(config: Config) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    let cleared = store.purge_free_text(config.retention_days).await?;
    store.close().await;
    match cleared {
        Some(cleared) => println!(
            "Cleared free text from {cleared} row(s) older than {} days.",
            config.retention_days
        ),
        None => println!("Another process is purging this database now; nothing to do."),
    }
    Ok(())
}
