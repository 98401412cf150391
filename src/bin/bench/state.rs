//! `okta-ingest-bench state`: what the detection state of many tenants costs in memory. The
//! managed rules run in this process over the simulator's event mix, one `MemoryState` per
//! tenant kept as the worker keeps them, and the process's resident memory is read before
//! and after. No Postgres, no timing: the figures repeat run to run.

use okta_ingest::detect::{MemoryState, managed_engine};
use okta_ingest::okta::LogEvent;
use okta_ingest::sim;
use serde_json::{Value, json};

use crate::at_least_one;

/// How many tenants, users and events to hold the state of.
#[derive(clap::Args)]
pub struct Load {
    #[arg(long, default_value_t = 1_000, value_parser = at_least_one)]
    pub tenants: usize,
    /// Distinct users per tenant.
    #[arg(long, default_value_t = 500, value_parser = at_least_one)]
    pub users: usize,
    /// Events per user, from the simulator's mix.
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub events_per_user: usize,
}

pub fn run(load: &Load) -> anyhow::Result<Value> {
    let engine = managed_engine();
    let before = resident_bytes()?;
    let mut states = Vec::with_capacity(load.tenants);
    let mut encoded = 0usize;
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    for tenant in 0..load.tenants {
        let mut state = MemoryState::new();
        for event in tenant_events(tenant, load) {
            engine.evaluate_in_memory(&event, "bench", &mut state);
        }
        // The worker checkpoints after every batch; the delta is what Postgres receives.
        for row in state.take_delta() {
            encoded += row.state.as_ref().map_or(0, Vec::len);
            *by_kind.entry(format!("{:?}", row.kind)).or_default() += 1;
        }
        states.push(state);
    }
    let held = resident_bytes()?.saturating_sub(before);
    let entries: usize = states.iter().map(MemoryState::len).sum();
    println!(
        "state: {} tenants x {} users, {entries} entries, {:.1} MiB resident ({:.0} bytes per entry), {:.1} MiB encoded",
        load.tenants,
        load.users,
        mib(held),
        held as f64 / entries.max(1) as f64,
        mib(encoded),
    );
    Ok(json!({
        "tenants": load.tenants,
        "users_per_tenant": load.users,
        "events": load.tenants * load.users * load.events_per_user,
        "state_entries": entries,
        "entries_by_kind": by_kind,
        "resident_mib": (mib(held) * 10.0).round() / 10.0,
        "bytes_per_entry": (held as f64 / entries.max(1) as f64).round(),
        "encoded_mib": (mib(encoded) * 10.0).round() / 10.0,
    }))
}

/// The simulator's random mix with `users` distinct actors of this tenant.
fn tenant_events(tenant: usize, load: &Load) -> impl Iterator<Item = LogEvent> {
    let count = load.users * load.events_per_user;
    let users = load.users;
    sim::scenario::random_events(count, tenant as u64 + 7)
        .into_iter()
        .enumerate()
        .filter_map(move |(i, mut event)| {
            let user = i % users;
            event["actor"]["alternateId"] = json!(format!("user{user}@tenant{tenant}.example"));
            event["actor"]["id"] = json!(format!("00u{tenant}x{user}"));
            serde_json::from_value(event).ok()
        })
}

fn resident_bytes() -> anyhow::Result<usize> {
    let kib = super::proc_status_kib("self", "VmRSS")
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))?;
    Ok(kib as usize * 1024)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
