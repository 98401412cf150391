//! The durable inbox: dedup keys, raw events (written once), and the worker's queue.

use crate::ids::{IntegrationId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Result;

/// One accepted LogEvent, ready to be stored. `raw` is the event's JSON text as Okta sent it.
pub struct NewEvent<'a> {
    pub event_uuid: &'a str,
    pub published: Option<DateTime<Utc>>,
    pub event_type: &'a str,
    pub raw: &'a str,
}

pub const NOTIFY_CHANNEL: &str = "okta_inbox";

/// Inserts a batch (uuids unique within it) in one statement; events already known for the
/// integration are skipped. Returns how many were new. `learn_only` events (a baseline's
/// history) train the detection state without raising runtime events.
pub async fn insert_batch(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    events: &[NewEvent<'_>],
    learn_only: bool,
) -> Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let uuids: Vec<&str> = events.iter().map(|e| e.event_uuid).collect();
    let published: Vec<Option<DateTime<Utc>>> = events.iter().map(|e| e.published).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let raws: Vec<&str> = events.iter().map(|e| e.raw).collect();
    let inserted = sqlx::query_scalar!(
        r#"WITH batch AS (
             SELECT * FROM unnest($3::text[], $4::timestamptz[], $5::text[], $6::text[])
                 AS t(event_uuid, published, event_type, raw)
         ), new_keys AS (
             INSERT INTO okta_event_keys (integration_id, event_uuid, tenant_id, received_at)
             SELECT $2, event_uuid, $1, now() FROM batch
             ON CONFLICT DO NOTHING
             RETURNING event_uuid
         ), stored AS (
             INSERT INTO okta_events (tenant_id, integration_id, event_uuid, received_at, published, event_type, raw, learn_only)
             SELECT $1, $2, b.event_uuid, now(), b.published, b.event_type, b.raw, $7
             FROM batch b JOIN new_keys k USING (event_uuid)
             RETURNING event_uuid, received_at
         ), queued AS (
             INSERT INTO event_queue (tenant_id, integration_id, event_uuid, received_at, learn_only)
             SELECT $1, $2, event_uuid, received_at, $7 FROM stored
             RETURNING 1
         )
         SELECT count(*) AS "count!" FROM queued"#,
        tenant_id as _,
        integration_id as _,
        uuids as _,
        published as _,
        types as _,
        raws as _,
        learn_only,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(inserted as u64)
}

/// Wakes the workers listening on [`NOTIFY_CHANNEL`], in every replica.
pub async fn notify_workers(pool: &sqlx::PgPool) -> Result<()> {
    sqlx::query!("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        .execute(pool)
        .await?;
    Ok(())
}

/// Quarantines many events in one statement (`reasons` and `raws` pair up).
pub async fn quarantine_many(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    reasons: &[&str],
    raws: &[&str],
) -> Result<()> {
    if raws.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO quarantined_events (tenant_id, integration_id, reason, raw)
         SELECT $1, $2, reason, raw FROM unnest($3::text[], $4::text[]) AS t(reason, raw)",
        tenant_id as _,
        integration_id as _,
        reasons as _,
        raws as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An inbox event claimed by a worker, with what detection needs.
#[derive(Debug)]
pub struct Claimed {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub okta_domain: String,
    pub event_uuid: String,
    pub received_at: DateTime<Utc>,
    pub raw: String,
    /// History read for a baseline: trains the state, raises nothing.
    pub learn_only: bool,
}

/// Advisory-lock namespace of "this worker owns the tenant's queue for its transaction".
const TENANT_LOCK_SPACE: i32 = 0x0_4b1a;

/// Takes queued events out of the queue for one batch, fairly: the tenants with queued work
/// are visited round-robin, starting after `after` (the last tenant this worker served),
/// and each tenant this transaction can lock gives at most its share of `limit`, oldest
/// first. One tenant's backlog thus never holds back another tenant's events.
///
/// A tenant's events are processed by one worker at a time (stateful rules then never wait
/// on each other); different tenants in parallel. The rows stay locked (and come back)
/// unless the caller's transaction commits, which is what marks them processed.
pub async fn claim(conn: &mut PgConnection, limit: i64, after: Option<TenantId>) -> Result<Claim> {
    let tenants = lock_tenants(conn, after).await?;
    let Some(&last_tenant) = tenants.last() else {
        return Ok(Claim::default());
    };
    let share = (limit / tenants.len() as i64).max(1);
    let events = sqlx::query_as!(
        Claimed,
        r#"WITH claimed AS (
             DELETE FROM event_queue WHERE (tenant_id, id) IN (
                 SELECT t.tenant_id, q.id FROM unnest($2::uuid[]) AS t(tenant_id)
                 CROSS JOIN LATERAL (
                     SELECT id FROM event_queue
                     WHERE tenant_id = t.tenant_id ORDER BY id LIMIT $1
                     FOR UPDATE SKIP LOCKED) q)
             RETURNING tenant_id, integration_id, event_uuid, received_at, learn_only
         )
         SELECT c.tenant_id AS "tenant_id!: _", c.integration_id AS "integration_id!: _",
                COALESCE(i.okta_domain, '') AS "okta_domain!", c.event_uuid AS "event_uuid!",
                c.received_at AS "received_at!", e.raw AS "raw!", c.learn_only AS "learn_only!"
         FROM claimed c
         JOIN okta_events e ON e.tenant_id = c.tenant_id AND e.integration_id = c.integration_id AND e.event_uuid = c.event_uuid
                            AND e.received_at = c.received_at
         LEFT JOIN integrations i ON i.tenant_id = c.tenant_id AND i.id = c.integration_id
         ORDER BY c.tenant_id, e.published NULLS LAST"#,
        share,
        tenants as _,
    )
    .fetch_all(conn)
    .await?;
    Ok(Claim {
        events,
        last_tenant: Some(last_tenant),
    })
}

/// The events of one batch, and the last tenant visited (the next batch starts after it).
#[derive(Debug, Default)]
pub struct Claim {
    pub events: Vec<Claimed>,
    pub last_tenant: Option<TenantId>,
}

/// Tenants a batch takes at most: enough to spread a batch, few enough for fair shares.
const TENANTS_PER_BATCH: usize = 16;

/// Locks up to [`TENANTS_PER_BATCH`] tenants with queued work, in round-robin order after
/// `after`, in one statement: a skip scan over (tenant_id, id) finds the tenants with work
/// (one index probe each, however long the queue), ordered from just after `after` round to
/// it; the lock is tried on them in that order until enough are held (the `LIMIT` stops the
/// scan of the materialized list, so no tenant is locked that the batch will not serve).
async fn lock_tenants(conn: &mut PgConnection, after: Option<TenantId>) -> Result<Vec<TenantId>> {
    Ok(sqlx::query_scalar!(
        r#"WITH RECURSIVE tenants AS (
             (SELECT tenant_id FROM event_queue ORDER BY tenant_id LIMIT 1)
             UNION ALL
             SELECT (SELECT q.tenant_id FROM event_queue q WHERE q.tenant_id > t.tenant_id
                     ORDER BY q.tenant_id LIMIT 1)
             FROM tenants t WHERE t.tenant_id IS NOT NULL
         ), round AS MATERIALIZED (
             SELECT tenant_id FROM tenants WHERE tenant_id IS NOT NULL
             ORDER BY COALESCE(tenant_id <= $2, false), tenant_id
         )
         SELECT tenant_id AS "tenant_id!: TenantId" FROM round
         WHERE pg_try_advisory_xact_lock($1, hashtext(tenant_id::text))
         LIMIT $3"#,
        TENANT_LOCK_SPACE,
        after as _,
        TENANTS_PER_BATCH as i64,
    )
    .fetch_all(conn)
    .await?)
}

pub struct QueueStats {
    pub depth: i64,
    pub oldest_received_at: Option<DateTime<Utc>>,
}

pub async fn queue_stats(pool: &sqlx::PgPool) -> Result<QueueStats> {
    Ok(sqlx::query_as!(
        QueueStats,
        r#"SELECT count(*) AS "depth!", min(received_at) AS oldest_received_at FROM event_queue"#,
    )
    .fetch_one(pool)
    .await?)
}

/// The health counters of one integration's events, for its status.
pub struct Backlog {
    /// Processing lag: age of its oldest unprocessed live event (`None` when none waits).
    pub lag_secs: Option<f64>,
    /// Events refused one by one inside valid deliveries.
    pub quarantined: i64,
}

pub async fn backlog(
    pool: &sqlx::PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Backlog> {
    Ok(sqlx::query_as!(
        Backlog,
        r#"SELECT
             (SELECT EXTRACT(EPOCH FROM now() - min(received_at))::float8 FROM event_queue
              WHERE tenant_id = $1 AND integration_id = $2 AND NOT learn_only) AS "lag_secs?",
             (SELECT count(*) FROM quarantined_events
              WHERE tenant_id = $1 AND integration_id = $2) AS "quarantined!""#,
        tenant_id as _,
        integration_id as _,
    )
    .fetch_one(pool)
    .await?)
}

/// A stored raw event with the domain of the org that sent it ('' once the integration is gone).
#[derive(Debug)]
pub struct RecentEvent {
    pub okta_domain: String,
    pub raw: String,
}

/// The tenant's newest `limit` raw events received since `since`, oldest published first
/// (the order the worker evaluates in). Deleted integrations' events are included; a
/// baseline's history is not (it was read, not received, and would crowd out live events).
pub async fn recent_events(
    pool: &sqlx::PgPool,
    tenant_id: TenantId,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RecentEvent>> {
    Ok(sqlx::query_as!(
        RecentEvent,
        r#"SELECT okta_domain AS "okta_domain!", raw AS "raw!" FROM (
             SELECT COALESCE(i.okta_domain, '') AS okta_domain, e.raw,
                    e.published, e.received_at
             FROM okta_events e
             LEFT JOIN integrations i ON i.tenant_id = e.tenant_id AND i.id = e.integration_id
             WHERE e.tenant_id = $1 AND e.received_at >= $2 AND NOT e.learn_only
             ORDER BY e.received_at DESC LIMIT $3
         ) recent ORDER BY published NULLS LAST, received_at"#,
        tenant_id as _,
        since,
        limit,
    )
    .fetch_all(pool)
    .await?)
}
