//! Postgres [`StateStore`]: the durable state of stateful detection rules.
//!
//! Used inside the worker's transaction, so state changes commit (or roll back) together with
//! the runtime events they produce. Each read-modify-write first takes
//! `pg_advisory_xact_lock` on (tenant, rule, group): replicas processing the same tenant
//! serialize per group, and since the lock is held until commit, the next holder sees every
//! committed observation (READ COMMITTED, Postgres's default, is required). Unique keys make
//! every write idempotent per event uuid.

use std::borrow::Cow;

use crate::ids::TenantId;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Row};

use crate::detect::{FirstSeen, GeoPoint, StateKey, StateStore, WindowCount};

/// Locations older than this (relative to the newest sign-in) are not needed to compute a
/// consecutive sign-in's speed.
const LOCATION_RETENTION_MS: i64 = 30 * 86_400_000;

/// Keys and values longer than this are stored as their SHA-256: a btree entry holds at most
/// about 2.7 kB, and a field of an Okta event (say a 3,000-character username from a failed
/// sign-in) can be longer. Equality, all that state needs, survives hashing.
const MAX_KEY_BYTES: usize = 256;

fn bounded(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_KEY_BYTES {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("sha256:{}", hex::encode(Sha256::digest(text))))
}

pub struct PgState<'c> {
    tenant_id: TenantId,
    conn: &'c mut PgConnection,
    /// The transaction already owns the whole tenant: per-group locks would only cost round trips.
    tenant_locked: bool,
}

impl<'c> PgState<'c> {
    pub fn new(tenant_id: TenantId, conn: &'c mut PgConnection) -> Self {
        PgState {
            tenant_id,
            conn,
            tenant_locked: false,
        }
    }

    /// For a transaction holding the worker's tenant lock (`store::inbox::claim`), under which
    /// no other transaction touches this tenant's state.
    pub fn for_locked_tenant(tenant_id: TenantId, conn: &'c mut PgConnection) -> Self {
        PgState {
            tenant_id,
            conn,
            tenant_locked: true,
        }
    }
}

impl StateStore for PgState<'_> {
    type Error = sqlx::Error;

    async fn lock(&mut self, key: StateKey<'_>) -> Result<(), sqlx::Error> {
        if self.tenant_locked {
            return Ok(());
        }
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2 || '/' || $3, 0))",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn observe(
        &mut self,
        key: StateKey<'_>,
        event_uuid: &str,
        at_ms: i64,
        value: &str,
        keep_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "WITH pruned AS (
                 DELETE FROM detect_observations
                 WHERE tenant_id = $1 AND rule_key = $2 AND group_key = $3 AND published_ms < $6
             )
             INSERT INTO detect_observations (tenant_id, rule_key, group_key, event_uuid, published_ms, value)
             VALUES ($1, $2, $3, $4, $5, $7)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(bounded(event_uuid))
        .bind(at_ms)
        .bind(at_ms.saturating_sub(keep_ms))
        .bind(bounded(value))
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn window(
        &mut self,
        key: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> Result<WindowCount, sqlx::Error> {
        let row = sqlx::query(
            "SELECT count(*), count(DISTINCT value) FROM detect_observations
             WHERE tenant_id = $1 AND rule_key = $2 AND group_key = $3
               AND published_ms > $4 AND published_ms <= $5",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(after_ms)
        .bind(until_ms)
        .fetch_one(&mut *self.conn)
        .await?;
        Ok(WindowCount {
            count: u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
            distinct: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
        })
    }

    async fn times(
        &mut self,
        key: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT published_ms FROM detect_observations
             WHERE tenant_id = $1 AND rule_key = $2 AND group_key = $3
               AND published_ms > $4 AND published_ms <= $5
             ORDER BY published_ms LIMIT 1000",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(after_ms)
        .bind(until_ms)
        .fetch_all(&mut *self.conn)
        .await
    }

    async fn windows_containing(
        &mut self,
        key: StateKey<'_>,
        at_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<WindowCount>, sqlx::Error> {
        let rows = sqlx::query(
            "WITH anchors AS (
                 SELECT $4::bigint AS t
                 UNION
                 SELECT published_ms FROM detect_observations
                 WHERE tenant_id = $1 AND rule_key = $2 AND group_key = $3
                   AND published_ms > $4 AND published_ms < $4 + $5
             )
             SELECT count(o.event_uuid), count(DISTINCT o.value)
             FROM anchors a
             JOIN detect_observations o
               ON o.tenant_id = $1 AND o.rule_key = $2 AND o.group_key = $3
              AND o.published_ms > a.t - $5 AND o.published_ms <= a.t
             GROUP BY a.t",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(at_ms)
        .bind(window_ms)
        .fetch_all(&mut *self.conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WindowCount {
                    count: u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
                    distinct: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn claim_alert(
        &mut self,
        key: StateKey<'_>,
        at_ms: i64,
        quiet_ms: i64,
        event_uuid: &str,
    ) -> Result<bool, sqlx::Error> {
        let claimed = sqlx::query(
            "INSERT INTO detect_alerts (tenant_id, rule_key, group_key, published_ms, event_uuid)
             SELECT $1, $2, $3, $4, $5
             WHERE NOT EXISTS (
                 SELECT 1 FROM detect_alerts
                 WHERE tenant_id = $1 AND rule_key = $2 AND group_key = $3
                   AND (event_uuid = $5 OR abs(published_ms - $4) < $6)
             )
             ON CONFLICT DO NOTHING
             RETURNING 1",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(at_ms)
        .bind(bounded(event_uuid))
        .bind(quiet_ms)
        .fetch_optional(&mut *self.conn)
        .await?;
        Ok(claimed.is_some())
    }

    async fn first_seen(
        &mut self,
        key: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> Result<FirstSeen, sqlx::Error> {
        let row = sqlx::query(
            "SELECT coalesce(bool_or(first_ms < $4 AND last_ms >= $5), false),
                    coalesce(bool_or(value = $6 AND first_ms < $4 AND last_ms >= $5), false)
             FROM detect_first_seen
             WHERE tenant_id = $1 AND rule_key = $2 AND entity_key = $3",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(at_ms)
        .bind(at_ms.saturating_sub(history_ms))
        .bind(bounded(value))
        .fetch_one(&mut *self.conn)
        .await?;
        let seen = FirstSeen {
            entity_known: row.try_get(0)?,
            value_known: row.try_get(1)?,
        };
        sqlx::query(
            "INSERT INTO detect_first_seen (tenant_id, rule_key, entity_key, value, first_ms, last_ms)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (tenant_id, rule_key, entity_key, value) DO UPDATE
             SET first_ms = least(detect_first_seen.first_ms, excluded.first_ms),
                 last_ms = greatest(detect_first_seen.last_ms, excluded.last_ms)",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(bounded(value))
        .bind(at_ms)
        .execute(&mut *self.conn)
        .await?;
        Ok(seen)
    }

    async fn previous_location(
        &mut self,
        key: StateKey<'_>,
        point: &GeoPoint,
    ) -> Result<Option<GeoPoint>, sqlx::Error> {
        let prev = sqlx::query(
            "SELECT published_ms, lat, lon, country, city, ip, event_uuid FROM detect_locations
             WHERE tenant_id = $1 AND rule_key = $2 AND entity_key = $3
               AND published_ms < $4 AND event_uuid <> $5
             ORDER BY published_ms DESC LIMIT 1",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(point.at_ms)
        .bind(bounded(&point.event_uuid))
        .fetch_optional(&mut *self.conn)
        .await?
        .map(|row| -> Result<GeoPoint, sqlx::Error> {
            Ok(GeoPoint {
                at_ms: row.try_get(0)?,
                lat: row.try_get(1)?,
                lon: row.try_get(2)?,
                country: row.try_get(3)?,
                city: row.try_get(4)?,
                ip: row.try_get(5)?,
                event_uuid: row.try_get(6)?,
            })
        })
        .transpose()?;
        sqlx::query(
            "WITH pruned AS (
                 DELETE FROM detect_locations
                 WHERE tenant_id = $1 AND rule_key = $2 AND entity_key = $3 AND published_ms < $11
             )
             INSERT INTO detect_locations
                 (tenant_id, rule_key, entity_key, event_uuid, published_ms, lat, lon, country, city, ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.tenant_id)
        .bind(bounded(key.rule))
        .bind(bounded(key.group))
        .bind(bounded(&point.event_uuid))
        .bind(point.at_ms)
        .bind(point.lat)
        .bind(point.lon)
        .bind(bounded(&point.country))
        .bind(bounded(&point.city))
        .bind(bounded(&point.ip))
        .bind(point.at_ms.saturating_sub(LOCATION_RETENTION_MS))
        .execute(&mut *self.conn)
        .await?;
        Ok(prev)
    }
}

/// Deletes detection state no rule can need any more: fired-alert markers and first-seen
/// values last seen before `before_ms` (pick it beyond the longest window/history in use).
/// For a periodic maintenance task; returns the number of rows removed.
pub async fn prune(conn: &mut PgConnection, before_ms: i64) -> Result<u64, sqlx::Error> {
    let alerts = sqlx::query("DELETE FROM detect_alerts WHERE published_ms < $1")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let seen = sqlx::query("DELETE FROM detect_first_seen WHERE last_ms < $1")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(alerts + seen)
}

/// Removes a tenant's detection state (the tables carry no foreign key to `tenants`).
pub async fn delete_tenant(
    conn: &mut PgConnection,
    tenant_id: TenantId,
) -> Result<(), sqlx::Error> {
    let statements = [
        "DELETE FROM detect_observations WHERE tenant_id = $1",
        "DELETE FROM detect_alerts WHERE tenant_id = $1",
        "DELETE FROM detect_first_seen WHERE tenant_id = $1",
        "DELETE FROM detect_locations WHERE tenant_id = $1",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(tenant_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
