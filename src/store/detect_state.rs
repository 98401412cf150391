//! Checkpoints of the detection state. While a worker owns a tenant its state lives in
//! memory ([`crate::detect::MemoryState`]); each batch's transaction writes the entries the
//! batch changed and bumps the tenant's checkpoint sequence. A worker that finds the
//! sequence moved since it last wrote or read (another replica processed the tenant) loads
//! the state again before it processes anything.

use std::collections::HashMap;

use futures::TryStreamExt;
use sqlx::PgConnection;

use super::Result;
use crate::detect::{StateKind, StateRow};
use crate::ids::TenantId;

/// The checkpoint sequence of each tenant (0 when it never had one).
pub async fn sequences(
    conn: &mut PgConnection,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, i64>> {
    Ok(sqlx::query!(
        r#"SELECT t.tenant_id AS "tenant_id!: TenantId", COALESCE(c.seq, 0) AS "seq!"
           FROM unnest($1::uuid[]) AS t(tenant_id)
           LEFT JOIN detect_checkpoints c USING (tenant_id)"#,
        tenants as _,
    )
    .fetch(conn)
    .map_ok(|row| (row.tenant_id, row.seq))
    .try_collect()
    .await?)
}

/// Every state entry of the tenant.
pub async fn load(conn: &mut PgConnection, tenant_id: TenantId) -> Result<Vec<StateRow>> {
    let rows = sqlx::query!(
        "SELECT kind, rule_fp, group_fp, state FROM detect_state WHERE tenant_id = $1",
        tenant_id as _,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(StateRow {
                kind: StateKind::from_i16(row.kind)?,
                rule: row.rule_fp as u64,
                group: row.group_fp as u64,
                state: Some(row.state),
            })
        })
        .collect())
}

/// What one tenant's batch changed, and the checkpoint it moves to.
pub struct TenantCheckpoint<'a> {
    pub tenant_id: TenantId,
    pub delta: &'a [StateRow],
    /// The sequence read at the batch's start, plus one. The stored sequence moves one past
    /// whatever it is at the commit, so that a bump made meanwhile without the tenant's lock
    /// ([`prune`]) leaves it ahead of the batch's, and the owner loads the state again.
    pub seq: i64,
}

/// Writes the deltas of every tenant of a batch (upserts, and deletes of forgotten entries)
/// and moves their checkpoints: three statements, however many tenants.
pub async fn checkpoint(
    conn: &mut PgConnection,
    checkpoints: &[TenantCheckpoint<'_>],
) -> Result<()> {
    let mut kept = Columns::default();
    let mut gone = Columns::default();
    let mut states = Vec::new();
    for checkpoint in checkpoints {
        for row in checkpoint.delta {
            match &row.state {
                Some(state) => {
                    kept.push(checkpoint.tenant_id, row);
                    states.push(state.as_slice());
                }
                None => gone.push(checkpoint.tenant_id, row),
            }
        }
    }
    if !kept.kinds.is_empty() {
        sqlx::query!(
            "INSERT INTO detect_state (tenant_id, kind, rule_fp, group_fp, state)
             SELECT * FROM unnest($1::uuid[], $2::int2[], $3::int8[], $4::int8[], $5::bytea[])
             ON CONFLICT (tenant_id, kind, rule_fp, group_fp)
             DO UPDATE SET state = excluded.state, updated_at = now()",
            kept.tenants as _,
            &kept.kinds,
            &kept.rules,
            &kept.groups,
            states as _,
        )
        .execute(&mut *conn)
        .await?;
    }
    if !gone.kinds.is_empty() {
        sqlx::query!(
            "DELETE FROM detect_state d
             USING unnest($1::uuid[], $2::int2[], $3::int8[], $4::int8[])
                 AS g(tenant_id, kind, rule_fp, group_fp)
             WHERE d.tenant_id = g.tenant_id AND d.kind = g.kind AND d.rule_fp = g.rule_fp
               AND d.group_fp = g.group_fp",
            gone.tenants as _,
            &gone.kinds,
            &gone.rules,
            &gone.groups,
        )
        .execute(&mut *conn)
        .await?;
    }
    let tenants: Vec<TenantId> = checkpoints.iter().map(|c| c.tenant_id).collect();
    let seqs: Vec<i64> = checkpoints.iter().map(|c| c.seq).collect();
    sqlx::query!(
        "INSERT INTO detect_checkpoints (tenant_id, seq) SELECT * FROM unnest($1::uuid[], $2::int8[])
         ON CONFLICT (tenant_id) DO UPDATE SET seq = detect_checkpoints.seq + 1",
        tenants as _,
        &seqs,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// State keys as the columns `unnest` takes.
#[derive(Default)]
struct Columns {
    tenants: Vec<TenantId>,
    kinds: Vec<i16>,
    rules: Vec<i64>,
    groups: Vec<i64>,
}

impl Columns {
    fn push(&mut self, tenant_id: TenantId, row: &StateRow) {
        self.tenants.push(tenant_id);
        self.kinds.push(row.kind as i16);
        // Fingerprints are u64; Postgres stores their bits as int8.
        self.rules.push(row.rule as i64);
        self.groups.push(row.group as i64);
    }
}

/// Deletes state entries untouched since `before` (pick it beyond the longest window or
/// history in use), and bumps the affected tenants' checkpoints so owners reload without
/// them: one statement, so no entry goes without its bump. It takes no tenant lock: a batch
/// running meanwhile moves the sequence past the bump ([`checkpoint`]). For a periodic
/// maintenance task; returns the number of entries removed.
pub async fn prune(conn: &mut PgConnection, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    let pruned = sqlx::query_scalar!(
        r#"WITH pruned AS (
               DELETE FROM detect_state WHERE updated_at < $1 RETURNING tenant_id
           ), bumped AS (
               UPDATE detect_checkpoints SET seq = seq + 1
               WHERE tenant_id IN (SELECT tenant_id FROM pruned)
           )
           SELECT count(*) AS "count!" FROM pruned"#,
        before,
    )
    .fetch_one(conn)
    .await?;
    Ok(pruned as u64)
}
