//! Tenant bearer tokens: the only place a tenant id comes from.

use super::error::ApiError;
use crate::ids::TenantId;
use crate::secrets::sha256;
use crate::state::Services;
use crate::store::tenants::{self, Role};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// An authenticated caller: any role.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub role: Role,
}

/// An authenticated caller allowed to change things.
#[derive(Debug, Clone, Copy)]
pub struct Admin {
    pub tenant_id: TenantId,
}

impl FromRequestParts<Services> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <tenant token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <tenant token>`")
            })?;
        let (tenant_id, role) = tenants::find_token(services.pool(), &sha256(token))
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
        Ok(Caller { tenant_id, role })
    }
}

impl FromRequestParts<Services> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, services).await?;
        match caller.role {
            Role::Admin => Ok(Admin {
                tenant_id: caller.tenant_id,
            }),
            Role::Viewer => Err(ApiError::forbidden(
                "this token has the viewer role; changes need an admin token",
            )),
        }
    }
}
