//! `POST /oauth2/v1/token` (client credentials grant) and the bearer check of the APIs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::error::{ApiError, insufficient_scope, invalid_token, oauth_error};
use super::state::{IssuedToken, Shared, random_string};

const INVALID_CLIENT: &str =
    "Client authentication failed. Either the client or the client credentials are invalid.";
const MULTIPLE_CREDENTIALS: &str = "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.";
const NO_SCOPE: &str = "The authorization server resource does not have any configured default scopes, 'scope' must be provided.";

struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    body_client: Option<(String, Option<String>)>,
    basic_client: Option<(String, String)>,
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.lock().counters.token_requests += 1;
    issue(&shared, &headers, &body).into_response()
}

fn issue(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let request = parse_request(headers, body)?;
    match request.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].",
            ));
        }
        None => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The token request must specify a 'grant_type'. Valid values: [client_credentials]",
            ));
        }
    }
    let (client_id, secret) = client_credentials(request.basic_client, request.body_client)?;
    let mut inner = shared.lock();
    if client_id != shared.options.client_id || secret != inner.client_secret {
        return Err(invalid_client());
    }
    let scopes: Vec<String> = request
        .scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            NO_SCOPE,
        ));
    }
    let denied: Vec<&str> = scopes
        .iter()
        .filter(|s| !inner.granted_scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !denied.is_empty() {
        let description = format!("The following scopes are not allowed: {}", denied.join(" "));
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &description,
        ));
    }
    let access_token = format!("eyJ{}", random_string(60));
    let ttl = shared.options.token_ttl;
    inner.tokens.insert(
        access_token.clone(),
        IssuedToken {
            scopes: scopes.clone(),
            expires_at: Instant::now() + ttl,
        },
    );
    inner.counters.tokens_issued += 1;
    let body = json!({
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "access_token": access_token,
        "scope": scopes.join(" "),
    });
    Ok((
        [
            (header::CACHE_CONTROL, "no-cache, no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response())
}

fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Endpoint only supports Content-Type: application/x-www-form-urlencoded requests.",
        ));
    }
    let mut request = TokenRequest {
        grant_type: None,
        scope: None,
        body_client: None,
        basic_client: basic_credentials(headers)?,
    };
    let mut body_id = None;
    let mut body_secret = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "grant_type" => request.grant_type = Some(value.into_owned()),
            "scope" => request.scope = Some(value.into_owned()),
            "client_id" => body_id = Some(value.into_owned()),
            "client_secret" => body_secret = Some(value.into_owned()),
            _ => {}
        }
    }
    request.body_client = body_id.map(|id| (id, body_secret));
    Ok(request)
}

/// `Authorization: Basic base64(client_id:client_secret)`, if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| invalid_client())?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(invalid_client());
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid_client)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    // RFC 6749 §2.3.1: both are form-urlencoded before base64 (the oauth2 crate does so).
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn client_credentials(
    basic: Option<(String, String)>,
    body: Option<(String, Option<String>)>,
) -> Result<(String, String), ApiError> {
    match (basic, body) {
        (Some(_), Some((_, Some(_)))) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            MULTIPLE_CREDENTIALS,
        )),
        (Some(pair), _) => Ok(pair),
        (None, Some((id, Some(secret)))) => Ok((id, secret)),
        (None, _) => Err(invalid_client()),
    }
}

fn invalid_client() -> ApiError {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT)
}

/// Checks `Authorization: Bearer <access token>` and that the token carries one of `scopes`.
pub(crate) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    scopes: &[&str],
) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(invalid_token)?;
    let inner = shared.lock();
    let issued = inner.tokens.get(token.trim()).ok_or_else(invalid_token)?;
    if issued.expires_at <= Instant::now() {
        return Err(invalid_token());
    }
    if issued.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
        Ok(())
    } else {
        Err(insufficient_scope(
            scopes.first().copied().unwrap_or_default(),
        ))
    }
}

pub(crate) const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
