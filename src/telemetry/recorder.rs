//! The process-wide Prometheus recorder: metric names, their help texts and
//! the histogram buckets, installed once however many bots a process starts.

use super::TelemetryError;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub(super) const MESSAGES: &str = "coe_messages_total";
pub(super) const GATE_TIERS: &str = "coe_gate_tier_total";
pub(super) const MODEL_SECONDS: &str = "coe_model_request_seconds";
pub(super) const MODEL_IN_FLIGHT: &str = "coe_model_in_flight";
pub(super) const MODEL_QUEUED: &str = "coe_model_queued";
pub(super) const MODEL_LIMIT: &str = "coe_model_concurrency_limit";
pub(super) const BATCH_ROWS: &str = "coe_store_batch_rows";
pub(super) const UNKNOWN_STORED: &str = "coe_store_unknown_values_total";
pub(super) const ASSIST_CARDS: &str = "coe_assist_cards_total";

/// From a fast local model's 0.1 s to the 120 s a slow one may be allowed.
const LATENCY_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0];

/// Powers of two up to the writer's largest batch (512 rows).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The handle that renders what the recorder holds, installing the
/// recorder on first use. A second bot in the same process shares it.
pub(super) fn handle() -> Result<PrometheusHandle, TelemetryError> {
    static INSTALLED: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| install().map_err(|error| error.to_string()))
        .clone()
        .map_err(TelemetryError::Recorder)
}

fn install() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(MODEL_SECONDS.into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(BATCH_ROWS.into()), BATCH_BUCKETS)?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        MESSAGES,
        "Messages answered, by front door (source) and outcome"
    );
    describe_counter!(GATE_TIERS, "Safety gate verdicts, by tier");
    describe_histogram!(
        MODEL_SECONDS,
        Unit::Seconds,
        "Duration of one model server request, by outcome"
    );
    describe_gauge!(MODEL_IN_FLIGHT, "Model requests in flight");
    describe_gauge!(MODEL_QUEUED, "Model requests waiting for a slot");
    describe_gauge!(MODEL_LIMIT, "Current model concurrency limit");
    describe_histogram!(
        BATCH_ROWS,
        Unit::Count,
        "Rows committed per group-commit transaction"
    );
    describe_counter!(
        UNKNOWN_STORED,
        "Stored values this version does not know (an unknown therapy, strategy, outcome…), by column"
    );
    describe_counter!(
        ASSIST_CARDS,
        "Supporter assist cards, by kind (draft, feedback) and outcome (ready, at_risk, declined)"
    );
}
