//! The detection worker: claims inbox rows (SKIP LOCKED), runs the tenant's policies, writes
//! runtime events and removes the rows from the queue — all in one transaction, so an event
//! is processed exactly once however many tasks and replicas run.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ids::{PolicyId, TenantId};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::owned::{Owned, TenantStates};
use crate::detect::{Detection, Engine, MemoryState};
use crate::ingest::normalize;
use crate::okta::LogEvent;
use crate::service::policies::Engines;
use crate::state::Services;
use crate::store::detect_state::TenantCheckpoint;
use crate::store::inbox::Claimed;
use crate::store::runtime_events::NewRuntimeEvent;
use crate::store::{self, StoreError};

/// Spawns the LISTEN task and `tasks` worker loops; they stop when `cancel` fires.
pub fn spawn(services: Services, cancel: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let wake = Arc::new(Notify::new());
    let engines = Engines::default();
    let states = TenantStates::new(services.config().detect_state_max_entries);
    let mut handles = vec![
        tokio::spawn(listen(
            services.pool().clone(),
            wake.clone(),
            cancel.clone(),
        )),
        tokio::spawn(evict_idle_states(
            states.clone(),
            Duration::from_secs(services.config().detect_state_idle_secs),
            cancel.clone(),
        )),
    ];
    handles.push(tokio::spawn(announce_queued_events(
        services.clone(),
        cancel.clone(),
    )));
    for _ in 0..services.config().worker_tasks {
        handles.push(tokio::spawn(run_loop(
            services.clone(),
            engines.clone(),
            states.clone(),
            wake.clone(),
            cancel.clone(),
        )));
    }
    handles
}

/// Bounded memory: a tenant idle for `idle` leaves the cache (its state is checkpointed).
async fn evict_idle_states(states: TenantStates, idle: Duration, cancel: CancellationToken) {
    let every = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    while !cancel.is_cancelled() {
        sleep_or_cancel(every, &cancel).await;
        let evicted = states.evict_idle(idle);
        if evicted > 0 {
            metrics::counter!("okta_ingest_detect_state_evictions_total", "reason" => "idle")
                .increment(evicted as u64);
        }
    }
}

/// One NOTIFY per burst of committed deliveries: `events_queued` keeps a single permit, so
/// the deliveries committed while a NOTIFY is on its way share the next one.
async fn announce_queued_events(services: Services, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = services.wait_events_queued() => {}
        }
        if let Err(error) = store::inbox::notify_workers(services.pool()).await {
            // The workers poll too; a lost wake-up costs at most one poll interval.
            tracing::debug!(%error, "could not notify the workers");
        }
    }
}

async fn listen(pool: PgPool, wake: Arc<Notify>, cancel: CancellationToken) {
    while !cancel.is_cancelled() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "worker LISTEN connection failed; polling meanwhile");
                sleep_or_cancel(Duration::from_secs(2), &cancel).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(store::inbox::NOTIFY_CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed");
            sleep_or_cancel(Duration::from_secs(2), &cancel).await;
            continue;
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => wake.notify_waiters(),
                    // The connection was lost: queued work may have been missed, so wake everyone.
                    Ok(None) => wake.notify_waiters(),
                    Err(error) => {
                        tracing::warn!(%error, "LISTEN connection broke");
                        break;
                    }
                }
            }
        }
    }
}

async fn sleep_or_cancel(duration: Duration, cancel: &CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(duration) => {}
    }
}

async fn run_loop(
    services: Services,
    engines: Engines,
    states: TenantStates,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let poll = Duration::from_millis(services.config().worker_poll_interval_ms);
    let mut backoff = Duration::from_millis(200);
    let mut mode = Mode::Batch;
    // Where this worker's round-robin over tenants stands.
    let mut last_tenant = None;
    while !cancel.is_cancelled() {
        services.worker_beat();
        let notified = wake.notified();
        let outcome = AssertUnwindSafe(process_batch_in(
            &services,
            &engines,
            &states,
            mode,
            last_tenant,
        ))
        .catch_unwind()
        .await
        .unwrap_or(Err(WorkerError::Panicked));
        let outcome = outcome.map(|batch| {
            last_tenant = batch.last_tenant.or(last_tenant);
            batch.events
        });
        match outcome {
            Ok(0) => {
                backoff = Duration::from_millis(200);
                mode = Mode::Batch;
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = notified => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
            Ok(_) => {
                backoff = Duration::from_millis(200);
                mode = Mode::Batch;
            }
            // Two batches took stateful-rule locks in opposite orders; Postgres aborted this
            // one and its events are back in the queue: go again at once.
            Err(error) if error.is_deadlock() => {
                metrics::counter!("okta_ingest_worker_deadlock_retries_total").increment(1);
                tracing::debug!(%error, "worker batch deadlocked; retrying");
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "worker batch failed; its events stay queued");
                sleep_or_cancel(backoff, &cancel).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            // Something in the batch fails by itself (an event the store refuses, a panic):
            // the batch is back in the queue; go again one event at a time, so only the
            // culprit is quarantined and it cannot block its tenant or anyone else.
            Err(error) if mode == Mode::Batch => {
                tracing::warn!(%error, "worker batch failed; retrying event by event");
                mode = Mode::EventByEvent;
            }
            // Event by event the batch failed as a whole: no single event is the cause (a
            // checkpoint write that keeps failing, say). Pause, as for the database's own
            // failures, rather than retry in a loop that burns a core and floods the log.
            Err(error) => {
                tracing::warn!(%error, ?backoff, "worker batch failed event by event; pausing before the next try");
                metrics::counter!("okta_ingest_worker_failed_rounds_total").increment(1);
                sleep_or_cancel(backoff, &cancel).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// How a batch isolates its events' failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One transaction: the fast path; any failure rolls the whole batch back.
    Batch,
    /// A savepoint per event: a failing event is rolled back and quarantined, the rest commit.
    EventByEvent,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("detection panicked")]
    Panicked,
    #[error("{0}")]
    Unprocessable(String),
}

impl WorkerError {
    fn sql(&self) -> Option<&sqlx::Error> {
        match self {
            WorkerError::Sql(e)
            | WorkerError::Store(StoreError::Database(e) | StoreError::Unavailable(e)) => Some(e),
            _ => None,
        }
    }

    fn sqlstate(&self) -> Option<String> {
        match self.sql()? {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    fn is_deadlock(&self) -> bool {
        self.sqlstate().as_deref() == Some("40P01")
    }

    /// A failure of the database, not of the events: retrying the batch later can succeed.
    fn is_transient(&self) -> bool {
        let unavailable = self.sql().is_some_and(store::is_unavailable);
        // 40: transaction rollback (serialization, deadlock); 53: insufficient resources;
        // 55P03: lock not available.
        let retryable = self
            .sqlstate()
            .is_some_and(|c| c.starts_with("40") || c.starts_with("53") || c == "55P03");
        unavailable || retryable
    }
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchDone {
    pub events: usize,
    /// The last tenant served: the next batch starts its round-robin after it.
    pub last_tenant: Option<TenantId>,
}

/// One transaction: claim, evaluate against the owned states, write the detections in bulk,
/// checkpoint each tenant's state delta, commit. The states go back to the cache only once
/// the commit succeeded; on any failure they are dropped and reloaded from the checkpoint,
/// so a replayed batch sees exactly the state the failed one started from.
async fn process_batch_in(
    services: &Services,
    engines: &Engines,
    states: &TenantStates,
    mode: Mode,
    after: Option<TenantId>,
) -> Result<BatchDone, WorkerError> {
    let started = Instant::now();
    let pool = services.pool();
    let mut tx = pool.begin().await?;
    let claim = store::inbox::claim(&mut tx, services.config().worker_batch_size, after).await?;
    let claimed = claim.events;
    if claimed.is_empty() {
        return Ok(BatchDone::default());
    }
    let mut tenants: Vec<TenantId> = claimed.iter().map(|c| c.tenant_id).collect();
    tenants.dedup();
    let sequences = store::detect_state::sequences(&mut tx, &tenants).await?;
    let batch_engines = engines.for_tenants(pool, &tenants).await?;
    let mut owned = HashMap::new();
    for tenant_id in &tenants {
        let seq = sequences.get(tenant_id).copied().unwrap_or(0);
        owned.insert(*tenant_id, states.checkout(&mut tx, *tenant_id, seq).await?);
    }
    let (claimed, mut owned, outcomes) = match mode {
        Mode::Batch => {
            // Parsing and rules are CPU work: off the async threads, which answer Okta.
            let evaluated = tokio::task::spawn_blocking(move || {
                let outcomes = evaluate_all(&claimed, &batch_engines, &mut owned);
                outcomes.map(|outcomes| (claimed, owned, outcomes))
            })
            .await
            .map_err(|_| WorkerError::Panicked)?;
            evaluated?
        }
        Mode::EventByEvent => {
            evaluate_one_by_one(&mut tx, &claimed, &batch_engines, &mut owned).await?;
            (claimed, owned, Vec::new())
        }
    };
    let mut detected = Vec::new();
    for (item, outcome) in claimed.iter().zip(outcomes) {
        match outcome {
            Ok(Evaluated { event, detections }) => detected.push(Detected {
                item,
                event,
                detections,
            }),
            Err(reason) => quarantine(&mut tx, item, &reason).await?,
        }
    }
    write_detections(&mut tx, &detected).await?;
    let mut deltas = Vec::with_capacity(owned.len());
    for (tenant_id, tenant) in &mut owned {
        tenant.seq += 1;
        deltas.push((*tenant_id, tenant.state.take_delta(), tenant.seq));
        metrics::counter!("okta_ingest_detect_state_forgotten_total")
            .increment(tenant.state.take_forgotten());
    }
    let checkpoints: Vec<_> = deltas
        .iter()
        .map(|(tenant_id, delta, seq)| TenantCheckpoint {
            tenant_id: *tenant_id,
            delta,
            seq: *seq,
        })
        .collect();
    store::detect_state::checkpoint(&mut tx, &checkpoints).await?;
    tx.commit().await?;
    for (tenant_id, tenant) in owned {
        states.checkin(tenant_id, tenant);
    }
    metrics::histogram!("okta_ingest_worker_batch_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("okta_ingest_events_processed_total").increment(claimed.len() as u64);
    let now = Utc::now();
    let lag = metrics::histogram!(crate::telemetry::LAG_METRIC);
    for item in &claimed {
        lag.record((now - item.received_at).num_milliseconds() as f64 / 1000.0);
    }
    Ok(BatchDone {
        events: claimed.len(),
        last_tenant: claim.last_tenant,
    })
}

/// An event with its detections, ready to be written.
struct Detected<'c> {
    item: &'c Claimed,
    event: LogEvent,
    detections: Vec<Detection>,
}

/// An event parsed and judged.
struct Evaluated {
    event: LogEvent,
    detections: Vec<Detection>,
}

/// Every event of a batch through its tenant's engine and state, in order: per event, what
/// it raised or why it must be quarantined. `Err` is a panic in detection (the batch is
/// retried event by event).
fn evaluate_all(
    claimed: &[Claimed],
    engines: &HashMap<TenantId, Arc<Engine>>,
    owned: &mut HashMap<TenantId, Owned>,
) -> Result<Vec<Result<Evaluated, String>>, WorkerError> {
    let mut outcomes = Vec::with_capacity(claimed.len());
    for item in claimed {
        let (Some(engine), Some(tenant)) =
            (engines.get(&item.tenant_id), owned.get_mut(&item.tenant_id))
        else {
            outcomes.push(Err("no engine or state for the tenant".into()));
            continue;
        };
        outcomes.push(evaluate(item, engine, &mut tenant.state)?);
    }
    Ok(outcomes)
}

/// The slow path after a failed batch: a savepoint per event, so the event that fails is
/// rolled back (its state change too) and quarantined, and its neighbours commit.
async fn evaluate_one_by_one(
    tx: &mut sqlx::PgConnection,
    claimed: &[Claimed],
    engines: &HashMap<TenantId, Arc<Engine>>,
    owned: &mut HashMap<TenantId, Owned>,
) -> Result<(), WorkerError> {
    for item in claimed {
        let (Some(engine), Some(tenant)) =
            (engines.get(&item.tenant_id), owned.get_mut(&item.tenant_id))
        else {
            continue;
        };
        let before = tenant.state.clone();
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        let outcome = match evaluate(item, engine, &mut tenant.state) {
            Ok(Ok(Evaluated { event, detections })) => {
                let found = Detected {
                    item,
                    event,
                    detections,
                };
                write_detections(&mut savepoint, &[found]).await
            }
            Ok(Err(reason)) => Err(WorkerError::Unprocessable(reason)),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => savepoint.commit().await?,
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => {
                savepoint.rollback().await?;
                tenant.state = before;
                quarantine(tx, item, &format!("detection failed: {error}")).await?;
            }
        }
    }
    Ok(())
}

/// Runs one claimed event through its tenant's engine. The inner `Err` is a reason to
/// quarantine the event; the outer one a panic in detection.
fn evaluate(
    item: &Claimed,
    engine: &Engine,
    state: &mut MemoryState,
) -> Result<Result<Evaluated, String>, WorkerError> {
    let event: LogEvent = match serde_json::from_str(&item.raw) {
        Ok(event) => event,
        Err(error) => return Ok(Err(format!("stored event is not a LogEvent: {error}"))),
    };
    // A baseline's history goes through the same state as live events, in the same
    // transaction and checkpoint, and raises nothing (`detect/learn.rs`).
    let detections = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if item.learn_only {
            engine.learn_in_memory(&event, &item.okta_domain, state);
            return Vec::new();
        }
        engine.evaluate_in_memory(&event, &item.okta_domain, state)
    }))
    .map_err(|_| WorkerError::Panicked)?;
    Ok(Ok(Evaluated { event, detections }))
}

async fn quarantine(
    conn: &mut sqlx::PgConnection,
    item: &Claimed,
    reason: &str,
) -> Result<(), WorkerError> {
    tracing::warn!(tenant_id = %item.tenant_id, integration_id = %item.integration_id, reason, "event quarantined by the worker");
    metrics::counter!("okta_ingest_events_total", "outcome" => "quarantined").increment(1);
    let (reasons, raws) = ([reason], [item.raw.as_str()]);
    store::inbox::quarantine_many(conn, item.tenant_id, item.integration_id, &reasons, &raws)
        .await?;
    Ok(())
}

/// The feed's columns of one event, computed once for all its detections.
struct EventColumns {
    normalized: serde_json::Value,
    published: DateTime<Utc>,
    actor: String,
    target: String,
    event_type: String,
    outputs: Vec<String>,
}

/// Writes the detections of many events in one statement.
async fn write_detections(
    conn: &mut sqlx::PgConnection,
    detected: &[Detected<'_>],
) -> Result<(), WorkerError> {
    let detected: Vec<&Detected> = detected
        .iter()
        .filter(|d| !d.detections.is_empty())
        .collect();
    let columns: Vec<EventColumns> = detected
        .iter()
        .map(|d| EventColumns {
            normalized: serde_json::to_value(normalize::normalize(&d.event)).unwrap_or_default(),
            published: d
                .event
                .published
                .as_deref()
                .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
                .map_or(d.item.received_at, |p| p.with_timezone(&Utc)),
            actor: clip(&normalize::actor_label(&d.event), MAX_LABEL_CHARS).into_owned(),
            target: clip(&normalize::target_label(&d.event), MAX_LABEL_CHARS).into_owned(),
            event_type: clip(&d.event.event_type, MAX_LABEL_CHARS).into_owned(),
            outputs: d
                .detections
                .iter()
                .map(|x| clip(&x.output, MAX_OUTPUT_CHARS).into_owned())
                .collect(),
        })
        .collect();
    let mut rows = Vec::new();
    for (d, c) in detected.iter().zip(&columns) {
        for (detection, output) in d.detections.iter().zip(&c.outputs) {
            rows.push(NewRuntimeEvent {
                tenant_id: d.item.tenant_id,
                integration_id: d.item.integration_id,
                policy_id: PolicyId(detection.policy_id),
                policy_name: &detection.policy_name,
                rule_name: &detection.rule,
                severity: detection.priority.severity(),
                priority: detection.priority.as_str(),
                output,
                tags: &detection.tags,
                okta_event_uuid: &d.event.uuid,
                event_type: &c.event_type,
                actor: &c.actor,
                target: &c.target,
                okta_domain: &d.item.okta_domain,
                published: c.published,
                normalized: &c.normalized,
                raw: &d.item.raw,
            });
        }
    }
    // Managed rule names are a fixed set; custom ones are written by thousands of tenants, so
    // they share one label value (a series each would grow Prometheus without bound).
    let managed: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|row| crate::service::policies::find_managed(row.policy_id).is_some())
        .map(|row| row.rule_name)
        .collect();
    for rule in store::runtime_events::insert_many(conn, &rows).await? {
        let label = if managed.contains(rule.as_str()) {
            rule
        } else {
            "custom".to_owned()
        };
        metrics::counter!("okta_ingest_detections_total", "rule" => label).increment(1);
    }
    Ok(())
}

/// Bounds on the feed's text columns: they feed a full-text index, which refuses documents over
/// 1 MB, and an event's fields are as long as Okta (or an attacker typing a username) made them.
/// The raw event keeps every byte.
const MAX_OUTPUT_CHARS: usize = 4096;
const MAX_LABEL_CHARS: usize = 512;

fn clip(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => text.into(),
        Some((end, _)) => format!("{}…", &text[..end]).into(),
    }
}
