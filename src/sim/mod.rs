//! The Okta simulator: plays an Okta org for the tests, the demo and the benchmarks.
//!
//! Okta's side of the integration over real HTTP: the org authorization server's token
//! endpoint (client credentials), the Event Hooks API with its one-time verification GET,
//! the System Log API, and the hook delivery engine (envelope, batching, 3 s timeout, one
//! retry on 5xx/timeout, never on 4xx). Faults (latency, 429, 500, hangs, org down, secret
//! rotation, missing scopes, a full hook quota) are set through [`SimHandle`] or `/sim/…`.
//!
//! The control API (not Okta's, no auth): `GET /sim/state`, `POST /sim/deliver
//! {"events":[…],"skip_delivery"?}`, `POST /sim/logs {"events":[…]}` (append only),
//! `GET /sim/logs`, `POST /sim/history {"days":N}` (weeks of ordinary life, for baselines),
//! `POST /sim/faults {"latency_ms"?,"fail_429"?,"fail_500"?,"hang"?}`,
//! `DELETE /sim/faults` (clears faults and org down), `PUT /sim/down
//! {"mode":"up"|"unavailable"|"refuse"}`, `POST /sim/credentials/rotate`, `PUT /sim/scopes
//! {"scopes":[…]}`, `POST /sim/tokens/revoke`, `POST /sim/hooks/foreign {"count":N}`.
//!
//! Strict by default (see `options.rs` and the README's "Differences from real Okta"):
//! a hook may subscribe only to the types Okta's catalog marks event-hook-eligible
//! (`event_types.rs`; the error's wording is ours, Okta's is not documented),
//! per-endpoint rate limits of a small org with the app's 50 % share and a concurrency
//! limit, the hook quota on active and verified hooks, https-only hook URIs (loopback http
//! only with the dev switch), deliveries delayed after verification, at least once,
//! reordered, capped per day, error bodies in every shape Okta's spec shows, and a System
//! Log that returns nothing published more than 90 days ago (`since` older than 180 days
//! is a 400 `E0000053`).
//!
//! Where it knowingly differs from Okta:
//! - access tokens are opaque strings, not JWTs; rotating the client secret leaves issued
//!   tokens valid until they expire (as Okta does);
//! - `/sim/deliver` answers when every batch is settled (Okta gives no such receipt); a
//!   hook only gets events of the types it subscribed to; foreign hooks are never delivered to;
//! - rate limits are fixed windows per endpoint group (logs, other `/api/v1`, token);
//! - the System Log's `filter` supports `eq ne sw co` joined by `and`/`or`, no parentheses,
//!   and refuses what Okta refuses (`published`; `co` on the request URLs); `q` matches
//!   whole words of the event's string values.

mod control;
mod delivery;
mod error;
mod event_types;
mod faults;
mod filter;
mod hooks;
mod logs;
mod ops;
mod options;
pub mod scenario;
mod shapes;
mod state;
mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use control::SimState;
pub use delivery::{BatchResult, DeliveryReport, HookDelivery};
pub use options::{
    DAILY_DELIVERY_CAP, DEFAULT_SCOPES, DeliveryOptions, HookLimitAt, MAX_ACTIVE_HOOKS, RateLimits,
    SimOptions,
};
pub use state::{Counters, DownMode, Faults, HookStatus, HookView, VerificationStatus};

use state::Shared;

/// A running simulator. Clones share it; it stops when the last clone is dropped or on
/// [`SimHandle::shutdown`].
#[derive(Clone)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`: the org's base URL (its "Okta domain").
    pub base_url: String,
    pub client_id: String,
    shared: Arc<Shared>,
    server: Arc<ServerGuard>,
}

struct ServerGuard {
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    task: JoinHandle<()>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for SimHandle {
    // Hand-written so the client secret never shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Serves the simulator on `listener` in a tokio task.
pub async fn spawn(listener: TcpListener, options: SimOptions) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let base_url = match addr {
        std::net::SocketAddr::V6(_) if host != "127.0.0.1" => {
            format!("http://[{host}]:{}", addr.port())
        }
        _ => format!("http://{host}:{}", addr.port()),
    };
    let client_id = options.client_id.clone();
    let shared = Arc::new(Shared::new(base_url.clone(), options)?);
    let app = router(shared.clone());
    let listener = faults::SimListener {
        inner: listener,
        shared: shared.clone(),
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stop_rx.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "okta simulator stopped");
        }
    });
    Ok(SimHandle {
        base_url,
        client_id,
        shared,
        server: Arc::new(ServerGuard {
            stop: std::sync::Mutex::new(Some(stop_tx)),
            task,
        }),
    })
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/oauth2/v1/token", post(token::token))
        .route("/api/v1/eventHooks", get(hooks::list).post(hooks::create))
        .route(
            "/api/v1/eventHooks/{id}",
            get(hooks::get_one)
                .put(hooks::replace)
                .delete(hooks::delete),
        )
        .route(
            "/api/v1/eventHooks/{id}/lifecycle/{action}",
            post(hooks::lifecycle),
        )
        .route("/api/v1/logs", get(logs::list))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults::api_layer,
        ));
    api.merge(control::router())
        .fallback(|| async { error::not_found("path").into_response() })
        .with_state(shared)
}

impl SimHandle {
    /// The current client secret (changes on [`SimHandle::rotate_client_secret`]).
    pub fn client_secret(&self) -> String {
        self.shared.lock().client_secret.clone()
    }

    /// Stops accepting connections and waits up to a second for open requests.
    pub async fn shutdown(self) {
        let stop = self.server.stop.lock().expect("stop mutex poisoned").take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let server = self.server.clone();
        drop(self);
        // The task is aborted when the guard drops; give in-flight requests a moment.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while !server.task.is_finished() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// Appends `events` to the System Log and delivers them to every ACTIVE + VERIFIED hook.
    pub async fn deliver(&self, events: Vec<Value>) -> DeliveryReport {
        delivery::deliver(&self.shared, events, false).await
    }

    /// Appends `events` to the System Log only: Okta "dropped" their delivery.
    pub fn append_log(&self, events: Vec<Value>) -> usize {
        self.shared.lock().append_log(events)
    }

    /// Appends `days` of an org's ordinary life, ending now, to the System Log (what a
    /// learned baseline reads; see [`scenario::ordinary_history`]); returns how many events.
    pub fn seed_history(&self, days: u32) -> usize {
        let events = scenario::ordinary_history(chrono::Utc::now(), days, u64::from(days));
        self.append_log(events)
    }

    /// Every System Log event, in persistence order.
    pub fn log_events(&self) -> Vec<Value> {
        ops::log_events(&self.shared)
    }

    pub fn state(&self) -> SimState {
        ops::state(&self.shared)
    }

    pub fn hooks(&self) -> Vec<HookView> {
        self.state().hooks
    }

    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// The auth header value the service gave Okta for a hook, so a test can impersonate
    /// Okta. Rust only: the HTTP state never shows secrets.
    pub fn hook_auth_value(&self, hook_id: &str) -> Option<String> {
        let inner = self.shared.lock();
        inner.hook(hook_id)?.auth.as_ref().map(|a| a.value.clone())
    }

    /// Delay every API call by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().faults.latency_ms = state::duration_ms(latency);
    }

    /// The next `n` API calls answer 429 `E0000047`, resetting with the endpoint's window.
    pub fn fail_next_with_429(&self, n: u32) {
        self.shared.lock().faults.fail_429 = n;
    }

    /// The next `n` API calls answer 500 `E0000009`.
    pub fn fail_next_with_500(&self, n: u32) {
        self.shared.lock().faults.fail_500 = n;
    }

    /// The next `n` API calls hang for `SimOptions::hang_duration`.
    pub fn hang_next(&self, n: u32) {
        self.shared.lock().faults.hang = n;
    }

    pub fn set_down(&self, mode: DownMode) {
        self.shared.set_down_mode(mode);
    }

    /// Clears latency, pending faults and org down.
    pub fn clear_faults(&self) {
        ops::clear_faults(&self.shared);
    }

    /// Replaces the client secret; the old one gets `invalid_client` from now on.
    pub fn rotate_client_secret(&self) -> String {
        ops::rotate_client_secret(&self.shared)
    }

    pub fn set_granted_scopes(&self, scopes: &[&str]) {
        self.shared.lock().granted_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Invalidates every access token issued so far (the APIs answer 401 `E0000011`).
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Adds `n` hooks of other integrations (to reach the org's hook limit); returns their ids.
    pub fn create_foreign_hooks(&self, n: usize) -> Vec<String> {
        ops::create_foreign_hooks(&self.shared, n)
    }
}
