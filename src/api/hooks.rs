//! Okta's side: the Event Hook verification GET and the delivery POST.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use utoipa::IntoResponses;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Path};
use super::schemas;
use crate::ingest::{envelope, inbox};
use crate::state::Services;
use crate::store::integrations::{self, HookTarget, IntegrationStatus};

pub fn router(body_limit: usize) -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(verify, deliver))
        .layer(DefaultBodyLimit::max(body_limit))
}

/// Okta's one-time verification of a new Event Hook: the challenge header, echoed.
#[utoipa::path(
    get,
    path = "/hooks/okta/{hook_key}",
    operation_id = "verifyEventHook",
    params(
        ("hook_key" = String, Path, description = "The integration's hook key"),
        ("X-Okta-Verification-Challenge" = Option<String>, Header, description = "Okta's challenge"),
    ),
    responses(
        (status = 200, description = "The challenge, echoed", body = schemas::Verification),
        (status = 400, description = "`missing_challenge`: no X-Okta-Verification-Challenge header"),
        HookRefused,
        (status = 503, description = "`unavailable`: the database is unavailable; retry"),
    )
)]
async fn verify(
    State(services): State<Services>,
    Path(hook_key): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let target = authenticated_target(&services, &hook_key, &headers).await?;
    let challenge = headers
        .get("x-okta-verification-challenge")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_challenge",
                "X-Okta-Verification-Challenge header is missing",
            )
        })?;
    tracing::info!(integration_id = %target.integration_id, "answered Okta's verification challenge");
    Ok(axum::Json(json!({ "verification": challenge })).into_response())
}

/// Okta's delivery of a batch of LogEvents
///
/// 200 only once the batch is committed. Okta retries a 5xx or a timeout once and never a
/// 4xx, so only what a retry cannot fix is a 4xx.
#[utoipa::path(
    post,
    path = "/hooks/okta/{hook_key}",
    operation_id = "deliverEvents",
    params(("hook_key" = String, Path, description = "The integration's hook key")),
    request_body = schemas::EventHookDelivery,
    responses(
        (status = 200, description = "Stored: every event accepted, a duplicate or quarantined with its reason"),
        (status = 400, description = "`malformed_envelope`: not Okta's envelope; `unreadable_body`"),
        HookRefused,
        (status = 413, description = "`body_too_large`: over the hook body limit; `too_many_events`: over 10,000 events"),
        (status = 415, description = "`unsupported_media_type`: not Content-Type: application/json"),
        (status = 503, description = "`unavailable`: the database is unavailable; Okta retries once, gap fill recovers the rest"),
    )
)]
async fn deliver(
    State(services): State<Services>,
    Path(hook_key): Path<String>,
    request: Request,
) -> Response {
    let response = match handle_delivery(&services, &hook_key, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    metrics::counter!("okta_ingest_hook_requests_total", "status" => response.status().as_str().to_owned())
        .increment(1);
    response
}

/// The body is read only once the key and the secret are checked: a caller without them
/// must not hold a connection and up to the body limit in memory while it sends one slowly.
async fn handle_delivery(
    services: &Services,
    hook_key: &str,
    request: Request,
) -> ApiResult<Response> {
    let target = authenticated_target(services, hook_key, request.headers()).await?;
    let stored = store_delivery(services, &target, request).await;
    if let Err(error) = &stored
        && error.status.is_client_error()
    {
        // Okta never retries a 4xx: unless gap fill finds them, this delivery's events are lost.
        tracing::warn!(integration_id = %target.integration_id, code = error.code, status = error.status.as_u16(), "authenticated delivery refused; gap fill asked to look");
        let reason = format!(
            "delivery refused ({} {}): gap fill will look for its events",
            error.status.as_u16(),
            error.code
        );
        record_delivery_error(services, &target, &reason).await;
    }
    stored
}

/// An authenticated delivery: its content checked, parsed and committed to the inbox.
async fn store_delivery(
    services: &Services,
    target: &HookTarget,
    request: Request,
) -> ApiResult<Response> {
    let started = std::time::Instant::now();
    if !is_json(request.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "deliveries must be Content-Type: application/json",
        ));
    }
    let body = Bytes::from_request(request, services).await;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the delivery is larger than the hook body limit",
        ),
        _ => ApiError::bad_request("unreadable_body", rejection.body_text()),
    })?;
    let body = std::str::from_utf8(&body).map_err(|e| {
        ApiError::bad_request("malformed_envelope", format!("the body is not UTF-8: {e}"))
    })?;
    let body = envelope::storable(body);
    let batch = envelope::parse(&body).map_err(|e| match e {
        envelope::EnvelopeError::TooManyEvents => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            e.to_string(),
        ),
        _ => ApiError::bad_request("malformed_envelope", e.to_string()),
    })?;
    let stored =
        match inbox::store_batch(services, target.tenant_id, target.integration_id, &batch).await {
            Ok(stored) => stored,
            Err(error) => {
                // Okta retries a 5xx once; whatever it then drops, gap fill recovers.
                let reason = "delivery not stored: database unavailable";
                record_delivery_error(services, target, reason).await;
                return Err(error.into());
            }
        };
    metrics::histogram!("okta_ingest_hook_ack_seconds").record(started.elapsed().as_secs_f64());
    tracing::debug!(integration_id = %target.integration_id, accepted = stored.accepted, duplicates = stored.duplicates, quarantined = stored.quarantined, "delivery stored");
    Ok(StatusCode::OK.into_response())
}

/// Shows `reason` on the integration's status and asks gap fill to look at the System Log.
/// Best effort: the database may be what failed.
async fn record_delivery_error(services: &Services, target: &HookTarget, reason: &str) {
    let recorded = integrations::record_delivery_error(
        services.pool(),
        target.tenant_id,
        target.integration_id,
        reason,
    )
    .await;
    if let Err(error) = recorded {
        tracing::debug!(integration_id = %target.integration_id, %error, "could not record the delivery error");
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// What [`authenticated_target`] refuses, for the documentation of both routes (never
/// constructed).
#[derive(IntoResponses)]
#[allow(dead_code)]
enum HookRefused {
    #[response(
        status = 401,
        description = "`unauthorized`: the Authorization header is missing or is not this hook's secret"
    )]
    Unauthorized,
    #[response(status = 404, description = "`not_found`: no hook has this key")]
    NotFound,
    #[response(
        status = 410,
        description = "`integration_deleted`: delete the Event Hook in Okta"
    )]
    Deleted,
}

/// Finds the hook's integration and checks Okta's auth header: 404 unknown key, 410 deleted
/// integration, 401 wrong or missing header.
async fn authenticated_target(
    services: &Services,
    hook_key: &str,
    headers: &HeaderMap,
) -> ApiResult<HookTarget> {
    // Keys are URL-safe base64 we made; anything else (a NUL, say) cannot be one.
    let well_formed = hook_key.len() <= 128
        && hook_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::not_found("event hook"));
    }
    let target = integrations::find_by_hook_key(services.pool(), hook_key)
        .await?
        .ok_or_else(|| ApiError::not_found("event hook"))?;
    if target.status == IntegrationStatus::Deleted {
        return Err(ApiError::new(
            StatusCode::GONE,
            "integration_deleted",
            "this integration was deleted; delete the Event Hook in Okta",
        ));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?;
    if target
        .secret_hashes()
        .matches(presented.as_bytes(), Utc::now())
    {
        Ok(target)
    } else {
        Err(ApiError::unauthorized(
            "the Authorization header does not match this hook's secret",
        ))
    }
}
