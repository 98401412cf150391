//! What every API call goes through: counting, org down, latency, injected faults,
//! and Okta's per-endpoint rate limit with its `X-Rate-Limit-*` headers.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::net::{TcpListener, TcpStream};

use super::error::{internal_error, rate_limited};
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
    let (fault, latency) = {
        let mut inner = shared.lock();
        (inner.faults.take(), inner.faults.latency_ms)
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    match fault {
        Some(Fault::Hang) => {
            tokio::time::sleep(shared.options.hang_duration).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Fault::RateLimited) => {
            let reset = Utc::now().timestamp() + 1;
            return with_rate_headers(
                rate_limited().into_response(),
                shared.options.rate_limit_per_minute,
                0,
                reset,
            );
        }
        Some(Fault::ServerError) => return internal_error().into_response(),
        None => {}
    }
    let limit = shared.options.rate_limit_per_minute;
    let (remaining, reset) = match take_rate(&shared, &route) {
        Ok(window) => window,
        Err(reset) => return with_rate_headers(rate_limited().into_response(), limit, 0, reset),
    };
    with_rate_headers(next.run(request).await, limit, remaining, reset)
}

/// Consumes one call of the endpoint's one-minute window: `Ok((remaining, reset))`,
/// or `Err(reset)` when the window is used up.
fn take_rate(shared: &Shared, route: &str) -> Result<(u32, i64), i64> {
    let now = Utc::now().timestamp();
    let limit = shared.options.rate_limit_per_minute;
    let mut inner = shared.lock();
    let window = inner
        .rate_windows
        .entry(route.to_owned())
        .or_insert(RateWindow {
            reset_epoch: now + 60,
            used: 0,
        });
    if now >= window.reset_epoch {
        *window = RateWindow {
            reset_epoch: now + 60,
            used: 0,
        };
    }
    if window.used >= limit {
        return Err(window.reset_epoch);
    }
    window.used += 1;
    Ok((limit - window.used, window.reset_epoch))
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
