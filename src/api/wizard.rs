//! The wizard API under /api/v1/integrations/okta: connect an Okta org from either side.

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, Json, Path};
use super::schemas;
use crate::ids::IntegrationId;
use crate::okta::Coverage;
use crate::service::credentials::{ClientCredentials, parse_client_id, parse_client_secret};
use crate::service::status::IntegrationView;
use crate::state::Services;
use crate::store::integrations::Integration;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;
use utoipa::{IntoParams, IntoResponses, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list, create_from_okta))
        .routes(routes!(launch))
        .routes(routes!(show, update, remove))
        .routes(routes!(validate))
        .routes(routes!(complete))
        .routes(routes!(rotate))
        .routes(routes!(baseline))
        .layer(axum::middleware::from_fn(finish_after_hang_up))
}

/// Runs the request in a task of its own, so a step that has begun changing the customer's org
/// finishes when its caller hangs up (a closed tab, a proxy's timeout) instead of stopping
/// between two Okta calls, with a hook created but never verified.
async fn finish_after_hang_up(request: Request, next: Next) -> Response {
    // In the request's span, so the step's log lines keep its request id.
    tokio::spawn(next.run(request).in_current_span())
        .await
        .unwrap_or_else(|panicked| ApiError::internal(&panicked).into_response())
}

/// Why a wizard step that calls Okta answered 422 (the problem's `checks` say which step);
/// documentation only, never constructed.
#[derive(IntoResponses)]
#[allow(dead_code)]
#[response(
    status = 422,
    description = "`invalid_domain`, `invalid_client_id`, `invalid_client_secret`, \
        `org_unreachable`, `invalid_client` (wrong or rotated Client ID or Secret), \
        `missing_scopes`, `event_hook_limit_reached`, `okta_rate_limited` (with `Retry-After`), \
        `okta_error`; `detail` says what to do, `checks` which step failed",
    headers(("Retry-After" = u64, description = "With `okta_rate_limited`: seconds to wait"))
)]
struct OktaRefused;

/// The `{id}` of every step on an integration, as the document states it; the handlers
/// take `Path<IntegrationId>`. Documentation only, never constructed.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct IntegrationPath {
    /// The integration
    #[param(value_type = uuid::Uuid)]
    id: IntegrationId,
}

/// The 409 of every step that would connect an org the tenant has already connected (a live
/// integration: pending, validated or active); documentation only, never constructed.
#[derive(IntoResponses)]
#[allow(dead_code)]
#[response(
    status = 409,
    description = "`already_connected`: the tenant already has a live (pending, validated or \
        active) integration of this Okta org; `integration_id` names it and `detail` says what \
        to do: continue it, open it or rotate its credentials (PUT …/{id}/credentials), or \
        DELETE it first to start over. Another tenant may connect the same org"
)]
struct AlreadyConnected;

/// The 404 of every step on an integration by id; documentation only, never constructed.
#[derive(IntoResponses)]
#[allow(dead_code)]
#[response(
    status = 404,
    description = "`not_found`: no such integration of this tenant"
)]
struct NoSuchIntegration;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LaunchRequest)]
struct LaunchBody {
    /// The org name (`acme`), its Okta domain (`acme.okta.com`) or its URL.
    #[schema(example = "acme")]
    org: String,
}

/// Start from Sysdig: the org → its normalized Okta domain and where to install "Sysdig".
#[utoipa::path(
    post,
    path = "/api/v1/integrations/okta/launch",
    operation_id = "launchIntegration",
    request_body = LaunchBody,
    responses(
        (status = 201, description = "Created, pending", body = schemas::Launched),
        AlreadyConnected,
        (status = 422, description = "`invalid_domain`: not an acceptable Okta domain (`detail` says what to enter)"),
    )
)]
async fn launch(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<LaunchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let integration = services.launch(admin.tenant_id, &body.org).await?;
    let mut body = summary(&integration);
    body["install_url"] = json!(integration.org.domain.install_url());
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ValidateRequest)]
struct ValidateBody {
    /// The Client ID Okta showed for the "Sysdig" app.
    client_id: String,
    #[schema(value_type = String)]
    client_secret: SecretString,
    /// Replaces the launched org's domain; 409 `already_connected` if another live
    /// integration of the tenant connects that org.
    okta_domain: Option<String>,
}

/// Checks the Client ID and Client Secret against Okta, then stores them (encrypted).
#[utoipa::path(
    post,
    path = "/api/v1/integrations/okta/{id}/validate",
    operation_id = "validateIntegration",
    params(IntegrationPath),
    request_body = ValidateBody,
    responses(
        (status = 200, description = "Validated", body = schemas::Validated),
        NoSuchIntegration,
        (status = 409, description = "`already_active` (rotate with PUT …/credentials), `step_in_progress`, \
            `already_connected` (`okta_domain` names an org another live integration of the tenant \
            connects; `integration_id` names it)"),
        OktaRefused,
    )
)]
async fn validate(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
    Json(body): Json<ValidateBody>,
) -> ApiResult<Json<Value>> {
    let input = ClientCredentials::parse(&body.client_id, &body.client_secret)?;
    let (integration, checks) = services
        .validate(admin.tenant_id, id, input, body.okta_domain.as_deref())
        .await?;
    Ok(Json(with_checks(&integration, &checks)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateIntegrationRequest)]
struct CreateBody {
    #[schema(example = "acme.okta.com")]
    okta_domain: String,
    client_id: String,
    #[schema(value_type = String)]
    client_secret: SecretString,
}

/// Start from Okta: the org and its credentials, created and validated in one step.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/okta",
    operation_id = "createIntegration",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created, validated", body = schemas::Validated),
        AlreadyConnected,
        OktaRefused,
    )
)]
async fn create_from_okta(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    services.parse_domain(&body.okta_domain)?;
    let input = ClientCredentials::parse(&body.client_id, &body.client_secret)?;
    let (integration, checks) = services
        .create_from_okta(admin.tenant_id, &body.okta_domain, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(with_checks(&integration, &checks)),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CompleteRequest)]
struct CompleteBody {
    /// The event types the hook subscribes to: `standard` (the 18, the default) or
    /// `extended` (more Event-Hook-eligible types). Without it the integration keeps its own.
    coverage: Option<Coverage>,
}

/// Provisions (or adopts) the Event Hook for the integration's coverage (the 18 event types
/// unless `extended` was chosen), has Okta verify it, goes active. The body is optional.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/okta/{id}/complete",
    operation_id = "completeIntegration",
    params(IntegrationPath),
    request_body(content = Option<CompleteBody>, description = "Optional: the coverage to provision"),
    responses(
        (status = 200, description = "Active", body = schemas::Completed),
        NoSuchIntegration,
        (status = 409, description = "`validation_required` (validate first), `step_in_progress`"),
        (status = 422, description = "`hook_verification_failed`, `invalid_domain`, `public_url_not_https` (Okta calls https hook URLs only), or Okta refused a step: `org_unreachable`, `invalid_client`, `missing_scopes`, `event_hook_limit_reached`, `okta_rate_limited` (with `Retry-After`), `okta_error`",
            headers(("Retry-After" = u64, description = "With `okta_rate_limited`: seconds to wait"))),
    )
)]
async fn complete(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: CompleteBody = optional_json(&headers, &body)?;
    let integration = services
        .complete(admin.tenant_id, id, body.coverage)
        .await?;
    let mut body = summary(&integration);
    body["event_hook_id"] = json!(integration.event_hook_id);
    Ok(Json(body))
}

/// A body that may be left out (the console and older clients post none): empty means
/// `T::default()`; otherwise it must be JSON, as for [`Json`].
fn optional_json<T: Default + serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable("invalid_body", e.to_string()),
        _ => ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}")),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateIntegrationRequest)]
struct UpdateBody {
    /// `standard` (the 18 event types) or `extended`. Changing it on an active integration
    /// re-provisions the Event Hook in Okta (which verifies it again).
    coverage: Option<Coverage>,
}

/// Change an integration's settings
///
/// `coverage` picks the event types its Event Hook subscribes to; on an active integration a
/// change replaces the hook's subscription in Okta, and gap fill follows the new set.
#[utoipa::path(
    put,
    path = "/api/v1/integrations/okta/{id}",
    operation_id = "updateIntegration",
    params(IntegrationPath),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Updated", body = schemas::Integration),
        NoSuchIntegration,
        (status = 409, description = "`step_in_progress`"),
        (status = 422, description = "`invalid_body`, `hook_verification_failed`, or Okta refused the change: `org_unreachable`, `invalid_client`, `missing_scopes`, `okta_rate_limited` (with `Retry-After`), `okta_error`",
            headers(("Retry-After" = u64, description = "With `okta_rate_limited`: seconds to wait"))),
    )
)]
async fn update(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
    Json(body): Json<UpdateBody>,
) -> ApiResult<Json<IntegrationView>> {
    let integration = services
        .update_integration(admin.tenant_id, id, body.coverage)
        .await?;
    Ok(Json(services.view(integration).await?))
}

/// The tenant's integrations with status and health, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/okta",
    operation_id = "listIntegrations",
    responses((status = 200, description = "The integrations", body = schemas::IntegrationList))
)]
async fn list(State(services): State<Services>, caller: Caller) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for integration in services.list_integrations(caller.tenant_id).await? {
        items.push(services.view(integration).await?);
    }
    Ok(Json(json!({ "items": items })))
}

/// An integration's status and health
///
/// Events received, last event, hook status, last error and warnings.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/okta/{id}",
    operation_id = "getIntegration",
    params(IntegrationPath),
    responses(
        (status = 200, description = "The integration", body = schemas::Integration),
        NoSuchIntegration,
    )
)]
async fn show(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<IntegrationId>,
) -> ApiResult<Json<IntegrationView>> {
    let integration = services.get_integration(caller.tenant_id, id).await?;
    Ok(Json(services.view(integration).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RotateCredentialsRequest)]
struct RotateBody {
    /// A new Client ID; the current one is kept without it.
    client_id: Option<String>,
    #[schema(value_type = String)]
    client_secret: SecretString,
}

/// Rotation: the new credentials are validated against Okta, then replace the old ones.
#[utoipa::path(
    put,
    path = "/api/v1/integrations/okta/{id}/credentials",
    operation_id = "rotateCredentials",
    params(IntegrationPath),
    request_body = RotateBody,
    responses(
        (status = 200, description = "Replaced", body = schemas::Validated),
        NoSuchIntegration,
        (status = 409, description = "`validation_required` (nothing to rotate yet), `step_in_progress`"),
        OktaRefused,
    )
)]
async fn rotate(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
    Json(body): Json<RotateBody>,
) -> ApiResult<Json<Value>> {
    let client_id = body.client_id.as_deref().map(parse_client_id).transpose()?;
    let client_secret = parse_client_secret(&body.client_secret)?;
    let (integration, checks) = services
        .rotate_credentials(admin.tenant_id, id, client_id, client_secret)
        .await?;
    Ok(Json(with_checks(&integration, &checks)))
}

/// Delete an integration
///
/// The hook in Okta is deactivated and deleted (retried in the background if Okta is
/// unreachable) and the credentials destroyed; runtime events stay in the feed.
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/okta/{id}",
    operation_id = "deleteIntegration",
    params(IntegrationPath),
    responses(
        (status = 204, description = "Deleted"),
        NoSuchIntegration,
        (status = 409, description = "`step_in_progress`"),
    )
)]
async fn remove(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<StatusCode> {
    services.delete(admin.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BaselineRequest)]
struct BaselineBody {
    /// Days of System Log history to learn from, 1 to 90 (Okta keeps 90); without it, the
    /// configured `baseline_days` (14 by default).
    #[schema(minimum = 1, maximum = 90, example = 14)]
    days: Option<i64>,
}

/// Learn a baseline from the org's System Log
///
/// Reads the last `days` of the org's System Log before the integration went live, for the
/// subscribed event types, and trains the stateful rules (first-seen, travel, thresholds) with
/// it; no runtime event is written for history. The integration's status shows `learning`,
/// and `baseline` its progress, until the worker has applied it all. Complete starts one too.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/okta/{id}/baseline",
    operation_id = "learnBaseline",
    params(IntegrationPath),
    request_body = BaselineBody,
    responses(
        (status = 202, description = "Learning", body = schemas::BaselineStarted),
        NoSuchIntegration,
        (status = 409, description = "`not_active` (complete the integration first), `baseline_in_progress` (one is learning; see its progress on GET)"),
        (status = 422, description = "`invalid_days`: `days` is not between 1 and 90"),
    )
)]
async fn baseline(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
    Json(body): Json<BaselineBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let baseline = services
        .start_baseline(admin.tenant_id, id, body.days)
        .await?;
    let integration = services.get_integration(admin.tenant_id, id).await?;
    let mut body = summary(&integration);
    body["status"] = json!(crate::store::integrations::IntegrationStatus::Learning);
    body["baseline"] = json!(baseline);
    Ok((StatusCode::ACCEPTED, Json(body)))
}

fn summary(integration: &Integration) -> Value {
    json!({
        "id": integration.org.id,
        "status": integration.status,
        "okta_domain": integration.org.domain,
        "coverage": integration.coverage,
    })
}

fn with_checks(integration: &Integration, checks: &[crate::service::Check]) -> Value {
    let mut body = summary(integration);
    body["checks"] = json!(checks);
    body
}
