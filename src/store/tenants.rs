//! Tenants and their API tokens (stored as sha256 hashes only).

use sqlx::PgPool;
use uuid::Uuid;

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

    fn parse(text: &str) -> Role {
        if text == "admin" {
            Role::Admin
        } else {
            Role::Viewer
        }
    }
}

pub async fn create_tenant(pool: &PgPool, id: Uuid, name: &str) -> Result<()> {
    sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, $2)")
        .bind(id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn tenant_exists(pool: &PgPool, id: Uuid) -> Result<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

pub async fn insert_token(
    pool: &PgPool,
    tenant_id: Uuid,
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

pub async fn find_token(pool: &PgPool, token_hash: &[u8]) -> Result<Option<(Uuid, Role)>> {
    let row: Option<(Uuid, String)> =
        sqlx::query_as("SELECT tenant_id, role FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(tenant, role)| (tenant, Role::parse(&role))))
}
