//! Okta integrations: wizard state, hook identity and health counters.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{FromRow, PgConnection, PgPool, Postgres};

use super::Result;
use crate::ids::{HookKey, IntegrationId, TenantId};
use crate::okta::OktaDomain;
use crate::secrets::HookSecretHashes;

/// Where an integration is in the wizard's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum IntegrationStatus {
    Pending,
    Validated,
    Active,
    Deleted,
}

impl fmt::Display for IntegrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntegrationStatus::Pending => "pending",
            IntegrationStatus::Validated => "validated",
            IntegrationStatus::Active => "active",
            IntegrationStatus::Deleted => "deleted",
        })
    }
}

/// How to reach an integration's org: whose it is, where it is, which app to sign in as.
#[derive(Debug, Clone, FromRow)]
pub struct OrgAccess {
    pub tenant_id: TenantId,
    pub id: IntegrationId,
    #[sqlx(rename = "okta_domain")]
    pub domain: OktaDomain,
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct Integration {
    #[sqlx(flatten)]
    pub org: OrgAccess,
    pub status: IntegrationStatus,
    pub created_from: String,
    pub event_hook_id: Option<String>,
    pub hook_key: HookKey,
    pub hook_status: Option<String>,
    pub events_received: i64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub last_delivery_error: Option<String>,
    pub last_delivery_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, status, created_from, okta_domain, client_id, event_hook_id, \
    hook_key, hook_status, events_received, last_event_at, activated_at, last_error_code, \
    last_error, last_delivery_error, last_delivery_error_at, created_at, updated_at";

pub struct NewIntegration<'a> {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    pub created_from: &'a str,
    pub okta_domain: &'a OktaDomain,
    pub client_id: Option<&'a str>,
    pub hook_key: &'a HookKey,
}

pub async fn insert(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    new: &NewIntegration<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO integrations (id, tenant_id, status, created_from, okta_domain, client_id, hook_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id)
    .bind(tenant_id)
    .bind(new.status)
    .bind(new.created_from)
    .bind(new.okta_domain)
    .bind(new.client_id)
    .bind(new.hook_key)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO hook_routes (hook_key, tenant_id, integration_id) VALUES ($1, $2, $3)",
    )
    .bind(new.hook_key)
    .bind(tenant_id)
    .bind(new.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live (not deleted) integration of the tenant.
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<Option<Integration>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM integrations WHERE tenant_id = $1 AND id = $2 AND status <> 'deleted'"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn list(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<Integration>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM integrations WHERE tenant_id = $1 AND status <> 'deleted' ORDER BY created_at, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .fetch_all(pool)
        .await?)
}

/// Stores validated credentials' domain and client id, and the state they lead to.
pub async fn set_validated(
    conn: &mut PgConnection,
    org: &OrgAccess,
    status: IntegrationStatus,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET status = $3, okta_domain = $4, client_id = $5,
             last_error_code = NULL, last_error = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(org.tenant_id)
    .bind(org.id)
    .bind(status)
    .bind(&org.domain)
    .bind(&org.client_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub struct Activation<'a> {
    pub event_hook_id: &'a str,
    pub hook_status: &'a str,
    pub hook_secret_hash: &'a [u8],
}

pub async fn set_active(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: IntegrationId,
    a: &Activation<'_>,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET status = 'active', event_hook_id = $3, hook_status = $4,
             hook_secret_hash = $5, hook_secret_prev_hash = NULL, hook_secret_prev_until = NULL,
             hook_secret_rotated_at = now(), activated_at = COALESCE(activated_at, now()),
             last_error_code = NULL, last_error = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(a.event_hook_id)
    .bind(a.hook_status)
    .bind(a.hook_secret_hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the last failure of a wizard step or a background call to Okta, for the status page.
pub async fn set_error(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    code: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET last_error_code = $3, last_error = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(code)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// Clears an error recorded by the gap fill once a later poll succeeds (others stay).
pub async fn clear_gapfill_error(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET last_error_code = NULL, last_error = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND last_error LIKE 'System Log gap fill:%'",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_deleted(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET status = 'deleted', deleted_at = now(),
             hook_secret_hash = NULL, hook_secret_prev_hash = NULL, gapfill_cursor = NULL,
             updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// What the hook endpoint needs to authenticate a delivery.
#[derive(Debug, Clone, FromRow)]
pub struct HookTarget {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub status: IntegrationStatus,
    pub hook_secret_hash: Option<Vec<u8>>,
    pub hook_secret_prev_hash: Option<Vec<u8>>,
    pub hook_secret_prev_until: Option<DateTime<Utc>>,
}

impl HookTarget {
    pub fn secret_hashes(&self) -> HookSecretHashes {
        HookSecretHashes {
            current: self.hook_secret_hash.clone(),
            previous: self.hook_secret_prev_hash.clone(),
            previous_until: self.hook_secret_prev_until,
        }
    }
}

pub async fn find_by_hook_key(pool: &PgPool, hook_key: &str) -> Result<Option<HookTarget>> {
    Ok(sqlx::query_as(
        "SELECT i.tenant_id, i.id AS integration_id, i.status, i.hook_secret_hash,
                i.hook_secret_prev_hash, i.hook_secret_prev_until
         FROM hook_routes r
         JOIN integrations i ON i.tenant_id = r.tenant_id AND i.id = r.integration_id
         WHERE r.hook_key = $1",
    )
    .bind(hook_key)
    .fetch_optional(pool)
    .await?)
}

/// Sets the hook secret hash written before Okta verifies the hook (the verification GET
/// carries it), keeping the previous one valid until `prev_until`.
pub async fn set_hook_secret(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    secret_hash: &[u8],
    prev_until: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET
             hook_secret_prev_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE hook_secret_hash END,
             hook_secret_prev_until = $4, hook_secret_hash = $3, hook_secret_rotated_at = now(),
             updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(secret_hash)
    .bind(prev_until)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_hook_state(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    event_hook_id: &str,
    hook_status: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET event_hook_id = $3, hook_status = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(event_hook_id)
    .bind(hook_status)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn record_received(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    accepted: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET events_received = events_received + $3, last_event_at = now(),
             last_delivery_error = NULL
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(accepted)
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery we could not accept: remember it and ask gap fill to look.
pub async fn record_delivery_error(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    error: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET last_delivery_error = $3, last_delivery_error_at = now(),
             gapfill_needed = true
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct GapFillTarget {
    #[sqlx(flatten)]
    pub org: OrgAccess,
    pub gapfill_cursor: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
}

/// Active integrations whose System Log poll is due (interval elapsed, or a delivery failed).
pub async fn due_for_gapfill(pool: &PgPool, interval_secs: i64) -> Result<Vec<GapFillTarget>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id, okta_domain, client_id, gapfill_cursor, activated_at FROM integrations
         WHERE status = 'active' AND (gapfill_needed OR gapfill_last_run_at IS NULL
               OR gapfill_last_run_at < now() - make_interval(secs => $1))",
    )
    .bind(interval_secs as f64)
    .fetch_all(pool)
    .await?)
}

pub async fn save_gapfill_cursor(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    cursor: &str,
    done: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET gapfill_cursor = $3, gapfill_last_run_at = now(),
             gapfill_needed = gapfill_needed AND NOT $4
         WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(cursor)
    .bind(done)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct RotationTarget {
    #[sqlx(flatten)]
    pub org: OrgAccess,
    pub event_hook_id: Option<String>,
    pub hook_key: HookKey,
}

pub async fn due_for_secret_rotation(
    pool: &PgPool,
    every_secs: i64,
) -> Result<Vec<RotationTarget>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id, okta_domain, client_id, event_hook_id, hook_key FROM integrations
         WHERE status = 'active' AND event_hook_id IS NOT NULL
           AND hook_secret_rotated_at < now() - make_interval(secs => $1)",
    )
    .bind(every_secs as f64)
    .fetch_all(pool)
    .await?)
}

/// How to reach an integration's org, deleted or not (for background jobs).
pub async fn org_access(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<OrgAccess> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id, okta_domain, client_id FROM integrations
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(pool)
    .await?)
}

/// Claims the right to run a wizard step on the integration until `until` (a lease row,
/// not a held connection: the step calls Okta for seconds, and the pool serves the hook).
/// False when another step holds an unexpired lease.
pub async fn lease_step(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    holder: uuid::Uuid,
    until: DateTime<Utc>,
) -> Result<bool> {
    let leased = sqlx::query(
        "UPDATE integrations SET step_lease_holder = $3, step_lease_until = $4
         WHERE tenant_id = $1 AND id = $2
           AND (step_lease_until IS NULL OR step_lease_until < now())",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(holder)
    .bind(until)
    .execute(pool)
    .await?;
    Ok(leased.rows_affected() == 1)
}

pub async fn release_step(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    holder: uuid::Uuid,
) -> Result<()> {
    sqlx::query(
        "UPDATE integrations SET step_lease_holder = NULL, step_lease_until = NULL
         WHERE tenant_id = $1 AND id = $2 AND step_lease_holder = $3",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(holder)
    .execute(pool)
    .await?;
    Ok(())
}

/// Stored as its canonical text, read back with [`OktaDomain::from_stored`].
impl sqlx::Type<Postgres> for OktaDomain {
    fn type_info() -> PgTypeInfo {
        <String as sqlx::Type<Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for OktaDomain {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<Postgres>>::encode(self.stored(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for OktaDomain {
    fn decode(value: PgValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        let text = <&str as sqlx::Decode<Postgres>>::decode(value)?;
        Ok(OktaDomain::from_stored(text)?)
    }
}
