//! The detection state of the tenants this process's workers serve. While a worker holds a
//! tenant (its batch's advisory lock), the tenant's state is in memory; every batch
//! checkpoints its changes and bumps the tenant's sequence in the same transaction as the
//! runtime events. A cached state whose sequence is no longer the tenant's (another replica
//! served the tenant since) is dropped and loaded again: the sequence is a fencing token, so
//! ownership moves (a replica dies, scales out, rebalances) with no lease to expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::PgConnection;

use crate::detect::MemoryState;
use crate::ids::TenantId;
use crate::store::{self, detect_state};

/// A tenant's state as of checkpoint `seq`.
pub struct Owned {
    pub seq: i64,
    pub state: MemoryState,
    used: Instant,
}

/// The states of the tenants this process served recently.
#[derive(Default, Clone)]
pub struct TenantStates(Arc<Mutex<HashMap<TenantId, Owned>>>);

impl TenantStates {
    /// The tenant's state at checkpoint `seq`: the cached one when it is that checkpoint,
    /// else loaded from Postgres. The caller holds the tenant's lock; it gives the state back
    /// with [`TenantStates::checkin`] once its transaction committed, or drops it.
    pub async fn checkout(
        &self,
        conn: &mut PgConnection,
        tenant_id: TenantId,
        seq: i64,
    ) -> store::Result<Owned> {
        let cached = self.lock().remove(&tenant_id).filter(|o| o.seq == seq);
        if let Some(owned) = cached {
            return Ok(owned);
        }
        let rows = detect_state::load(conn, tenant_id).await?;
        metrics::counter!("okta_ingest_detect_state_loads_total").increment(1);
        Ok(Owned {
            seq,
            state: MemoryState::from_rows(rows),
            used: Instant::now(),
        })
    }

    /// Keeps the state of a committed batch, now at checkpoint `owned.seq`.
    pub fn checkin(&self, tenant_id: TenantId, mut owned: Owned) {
        owned.used = Instant::now();
        let mut states = self.lock();
        states.insert(tenant_id, owned);
        let entries: usize = states.values().map(|o| o.state.len()).sum();
        metrics::gauge!("okta_ingest_detect_state_entries").set(entries as f64);
        metrics::gauge!("okta_ingest_detect_state_tenants").set(states.len() as f64);
    }

    /// Forgets tenants idle for `idle` (their state is in Postgres); returns how many.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let mut states = self.lock();
        let before = states.len();
        states.retain(|_, owned| owned.used.elapsed() < idle);
        before - states.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Owned>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
