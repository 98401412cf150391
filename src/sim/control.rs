//! The simulator's own control API under `/sim/…` (not Okta's; no auth, no faults).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::delivery::deliver;
use super::error::ApiError;
use super::ops;
use super::state::{Counters, DownMode, Faults, HookView, Shared};

/// `GET /sim/state`: hooks (never their secrets), pending faults, counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimState {
    pub client_id: String,
    pub granted_scopes: Vec<String>,
    pub down: DownMode,
    pub faults: Faults,
    pub hooks: Vec<HookView>,
    pub counters: Counters,
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sim/state", get(state))
        .route("/sim/deliver", post(deliver_events))
        .route("/sim/logs", post(append_logs).get(list_logs))
        .route("/sim/history", post(seed_history))
        .route("/sim/faults", post(set_faults).delete(clear_faults))
        .route("/sim/down", put(set_down))
        .route("/sim/credentials/rotate", post(rotate))
        .route("/sim/scopes", put(set_scopes))
        .route("/sim/tokens/revoke", post(revoke_tokens))
        .route("/sim/hooks/foreign", post(foreign_hooks))
        // Demo files and benchmark batches are larger than axum's 2 MB default.
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<SimState> {
    Json(ops::state(&shared))
}

#[derive(Deserialize)]
struct DeliverBody {
    events: Vec<Value>,
    #[serde(default)]
    skip_delivery: bool,
}

async fn deliver_events(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<DeliverBody>,
) -> Response {
    Json(deliver(&shared, body.events, body.skip_delivery).await).into_response()
}

async fn append_logs(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<DeliverBody>,
) -> Json<Value> {
    let appended = shared.lock().append_log(body.events);
    Json(json!({ "appended": appended }))
}

#[derive(Deserialize)]
struct HistoryBody {
    days: u32,
}

/// Weeks of the cast's ordinary life into the System Log, ending now.
async fn seed_history(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<HistoryBody>,
) -> Result<Json<Value>, ApiError> {
    if !(1..=180).contains(&body.days) {
        return Err(ApiError::Control("days: 1 to 180".into()));
    }
    let events = super::scenario::ordinary_history(chrono::Utc::now(), body.days, 0);
    let appended = shared.lock().append_log(events);
    Ok(Json(json!({ "appended": appended })))
}

async fn list_logs(State(shared): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(ops::log_events(&shared))
}

/// Partial update: only the fields given change.
#[derive(Deserialize)]
struct FaultsBody {
    latency_ms: Option<u64>,
    fail_429: Option<u32>,
    fail_500: Option<u32>,
    hang: Option<u32>,
}

async fn set_faults(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<FaultsBody>,
) -> Json<Faults> {
    let mut inner = shared.lock();
    let faults = &mut inner.faults;
    faults.latency_ms = body.latency_ms.unwrap_or(faults.latency_ms);
    faults.fail_429 = body.fail_429.unwrap_or(faults.fail_429);
    faults.fail_500 = body.fail_500.unwrap_or(faults.fail_500);
    faults.hang = body.hang.unwrap_or(faults.hang);
    Json(faults.clone())
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    ops::clear_faults(&shared);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct DownBody {
    mode: DownMode,
}

async fn set_down(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<DownBody>,
) -> Json<Value> {
    shared.set_down_mode(body.mode);
    Json(json!({ "mode": body.mode }))
}

async fn rotate(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let secret = ops::rotate_client_secret(&shared);
    Json(json!({ "client_id": shared.options.client_id, "client_secret": secret }))
}

#[derive(Deserialize)]
struct ScopesBody {
    scopes: Vec<String>,
}

async fn set_scopes(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<ScopesBody>,
) -> Json<Value> {
    shared.lock().granted_scopes = body.scopes.clone();
    Json(json!({ "scopes": body.scopes }))
}

async fn revoke_tokens(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().tokens.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ForeignBody {
    count: usize,
}

async fn foreign_hooks(
    State(shared): State<Arc<Shared>>,
    ControlBody(body): ControlBody<ForeignBody>,
) -> Json<Value> {
    let ids = ops::create_foreign_hooks(&shared, body.count);
    Json(json!({ "created": ids }))
}

/// A control request's JSON body. Unlike axum's `Json` it ignores the content type, and a
/// body that does not parse answers the control API's own error.
struct ControlBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ControlBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body)
            .map(Self)
            .map_err(|e| ApiError::Control(e.to_string()).into_response())
    }
}
