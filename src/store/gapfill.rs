//! Gap fill's state on an integration's row: its System Log cursor, when its next poll is
//! due, and the back-off of failed polls.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::Result;
use super::integrations::OrgAccess;
use crate::ids::{IntegrationId, TenantId};
use crate::okta::Coverage;

#[derive(Debug, Clone)]
pub struct GapFillTarget {
    pub org: OrgAccess,
    pub coverage: Coverage,
    pub gapfill_cursor: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
    /// Polls failed in a row, for the back-off of the next.
    pub gapfill_failures: i32,
}

/// Claims up to `limit` active integrations whose System Log poll is due (interval elapsed,
/// or a delivery failed; back-off of failed polls over), longest waiting first, for
/// `lease_secs`: another replica's round skips them until [`succeeded`] or [`failed`] ends the
/// claim (or it expires, its replica gone).
pub async fn claim_due(
    pool: &PgPool,
    interval_secs: i64,
    limit: i64,
    lease_secs: i64,
) -> Result<Vec<GapFillTarget>> {
    Ok(sqlx::query_as!(
        GapFillTarget,
        r#"UPDATE integrations AS i
           SET gapfill_claimed_until = now() + make_interval(secs => $3)
           FROM (SELECT tenant_id, id FROM integrations
                 WHERE status = 'active' AND (gapfill_needed OR gapfill_last_run_at IS NULL
                       OR gapfill_last_run_at < now() - make_interval(secs => $1))
                   AND (gapfill_retry_at IS NULL OR gapfill_retry_at <= now())
                   AND (gapfill_claimed_until IS NULL OR gapfill_claimed_until < now())
                 ORDER BY gapfill_last_run_at NULLS FIRST
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED) AS due
           WHERE i.tenant_id = due.tenant_id AND i.id = due.id
           RETURNING (i.tenant_id, i.id, i.okta_domain, i.client_id) AS "org!: OrgAccess",
               i.coverage AS "coverage: _", i.gapfill_cursor, i.activated_at, i.gapfill_failures"#,
        interval_secs as f64,
        limit,
        lease_secs as f64,
    )
    .fetch_all(pool)
    .await?)
}

/// Keeps the link of an integration's first System Log poll as its cursor, before Okta is
/// asked: until a page is read, every poll starts there (a first poll that fails for hours
/// does not let its start move on with the clock). A cursor stored meanwhile stays.
pub async fn start_cursor(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    first_link: &str,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET gapfill_cursor = $3
         WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND gapfill_cursor IS NULL",
        tenant_id as _,
        id as _,
        first_link,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a page of gap fill in the transaction that stored its events, just before the
/// commit: the row lock taken here holds off a delete (or a tenant's offboarding) until the
/// page is committed, and once a delete committed this is false: the caller rolls the page
/// back and stores nothing more for the org. `cursor` is the page's `next` link (without one,
/// the stored cursor stays). Until a page is `done` (caught up), the next poll is due at once, not after the interval:
/// a backlog longer than one round is read on in the next round.
pub async fn save_cursor(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: IntegrationId,
    cursor: Option<&str>,
    done: bool,
) -> Result<bool> {
    let saved = sqlx::query!(
        "UPDATE integrations SET gapfill_cursor = COALESCE($3, gapfill_cursor),
             gapfill_last_run_at = now(), gapfill_needed = NOT $4
         WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
        tenant_id as _,
        id as _,
        cursor,
        done,
    )
    .execute(conn)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// A gap fill poll succeeded: its claim and back-off end, and an error it recorded is
/// cleared (others stay).
pub async fn succeeded(pool: &PgPool, tenant_id: TenantId, id: IntegrationId) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET gapfill_claimed_until = NULL, gapfill_failures = 0,
             gapfill_retry_at = NULL,
             updated_at = CASE WHEN gapfill_failures > 0 OR last_error LIKE 'System Log gap fill:%'
                               THEN now() ELSE updated_at END,
             last_error_code = CASE WHEN last_error LIKE 'System Log gap fill:%'
                                    THEN NULL ELSE last_error_code END,
             last_error = CASE WHEN last_error LIKE 'System Log gap fill:%'
                               THEN NULL ELSE last_error END
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A gap fill poll failed: its claim ends, the error shows on the status page, and the next
/// poll waits `retry_secs`.
pub async fn failed(
    pool: &PgPool,
    tenant_id: TenantId,
    id: IntegrationId,
    code: &str,
    detail: &str,
    retry_secs: f64,
) -> Result<()> {
    sqlx::query!(
        "UPDATE integrations SET gapfill_claimed_until = NULL, last_error_code = $3, last_error = $4,
             gapfill_failures = gapfill_failures + 1,
             gapfill_retry_at = now() + make_interval(secs => $5), updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id as _,
        id as _,
        code,
        detail,
        retry_secs,
    )
    .execute(pool)
    .await?;
    Ok(())
}
