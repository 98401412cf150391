//! Stateful rules across processes: the state a worker owns in memory is checkpointed in
//! Postgres with each batch, survives a restart, moves between two replicas (each reloads
//! when the other checkpointed since), counts every event once and alerts once.
//! Needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/okta_ingest_test).

use std::sync::Arc;

use okta_ingest::detect::{Detection, Engine, MemoryState, PolicyRef, RuleSet, StateKind};
use okta_ingest::ids::TenantId;
use okta_ingest::ingest::owned::{Owned, TenantStates};
use okta_ingest::okta::LogEvent;
use okta_ingest::store::detect_state;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::support::event;

const RULES: &str = r#"
- rule: brute force
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = FAILURE
  threshold: {window: 30m, group_by: [okta.actor.alternateid], count: 10}
  output: "%okta.actor.alternateid %state.count"
  priority: WARNING
- rule: new country
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = SUCCESS
  first_seen: {entity: [okta.actor.alternateid], value: okta.client.geo.country, history: 14d}
  output: "%okta.client.geo.country"
  priority: WARNING
- rule: travel
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = SUCCESS
  geo_velocity: {entity: [okta.actor.alternateid], max_kmh: 900}
  output: "%state.speed_kmh"
  priority: ERROR
- rule: fatigue then success
  desc: d
  condition: okta.evt.type = user.authentication.auth_via_mfa and okta.result = SUCCESS
  sequence: {window: 10m, group_by: [okta.actor.alternateid], after: okta.result = DENY, count: 3}
  output: "%state.count"
  priority: CRITICAL
- rule: proxy sign-in
  desc: d
  condition: okta.evt.type = user.session.start and okta.security.isproxy = true
  dedup: {window: 6h, by: [okta.actor.alternateid]}
  output: "%okta.client.ip"
  priority: WARNING
- rule: falco counter
  desc: d
  condition: okta.mfa.deny.countlast[300] = 3
  output: "%okta.mfa.deny.countlast[300]"
  priority: WARNING
"#;

pub(crate) fn engine() -> Engine {
    let set = RuleSet::compile("pg.yaml", RULES).expect("rules compile");
    let policy = PolicyRef {
        id: Uuid::from_u128(7),
        name: "p".into(),
    };
    Engine::new(vec![(policy, Arc::new(set))])
}

/// What a worker does per batch: under the tenant's lock, the state at the tenant's
/// checkpoint (cached, or loaded), the detections, the delta checkpointed, one commit.
/// `states` is one process's cache: a new one is a restarted process.
pub(crate) async fn process_batch_in(
    pool: &PgPool,
    engine: &Engine,
    states: &TenantStates,
    tenant: TenantId,
    events: &[LogEvent],
) -> Vec<Detection> {
    let (tx, mut owned) = begin_batch(pool, states, tenant).await;
    let detections = events
        .iter()
        .flat_map(|ev| engine.evaluate_in_memory(ev, "acme", &mut owned.state))
        .collect();
    commit_batch(tx, states, tenant, owned).await;
    detections
}

/// A batch's start: the tenant's lock, its sequence, and the state at it.
async fn begin_batch(
    pool: &PgPool,
    states: &TenantStates,
    tenant: TenantId,
) -> (Transaction<'static, Postgres>, Owned) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock(7, hashtext($1::text))")
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .expect("tenant lock");
    let seq = detect_state::sequences(&mut tx, &[tenant])
        .await
        .expect("seq")[&tenant];
    let owned = states.checkout(&mut tx, tenant, seq).await.expect("state");
    (tx, owned)
}

/// A batch's end: the delta checkpointed, the commit, the state back in the cache.
async fn commit_batch(
    mut tx: Transaction<'static, Postgres>,
    states: &TenantStates,
    tenant: TenantId,
    mut owned: Owned,
) {
    owned.seq += 1;
    let delta = owned.state.take_delta();
    let checkpoint = detect_state::TenantCheckpoint {
        tenant_id: tenant,
        delta: &delta,
        seq: owned.seq,
    };
    detect_state::checkpoint(&mut tx, &[checkpoint])
        .await
        .expect("checkpoint");
    tx.commit().await.expect("commit");
    states.checkin(tenant, owned);
}

/// One event as its own batch.
async fn process_in(
    pool: &PgPool,
    engine: &Engine,
    states: &TenantStates,
    tenant: TenantId,
    ev: &LogEvent,
) -> Vec<Detection> {
    process_batch_in(pool, engine, states, tenant, std::slice::from_ref(ev)).await
}

/// A process that starts, handles one event and stops: every event reloads the checkpoint.
async fn process(
    pool: &PgPool,
    engine: &Engine,
    tenant: TenantId,
    ev: &LogEvent,
) -> Vec<Detection> {
    process_in(pool, engine, &TenantStates::new(usize::MAX), tenant, ev).await
}

fn failure(i: usize) -> LogEvent {
    event(json!({
        "uuid": format!("fail-{i}"),
        "eventType": "user.session.start",
        "outcome": {"result": "FAILURE"},
        "published": format!("2026-01-01T10:{:02}:00Z", i),
    }))
}

fn names(d: &[Detection]) -> Vec<&str> {
    d.iter().map(|d| d.rule.as_str()).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn windows_survive_a_restart_and_alert_once(pool: PgPool) {
    let tenant = TenantId::new();
    let (first, first_states) = (engine(), TenantStates::new(usize::MAX));
    for i in 0..6 {
        let d = process_in(&pool, &first, &first_states, tenant, &failure(i)).await;
        assert!(d.is_empty());
    }
    drop((first, first_states)); // the service restarts: nothing survives but the database
    let (second, second_states) = (engine(), TenantStates::new(usize::MAX));
    let mut fired = Vec::new();
    for i in 6..20 {
        let d = process_in(&pool, &second, &second_states, tenant, &failure(i)).await;
        fired.extend(d.into_iter().map(|d| (i, d.output)));
    }
    assert_eq!(fired, vec![(9, "alice@example.com 10".to_string())]);

    // Redelivery of an already counted event changes nothing.
    assert!(
        process(&pool, &second, tenant, &failure(9))
            .await
            .is_empty()
    );
    let other_tenant = TenantId::new();
    assert!(
        process(&pool, &second, other_tenant, &failure(9))
            .await
            .is_empty(),
        "tenants do not share state"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn two_concurrent_workers_count_every_event_once(pool: PgPool) {
    let tenant = TenantId::new();
    let engine = Arc::new(engine());
    let events: Vec<LogEvent> = (0..40).map(failure).collect();
    let mut workers = Vec::new();
    for w in 0..2 {
        let (pool, engine) = (pool.clone(), engine.clone());
        // Two replicas: each its own cache, handing the tenant back and forth.
        let states = TenantStates::new(usize::MAX);
        // Each event is delivered to both workers (at-least-once delivery, two replicas).
        let mine: Vec<LogEvent> = if w == 0 {
            events.clone()
        } else {
            events.iter().rev().cloned().collect()
        };
        workers.push(tokio::spawn(async move {
            let mut fired = Vec::new();
            for ev in &mine {
                fired.extend(process_in(&pool, &engine, &states, tenant, ev).await);
            }
            fired
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    let mut conn = pool.acquire().await.expect("conn");
    let rows = detect_state::load(&mut conn, tenant).await.expect("load");
    let observed: usize = rows
        .iter()
        .filter(|r| r.kind == StateKind::Observations)
        .map(|r| r.state.as_ref().map_or(0, |s| s.len() / 24))
        .sum();
    assert_eq!(observed, 40, "each event counted once");
    let reloaded = MemoryState::from_rows(rows);
    assert_eq!(
        reloaded.len(),
        MemoryState::from_rows(reloaded.rows()).len()
    );
    // 40 failures one minute apart: windows of 30 min, so at most two alerts (0-29, 30-39),
    // never one per event or per worker.
    assert!(!all.is_empty() && all.len() <= 2, "{:?}", names(&all));
}

#[sqlx::test(migrations = "./migrations")]
async fn first_seen_geo_velocity_sequences_and_counters_persist(pool: PgPool) {
    let tenant = TenantId::new();
    let us = event(json!({"uuid": "s1", "published": "2026-01-01T10:00:00Z",
        "client": {"geographicalContext": {"country": "United States", "geolocation": {"lat": 30.27, "lon": -97.74}}}}));
    assert!(
        process(&pool, &engine(), tenant, &us).await.is_empty(),
        "no history, no alert"
    );
    let fr = event(json!({"uuid": "s2", "published": "2026-01-01T11:00:00Z",
        "client": {"geographicalContext": {"country": "France", "geolocation": {"lat": 48.85, "lon": 2.35}}}}));
    let d = process(&pool, &engine(), tenant, &fr).await;
    assert_eq!(names(&d), ["new country", "travel"]);

    let mut fired = Vec::new();
    for i in 0..3 {
        let deny = event(
            json!({"uuid": format!("d{i}"), "eventType": "user.authentication.auth_via_mfa",
            "outcome": {"result": "DENY"}, "published": format!("2026-01-01T12:0{i}:00Z")}),
        );
        fired.extend(process(&pool, &engine(), tenant, &deny).await);
    }
    assert_eq!(names(&fired), ["falco counter"]);
    let ok = event(
        json!({"uuid": "ok", "eventType": "user.authentication.auth_via_mfa",
        "outcome": {"result": "SUCCESS"}, "published": "2026-01-01T12:05:00Z"}),
    );
    let d = process(&pool, &engine(), tenant, &ok).await;
    assert_eq!(names(&d), ["fatigue then success"]);
    assert_eq!(d[0].output, "3");
}

#[sqlx::test(migrations = "./migrations")]
async fn late_steps_complete_a_sequence_in_postgres(pool: PgPool) {
    let tenant = TenantId::new();
    let mfa = |uuid: &str, result: &str, minute: u32| {
        event(
            json!({"uuid": uuid, "eventType": "user.authentication.auth_via_mfa", "outcome": {"result": result},
            "published": format!("2026-01-01T12:{minute:02}:00Z")}),
        )
    };
    assert!(
        process(&pool, &engine(), tenant, &mfa("ok", "SUCCESS", 9))
            .await
            .is_empty()
    );
    let mut fired = Vec::new();
    for (i, minute) in [3, 4, 5].into_iter().enumerate() {
        fired.extend(
            process(
                &pool,
                &engine(),
                tenant,
                &mfa(&format!("d{i}"), "DENY", minute),
            )
            .await,
        );
    }
    let names: Vec<_> = fired.iter().map(|d| d.rule.as_str()).collect();
    assert!(names.contains(&"fatigue then success"), "{names:?}");
}

#[sqlx::test(migrations = "./migrations")]
async fn dedup_quiet_periods_survive_restarts(pool: PgPool) {
    let tenant = TenantId::new();
    let proxy = |uuid: &str, hour: u32| {
        event(
            json!({"uuid": uuid, "published": format!("2026-01-01T{hour:02}:00:00Z"),
            "securityContext": {"isProxy": true}}),
        )
    };
    // Every call is a fresh process that reloads the checkpoint.
    let fired = |d: Vec<Detection>| d.iter().any(|d| d.rule == "proxy sign-in");
    assert!(fired(
        process(&pool, &engine(), tenant, &proxy("p1", 1)).await
    ));
    assert!(!fired(
        process(&pool, &engine(), tenant, &proxy("p2", 4)).await
    ));
    assert!(
        !fired(process(&pool, &engine(), tenant, &proxy("p1", 1)).await),
        "a redelivered alert is not raised again"
    );
    assert!(fired(
        process(&pool, &engine(), tenant, &proxy("p3", 8)).await
    ));
    let mut conn = pool.acquire().await.expect("conn");
    let rows = detect_state::load(&mut conn, tenant).await.expect("load");
    assert!(rows.iter().any(|r| r.kind == StateKind::Alerts));
}

/// The managed policies (dedup, all_new first-seen, thresholds, sequences) give the same
/// detections whether one process holds the state in memory or every event is handled by a
/// fresh process that reloads the checkpoint.
#[sqlx::test(migrations = "./migrations")]
async fn managed_rules_agree_in_memory_and_across_restarts(pool: PgPool) {
    let tenant = TenantId::new();
    let engine = okta_ingest::detect::managed_engine();
    let mut events = Vec::new();
    for i in 0..40u32 {
        let minute = i * 7;
        let mut ev = json!({"uuid": format!("m{i}"),
            "published": format!("2026-01-01T{:02}:{:02}:00Z", 8 + minute / 60, minute % 60),
            "authenticationContext": {"externalSessionId": "idxS"},
            "securityContext": {"asNumber": 7922, "isProxy": i % 9 == 0}});
        match i % 5 {
            0 => ev["eventType"] = json!("system.org.rate_limit.violation"),
            1 => {
                ev["eventType"] = json!("user.account.lock");
                ev["actor"] = json!({"alternateId": format!("u{}@x.example", i / 10)});
            }
            2 => {
                ev["eventType"] = json!("user.authentication.sso");
                ev["client"] = json!({"ipAddress": format!("203.0.113.{}", i % 4),
                    "userAgent": {"os": if i % 4 == 3 { "Linux" } else { "Mac OS X" }, "browser": "CHROME"}});
            }
            3 => {
                ev["outcome"] =
                    json!({"result": "FAILURE", "reason": "User rejected Okta push verify"});
                ev["eventType"] = json!("user.authentication.auth_via_mfa");
                ev["debugContext"] = json!({"debugData": {"factor": "OKTA_VERIFY_PUSH"}});
            }
            _ => ev["outcome"] = json!({"result": if i % 2 == 0 { "FAILURE" } else { "SUCCESS" }}),
        }
        events.push(event(ev));
    }
    let mut memory = MemoryState::new();
    let mut expected = Vec::new();
    let mut restarted = Vec::new();
    for ev in &events {
        expected.extend(engine.evaluate_in_memory(ev, "acme", &mut memory));
        restarted.extend(process(&pool, &engine, tenant, ev).await);
    }
    let count = |rule: &str| expected.iter().filter(|d| d.rule == rule).count();
    assert_eq!(
        count("Okta Rate Limit Violation"),
        1,
        "8 violations, one per day: {:?}",
        names(&expected)
    );
    assert_eq!(
        count("Okta Account Locked"),
        4,
        "two locks 35 min apart per user, one alert each"
    );
    assert_eq!(
        count("Okta Session Used From a New IP and Device"),
        1,
        "the session moves to a new IP and OS once"
    );
    assert_eq!(names(&restarted), names(&expected));
}

/// Pruning takes no tenant lock: when it commits while a batch of the tenant runs, the
/// batch's checkpoint must still leave the tenant at a sequence the worker's cache is not
/// at, so the next batch loads the state without the pruned entries instead of keeping
/// them in memory (where the state would differ from the checkpoint a restart replays).
#[sqlx::test(migrations = "./migrations")]
async fn pruning_during_a_batch_makes_the_owner_reload(pool: PgPool) {
    let tenant = TenantId::new();
    let engine = engine();
    let states = TenantStates::new(usize::MAX);
    process_in(&pool, &engine, &states, tenant, &failure(0)).await;
    sqlx::query("UPDATE detect_state SET updated_at = now() - interval '30 days'")
        .execute(&pool)
        .await
        .expect("age the state");

    // A batch starts: the tenant's lock, its sequence, the cached state...
    let (tx, mut owned) = begin_batch(&pool, &states, tenant).await;
    assert!(
        !owned.state.is_empty(),
        "the cached state holds the aged entries"
    );
    // ...pruning commits meanwhile...
    let mut conn = pool.acquire().await.expect("conn");
    let cutoff = chrono::Utc::now() - chrono::Duration::days(1);
    let pruned = detect_state::prune(&mut conn, cutoff).await.expect("prune");
    assert!(pruned > 0);
    // ...and the batch checkpoints and commits.
    let lock = event(json!({"eventType": "user.account.lock"}));
    engine.evaluate_in_memory(&lock, "acme", &mut owned.state);
    commit_batch(tx, &states, tenant, owned).await;

    let mut tx = pool.begin().await.expect("begin");
    let seq = detect_state::sequences(&mut tx, &[tenant])
        .await
        .expect("seq")[&tenant];
    let owned = states.checkout(&mut tx, tenant, seq).await.expect("state");
    let stored = MemoryState::from_rows(detect_state::load(&mut tx, tenant).await.expect("load"));
    assert_eq!(
        owned.state.len(),
        stored.len(),
        "the next batch works on the checkpoint, not on entries pruning removed"
    );
}
