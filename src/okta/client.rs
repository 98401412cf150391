//! The Okta HTTP client: OAuth2 client-credentials tokens (cached, one fetch at a time per
//! credentials), the request loop with one re-authentication on 401, pacing by the
//! rate-limit headers (`rate_limit.rs`), one wait on a bucket's 429 and a few short
//! back-offs on concurrency 429s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use url::Url;

use super::domain::OktaDomain;
use super::error::{OktaError, REQUIRED_SCOPES, Result};
use super::oauth_http::{AdapterError, OAuthHttp};
use super::rate_limit::{BucketKey, Observed, RateBudgets, jitter};
use super::resolver::PublicOnlyResolver;

/// Refresh a cached token this long before Okta says it expires.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// The longest an interactive call (the wizard's) waits for a rate-limit reset.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);
/// Background callers (gap fill) wait out a whole window: Okta's are one minute.
pub const BACKGROUND_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(75);
/// A bucket's 429 is waited out once per call; concurrency 429s a few times.
const MAX_BUCKET_429S: u32 = 1;
const MAX_CONCURRENCY_429S: u32 = 3;
const CONCURRENCY_BACKOFF: Duration = Duration::from_secs(1);
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const USER_AGENT: &str = concat!("okta-ingest/", env!("CARGO_PKG_VERSION"));

/// A tenant's OAuth2 client credentials for its Okta org. `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub domain: OktaDomain,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Cheap to clone: one connection pool and one token cache shared by all clones.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
    max_rate_limit_wait: Duration,
}

struct Inner {
    http: reqwest::Client,
    tokens: Mutex<HashMap<TokenKey, Arc<TokenSlot>>>,
    budgets: RateBudgets,
}

/// A key's last token fetch. Its lock makes concurrent callers with the same credentials
/// wait for one fetch instead of each sending their own.
type TokenSlot = tokio::sync::Mutex<Option<LastFetch>>;

/// The token a fetch got, or why it got none, and when Okta answered.
struct LastFetch {
    at: Instant,
    token: Result<CachedToken>,
}

/// A token belongs to (domain, client id, secret): a rotated secret gets its own token.
#[derive(Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    domain: String,
    client_id: String,
    secret_fingerprint: [u8; 32],
}

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

type TokenResult = Result<(SecretString, Option<Duration>)>;

/// What a token must be for its caller.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// An API call: any token that is still fresh.
    Fresh,
    /// A credentials check: a token Okta issued after the check began (by the check's own
    /// fetch or one it waited for). Okta keeps honouring tokens issued with a secret it has
    /// since deactivated, so an older token proves nothing.
    IssuedSinceStart,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("cached_tokens", &self.tokens().len())
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .finish()
    }
}

impl OktaClient {
    /// A client whose every request (connect + answer) is bounded by `timeout`.
    pub fn new(timeout: Duration) -> Result<OktaClient> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            // A redirect could lead anywhere: the allow-list covers the org's host only.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(PublicOnlyResolver))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| OktaError::Unexpected(format!("cannot build the HTTP client: {e}")))?;
        Ok(OktaClient {
            inner: Arc::new(Inner {
                http,
                tokens: Mutex::new(HashMap::new()),
                budgets: RateBudgets::default(),
            }),
            max_rate_limit_wait: DEFAULT_MAX_RATE_LIMIT_WAIT,
        })
    }

    /// Gets a token issued after this call began (never a cached one from before): proves
    /// the credentials and scopes work now.
    pub async fn check_credentials(&self, creds: &Credentials) -> Result<()> {
        self.token(creds, Need::IssuedSinceStart).await.map(|_| ())
    }

    /// Forgets the cached token of `creds` (after a 401, or when the secret is replaced).
    pub fn invalidate(&self, creds: &Credentials) {
        self.tokens().remove(&TokenKey::of(creds));
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, Arc<TokenSlot>>> {
        // A poisoned cache only means a panic elsewhere; its contents are still tokens.
        self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn token(&self, creds: &Credentials, need: Need) -> Result<SecretString> {
        let began = Instant::now();
        let slot = self
            .tokens()
            .entry(TokenKey::of(creds))
            .or_default()
            .clone();
        let mut last = slot.lock().await;
        if let Some(fetched) = &*last {
            match &fetched.token {
                Ok(cached)
                    if cached.refresh_at > Instant::now()
                        && (need == Need::Fresh || fetched.at >= began) =>
                {
                    return Ok(cached.token.clone());
                }
                // Callers that waited for a failed fetch share its failure rather than each
                // trying again in turn.
                Err(error) if fetched.at >= began => return Err(error.clone()),
                _ => {}
            }
        }
        let token = self.new_token(creds).await;
        let at = Instant::now();
        let answer = match &token {
            Ok(cached) => Ok(cached.token.clone()),
            Err(error) => Err(error.clone()),
        };
        *last = Some(LastFetch { at, token });
        drop(last);
        self.prune(at);
        answer
    }

    /// Drops the entries no caller holds whose token is not fresh: those of deleted
    /// integrations or replaced secrets would otherwise stay forever.
    fn prune(&self, now: Instant) {
        let is_fresh = |last: &Option<LastFetch>| {
            last.as_ref()
                .is_some_and(|l| l.token.as_ref().is_ok_and(|t| t.refresh_at > now))
        };
        self.tokens().retain(|_, slot| {
            Arc::strong_count(slot) > 1 || slot.try_lock().is_ok_and(|last| is_fresh(&last))
        });
    }

    async fn new_token(&self, creds: &Credentials) -> Result<CachedToken> {
        let (token, expires_in) = match self.fetch_token(creds, &REQUIRED_SCOPES).await {
            Err(OktaError::MissingScopes {
                missing,
                description,
            }) if missing.is_empty() => {
                let missing = self.probe_missing_scopes(creds).await;
                return Err(OktaError::MissingScopes {
                    missing,
                    description,
                });
            }
            other => other?,
        };
        let lifetime = expires_in.unwrap_or(Duration::from_secs(3600));
        Ok(CachedToken {
            token,
            refresh_at: Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN),
        })
    }

    /// `invalid_scope` does not say which scope is missing in a form to rely on: ask for
    /// each one alone (two token requests, on this error path only).
    async fn probe_missing_scopes(&self, creds: &Credentials) -> Vec<String> {
        let mut missing = Vec::new();
        for scope in REQUIRED_SCOPES {
            if let Err(OktaError::MissingScopes { .. }) = self.fetch_token(creds, &[scope]).await {
                missing.push(scope.to_string());
            }
        }
        missing
    }

    async fn fetch_token(&self, creds: &Credentials, scopes: &[&str]) -> TokenResult {
        let mut waited = false;
        loop {
            match self.request_token(creds, scopes).await {
                Err(TokenFailure::RateLimited(reset)) => {
                    self.rate_limit_wait(reset, &mut waited).await?;
                }
                Err(TokenFailure::Error(e)) => return Err(e),
                Ok(token) => return Ok(token),
            }
        }
    }

    async fn request_token(
        &self,
        creds: &Credentials,
        scopes: &[&str],
    ) -> Result<(SecretString, Option<Duration>), TokenFailure> {
        let token_url = join(&creds.domain, "/oauth2/v1/token")?;
        let bucket = BucketKey::of(&token_url);
        self.inner
            .budgets
            .acquire(&bucket, self.max_rate_limit_wait)
            .await
            .map_err(|retry_at| OktaError::RateLimited { retry_at })?;
        let client = BasicClient::new(ClientId::new(creds.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                creds.client_secret.expose_secret().to_string(),
            ))
            .set_auth_type(AuthType::BasicAuth)
            .set_token_uri(TokenUrl::from_url(token_url));
        let adapter = OAuthHttp {
            http: &self.inner.http,
            budgets: &self.inner.budgets,
        };
        let response = client
            .exchange_client_credentials()
            .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
            .request_async(&adapter)
            .await
            .map_err(map_token_error)?;
        if let Some(granted) = response.scopes() {
            let missing = missing_scopes(scopes, granted.iter().map(|s| s.as_str()));
            if !missing.is_empty() {
                return Err(OktaError::MissingScopes {
                    missing,
                    description: None,
                }
                .into());
            }
        }
        let token = SecretString::from(response.access_token().secret().clone());
        Ok((token, response.expires_in()))
    }

    /// Waits once for the rate-limit reset (plus jitter) if it is soon enough.
    async fn rate_limit_wait(&self, reset: Option<i64>, waited: &mut bool) -> Result<()> {
        let now = Utc::now();
        let retry_at = reset
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .filter(|at| *at > now)
            .unwrap_or(now + chrono::Duration::seconds(1));
        let delay = (retry_at - now).to_std().unwrap_or_default() + jitter();
        if *waited || delay > self.max_rate_limit_wait {
            return Err(OktaError::RateLimited { retry_at });
        }
        *waited = true;
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "okta rate limit: waiting for reset"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Sends an authenticated API request as an interactive caller (the wizard's patience);
    /// 2xx answers come back, the rest are errors.
    pub(crate) async fn send(
        &self,
        creds: &Credentials,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        self.send_paced(creds, method, url, body, self.max_rate_limit_wait)
            .await
    }

    /// `send`, waiting for a rate-limit reset at most `patience`.
    pub(crate) async fn send_paced(
        &self,
        creds: &Credentials,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        patience: Duration,
    ) -> Result<reqwest::Response> {
        let bucket = BucketKey::of(&url);
        let mut reauthenticated = false;
        let (mut bucket_429s, mut concurrency_429s) = (0, 0);
        loop {
            self.inner
                .budgets
                .acquire(&bucket, patience)
                .await
                .map_err(|retry_at| OktaError::RateLimited { retry_at })?;
            let token = self.token(creds, Need::Fresh).await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .header(ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let response = request.send().await.map_err(|e| {
                count_call("unreachable");
                unreachable(e)
            })?;
            let status = response.status();
            count_call(call_outcome(status));
            tracing::debug!(%method, path = url.path(), status = status.as_u16(), "okta api call");
            let observed = self.inner.budgets.observe(&bucket, response.headers());
            match status {
                s if s.is_success() => return Ok(response),
                StatusCode::UNAUTHORIZED if !reauthenticated => {
                    reauthenticated = true;
                    self.invalidate(creds);
                }
                // Too many requests in flight: the bucket may be fine, so back off briefly.
                StatusCode::TOO_MANY_REQUESTS
                    if observed != Observed::Bucket && concurrency_429s < MAX_CONCURRENCY_429S =>
                {
                    concurrency_429s += 1;
                    tokio::time::sleep(CONCURRENCY_BACKOFF + jitter()).await;
                }
                // The bucket is spent (now recorded): `acquire` waits for its reset.
                StatusCode::TOO_MANY_REQUESTS if bucket_429s < MAX_BUCKET_429S => {
                    bucket_429s += 1;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let retry_at = rate_limit_reset(response.headers())
                        .and_then(|s| Utc.timestamp_opt(s, 0).single())
                        .unwrap_or_else(|| Utc::now() + chrono::Duration::seconds(1));
                    return Err(OktaError::RateLimited { retry_at });
                }
                s if is_down_status(s) => {
                    return Err(OktaError::Unreachable {
                        reason: format!("Okta answered {s}"),
                    });
                }
                s => {
                    let body = response.bytes().await.unwrap_or_default();
                    return Err(OktaError::from_api(s.as_u16(), &body));
                }
            }
        }
    }

    /// `send` with a JSON body (if any) and a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        creds: &Credentials,
        method: Method,
        url: Url,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| OktaError::Unexpected(format!("cannot encode the request: {e}")))?;
        let response = self.send(creds, method, url, body).await?;
        let bytes = response.bytes().await.map_err(unreachable)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| OktaError::Unexpected(format!("cannot read Okta's answer: {e}")))
    }
}

fn count_call(outcome: &'static str) {
    metrics::counter!("okta_ingest_okta_api_calls_total", "outcome" => outcome).increment(1);
}

fn call_outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "ok",
        401 | 403 => "auth_error",
        429 => "rate_limited",
        400..=499 => "client_error",
        _ => "server_error",
    }
}

impl TokenKey {
    fn of(creds: &Credentials) -> TokenKey {
        TokenKey {
            domain: creds.domain.as_str().to_string(),
            client_id: creds.client_id.clone(),
            secret_fingerprint: Sha256::digest(creds.client_secret.expose_secret().as_bytes())
                .into(),
        }
    }
}

enum TokenFailure {
    RateLimited(Option<i64>),
    Error(OktaError),
}

impl From<OktaError> for TokenFailure {
    fn from(e: OktaError) -> Self {
        TokenFailure::Error(e)
    }
}

fn map_token_error(e: RequestTokenError<AdapterError, BasicErrorResponse>) -> TokenFailure {
    let error = match e {
        RequestTokenError::ServerResponse(response) => {
            let body = serde_json::to_vec(&response).unwrap_or_default();
            OktaError::from_oauth(400, &body)
        }
        RequestTokenError::Request(AdapterError::Refused { status, body }) => {
            OktaError::from_oauth(status, &body)
        }
        RequestTokenError::Request(AdapterError::RateLimited { reset_epoch }) => {
            return TokenFailure::RateLimited(reset_epoch);
        }
        RequestTokenError::Request(AdapterError::Down(status)) => OktaError::Unreachable {
            reason: format!("Okta's token endpoint answered {status}"),
        },
        RequestTokenError::Request(AdapterError::Transport(reason)) => {
            OktaError::Unreachable { reason }
        }
        RequestTokenError::Parse(..) => {
            OktaError::Unexpected("the token endpoint's answer is not an OAuth2 response".into())
        }
        RequestTokenError::Other(reason) => {
            OktaError::Unexpected(format!("token endpoint: {reason}"))
        }
    };
    TokenFailure::Error(error)
}

fn missing_scopes<'a>(
    wanted: &[&str],
    granted: impl Iterator<Item = &'a str> + Clone,
) -> Vec<String> {
    wanted
        .iter()
        .filter(|required| !granted.clone().any(|g| g == **required))
        .map(|s| s.to_string())
        .collect()
}

/// `base_url` of the domain joined with an absolute path.
pub(crate) fn join(domain: &OktaDomain, path: &str) -> Result<Url> {
    domain
        .base_url()
        .join(path)
        .map_err(|e| OktaError::Unexpected(format!("cannot build the URL {path}: {e}")))
}

fn unreachable(e: reqwest::Error) -> OktaError {
    OktaError::Unreachable {
        reason: transport_reason(&e),
    }
}

/// A short, secret-free description of a transport failure.
pub(crate) fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

/// Okta (or its load balancer) is down rather than refusing this request.
pub(crate) fn is_down_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// `X-Rate-Limit-Reset`: the epoch second at which the limit resets.
pub(crate) fn rate_limit_reset(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("x-rate-limit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_lists_what_was_not_granted() {
        assert_eq!(
            missing_scopes(&REQUIRED_SCOPES, ["okta.logs.read"].into_iter()),
            vec!["okta.eventHooks.manage"]
        );
        assert!(missing_scopes(&REQUIRED_SCOPES, REQUIRED_SCOPES.into_iter()).is_empty());
    }

    /// Handlers and background tasks need `Send` futures.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn futures_are_send(client: OktaClient, creds: Credentials) {
        fn is_send<T: Send>(_: T) {}
        is_send(client.check_credentials(&creds));
        is_send(client.list_event_hooks(&creds));
        is_send(client.logs_page(&creds, crate::okta::LogsStart::Next(String::new()), 10));
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let creds = Credentials {
            domain: OktaDomain::parse("acme", &Default::default()).unwrap(),
            client_id: "0oa1".into(),
            client_secret: SecretString::from("very-secret"),
        };
        assert!(!format!("{creds:?}").contains("very-secret"));
    }
}
