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
        let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
        let header = headers
            .next()
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <tenant token>"))?;
        if headers.next().is_some() {
            return Err(ApiError::bad_request(
                "duplicate_authorization",
                "send exactly one Authorization header",
            ));
        }
        let token = header.to_str().ok().and_then(bearer_token).ok_or_else(|| {
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
                "this token has the viewer role; this needs an admin token",
            )),
        }
    }
}

/// The credentials of a `Bearer` Authorization value; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in ["Bearer oki_x", "bearer oki_x", "BEARER  oki_x "] {
            assert_eq!(bearer_token(value), Some("oki_x"), "{value}");
        }
        for value in ["Basic oki_x", "Bearer", "Bearer ", "oki_x"] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }
}
