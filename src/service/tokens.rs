//! Tenants and their API tokens: random bearer tokens, stored as sha256 only.

use sqlx::PgPool;

use crate::ids::TenantId;
use crate::secrets::{random_token, sha256};
use crate::store::Result;
use crate::store::tenants::{self, Role};

pub async fn create_token(pool: &PgPool, tenant_id: TenantId, role: Role) -> Result<String> {
    let token = random_token("oki_");
    tenants::insert_token(pool, tenant_id, &sha256(&token), role).await?;
    Ok(token)
}

/// Creates a tenant with a first admin token; returns (tenant id, token).
pub async fn create_tenant(pool: &PgPool, name: &str) -> Result<(TenantId, String)> {
    let id = TenantId::new();
    tenants::create_tenant(pool, id, name).await?;
    let token = create_token(pool, id, Role::Admin).await?;
    Ok((id, token))
}

pub async fn create_token_for(
    pool: &PgPool,
    tenant_id: TenantId,
    role: Role,
) -> Result<Option<String>> {
    if !tenants::tenant_exists(pool, tenant_id).await? {
        return Ok(None);
    }
    create_token(pool, tenant_id, role).await.map(Some)
}
