//! What every API call goes through: counting, org down, the concurrency limit, latency,
//! injected faults, and Okta's per-endpoint rate limits with their `X-Rate-Limit-*` headers.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::net::{TcpListener, TcpStream};

use super::error::{internal_error, rate_limited};
use super::shapes::vary_error_shape;
use super::state::{DownMode, Fault, RateWindow, Shared};

pub(crate) async fn api_layer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    // `{action}` is spelled out so tests can tell verify, activate and deactivate apart.
    let action = request.uri().path().rsplit('/').next().unwrap_or_default();
    let key = format!("{} {}", request.method(), route.replace("{action}", action));
    *shared.lock().counters.api_calls.entry(key).or_default() += 1;
    match shared.down_mode() {
        DownMode::Up => {}
        DownMode::Unavailable => return unavailable(false),
        DownMode::Refuse => return unavailable(true),
    }
    let in_flight = InFlight::enter(&shared);
    if in_flight.over(shared.options.rate_limits.max_concurrent) {
        return concurrency_limited(&shared);
    }
    let response = limited(&shared, &route, request, next).await;
    if shared.options.vary_error_shapes {
        vary_error_shape(&shared, response).await
    } else {
        response
    }
}

/// Latency, injected faults, then the endpoint group's rate limit.
async fn limited(shared: &Shared, route: &str, request: Request, next: Next) -> Response {
    let (fault, latency) = {
        let mut inner = shared.lock();
        (inner.faults.take(), inner.faults.latency_ms)
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let group = RateGroup::of(route);
    let limit = group.app_limit(shared);
    match fault {
        Some(Fault::Hang) => {
            tokio::time::sleep(shared.options.hang_duration).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Fault::RateLimited) => {
            let reset = current_reset(shared, group);
            shared.lock().counters.rate_limited += 1;
            return with_rate_headers(rate_limited().into_response(), limit, 0, reset);
        }
        Some(Fault::ServerError) => return internal_error().into_response(),
        None => {}
    }
    match take_rate(shared, group, limit) {
        Ok((remaining, reset)) => {
            with_rate_headers(next.run(request).await, limit, remaining, reset)
        }
        Err(reset) => {
            shared.lock().counters.rate_limited += 1;
            with_rate_headers(rate_limited().into_response(), limit, 0, reset)
        }
    }
}

/// Okta's rate-limit buckets, as far as the simulated APIs go.
#[derive(Debug, Clone, Copy)]
enum RateGroup {
    Logs,
    Token,
    /// "Most other API actions": `/api/v1/eventHooks*` here.
    Api,
}

impl RateGroup {
    fn of(route: &str) -> Self {
        if route.starts_with("/api/v1/logs") {
            Self::Logs
        } else if route.starts_with("/oauth2/") {
            Self::Token
        } else {
            Self::Api
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Logs => "/api/v1/logs",
            Self::Token => "/oauth2/v1/token",
            Self::Api => "/api/v1",
        }
    }

    /// The app's share of the org's limit for this group.
    fn app_limit(self, shared: &Shared) -> u32 {
        let limits = &shared.options.rate_limits;
        let org = match self {
            Self::Logs => limits.logs_per_window,
            Self::Token => limits.token_per_window,
            Self::Api => limits.api_per_window,
        };
        limits.app_share(org)
    }
}

/// The group's current window, started now if there is none.
fn window<'a>(
    windows: &'a mut std::collections::HashMap<&'static str, RateWindow>,
    group: RateGroup,
    length_secs: i64,
) -> &'a mut RateWindow {
    let now = Utc::now().timestamp();
    let window = windows.entry(group.key()).or_insert(RateWindow {
        reset_epoch: now + length_secs,
        used: 0,
    });
    if now >= window.reset_epoch {
        *window = RateWindow {
            reset_epoch: now + length_secs,
            used: 0,
        };
    }
    window
}

fn window_secs(shared: &Shared) -> i64 {
    i64::try_from(shared.options.rate_limits.window.as_secs())
        .unwrap_or(60)
        .max(1)
}

fn current_reset(shared: &Shared, group: RateGroup) -> i64 {
    let secs = window_secs(shared);
    window(&mut shared.lock().rate_windows, group, secs).reset_epoch
}

/// Consumes one call of the group's window: `Ok((remaining, reset))`, or `Err(reset)` when
/// the window is used up.
fn take_rate(shared: &Shared, group: RateGroup, limit: u32) -> Result<(u32, i64), i64> {
    let secs = window_secs(shared);
    let mut inner = shared.lock();
    let window = window(&mut inner.rate_windows, group, secs);
    if window.used >= limit {
        return Err(window.reset_epoch);
    }
    window.used += 1;
    Ok((limit - window.used, window.reset_epoch))
}

/// Okta's concurrency 429: the same error, with a limit of 0 in the headers.
fn concurrency_limited(shared: &Shared) -> Response {
    {
        let mut inner = shared.lock();
        inner.counters.rate_limited += 1;
        inner.counters.concurrency_limited += 1;
    }
    let reset = Utc::now().timestamp() + 1;
    with_rate_headers(rate_limited().into_response(), 0, 0, reset)
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a> {
    shared: &'a Shared,
    count: u32,
}

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let count = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        Self { shared, count }
    }

    fn over(&self, max: u32) -> bool {
        self.count > max
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn with_rate_headers(mut response: Response, limit: u32, remaining: u32, reset: i64) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-rate-limit-limit", HeaderValue::from(limit));
    headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
    headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
    response
}

fn unavailable(close: bool) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body><h1>503 Service Unavailable</h1></body></html>",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    if close {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The TCP listener: while the org is down in `Refuse` mode it closes new connections at
/// once, so clients see a connection error as with a refused connection.
pub(crate) struct SimListener {
    pub inner: TcpListener,
    pub shared: Arc<Shared>,
}

impl axum::serve::Listener for SimListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let refusing =
                        self.shared.down.load(Ordering::Relaxed) == DownMode::Refuse as u8;
                    if refusing {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    return (stream, addr);
                }
                // Like axum's own listener: back off on accept errors (e.g. too many files).
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
