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

use crate::detect::{Detection, Engine};
use crate::ingest::normalize;
use crate::okta::LogEvent;
use crate::service::policies::Engines;
use crate::state::Services;
use crate::store::detect_state::PgState;
use crate::store::inbox::Claimed;
use crate::store::runtime_events::NewRuntimeEvent;
use crate::store::{self, StoreError};

/// Spawns the LISTEN task and `tasks` worker loops; they stop when `cancel` fires.
pub fn spawn(services: Services, cancel: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let wake = Arc::new(Notify::new());
    let engines = Engines::default();
    let mut handles = vec![tokio::spawn(listen(
        services.pool().clone(),
        wake.clone(),
        cancel.clone(),
    ))];
    for _ in 0..services.config().worker_tasks {
        handles.push(tokio::spawn(run_loop(
            services.clone(),
            engines.clone(),
            wake.clone(),
            cancel.clone(),
        )));
    }
    handles
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
        let outcome = AssertUnwindSafe(process_batch_in(&services, &engines, mode, last_tenant))
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
            Err(error) => {
                tracing::warn!(%error, "worker batch failed; retrying event by event");
                mode = Mode::EventByEvent;
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

/// Processes one batch.
pub async fn process_batch(
    services: &Services,
    engines: &Engines,
) -> Result<BatchDone, WorkerError> {
    process_batch_in(services, engines, Mode::Batch, None).await
}

async fn process_batch_in(
    services: &Services,
    engines: &Engines,
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
    let mut batch_engines: HashMap<TenantId, Arc<Engine>> = HashMap::new();
    for item in &claimed {
        let engine = match batch_engines.get(&item.tenant_id) {
            Some(engine) => engine.clone(),
            None => {
                let engine = engines.for_tenant(pool, item.tenant_id).await?;
                batch_engines.insert(item.tenant_id, engine.clone());
                engine
            }
        };
        match mode {
            Mode::Batch => process_event(&mut tx, item, &engine).await?,
            Mode::EventByEvent => {
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                let outcome = AssertUnwindSafe(process_event(&mut savepoint, item, &engine))
                    .catch_unwind()
                    .await
                    .unwrap_or(Err(WorkerError::Panicked));
                match outcome {
                    Ok(()) => savepoint.commit().await?,
                    Err(error) if error.is_transient() => return Err(error),
                    Err(error) => {
                        savepoint.rollback().await?;
                        quarantine(&mut tx, item, &format!("detection failed: {error}")).await?;
                    }
                }
            }
        }
    }
    tx.commit().await?;
    metrics::histogram!("okta_ingest_worker_batch_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("okta_ingest_events_processed_total").increment(claimed.len() as u64);
    if let Some(last) = claimed.last() {
        let lag = (Utc::now() - last.received_at).num_milliseconds() as f64 / 1000.0;
        metrics::histogram!("okta_ingest_processing_lag_seconds_hist").record(lag);
    }
    Ok(BatchDone {
        events: claimed.len(),
        last_tenant: claim.last_tenant,
    })
}

/// Runs one claimed event through its tenant's engine and writes its detections.
async fn process_event(
    conn: &mut sqlx::PgConnection,
    item: &Claimed,
    engine: &Engine,
) -> Result<(), WorkerError> {
    let event: LogEvent = match serde_json::from_str(&item.raw) {
        Ok(event) => event,
        Err(error) => {
            let reason = format!("stored event is not a LogEvent: {error}");
            return quarantine(conn, item, &reason).await;
        }
    };
    let detections = {
        let mut state = PgState::for_locked_tenant(item.tenant_id, &mut *conn);
        engine
            .evaluate(&event, &item.okta_domain, &mut state)
            .await?
    };
    if !detections.is_empty() {
        write_runtime_events(conn, item, &event, &detections).await?;
    }
    Ok(())
}

async fn quarantine(
    conn: &mut sqlx::PgConnection,
    item: &Claimed,
    reason: &str,
) -> Result<(), WorkerError> {
    tracing::warn!(tenant_id = %item.tenant_id, integration_id = %item.integration_id, reason, "event quarantined by the worker");
    metrics::counter!("okta_ingest_events_total", "outcome" => "quarantined").increment(1);
    store::inbox::quarantine(conn, item.tenant_id, item.integration_id, reason, &item.raw).await?;
    Ok(())
}

/// Writes an event's detections; the event's own columns are computed once for all of them.
async fn write_runtime_events(
    conn: &mut sqlx::PgConnection,
    item: &Claimed,
    event: &LogEvent,
    detections: &[Detection],
) -> Result<(), WorkerError> {
    let normalized = serde_json::to_value(normalize::normalize(event)).unwrap_or_default();
    let published = event
        .published
        .as_deref()
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map_or(item.received_at, |p| p.with_timezone(&Utc));
    let actor = normalize::actor_label(event);
    let target = normalize::target_label(event);
    let (actor, target) = (
        clip(&actor, MAX_LABEL_CHARS),
        clip(&target, MAX_LABEL_CHARS),
    );
    let event_type = clip(&event.event_type, MAX_LABEL_CHARS);
    for detection in detections {
        let inserted = store::runtime_events::insert(
            &mut *conn,
            &NewRuntimeEvent {
                tenant_id: item.tenant_id,
                integration_id: item.integration_id,
                policy_id: PolicyId(detection.policy_id),
                policy_name: &detection.policy_name,
                rule_name: &detection.rule,
                severity: detection.priority.severity(),
                priority: detection.priority.as_str(),
                output: &clip(&detection.output, MAX_OUTPUT_CHARS),
                tags: &detection.tags,
                okta_event_uuid: &event.uuid,
                event_type: &event_type,
                actor: &actor,
                target: &target,
                okta_domain: &item.okta_domain,
                published,
                normalized: &normalized,
                raw: &item.raw,
            },
        )
        .await?;
        if inserted {
            metrics::counter!("okta_ingest_detections_total", "rule" => detection.rule.clone())
                .increment(1);
        }
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
