//! Learned baselines: one row per integration, both the job that reads the org's System Log
//! history (its window, Okta's `next` link as the cursor, a lease) and the record the status
//! shows. See `migrations/0010_baselines.sql` and `ingest/baseline.rs`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::Result;
use crate::ids::{IntegrationId, TenantId};

/// Where a baseline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum BaselineState {
    /// Reading the history, or the worker is still applying what was read.
    Learning,
    /// The state holds the history.
    Complete,
    /// Gave up (the last error says why); the live path is unaffected. Start it again.
    Failed,
}

/// A baseline as the status shows it.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub state: BaselineState,
    pub days: i32,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub events_read: i64,
    pub events_learned: i64,
    pub through: Option<DateTime<Utc>>,
    pub truncated: bool,
    pub last_error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A due baseline, leased to the caller until `lease_secs` from the claim.
#[derive(Debug, Clone)]
pub struct BaselineJob {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub cursor: Option<String>,
    pub read_all: bool,
    pub events_read: i64,
    pub attempts: i32,
}

/// The window a new baseline reads.
pub struct NewBaseline {
    pub days: i32,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Starts a baseline, replacing a finished one; false when one is still learning.
pub async fn start(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    new: &NewBaseline,
) -> Result<bool> {
    let started = sqlx::query_scalar!(
        r#"INSERT INTO baselines (tenant_id, integration_id, state, days, since, until)
           VALUES ($1, $2, 'learning', $3, $4, $5)
           ON CONFLICT (tenant_id, integration_id) DO UPDATE SET
               state = 'learning', days = $3, since = $4, until = $5, cursor = NULL,
               read_all = false, events_read = 0, events_learned = 0, through = NULL,
               truncated = false, attempts = 0, run_after = now(), last_error = NULL,
               started_at = now(), finished_at = NULL
           WHERE baselines.state <> 'learning'
           RETURNING 1 AS "one!""#,
        tenant_id as _,
        integration_id as _,
        new.days,
        new.since,
        new.until,
    )
    .fetch_optional(pool)
    .await?;
    Ok(started.is_some())
}

pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Option<Baseline>> {
    Ok(sqlx::query_as!(
        Baseline,
        r#"SELECT state AS "state: _", days, since, until, events_read, events_learned, through,
               truncated, last_error, started_at, finished_at
           FROM baselines WHERE tenant_id = $1 AND integration_id = $2"#,
        tenant_id as _,
        integration_id as _,
    )
    .fetch_optional(pool)
    .await?)
}

/// Leases the longest-waiting due baseline for `lease_secs` (another replica takes it over
/// only once the lease has run out: the holder died).
pub async fn claim_due(pool: &PgPool, lease_secs: i64) -> Result<Option<BaselineJob>> {
    Ok(sqlx::query_as!(
        BaselineJob,
        r#"UPDATE baselines b SET run_after = now() + make_interval(secs => $1)
           FROM (SELECT tenant_id, integration_id FROM baselines
                 WHERE state = 'learning' AND run_after <= now()
                 ORDER BY run_after LIMIT 1 FOR UPDATE SKIP LOCKED) due
           WHERE b.tenant_id = due.tenant_id AND b.integration_id = due.integration_id
           RETURNING b.tenant_id AS "tenant_id: _", b.integration_id AS "integration_id: _",
                     b.since, b.until, b.cursor, b.read_all, b.events_read, b.attempts"#,
        lease_secs as f64,
    )
    .fetch_optional(pool)
    .await?)
}

/// What one page of history added.
pub struct PageProgress<'a> {
    /// The `next` link to resume from; `None` once every page is read.
    pub cursor: Option<&'a str>,
    pub read: i64,
    pub learned: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub read_all: bool,
    pub truncated: bool,
}

/// Records a page, in the transaction that stored its events, and renews the lease.
pub async fn save_page(
    conn: &mut PgConnection,
    job: &BaselineJob,
    page: &PageProgress<'_>,
    lease_secs: i64,
) -> Result<()> {
    sqlx::query!(
        "UPDATE baselines SET cursor = $3, events_read = events_read + $4,
             events_learned = events_learned + $5, through = LEAST(through, $6),
             read_all = $7, truncated = truncated OR $8, attempts = 0, last_error = NULL,
             run_after = now() + make_interval(secs => $9)
         WHERE tenant_id = $1 AND integration_id = $2 AND state = 'learning'",
        job.tenant_id as _,
        job.integration_id as _,
        page.cursor,
        page.read,
        page.learned,
        page.oldest,
        page.read_all,
        page.truncated,
        lease_secs as f64,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives the lease back: due again in `delay_secs`.
pub async fn release(pool: &PgPool, job: &BaselineJob, delay_secs: f64) -> Result<()> {
    sqlx::query!(
        "UPDATE baselines SET run_after = now() + make_interval(secs => $3)
         WHERE tenant_id = $1 AND integration_id = $2 AND state = 'learning'",
        job.tenant_id as _,
        job.integration_id as _,
        delay_secs,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A failed round: tried again after `delay_secs`.
pub async fn retry_later(
    pool: &PgPool,
    job: &BaselineJob,
    delay_secs: f64,
    error: &str,
) -> Result<()> {
    sqlx::query!(
        "UPDATE baselines SET attempts = attempts + 1, last_error = $3,
             run_after = now() + make_interval(secs => $4)
         WHERE tenant_id = $1 AND integration_id = $2 AND state = 'learning'",
        job.tenant_id as _,
        job.integration_id as _,
        error,
        delay_secs,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends a baseline: `Complete`, or `Failed` with the reason.
pub async fn finish(
    pool: &PgPool,
    job: &BaselineJob,
    state: BaselineState,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE baselines SET state = $3, last_error = COALESCE($4, last_error), cursor = NULL,
             finished_at = now()
         WHERE tenant_id = $1 AND integration_id = $2 AND state = 'learning'",
        job.tenant_id as _,
        job.integration_id as _,
        state as _,
        error,
    )
    .execute(pool)
    .await?;
    Ok(())
}
