//! The tenant's API tokens: list (never the tokens themselves), create (shown once), revoke.
//! Admin only: a viewer must not mint or revoke access.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Json, Path};
use super::schemas;
use crate::ids::TokenId;
use crate::service::tokens::{self, MAX_EXPIRES_IN_DAYS};
use crate::state::Services;
use crate::store::tenants::{self, Role};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// The tenant's tokens, revoked and expired ones included (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "listTokens",
    responses((status = 200, description = "The tokens", body = schemas::TokenList))
)]
async fn list(State(services): State<Services>, admin: Admin) -> ApiResult<Json<Value>> {
    let items = tenants::list_tokens(services.pool(), admin.tenant_id).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewTokenRequest)]
struct NewToken {
    role: Role,
    /// Without it the token does not expire.
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
}

/// A new token, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "createToken",
    request_body = NewToken,
    responses(
        (status = 201, description = "Created", body = schemas::CreatedToken),
        (status = 422, description = "`invalid_body`: `expires_in_days` is not between 1 and 3650"),
    )
)]
async fn create(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if body
        .expires_in_days
        .is_some_and(|days| !(1..=MAX_EXPIRES_IN_DAYS).contains(&days))
    {
        return Err(ApiError::unprocessable(
            "invalid_body",
            format!("expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
        ));
    }
    let created = tokens::create_token(
        services.pool(),
        admin.tenant_id,
        body.role,
        body.expires_in_days,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token_id": created.token_id, "role": body.role, "token": created.token,
            "expires_in_days": body.expires_in_days,
        })),
    ))
}

/// Revokes a token: it is refused (401) from now on.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{token_id}",
    operation_id = "revokeToken",
    params(("token_id" = uuid::Uuid, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "`not_found`: no such token of this tenant, or it is revoked already"),
    )
)]
async fn revoke(
    State(services): State<Services>,
    admin: Admin,
    Path(token_id): Path<TokenId>,
) -> ApiResult<StatusCode> {
    match tenants::revoke_token(services.pool(), admin.tenant_id, token_id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such token of this tenant, or it is revoked already",
        )),
    }
}
