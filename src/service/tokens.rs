//! Tenants and their API tokens: random bearer tokens, stored as sha256 only.

use sqlx::PgPool;

use chrono::Utc;

use crate::ids::{TenantId, TokenId};
use crate::secrets::{random_token, sha256};
use crate::store::Result;
use crate::store::tenants::{self, Role};

/// Tokens live at most this long when an expiry is asked for.
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// A new token: its id (to list and revoke it) and the token, shown this once.
pub struct NewToken {
    pub token_id: TokenId,
    pub token: String,
}

pub async fn create_token(
    pool: &PgPool,
    tenant_id: TenantId,
    role: Role,
    expires_in_days: Option<u32>,
) -> Result<NewToken> {
    let token = random_token("oki_");
    let expires_at = expires_in_days
        .map(|days| Utc::now() + chrono::Duration::days(days.min(MAX_EXPIRES_IN_DAYS).into()));
    let token_id =
        tenants::insert_token(pool, tenant_id, &sha256(&token), role, expires_at).await?;
    Ok(NewToken { token_id, token })
}

/// Creates a tenant with a first admin token; returns (tenant id, token).
pub async fn create_tenant(pool: &PgPool, name: &str) -> Result<(TenantId, String)> {
    let id = TenantId::new();
    tenants::create_tenant(pool, id, name).await?;
    let created = create_token(pool, id, Role::Admin, None).await?;
    Ok((id, created.token))
}

pub async fn create_token_for(
    pool: &PgPool,
    tenant_id: TenantId,
    role: Role,
    expires_in_days: Option<u32>,
) -> Result<Option<NewToken>> {
    if !tenants::tenant_exists(pool, tenant_id).await? {
        return Ok(None);
    }
    create_token(pool, tenant_id, role, expires_in_days)
        .await
        .map(Some)
}
