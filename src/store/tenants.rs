//! Tenants and their API tokens (stored as sha256 hashes only).

use crate::ids::TenantId;
use sqlx::PgPool;

use super::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Unknown text is refused, never taken for a weaker (or stronger) role.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

pub async fn create_tenant(pool: &PgPool, id: TenantId, name: &str) -> Result<()> {
    sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, $2)")
        .bind(id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn tenant_exists(pool: &PgPool, id: TenantId) -> Result<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

pub async fn insert_token(
    pool: &PgPool,
    tenant_id: TenantId,
    token_hash: &[u8],
    role: Role,
) -> Result<()> {
    sqlx::query("INSERT INTO api_tokens (token_hash, tenant_id, role) VALUES ($1, $2, $3)")
        .bind(token_hash)
        .bind(tenant_id)
        .bind(role.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn find_token(pool: &PgPool, token_hash: &[u8]) -> Result<Option<(TenantId, Role)>> {
    let row: Option<(TenantId, String)> =
        sqlx::query_as("SELECT tenant_id, role FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    // A role this version does not know authenticates nobody.
    Ok(row.and_then(|(tenant, role)| Some((tenant, Role::parse(&role)?))))
}
