//! Okta calls owed after the local state moved on: deprovisioning a deleted integration's hook.

use crate::ids::{IntegrationId, TenantId};
use sqlx::PgConnection;

use super::Result;

#[derive(Debug, Clone)]
pub struct DeprovisionJob {
    pub id: i64,
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub event_hook_id: String,
    pub attempts: i32,
}

pub async fn enqueue_deprovision(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    event_hook_id: &str,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO okta_jobs (tenant_id, integration_id, kind, event_hook_id) VALUES ($1, $2, 'deprovision_hook', $3)",
        tenant_id as _,
        integration_id as _,
        event_hook_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims one due job; it stays locked by the caller's transaction while Okta is called.
pub async fn claim_due(conn: &mut PgConnection) -> Result<Option<DeprovisionJob>> {
    Ok(sqlx::query_as!(
        DeprovisionJob,
        r#"SELECT id, tenant_id AS "tenant_id: _", integration_id AS "integration_id: _",
               event_hook_id, attempts
           FROM okta_jobs
           WHERE run_after <= now() ORDER BY run_after LIMIT 1 FOR UPDATE SKIP LOCKED"#,
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn finish(conn: &mut PgConnection, job: &DeprovisionJob) -> Result<()> {
    sqlx::query!(
        "DELETE FROM okta_jobs WHERE tenant_id = $1 AND id = $2",
        job.tenant_id as _,
        job.id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn retry_later(
    conn: &mut PgConnection,
    job: &DeprovisionJob,
    delay_secs: f64,
    error: &str,
) -> Result<()> {
    sqlx::query!(
        "UPDATE okta_jobs SET attempts = attempts + 1, last_error = $4,
             run_after = now() + make_interval(secs => $3) WHERE tenant_id = $1 AND id = $2",
        job.tenant_id as _,
        job.id,
        delay_secs,
        error,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn pending_for_tenant(conn: &mut PgConnection, tenant_id: TenantId) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM okta_jobs WHERE tenant_id = $1"#,
        tenant_id as _,
    )
    .fetch_one(conn)
    .await?)
}
