//! Checkpoints of the detection state. While a worker owns a tenant its state lives in
//! memory ([`crate::detect::MemoryState`]); each batch's transaction writes the entries the
//! batch changed and bumps the tenant's checkpoint sequence. A worker that finds the
//! sequence moved since it last wrote or read (another replica processed the tenant) loads
//! the state again before it processes anything.

use std::collections::HashMap;

use sqlx::PgConnection;

use super::Result;
use crate::detect::{StateKind, StateRow};
use crate::ids::TenantId;

/// The checkpoint sequence of each tenant (0 when it never had one).
pub async fn sequences(
    conn: &mut PgConnection,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, i64>> {
    let rows = sqlx::query!(
        r#"SELECT t.tenant_id AS "tenant_id!: TenantId", COALESCE(c.seq, 0) AS "seq!"
           FROM unnest($1::uuid[]) AS t(tenant_id)
           LEFT JOIN detect_checkpoints c USING (tenant_id)"#,
        tenants as _,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.tenant_id, row.seq))
        .collect())
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

/// Writes a batch's delta (upserts, and deletes of forgotten entries) in two statements and
/// moves the tenant's checkpoint to `seq`.
pub async fn checkpoint(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    delta: &[StateRow],
    seq: i64,
) -> Result<()> {
    let (mut kinds, mut rules, mut groups, mut states) = (vec![], vec![], vec![], vec![]);
    let (mut gone_kinds, mut gone_rules, mut gone_groups) = (vec![], vec![], vec![]);
    for row in delta {
        let (kind, rule, group) = (row.kind as i16, row.rule as i64, row.group as i64);
        match &row.state {
            Some(state) => {
                kinds.push(kind);
                rules.push(rule);
                groups.push(group);
                states.push(state.as_slice());
            }
            None => {
                gone_kinds.push(kind);
                gone_rules.push(rule);
                gone_groups.push(group);
            }
        }
    }
    if !kinds.is_empty() {
        sqlx::query!(
            "INSERT INTO detect_state (tenant_id, kind, rule_fp, group_fp, state)
             SELECT $1, * FROM unnest($2::int2[], $3::int8[], $4::int8[], $5::bytea[])
             ON CONFLICT (tenant_id, kind, rule_fp, group_fp)
             DO UPDATE SET state = excluded.state, updated_at = now()",
            tenant_id as _,
            &kinds,
            &rules,
            &groups,
            states as _,
        )
        .execute(&mut *conn)
        .await?;
    }
    if !gone_kinds.is_empty() {
        sqlx::query!(
            "DELETE FROM detect_state d USING unnest($2::int2[], $3::int8[], $4::int8[])
                 AS g(kind, rule_fp, group_fp)
             WHERE d.tenant_id = $1 AND d.kind = g.kind AND d.rule_fp = g.rule_fp
               AND d.group_fp = g.group_fp",
            tenant_id as _,
            &gone_kinds,
            &gone_rules,
            &gone_groups,
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "INSERT INTO detect_checkpoints (tenant_id, seq) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq",
        tenant_id as _,
        seq,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes state entries untouched since `before` (pick it beyond the longest window or
/// history in use), and bumps the affected tenants' checkpoints so owners reload without
/// them. For a periodic maintenance task; returns the number of entries removed.
pub async fn prune(conn: &mut PgConnection, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    let pruned = sqlx::query_scalar!(
        r#"DELETE FROM detect_state WHERE updated_at < $1 RETURNING tenant_id AS "tenant_id: TenantId""#,
        before,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut tenants = pruned.clone();
    tenants.sort_unstable();
    tenants.dedup();
    sqlx::query!(
        "UPDATE detect_checkpoints SET seq = seq + 1 WHERE tenant_id = ANY($1)",
        tenants as _,
    )
    .execute(conn)
    .await?;
    Ok(pruned.len() as u64)
}
