//! Tenants and their API tokens (stored as sha256 hashes only).

use chrono::{DateTime, Utc};

use crate::ids::{TenantId, TokenId};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::Result;

/// A token's role: `admin` may change things, `viewer` only reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type, ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
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
    sqlx::query!(
        "INSERT INTO tenants (id, name) VALUES ($1, $2)",
        id as _,
        name,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A tenant as `tenant list` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantInfo {
    pub tenant_id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Every tenant not offboarded, oldest first.
pub async fn list_tenants(pool: &PgPool) -> Result<Vec<TenantInfo>> {
    Ok(sqlx::query_as!(
        TenantInfo,
        r#"SELECT id AS "tenant_id: TenantId", name, created_at FROM tenants
           WHERE offboarded_at IS NULL ORDER BY created_at, id"#,
    )
    .fetch_all(pool)
    .await?)
}

/// Whether the tenant exists and is not offboarded.
pub async fn tenant_exists(pool: &PgPool, id: TenantId) -> Result<bool> {
    let found = sqlx::query_scalar!(
        "SELECT 1 AS one FROM tenants WHERE id = $1 AND offboarded_at IS NULL",
        id as _
    )
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// An API token as an admin sees it: never the token itself.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = Token)]
pub struct TokenInfo {
    pub token_id: TokenId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_token(
    pool: &PgPool,
    tenant_id: TenantId,
    token_hash: &[u8],
    role: Role,
    expires_at: Option<DateTime<Utc>>,
) -> Result<TokenId> {
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO api_tokens (token_hash, tenant_id, role, expires_at) VALUES ($1, $2, $3, $4)
           RETURNING id AS "id: TokenId""#,
        token_hash,
        tenant_id as _,
        role.as_str(),
        expires_at,
    )
    .fetch_one(pool)
    .await?)
}

/// The tenant and role of a live token: not revoked, not expired.
pub async fn find_token(pool: &PgPool, token_hash: &[u8]) -> Result<Option<(TenantId, Role)>> {
    let row = sqlx::query!(
        r#"SELECT tenant_id AS "tenant_id: TenantId", role FROM api_tokens
           WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"#,
        token_hash,
    )
    .fetch_optional(pool)
    .await?;
    // A role this version does not know authenticates nobody.
    Ok(row.and_then(|row| Some((row.tenant_id, Role::parse(&row.role)?))))
}

pub async fn list_tokens(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<TokenInfo>> {
    Ok(sqlx::query_as!(
        TokenInfo,
        r#"SELECT id AS "token_id: _", role AS "role: Role", created_at, expires_at, revoked_at FROM api_tokens
           WHERE tenant_id = $1 ORDER BY created_at, id"#,
        tenant_id as _,
    )
    .fetch_all(pool)
    .await?)
}

/// Revokes one of the tenant's tokens; false when it has no such live token.
pub async fn revoke_token(pool: &PgPool, tenant_id: TenantId, id: TokenId) -> Result<bool> {
    let done = sqlx::query!(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        tenant_id as _,
        id as _,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The tenant a token id belongs to (operators revoke by id alone).
pub async fn token_tenant(pool: &PgPool, id: TokenId) -> Result<Option<TenantId>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT tenant_id AS "tenant_id: TenantId" FROM api_tokens WHERE id = $1"#,
        id as _,
    )
    .fetch_optional(pool)
    .await?)
}

/// Tables holding a tenant's data, in the order they are emptied: children before parents.
/// Integrations (and, by cascade, their credentials) that a pending hook-removal job still
/// needs stay until that job finishes; so does the tenant row then, marked offboarded
/// ([`mark_offboarded`]) for the last job to delete ([`delete_offboarded`]).
/// The queue goes first: a worker batch in flight holds its queue rows, so the deletion waits
/// for that batch's commit, and the tables after it then see what the batch wrote.
const TENANT_TABLES: [&str; 14] = [
    "event_queue",
    "runtime_events",
    "okta_events",
    "okta_event_keys",
    "quarantined_events",
    "detect_state",
    "detect_checkpoints",
    "managed_policy_settings",
    "policies",
    "api_tokens",
    "hook_routes",
    "baselines",
    "integrations",
    "tenants",
];

/// Deletes every row of the tenant (see [`TENANT_TABLES`]); returns the rows per table.
/// Built at run time: the statement names each table in turn.
pub async fn delete_tenant_data(
    conn: &mut sqlx::PgConnection,
    tenant_id: TenantId,
) -> Result<Vec<(&'static str, u64)>> {
    let mut counts = Vec::new();
    for table in TENANT_TABLES {
        let sql = match table {
            "integrations" => "DELETE FROM integrations WHERE tenant_id = $1 AND id NOT IN
                 (SELECT integration_id FROM okta_jobs WHERE tenant_id = $1)"
                .to_owned(),
            "tenants" => "DELETE FROM tenants WHERE id = $1 AND NOT EXISTS
                 (SELECT 1 FROM okta_jobs WHERE tenant_id = $1)"
                .to_owned(),
            _ => format!("DELETE FROM {table} WHERE tenant_id = $1"),
        };
        let deleted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        counts.push((table, deleted));
    }
    Ok(counts)
}

/// Marks the tenant as being offboarded, before [`delete_tenant_data`] in the same transaction.
pub async fn mark_offboarded(conn: &mut sqlx::PgConnection, tenant_id: TenantId) -> Result<()> {
    sqlx::query!(
        "UPDATE tenants SET offboarded_at = COALESCE(offboarded_at, now()) WHERE id = $1",
        tenant_id as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes an offboarded tenant's row, and by cascade what its queued hook removals kept,
/// once none is left; true if it did. The row is locked first: an offboarding committing
/// meanwhile is seen, not missed (each would find the other's work still pending).
pub async fn delete_offboarded(conn: &mut sqlx::PgConnection, tenant_id: TenantId) -> Result<bool> {
    sqlx::query!(
        "SELECT 1 AS one FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        tenant_id as _,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let deleted = sqlx::query!(
        "DELETE FROM tenants WHERE id = $1 AND offboarded_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM okta_jobs WHERE tenant_id = $1)",
        tenant_id as _,
    )
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}
