//! Okta integrations: wizard state, hook identity and health counters.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres};

use super::Result;
use crate::ids::{HookKey, IntegrationId, TenantId};
use crate::okta::{Coverage, OktaDomain};
use crate::secrets::HookSecretHashes;

/// Where an integration is in the wizard's state machine. `learning` is `active` while a
/// baseline learns from the org's history: shown by the status, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum IntegrationStatus {
    Pending,
    Validated,
    Active,
    Learning,
    Deleted,
}

impl fmt::Display for IntegrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntegrationStatus::Pending => "pending",
            IntegrationStatus::Validated => "validated",
            IntegrationStatus::Active => "active",
            IntegrationStatus::Learning => "learning",
            IntegrationStatus::Deleted => "deleted",
        })
    }
}

/// How to reach an integration's org: whose it is, where it is, which app to sign in as.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub tenant_id: TenantId,
    pub id: IntegrationId,
    pub domain: OktaDomain,
    pub client_id: Option<String>,
}

/// The record queries select as `(tenant_id, id, okta_domain, client_id) AS "org!: OrgAccess"`:
/// one column, so a query that needs the org fills its row type without a flat row in between.
type OrgRecord = (TenantId, IntegrationId, OktaDomain, Option<String>);

impl sqlx::Type<Postgres> for OrgAccess {
    fn type_info() -> PgTypeInfo {
        <OrgRecord as sqlx::Type<Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for OrgAccess {
    fn decode(value: PgValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        let (tenant_id, id, domain, client_id) =
            <OrgRecord as sqlx::Decode<Postgres>>::decode(value)?;
        Ok(OrgAccess {
            tenant_id,
            id,
            domain,
            client_id,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Integration {
    pub org: OrgAccess,
    pub status: IntegrationStatus,
    pub created_from: String,
    /// Which event types the hook subscribes to (and gap fill reads).
    pub coverage: Coverage,
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
    sqlx::query!(
        "INSERT INTO integrations (id, tenant_id, status, created_from, okta_domain, client_id, hook_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        new.id as _,
        tenant_id as _,
        new.status as _,
        new.created_from,
        new.okta_domain as _,
        new.client_id,
        new.hook_key as _,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO hook_routes (hook_key, tenant_id, integration_id) VALUES ($1, $2, $3)",
        new.hook_key as _,
        tenant_id as _,
        new.id as _,
    )
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
    Ok(select_live(pool, tenant_id, Some(id)).await?.pop())
}

pub async fn list(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<Integration>> {
    select_live(pool, tenant_id, None).await
}

/// The tenant's live integrations, or the one with `id`.
async fn select_live(
    pool: &PgPool,
    tenant_id: TenantId,
    id: Option<IntegrationId>,
) -> Result<Vec<Integration>> {
    Ok(sqlx::query_as!(
        Integration,
        r#"SELECT (tenant_id, id, okta_domain, client_id) AS "org!: OrgAccess", status AS "status: _",
               created_from, coverage AS "coverage: _", event_hook_id, hook_key AS "hook_key: _",
               hook_status, events_received, last_event_at, activated_at, last_error_code,
               last_error, last_delivery_error, last_delivery_error_at, created_at, updated_at
           FROM integrations
           WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id = $2) AND status <> 'deleted'
           ORDER BY created_at, id"#,
        tenant_id as _,
        id as _,
    )
    .fetch_all(pool)
    .await?)
}

/// The unique index that keeps one live integration per (tenant, Okta org); a write it
/// refuses is a [`super::StoreError::Conflict`] naming it.
pub const ONE_LIVE_PER_ORG: &str = "integrations_one_live_per_org";

/// A live integration that already connects an org.
#[derive(Debug, Clone)]
pub struct LiveOfOrg {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
}

/// The tenant's live integration of the org at `domain`, other than `except`: the oldest, if
/// several (a database may hold duplicates from before the index, see migration 0012).
pub async fn live_of_org(
    pool: &PgPool,
    tenant_id: TenantId,
    domain: &OktaDomain,
    except: Option<IntegrationId>,
) -> Result<Option<LiveOfOrg>> {
    Ok(sqlx::query_as!(
        LiveOfOrg,
        r#"SELECT id AS "id: _", status AS "status: _"
           FROM integrations
           WHERE tenant_id = $1 AND okta_domain = $2 AND status <> 'deleted'
             AND ($3::uuid IS NULL OR id <> $3)
           ORDER BY created_at, id
           LIMIT 1"#,
        tenant_id as _,
        domain as _,
        except as _,
    )
    .fetch_optional(pool)
    .await?)
}

/// Stores validated credentials' domain and client id, and the state they lead to. A row
/// flagged `org_duplicate` by migration 0012 keeps its flag only while it keeps its domain.
pub async fn set_validated(
    conn: &mut PgConnection,
    org: &OrgAccess,
    status: IntegrationStatus,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET status = $3, okta_domain = $4, client_id = $5,
             org_duplicate = org_duplicate AND okta_domain = $4,
             last_error_code = NULL, last_error = NULL,
             gapfill_failures = 0, gapfill_retry_at = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        org.tenant_id as _,
        org.id as _,
        status as _,
        org.domain as _,
        org.client_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Our hook in Okta as provisioned: its id, Okta's status of it, and the hash of the secret
/// it was given.
pub struct HookState<'a> {
    pub event_hook_id: &'a str,
    pub hook_status: &'a str,
    pub hook_secret_hash: &'a [u8],
}

/// Records a freshly provisioned hook; its new secret replaces any older one at once.
pub async fn set_hook(
    executor: impl PgExecutor<'_>,
    tenant_id: TenantId,
    id: IntegrationId,
    hook: &HookState<'_>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET event_hook_id = $3, hook_status = $4,
             hook_secret_hash = $5, hook_secret_prev_hash = NULL, hook_secret_prev_until = NULL,
             hook_secret_rotated_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
        hook.event_hook_id,
        hook.hook_status,
        hook.hook_secret_hash,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the verified hook and makes the integration active.
pub async fn set_active(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: IntegrationId,
    hook: &HookState<'_>,
) -> Result<()> {
    set_hook(&mut *conn, tenant_id, id, hook).await?;
    sqlx::query!(
        "UPDATE integrations SET status = 'active', activated_at = COALESCE(activated_at, now()),
             last_error_code = NULL, last_error = NULL
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The event types the hook subscribes to from now on (the hook in Okta already does).
pub async fn set_coverage(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    coverage: Coverage,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET coverage = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
        coverage as _,
    )
    .execute(pool)
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
    sqlx::query!(
        "UPDATE integrations SET last_error_code = $3, last_error = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
        code,
        detail,
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_deleted(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET status = 'deleted', deleted_at = now(),
             hook_secret_hash = NULL, hook_secret_prev_hash = NULL, gapfill_cursor = NULL,
             updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What the hook endpoint needs to authenticate a delivery.
#[derive(Debug, Clone)]
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
    Ok(sqlx::query_as!(
        HookTarget,
        r#"SELECT i.tenant_id AS "tenant_id: _", i.id AS "integration_id: _", i.status AS "status: _",
                  i.hook_secret_hash, i.hook_secret_prev_hash, i.hook_secret_prev_until
           FROM hook_routes r
           JOIN integrations i ON i.tenant_id = r.tenant_id AND i.id = r.integration_id
           WHERE r.hook_key = $1"#,
        hook_key,
    )
    .fetch_optional(pool)
    .await?)
}

/// Stages a new hook secret hash before Okta is given the secret, keeping the previous one
/// valid until `prev_until` (deliveries Okta signed with it may still arrive). Returns when
/// the previous secret was set, for [`unstage_hook_secret`].
pub async fn stage_hook_secret(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    secret_hash: &[u8],
    prev_until: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar!(
        "WITH before AS (
             SELECT hook_secret_rotated_at FROM integrations
             WHERE tenant_id = $1 AND id = $2 FOR UPDATE)
         UPDATE integrations SET hook_secret_prev_hash = hook_secret_hash,
             hook_secret_prev_until = $4, hook_secret_hash = $3, hook_secret_rotated_at = now(),
             updated_at = now()
         FROM before
         WHERE tenant_id = $1 AND id = $2
         RETURNING before.hook_secret_rotated_at",
        tenant_id as _,
        id as _,
        secret_hash,
        prev_until,
    )
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// Okta did not take the staged secret: the previous one is current again (with its age: a
/// rotation is due again once the staged one's window is over), and the staged one stays
/// valid until the `prev_until` it was staged with, in case Okta took it after all. Nothing
/// changes once another secret was staged meanwhile.
pub async fn unstage_hook_secret(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    staged_hash: &[u8],
    prev_rotated_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET hook_secret_hash = hook_secret_prev_hash,
             hook_secret_prev_hash = hook_secret_hash, hook_secret_rotated_at = $4,
             updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND hook_secret_hash = $3
           AND hook_secret_prev_hash IS NOT NULL",
        tenant_id as _,
        id as _,
        staged_hash,
        prev_rotated_at,
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn record_received(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    accepted: i64,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET events_received = events_received + $3, last_event_at = now(),
             last_delivery_error = NULL
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        integration_id as _,
        accepted,
    )
    .execute(pool)
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
    sqlx::query!(
        "UPDATE integrations SET last_delivery_error = $3, last_delivery_error_at = now(),
             gapfill_needed = true
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        integration_id as _,
        error,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether the integration is active, held so until the caller's transaction ends: a delete
/// (or a tenant's offboarding) waits for it. For background work that stores an org's events
/// long after it found the integration active: called after the writes, just before the
/// commit, so hook deliveries counting on the row hardly wait (false: roll back).
pub async fn lock_active(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<bool> {
    let active = sqlx::query_scalar!(
        r#"SELECT true AS "active!" FROM integrations
           WHERE tenant_id = $1 AND id = $2 AND status = 'active' FOR SHARE"#,
        tenant_id as _,
        id as _,
    )
    .fetch_optional(conn)
    .await?;
    Ok(active.is_some())
}

/// Active integrations whose hook secret is older than `every_secs`, once no other secret is
/// still in its overlap window. A secret staged for a PUT that Okta refused stays accepted
/// for that window in case Okta took it after all: waiting it out keeps it from being pushed
/// aside by the retry, and means an org that keeps refusing (its hook deleted in Okta, say)
/// gets one PUT per window, not one at every pass.
pub async fn due_for_secret_rotation(pool: &PgPool, every_secs: i64) -> Result<Vec<OrgAccess>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT (tenant_id, id, okta_domain, client_id) AS "org!: OrgAccess"
           FROM integrations
           WHERE status = 'active' AND event_hook_id IS NOT NULL
             AND hook_secret_rotated_at < now() - make_interval(secs => $1)
             AND (hook_secret_prev_until IS NULL OR hook_secret_prev_until < now())"#,
        every_secs as f64,
    )
    .fetch_all(pool)
    .await?)
}

/// How to reach an integration's org, deleted or not (for background jobs).
pub async fn org_access(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
) -> Result<OrgAccess> {
    Ok(sqlx::query_scalar!(
        r#"SELECT (tenant_id, id, okta_domain, client_id) AS "org!: OrgAccess"
           FROM integrations WHERE tenant_id = $1 AND id = $2"#,
        tenant_id as _,
        id as _,
    )
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
    let leased = sqlx::query!(
        "UPDATE integrations SET step_lease_holder = $3, step_lease_until = $4
         WHERE tenant_id = $1 AND id = $2
           AND (step_lease_until IS NULL OR step_lease_until < now())",
        tenant_id as _,
        id as _,
        holder,
        until,
    )
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
    sqlx::query!(
        "UPDATE integrations SET step_lease_holder = NULL, step_lease_until = NULL
         WHERE tenant_id = $1 AND id = $2 AND step_lease_holder = $3",
        tenant_id as _,
        id as _,
        holder,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `OrgAccess` decodes a record by hand: a missing client id must come back as `None`.
    #[sqlx::test(migrations = "./migrations")]
    async fn org_access_record_reads_a_missing_client_id(pool: PgPool) {
        let tenant_id = TenantId::new();
        crate::store::tenants::create_tenant(&pool, tenant_id, "t")
            .await
            .unwrap();
        let domain = OktaDomain::from_stored("acme.okta.com").unwrap();
        let new = NewIntegration {
            id: IntegrationId::new(),
            status: IntegrationStatus::Pending,
            created_from: "sysdig",
            okta_domain: &domain,
            client_id: None,
            hook_key: &HookKey::generate(),
        };
        insert(&mut pool.acquire().await.unwrap(), tenant_id, &new)
            .await
            .unwrap();

        let org = org_access(&pool, tenant_id, new.id).await.unwrap();
        assert_eq!((org.tenant_id, org.id), (tenant_id, new.id));
        assert_eq!(org.domain.stored(), "acme.okta.com");
        assert_eq!(org.client_id, None);
        let listed = get(&pool, tenant_id, new.id).await.unwrap().unwrap();
        assert_eq!(listed.org.client_id, None);
        assert_eq!(listed.status, IntegrationStatus::Pending);
    }
}
