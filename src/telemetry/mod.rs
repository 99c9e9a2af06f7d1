//! Operations: Prometheus metrics and a health check, served on
//! `COE_METRICS_ADDR` when it is set.
//!
//! The recording functions below are called from the hot paths. Without an
//! installed recorder (tests, `chat`, `eval`) the `metrics` facade makes
//! them no-ops; with one, each is a registry look-up and an atomic update.
//! Labels are fixed, low-cardinality words: never a member, a guild or text.

mod health;
mod recorder;
mod server;

pub use health::{models_url, DatabaseProbe, Health, HealthReport};
pub use server::serve;

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot listen on COE_METRICS_ADDR={addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
}

/// A message answered by a front door (`source`: slash, channel, cli),
/// with its outcome (replied, crisis, llm_error, …).
pub fn message_handled(source: &'static str, outcome: &'static str) {
    metrics::counter!(recorder::MESSAGES, "source" => source, "outcome" => outcome).increment(1);
}

/// One verdict of the safety gate.
pub fn gate_tier(tier: &'static str) {
    metrics::counter!(recorder::GATE_TIERS, "tier" => tier).increment(1);
}

/// How long one request to the model server took, and how it ended.
pub fn model_latency(elapsed: Duration, outcome: &'static str) {
    metrics::histogram!(recorder::MODEL_SECONDS, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// Requests the model server is working on now.
pub fn model_in_flight(n: usize) {
    metrics::gauge!(recorder::MODEL_IN_FLIGHT).set(n as f64);
}

/// Requests waiting for a concurrency slot now.
pub fn model_queued(n: usize) {
    metrics::gauge!(recorder::MODEL_QUEUED).set(n as f64);
}

/// The current (adaptive or fixed) concurrency limit.
pub fn model_limit(n: usize) {
    metrics::gauge!(recorder::MODEL_LIMIT).set(n as f64);
}

/// Rows committed together by the store's group-commit writer.
pub fn writer_batch(rows: usize) {
    metrics::histogram!(recorder::BATCH_ROWS).record(rows as f64);
}

/// A stored value the code does not know, read from `column` (a fixed
/// `table.column` name, never the value).
pub fn unknown_stored_value(column: &'static str) {
    metrics::counter!(recorder::UNKNOWN_STORED, "column" => column).increment(1);
}

/// One supporter assist card (`kind`: draft, feedback) and what it held
/// (`outcome`: ready, at_risk, declined).
pub fn assist_card(kind: &'static str, outcome: &'static str) {
    metrics::counter!(recorder::ASSIST_CARDS, "kind" => kind, "outcome" => outcome).increment(1);
}

/// The value of `COE_METRICS_ADDR`; the error says what is wrong without
/// naming the variable, so `config` can report it in its own format.
pub fn parse_addr(value: Option<&str>) -> Result<Option<SocketAddr>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|_| {
        format!("must be an IP address and port such as 127.0.0.1:9464 (got '{value}')")
    })
}

#[cfg(test)]
mod tests;
