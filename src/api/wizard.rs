//! The wizard API under /api/v1/integrations/okta: connect an Okta org from either side.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, Json, Path};
use crate::service::Services;
use crate::service::integrations::{WizardError, check_credentials_input};

pub fn router() -> Router<Services> {
    Router::new()
        .route(
            "/api/v1/integrations/okta",
            get(list).post(create_from_okta),
        )
        .route("/api/v1/integrations/okta/launch", post(launch))
        .route("/api/v1/integrations/okta/{id}", get(show).delete(remove))
        .route("/api/v1/integrations/okta/{id}/validate", post(validate))
        .route("/api/v1/integrations/okta/{id}/complete", post(complete))
        .route("/api/v1/integrations/okta/{id}/credentials", put(rotate))
}

impl From<WizardError> for ApiError {
    fn from(error: WizardError) -> Self {
        match error {
            WizardError::NotFound => ApiError::not_found("integration"),
            WizardError::InvalidInput(code, detail) => ApiError::unprocessable(code, detail),
            WizardError::Domain(e) => ApiError::unprocessable(e.code(), e.to_string()),
            WizardError::OutOfOrder { code, detail } => ApiError::conflict(code, detail),
            WizardError::Busy => ApiError::conflict("step_in_progress", error.to_string()),
            WizardError::Okta { error, checks } => {
                let mut api = ApiError::unprocessable(error.code(), error.detail())
                    .with_extra(json!({ "checks": checks }));
                if let crate::okta::OktaError::RateLimited { retry_at } = error {
                    api.retry_after_secs =
                        Some((retry_at - chrono::Utc::now()).num_seconds().max(1) as u64);
                }
                api
            }
            WizardError::VerificationFailed { .. } => {
                ApiError::unprocessable("hook_verification_failed", error.to_string())
            }
            WizardError::Store(e) => e.into(),
            WizardError::Vault(e) => ApiError::internal(&e),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LaunchBody {
    org: String,
}

async fn launch(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<LaunchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let integration = services.launch(admin.tenant_id, &body.org).await?;
    let install_url = services
        .parse_domain(&integration.okta_domain)?
        .install_url();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": integration.id,
            "status": integration.status,
            "okta_domain": integration.okta_domain,
            "install_url": install_url,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    client_id: String,
    client_secret: SecretString,
    okta_domain: Option<String>,
}

async fn validate(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(body): Json<ValidateBody>,
) -> ApiResult<Json<Value>> {
    let input = check_credentials_input(&body.client_id, &body.client_secret)?;
    let (integration, checks) = services
        .validate(admin.tenant_id, id, input, body.okta_domain.as_deref())
        .await?;
    Ok(Json(
        json!({ "id": integration.id, "status": integration.status, "okta_domain": integration.okta_domain, "checks": checks }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    okta_domain: String,
    client_id: String,
    client_secret: SecretString,
}

async fn create_from_okta(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    services.parse_domain(&body.okta_domain)?;
    let input = check_credentials_input(&body.client_id, &body.client_secret)?;
    let (integration, checks) = services
        .create_from_okta(admin.tenant_id, &body.okta_domain, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": integration.id, "status": integration.status, "okta_domain": integration.okta_domain, "checks": checks }),
        ),
    ))
}

async fn complete(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    let integration = services.complete(admin.tenant_id, id).await?;
    Ok(Json(
        json!({ "id": integration.id, "status": integration.status, "event_hook_id": integration.event_hook_id }),
    ))
}

async fn list(State(services): State<Services>, caller: Caller) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for integration in crate::store::integrations::list(services.pool(), caller.tenant_id).await? {
        items.push(services.view(integration).await?);
    }
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    let integration = services.get_integration(caller.tenant_id, id).await?;
    let view = services.view(integration).await?;
    Ok(Json(
        serde_json::to_value(view).map_err(|e| ApiError::internal(&e))?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    client_id: Option<String>,
    client_secret: SecretString,
}

async fn rotate(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(body): Json<RotateBody>,
) -> ApiResult<Json<Value>> {
    let (integration, checks) = services
        .rotate_credentials(
            admin.tenant_id,
            id,
            body.client_id.as_deref(),
            &body.client_secret,
        )
        .await?;
    Ok(Json(
        json!({ "id": integration.id, "status": integration.status, "checks": checks }),
    ))
}

async fn remove(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    services.delete(admin.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
