//! The HTTP endpoint: `/metrics` in Prometheus' text format and
//! `/healthz` as JSON.

use super::health::Health;
use super::{recorder, TelemetryError};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often histogram samples are folded into their buckets when nobody
/// scrapes, so memory stays flat between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Endpoint {
    metrics: PrometheusHandle,
    health: Arc<Health>,
}

/// Installs the recorder, listens on `addr` and serves in the background
/// until the process ends. Returns the address bound (port 0 picks one).
pub async fn serve(addr: SocketAddr, health: Health) -> Result<SocketAddr, TelemetryError> {
    let metrics = recorder::handle()?;
    let bind_error = |source| TelemetryError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(healthz))
        .with_state(Endpoint {
            metrics: metrics.clone(),
            health: Arc::new(health),
        });
    tokio::spawn(upkeep(metrics));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    Ok(bound)
}

async fn render_metrics(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        endpoint.metrics.render(),
    )
}

async fn healthz(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    let report = endpoint.health.check().await;
    let status = if report.all_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

async fn upkeep(metrics: PrometheusHandle) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        every.tick().await;
        metrics.run_upkeep();
    }
}
