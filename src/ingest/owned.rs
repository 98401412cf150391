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

/// The states of the tenants this process served recently, within a budget of entries.
#[derive(Clone)]
pub struct TenantStates(Arc<Mutex<Cached>>);

struct Cached {
    states: HashMap<TenantId, Owned>,
    /// The sum of `states`' entries, kept as they come and go.
    entries: usize,
    max_entries: usize,
}

impl TenantStates {
    /// Past `max_entries` in all, the least recently used tenants leave memory (their
    /// state is checkpointed; the next batch of theirs loads it again).
    pub fn new(max_entries: usize) -> TenantStates {
        TenantStates(Arc::new(Mutex::new(Cached {
            states: HashMap::new(),
            entries: 0,
            max_entries,
        })))
    }

    /// The tenant's state at checkpoint `seq`: the cached one when it is that checkpoint,
    /// else loaded from Postgres. The caller holds the tenant's lock; it gives the state back
    /// with [`TenantStates::checkin`] once its transaction committed, or drops it.
    pub async fn checkout(
        &self,
        conn: &mut PgConnection,
        tenant_id: TenantId,
        seq: i64,
    ) -> store::Result<Owned> {
        let cached = self.lock().take(tenant_id).filter(|o| o.seq == seq);
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
        let mut cached = self.lock();
        cached.entries += owned.state.len();
        if let Some(replaced) = cached.states.insert(tenant_id, owned) {
            cached.entries -= replaced.state.len();
        }
        let evicted = cached.evict_over_budget(tenant_id);
        if evicted > 0 {
            metrics::counter!("okta_ingest_detect_state_evictions_total", "reason" => "memory")
                .increment(evicted as u64);
        }
        metrics::gauge!("okta_ingest_detect_state_entries").set(cached.entries as f64);
        metrics::gauge!("okta_ingest_detect_state_tenants").set(cached.states.len() as f64);
    }

    /// Forgets tenants idle for `idle` (their state is in Postgres); returns how many.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let mut cached = self.lock();
        let idle: Vec<TenantId> = cached
            .states
            .iter()
            .filter(|(_, owned)| owned.used.elapsed() >= idle)
            .map(|(id, _)| *id)
            .collect();
        for tenant_id in &idle {
            cached.take(*tenant_id);
        }
        idle.len()
    }

    /// Entries held now, in all tenants.
    pub fn entries(&self) -> usize {
        self.lock().entries
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Cached {
    fn take(&mut self, tenant_id: TenantId) -> Option<Owned> {
        let owned = self.states.remove(&tenant_id)?;
        self.entries -= owned.state.len();
        Some(owned)
    }

    /// Past the budget, drops the least recently used tenants, never `keep`, down to 90% of
    /// it: the sort over all tenants then happens once per several batches, not every batch.
    fn evict_over_budget(&mut self, keep: TenantId) -> usize {
        if self.entries <= self.max_entries {
            return 0;
        }
        let target = self.max_entries / 10 * 9;
        let mut by_use: Vec<(Instant, TenantId)> = self
            .states
            .iter()
            .filter(|(id, _)| **id != keep)
            .map(|(id, owned)| (owned.used, *id))
            .collect();
        by_use.sort_unstable();
        let mut evicted = 0;
        for (_, tenant_id) in by_use {
            if self.entries <= target {
                break;
            }
            self.take(tenant_id);
            evicted += 1;
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{StateKey, StateStore};

    fn owned_with_one_entry() -> Owned {
        let mut state = MemoryState::new();
        let key = StateKey {
            rule: "r",
            group: "g",
        };
        state.observe(key, "e", 0, "v", 1);
        Owned {
            seq: 1,
            state,
            used: Instant::now(),
        }
    }

    #[test]
    fn past_the_budget_the_least_recently_used_tenants_leave() {
        let states = TenantStates::new(20);
        let tenants: Vec<TenantId> = (0..21).map(|_| TenantId::new()).collect();
        for tenant in &tenants[..20] {
            states.checkin(*tenant, owned_with_one_entry());
            // Distinct times of use, so "least recently" is the order of check-in.
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(states.entries(), 20, "within the budget nothing leaves");
        states.checkin(tenants[20], owned_with_one_entry());
        assert_eq!(states.entries(), 18, "down to 90% of the budget");
        let mut cached = states.lock();
        for (i, tenant) in tenants.iter().enumerate() {
            assert_eq!(cached.take(*tenant).is_some(), i >= 3, "tenant {i}");
        }
        assert_eq!(cached.entries, 0);
    }
}
