//! `/healthz`: is the gateway connected, the database writable and the
//! model server reachable? Each check is bounded in time and its answer
//! reused for a few seconds, so a scraper can neither hang on a stuck
//! dependency nor flood the model server.

use futures::future::BoxFuture;
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// Longest one check may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a check's answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(5);

/// Whether the database takes writes now: given by the bot (the store's
/// own probe), so operations depend on no storage engine.
pub type DatabaseProbe = Box<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// What `/healthz` answers (HTTP 200 only when every field is true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub gateway: bool,
    pub database: bool,
    pub model: bool,
}

impl HealthReport {
    pub fn all_ok(&self) -> bool {
        self.gateway && self.database && self.model
    }
}

/// The handles the checks read.
pub struct Health {
    /// Set by the bot while its gateway shard is connected.
    gateway: Arc<AtomicBool>,
    database_writable: DatabaseProbe,
    models_url: Url,
    http: reqwest::Client,
    database: Cached,
    model: Cached,
}

impl Health {
    pub fn new(
        gateway: Arc<AtomicBool>,
        database_writable: DatabaseProbe,
        model_base_url: &Url,
    ) -> Result<Health, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            // A fresh connection per probe: a kept-alive one could hide a
            // server that no longer accepts connections.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("coe-bot/", env!("CARGO_PKG_VERSION"), " health"))
            .build()?;
        Ok(Health {
            gateway,
            database_writable,
            models_url: models_url(model_base_url),
            http,
            database: Cached::new("database"),
            model: Cached::new("model server"),
        })
    }

    pub async fn check(&self) -> HealthReport {
        let (database, model) = tokio::join!(
            self.database.get(|| (self.database_writable)()),
            self.model
                .get(|| model_reachable(&self.http, &self.models_url)),
        );
        HealthReport {
            gateway: self.gateway.load(Ordering::Relaxed),
            database,
            model,
        }
    }
}

/// `{base}/models`, the listing every OpenAI-compatible server has.
pub fn models_url(base: &Url) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("models");
    }
    url
}

/// Any HTTP answer but a 5xx means the server is there: without the API
/// key a hosted server says 401, and that still proves it is reachable.
async fn model_reachable(http: &reqwest::Client, url: &Url) -> bool {
    match http.get(url.clone()).send().await {
        Ok(response) => !response.status().is_server_error(),
        Err(error) => {
            // Without the URL: it may carry credentials.
            tracing::debug!(error = %error.without_url(), "model server probe failed");
            false
        }
    }
}

/// One check's last answer. The lock is held through the probe, so
/// concurrent requests share a single probe instead of each sending one.
struct Cached {
    what: &'static str,
    last: Mutex<Option<(Instant, bool)>>,
}

impl Cached {
    fn new(what: &'static str) -> Cached {
        Cached {
            what,
            last: Mutex::new(None),
        }
    }

    async fn get<F: Future<Output = bool>>(&self, probe: impl FnOnce() -> F) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last {
            if at.elapsed() < CACHE_FOR {
                return ok;
            }
        }
        let ok = tokio::time::timeout(PROBE_TIMEOUT, probe())
            .await
            .unwrap_or(false);
        match (last.map(|(_, was)| was), ok) {
            (Some(true) | None, false) => tracing::warn!(check = self.what, "health check failing"),
            (Some(false), true) => tracing::info!(check = self.what, "health check recovered"),
            _ => {}
        }
        *last = Some((Instant::now(), ok));
        ok
    }
}

#[cfg(test)]
mod tests;
