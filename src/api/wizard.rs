//! The wizard API under /api/v1/integrations/okta: connect an Okta org from either side.

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, Json, Path};
use crate::ids::IntegrationId;
use crate::service::credentials::{ClientCredentials, parse_client_id, parse_client_secret};
use crate::state::Services;
use crate::store::integrations::Integration;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

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
    let mut body = summary(&integration);
    body["install_url"] = json!(integration.org.domain.install_url());
    Ok((StatusCode::CREATED, Json(body)))
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
    Path(id): Path<IntegrationId>,
    Json(body): Json<ValidateBody>,
) -> ApiResult<Json<Value>> {
    let input = ClientCredentials::parse(&body.client_id, &body.client_secret)?;
    let (integration, checks) = services
        .validate(admin.tenant_id, id, input, body.okta_domain.as_deref())
        .await?;
    Ok(Json(with_checks(&integration, &checks)))
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
    let input = ClientCredentials::parse(&body.client_id, &body.client_secret)?;
    let (integration, checks) = services
        .create_from_okta(admin.tenant_id, &body.okta_domain, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(with_checks(&integration, &checks)),
    ))
}

async fn complete(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<Json<Value>> {
    let integration = services.complete(admin.tenant_id, id).await?;
    let mut body = summary(&integration);
    body["event_hook_id"] = json!(integration.event_hook_id);
    Ok(Json(body))
}

async fn list(State(services): State<Services>, caller: Caller) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for integration in services.list_integrations(caller.tenant_id).await? {
        items.push(services.view(integration).await?);
    }
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<IntegrationId>,
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

async fn remove(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<StatusCode> {
    services.delete(admin.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn summary(integration: &Integration) -> Value {
    json!({
        "id": integration.org.id,
        "status": integration.status,
        "okta_domain": integration.org.domain,
    })
}

fn with_checks(integration: &Integration, checks: &[crate::service::Check]) -> Value {
    let mut body = summary(integration);
    body["checks"] = json!(checks);
    body
}
