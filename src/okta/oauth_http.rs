//! `oauth2::AsyncHttpClient` over our own reqwest client (oauth2's `reqwest` feature would
//! pull a second reqwest). Every error answer becomes an adapter error here, because
//! oauth2's error type drops the status (a 403 `access_denied` would read as a 400) and the
//! headers we need (`X-Rate-Limit-Reset`).

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

use super::client::{is_down_status, rate_limit_reset};
use super::rate_limit::{BucketKey, RateBudgets};

#[derive(Debug, thiserror::Error)]
pub(crate) enum AdapterError {
    #[error("{0}")]
    Transport(String),
    #[error("rate limited")]
    RateLimited { reset_epoch: Option<i64> },
    #[error("Okta answered {0}")]
    Down(u16),
    /// Any other error answer: its status and body, parsed by `OktaError::from_oauth`.
    #[error("Okta answered {status}")]
    Refused { status: u16, body: Vec<u8> },
}

/// The token endpoint's answers report its rate-limit bucket too: `budgets` records them.
pub(crate) struct OAuthHttp<'a> {
    pub http: &'a reqwest::Client,
    pub budgets: &'a RateBudgets,
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = AdapterError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, AdapterError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| AdapterError::Transport(e.without_url().to_string()))?;
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| AdapterError::Transport(super::client::transport_reason(&e)))?;
            self.budgets
                .observe(&BucketKey::of(response.url()), response.headers());
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(AdapterError::RateLimited {
                    reset_epoch: rate_limit_reset(response.headers()),
                });
            }
            if is_down_status(status) {
                return Err(AdapterError::Down(status.as_u16()));
            }
            if !status.is_success() {
                let body = response.bytes().await.unwrap_or_default().to_vec();
                return Err(AdapterError::Refused {
                    status: status.as_u16(),
                    body,
                });
            }
            to_http_response(response).await
        })
    }
}

async fn to_http_response(response: reqwest::Response) -> Result<HttpResponse, AdapterError> {
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| AdapterError::Transport(super::client::transport_reason(&e)))?;
    builder
        .body(body.to_vec())
        .map_err(|e| AdapterError::Transport(e.to_string()))
}
