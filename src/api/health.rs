//! Probes and metrics for operators.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::schemas;
use crate::state::Services;
use crate::store;

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(alive))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// The process is alive.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    responses((status = 200, description = "Alive", body = schemas::Health))
)]
async fn alive() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// The database is reachable, the migrations are applied and the worker is alive.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready", body = schemas::Readiness),
        (status = 503, description = "Not ready; the body says what is not", body = schemas::Readiness),
    )
)]
async fn ready(State(services): State<Services>) -> impl IntoResponse {
    let database = store::migrations_applied(services.pool()).await;
    // The worker beats at least every poll interval; three missed beats mean it is stuck.
    let poll_secs = (services.config().worker_poll_interval_ms / 1000).max(1) as i64;
    let worker_alive =
        chrono::Utc::now().timestamp() - services.worker_last_beat() <= 3 * poll_secs + 5;
    let (database_ok, migrations_ok) = match database {
        Ok(applied) => (true, applied),
        Err(_) => (false, false),
    };
    let ready = database_ok && migrations_ok && worker_alive;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "ready": ready,
            "database": database_ok,
            "migrations": migrations_ok,
            "worker": worker_alive,
        })),
    )
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    responses((status = 200, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4"))
)]
async fn metrics(State(services): State<Services>) -> impl IntoResponse {
    if let Ok(stats) = store::inbox::queue_stats(services.pool()).await {
        metrics::gauge!("okta_ingest_inbox_depth").set(stats.depth as f64);
        let lag = stats
            .oldest_received_at
            .map(|t| (chrono::Utc::now() - t).num_milliseconds() as f64 / 1000.0);
        metrics::gauge!("okta_ingest_processing_lag_seconds").set(lag.unwrap_or(0.0));
    }
    let body = crate::telemetry::metrics_handle()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
