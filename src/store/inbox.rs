//! The durable inbox: dedup keys, raw events (written once), and the worker's queue.

use crate::ids::{IntegrationId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

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
/// integration are skipped. Returns how many were new. Notifies the workers on commit.
pub async fn insert_batch(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    events: &[NewEvent<'_>],
) -> Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let uuids: Vec<&str> = events.iter().map(|e| e.event_uuid).collect();
    let published: Vec<Option<DateTime<Utc>>> = events.iter().map(|e| e.published).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let raws: Vec<&str> = events.iter().map(|e| e.raw).collect();
    let inserted: i64 = sqlx::query_scalar(
        "WITH batch AS (
             SELECT * FROM unnest($3::text[], $4::timestamptz[], $5::text[], $6::text[])
                 AS t(event_uuid, published, event_type, raw)
         ), new_keys AS (
             INSERT INTO okta_event_keys (integration_id, event_uuid, tenant_id, received_at)
             SELECT $2, event_uuid, $1, now() FROM batch
             ON CONFLICT DO NOTHING
             RETURNING event_uuid
         ), stored AS (
             INSERT INTO okta_events (tenant_id, integration_id, event_uuid, received_at, published, event_type, raw)
             SELECT $1, $2, b.event_uuid, now(), b.published, b.event_type, b.raw::jsonb
             FROM batch b JOIN new_keys k USING (event_uuid)
             RETURNING event_uuid, received_at
         ), queued AS (
             INSERT INTO event_queue (tenant_id, integration_id, event_uuid, received_at)
             SELECT $1, $2, event_uuid, received_at FROM stored
             RETURNING 1
         )
         SELECT count(*) FROM queued",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(&uuids)
    .bind(&published)
    .bind(&types)
    .bind(&raws)
    .fetch_one(&mut *conn)
    .await?;
    if inserted > 0 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(inserted as u64)
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
    sqlx::query(
        "INSERT INTO quarantined_events (tenant_id, integration_id, reason, raw)
         SELECT $1, $2, reason, raw FROM unnest($3::text[], $4::text[]) AS t(reason, raw)",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(reasons)
    .bind(raws)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn quarantine(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    reason: &str,
    raw: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO quarantined_events (tenant_id, integration_id, reason, raw) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(reason)
    .bind(raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// An inbox event claimed by a worker, with what detection needs.
#[derive(Debug, FromRow)]
pub struct Claimed {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub okta_domain: String,
    pub event_uuid: String,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// Advisory-lock namespace of "this worker owns the tenant's queue for its transaction".
const TENANT_LOCK_SPACE: i32 = 0x0_4b1a;

/// Takes up to `limit` queued events out of the queue, only of tenants this transaction could
/// lock: a tenant's events are processed by one worker at a time (stateful rules then never
/// wait on each other), different tenants in parallel. The rows stay locked (and come back)
/// unless the caller's transaction commits, which is what marks them processed.
pub async fn claim(conn: &mut PgConnection, limit: i64) -> Result<Vec<Claimed>> {
    let tenants = lock_tenants(conn, limit).await?;
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "WITH claimed AS (
             DELETE FROM event_queue WHERE id IN (
                 SELECT id FROM event_queue WHERE tenant_id = ANY($2)
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING tenant_id, integration_id, event_uuid, received_at
         )
         SELECT c.tenant_id, c.integration_id, COALESCE(i.okta_domain, '') AS okta_domain,
                c.event_uuid, c.received_at, e.raw::text AS raw
         FROM claimed c
         JOIN okta_events e ON e.integration_id = c.integration_id AND e.event_uuid = c.event_uuid
                            AND e.received_at = c.received_at
         LEFT JOIN integrations i ON i.id = c.integration_id
         ORDER BY e.published NULLS LAST",
    )
    .bind(limit)
    .bind(&tenants)
    .fetch_all(conn)
    .await?)
}

/// Locks tenants at the head of the queue, oldest first, until they cover `limit` events.
async fn lock_tenants(conn: &mut PgConnection, limit: i64) -> Result<Vec<TenantId>> {
    let candidates: Vec<(TenantId, i64)> = sqlx::query_as(
        "SELECT tenant_id, count(*) FROM (SELECT id, tenant_id FROM event_queue ORDER BY id LIMIT $1) head
         GROUP BY tenant_id ORDER BY min(id)",
    )
    .bind(limit.saturating_mul(4))
    .fetch_all(&mut *conn)
    .await?;
    let mut locked = Vec::new();
    let mut covered = 0;
    for (tenant_id, queued) in candidates {
        let mine: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext($2::text))")
                .bind(TENANT_LOCK_SPACE)
                .bind(tenant_id)
                .fetch_one(&mut *conn)
                .await?;
        if mine {
            locked.push(tenant_id);
            covered += queued;
            if covered >= limit {
                break;
            }
        }
    }
    Ok(locked)
}

pub struct QueueStats {
    pub depth: i64,
    pub oldest_received_at: Option<DateTime<Utc>>,
}

pub async fn queue_stats(pool: &sqlx::PgPool) -> Result<QueueStats> {
    let (depth, oldest): (i64, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT count(*), min(received_at) FROM event_queue")
            .fetch_one(pool)
            .await?;
    Ok(QueueStats {
        depth,
        oldest_received_at: oldest,
    })
}

/// Processing lag of one integration: age of its oldest unprocessed event.
pub async fn integration_lag_secs(
    pool: &sqlx::PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Option<f64>> {
    Ok(sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM now() - min(received_at))::float8 FROM event_queue
         WHERE tenant_id = $1 AND integration_id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_one(pool)
    .await?)
}

pub async fn quarantined_count(
    pool: &sqlx::PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM quarantined_events WHERE tenant_id = $1 AND integration_id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_one(pool)
    .await?)
}
