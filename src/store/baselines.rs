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

/// A baseline as the integration's status shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = BaselineView)]
pub struct Baseline {
    pub state: BaselineState,
    /// Days of history asked for.
    pub days: i32,
    /// The window read: from `since` up to `until`, when the integration went live (the
    /// hook and gap fill bring everything after).
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Events of the subscribed types read from the System Log.
    pub events_read: i64,
    /// Of those, new to the service (the rest were known already).
    pub events_learned: i64,
    /// Read but not yet applied by the detection worker.
    pub events_pending: i64,
    /// How far back the history is learned: it is read newest first.
    pub through: Option<DateTime<Utc>>,
    /// Share of the window covered, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    pub progress: f64,
    /// Stopped at `baseline_max_events`: the oldest part of the window was left out.
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

/// The integration's latest baseline, if it ever had one.
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Option<Baseline>> {
    let Some(row) = sqlx::query!(
        r#"SELECT state AS "state: BaselineState", days, since, until, events_read, events_learned,
               CASE WHEN state = 'learning' THEN
                   (SELECT count(*) FROM event_queue q WHERE q.tenant_id = b.tenant_id
                      AND q.integration_id = b.integration_id AND q.learn_only)
               ELSE 0 END AS "events_pending!",
               through, truncated, last_error, started_at, finished_at
           FROM baselines b WHERE tenant_id = $1 AND integration_id = $2"#,
        tenant_id as _,
        integration_id as _,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let progress = match row.state {
        BaselineState::Complete => 1.0,
        _ => coverage(row.since, row.until, row.through),
    };
    Ok(Some(Baseline {
        state: row.state,
        days: row.days,
        since: row.since,
        until: row.until,
        events_read: row.events_read,
        events_learned: row.events_learned,
        events_pending: row.events_pending,
        through: row.through,
        progress,
        truncated: row.truncated,
        last_error: row.last_error,
        started_at: row.started_at,
        finished_at: row.finished_at,
    }))
}

/// The share of `[since, until)` learned, newest first, down to `through`; below 1 until done.
fn coverage(since: DateTime<Utc>, until: DateTime<Utc>, through: Option<DateTime<Utc>>) -> f64 {
    let span = (until - since).num_milliseconds();
    let (Some(through), true) = (through, span > 0) else {
        return 0.0;
    };
    let done = (until - through).num_milliseconds() as f64 / span as f64;
    (done * 1000.0).round().clamp(0.0, 999.0) / 1000.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_back_from_until() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let (since, until) = (at("2026-03-01T00:00:00Z"), at("2026-03-11T00:00:00Z"));
        assert_eq!(coverage(since, until, None), 0.0);
        assert_eq!(
            coverage(since, until, Some(at("2026-03-06T00:00:00Z"))),
            0.5
        );
        assert_eq!(coverage(since, until, Some(since)), 0.999);
    }
}
