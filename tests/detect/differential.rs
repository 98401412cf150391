//! Differential: the same random streams (several tenants interleaved, duplicates, late and
//! out-of-order events) through one in-memory state per tenant, and through the service's
//! checkpointed path (random batch boundaries, two replicas handing tenants back and forth,
//! restarts that drop every cache) give the same detections and the same reloaded state,
//! dedup quiet periods included.

use std::collections::BTreeMap;

use okta_ingest::detect::{Detection, MemoryState};
use okta_ingest::ids::TenantId;
use okta_ingest::ingest::owned::TenantStates;
use okta_ingest::okta::LogEvent;
use okta_ingest::store::detect_state;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::json;
use sqlx::PgPool;

use crate::pg::{engine, process_batch_in};
use crate::support::event;

const CASES: usize = 24;
const TENANTS: usize = 3;

/// One generated event: whose, what, when.
#[derive(Debug, Clone)]
struct Step {
    tenant: usize,
    user: u8,
    kind: u8,
    country: u8,
    minute: u16,
}

fn step() -> impl Strategy<Value = Step> {
    (0..TENANTS, 0..3u8, 0..4u8, 0..3u8, 0..180u16).prop_map(
        |(tenant, user, kind, country, minute)| Step {
            tenant,
            user,
            kind,
            country,
            minute,
        },
    )
}

/// A stream, each step possibly repeated (at-least-once delivery), and where batches end,
/// which replica takes each, and where a restart falls.
type Stream = (Vec<(Step, usize)>, Vec<(usize, u8)>);

fn stream() -> impl Strategy<Value = Stream> {
    let steps = prop::collection::vec((step(), 1..3usize), 1..60);
    let cuts = prop::collection::vec((1..12usize, 0..4u8), 1..40);
    (steps, cuts)
}

fn to_event(n: usize, s: &Step) -> LogEvent {
    let (event_type, result) = match s.kind {
        0 => ("user.session.start", "FAILURE"),
        1 => ("user.session.start", "SUCCESS"),
        2 => ("user.authentication.auth_via_mfa", "DENY"),
        _ => ("user.authentication.auth_via_mfa", "SUCCESS"),
    };
    let (country, lat, lon) = [
        ("United States", 30.3, -97.7),
        ("Portugal", 38.7, -9.1),
        ("Japan", 35.7, 139.7),
    ][usize::from(s.country)];
    event(json!({
        "uuid": format!("ev-{n}"),
        "eventType": event_type,
        "outcome": {"result": result},
        "published": format!("2026-01-01T{:02}:{:02}:00Z", 8 + s.minute / 60, s.minute % 60),
        "actor": {"id": format!("00u{}", s.user), "type": "User",
                  "alternateId": format!("user{}@acme.example", s.user)},
        "client": {"ipAddress": format!("198.51.100.{}", s.country),
                   "geographicalContext": {"country": country, "city": country,
                                           "geolocation": {"lat": lat, "lon": lon}}},
        // Japan through an anonymizer: exercises the dedup quiet period of "proxy sign-in".
        "securityContext": {"isProxy": s.country == 2},
    }))
}

type Fired = Vec<(usize, String, String)>;

fn key(tenant: usize, d: &Detection) -> (usize, String, String) {
    (tenant, d.rule.clone(), d.output.clone())
}

#[sqlx::test(migrations = "./migrations")]
async fn checkpointed_path_matches_memory(pool: PgPool) {
    let engine = engine();
    let mut runner = TestRunner::deterministic();
    for case in 0..CASES {
        let (steps, cuts) = stream()
            .new_tree(&mut runner)
            .expect("a generated case")
            .current();
        let tenants: Vec<TenantId> = (0..TENANTS).map(|_| TenantId::new()).collect();
        let events: Vec<(usize, LogEvent)> = steps
            .iter()
            .enumerate()
            .flat_map(|(n, (s, copies))| vec![(s.tenant, to_event(n, s)); *copies])
            .collect();

        // In memory: one state per tenant, every event in stream order.
        let mut memory: Vec<MemoryState> = (0..TENANTS).map(|_| MemoryState::default()).collect();
        let mut expected: Fired = Vec::new();
        for (t, ev) in &events {
            for d in engine.evaluate_in_memory(ev, "acme", &mut memory[*t]) {
                expected.push(key(*t, &d));
            }
        }

        // Checkpointed: batches of the stream, per tenant, on replica 0 or 1; cut kind 3
        // restarts both replicas (their caches go, Postgres stays). Replica 1's memory budget
        // holds one tenant's state at most, so it evicts the others on every batch.
        let fresh = || [TenantStates::new(usize::MAX), TenantStates::new(1)];
        let mut replicas = fresh();
        let mut got: Fired = Vec::new();
        let mut at = 0;
        for (len, how) in cuts.iter().cycle() {
            if at >= events.len() {
                break;
            }
            if *how == 3 {
                replicas = fresh();
            }
            let batch = &events[at..(at + len).min(events.len())];
            at += batch.len();
            for (t, tenant) in tenants.iter().enumerate() {
                let mine: Vec<LogEvent> = batch
                    .iter()
                    .filter(|(owner, _)| *owner == t)
                    .map(|(_, ev)| ev.clone())
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let replica = &replicas[usize::from(*how) % 2];
                for d in process_batch_in(&pool, &engine, replica, *tenant, &mine).await {
                    got.push(key(t, &d));
                }
            }
        }
        expected.sort();
        got.sort();
        assert_eq!(
            got, expected,
            "case {case}: detections differ for {steps:?}"
        );

        for (t, tenant) in tenants.iter().enumerate() {
            let mut conn = pool.acquire().await.expect("conn");
            let stored = detect_state::load(&mut conn, *tenant).await.expect("load");
            assert_eq!(
                state_map(MemoryState::from_rows(stored).rows()),
                state_map(memory[t].rows()),
                "case {case}: tenant {t}'s reloaded state differs"
            );
        }
    }
}

/// A state's entries by key, comparable whatever order they were listed in.
fn state_map(rows: Vec<okta_ingest::detect::StateRow>) -> BTreeMap<(i16, u64, u64), Vec<u8>> {
    rows.into_iter()
        .map(|r| {
            (
                (r.kind as i16, r.rule, r.group),
                r.state.unwrap_or_default(),
            )
        })
        .collect()
}
