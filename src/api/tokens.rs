//! The tenant's API tokens: list (never the tokens themselves), create (shown once), revoke.
//! Admin only: a viewer must not mint or revoke access.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Json, Path};
use crate::ids::TokenId;
use crate::service::tokens::{self, MAX_EXPIRES_IN_DAYS};
use crate::state::Services;
use crate::store::tenants::{self, Role};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{token_id}", delete(revoke))
}

async fn list(State(services): State<Services>, admin: Admin) -> ApiResult<Json<Value>> {
    let items = tenants::list_tokens(services.pool(), admin.tenant_id).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    role: Role,
    expires_in_days: Option<u32>,
}

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

async fn revoke(
    State(services): State<Services>,
    admin: Admin,
    Path(token_id): Path<TokenId>,
) -> ApiResult<StatusCode> {
    match tenants::revoke_token(services.pool(), admin.tenant_id, token_id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("token")),
    }
}
