//! Custom policies of a tenant and the tenant's switches for managed policies.

use std::collections::HashMap;

use futures::TryStreamExt;

use crate::ids::{PolicyId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::Result;

#[derive(Debug, Clone)]
pub struct CustomPolicy {
    pub id: PolicyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub rules: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn list_custom(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<CustomPolicy>> {
    Ok(sqlx::query_as!(
        CustomPolicy,
        r#"SELECT id AS "id: _", tenant_id AS "tenant_id: _", name, description, rules, enabled,
               created_at, updated_at
           FROM policies WHERE tenant_id = $1 ORDER BY name"#,
        tenant_id as _,
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get_custom(
    pool: &PgPool,
    tenant_id: TenantId,
    id: PolicyId,
) -> Result<Option<CustomPolicy>> {
    Ok(sqlx::query_as!(
        CustomPolicy,
        r#"SELECT id AS "id: _", tenant_id AS "tenant_id: _", name, description, rules, enabled,
               created_at, updated_at
           FROM policies WHERE tenant_id = $1 AND id = $2"#,
        tenant_id as _,
        id as _,
    )
    .fetch_optional(pool)
    .await?)
}

/// What [`insert_custom`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Insert {
    Done,
    NameTaken,
    /// The tenant has `max` custom policies already.
    AtLimit,
}

/// Inserts a custom policy unless the tenant has `max` already, with the row's times (the
/// database's clock, as on update). Creates of one tenant take turns on its row, so concurrent
/// ones cannot all count below `max`.
pub async fn insert_custom(pool: &PgPool, p: &mut CustomPolicy, max: i64) -> Result<Insert> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        p.tenant_id as _,
    )
    .fetch_optional(&mut *tx)
    .await?;
    // A statement of its own: its snapshot, taken once the lock is held, sees the policies of
    // the create that held it before (a count in the locking statement would not).
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM policies WHERE tenant_id = $1"#,
        p.tenant_id as _,
    )
    .fetch_one(&mut *tx)
    .await?;
    if count >= max {
        return Ok(Insert::AtLimit);
    }
    let row = sqlx::query!(
        "INSERT INTO policies (id, tenant_id, name, description, policy_type, rules, enabled)
         VALUES ($1, $2, $3, $4, 'okta', $5, $6) ON CONFLICT (tenant_id, name) DO NOTHING
         RETURNING created_at, updated_at",
        p.id as _,
        p.tenant_id as _,
        p.name,
        p.description,
        p.rules,
        p.enabled,
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(Insert::NameTaken);
    };
    (p.created_at, p.updated_at) = (row.created_at, row.updated_at);
    Ok(Insert::Done)
}

/// Writes a custom policy and takes the row's new `updated_at`.
pub async fn update_custom(pool: &PgPool, p: &mut CustomPolicy) -> Result<()> {
    let updated_at = sqlx::query_scalar!(
        "UPDATE policies SET name = $3, description = $4, rules = $5, enabled = $6, updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING updated_at",
        p.tenant_id as _,
        p.id as _,
        p.name,
        p.description,
        p.rules,
        p.enabled,
    )
    .fetch_optional(pool)
    .await?;
    if let Some(updated_at) = updated_at {
        p.updated_at = updated_at;
    }
    Ok(())
}

pub async fn delete_custom(pool: &PgPool, tenant_id: TenantId, id: PolicyId) -> Result<bool> {
    let done = sqlx::query!(
        "DELETE FROM policies WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn managed_settings(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<HashMap<PolicyId, bool>> {
    Ok(sqlx::query!(
        r#"SELECT policy_id AS "policy_id: PolicyId", enabled
           FROM managed_policy_settings WHERE tenant_id = $1"#,
        tenant_id as _,
    )
    .fetch(pool)
    .map_ok(|row| (row.policy_id, row.enabled))
    .try_collect()
    .await?)
}

pub async fn set_managed_enabled(
    pool: &PgPool,
    tenant_id: TenantId,
    policy_id: PolicyId,
    enabled: bool,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO managed_policy_settings (tenant_id, policy_id, enabled) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, policy_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()",
        tenant_id as _,
        policy_id as _,
        enabled,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// For each tenant, a text that changes whenever its policy set changes (the worker's
/// engine cache key), in one round trip for a whole batch.
pub async fn versions(pool: &PgPool, tenants: &[TenantId]) -> Result<HashMap<TenantId, String>> {
    Ok(sqlx::query!(
        r#"SELECT t.tenant_id AS "tenant_id!: TenantId", concat(
             (SELECT coalesce(max(updated_at)::text, '') || count(*) FROM policies p
              WHERE p.tenant_id = t.tenant_id), '/',
             (SELECT coalesce(max(updated_at)::text, '') || count(*) FROM managed_policy_settings m
              WHERE m.tenant_id = t.tenant_id)) AS "version!"
           FROM unnest($1::uuid[]) AS t(tenant_id)"#,
        tenants as _,
    )
    .fetch(pool)
    .map_ok(|row| (row.tenant_id, row.version))
    .try_collect()
    .await?)
}
