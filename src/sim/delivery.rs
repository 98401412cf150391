//! The hook delivery engine: Okta's envelope, batching, 3 s timeout, one retry on 5xx/timeout;
//! and, as `DeliveryOptions` says, a delay after verification, redelivery, reordering within
//! a window and the org's daily cap.

use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rand::seq::SliceRandom;

use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::hooks::with_hook_headers;
use super::state::{Hook, Shared, duration_ms, normalize, okta_time};

/// What `POST /sim/deliver` (and `SimHandle::deliver`) answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// Events new to the System Log (an event already logged, by `uuid`, is delivered again
    /// but not logged twice).
    pub appended: usize,
    /// One entry per ACTIVE + VERIFIED hook subscribed to at least one of the events.
    pub hooks: Vec<HookDelivery>,
}

impl DeliveryReport {
    pub fn delivered(&self) -> usize {
        self.hooks.iter().map(|h| h.delivered).sum()
    }

    pub fn dropped(&self) -> usize {
        self.hooks.iter().map(|h| h.dropped).sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookDelivery {
    pub hook_id: String,
    pub uri: String,
    pub delivered: usize,
    pub dropped: usize,
    /// Events not delivered because the org's daily cap was reached (never replayed).
    #[serde(default)]
    pub over_daily_cap: usize,
    pub batches: Vec<BatchResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The envelope's `eventId` (the same on the retry).
    pub event_id: String,
    pub events: usize,
    /// 1, or 2 when the first attempt got a 5xx, a timeout or a connection error.
    pub attempts: u32,
    /// The final HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The final transport error (`timeout`, `connect: …`), if no answer came.
    pub error: Option<String>,
    pub delivered: usize,
    pub dropped: usize,
    /// How long the final attempt took to be answered (or to fail), in ms.
    pub latency_ms: u64,
    /// The batch was delivered a second time, in a new envelope (at least once).
    #[serde(default)]
    pub redelivered: bool,
}

enum Attempt {
    Answered(u16),
    Failed(String),
}

impl Attempt {
    fn retryable(&self) -> bool {
        match self {
            Self::Answered(status) => *status >= 500,
            Self::Failed(_) => true,
        }
    }

    fn success(&self) -> bool {
        matches!(self, Self::Answered(status) if (200..300).contains(status))
    }
}

/// Appends `events` to the System Log, then (unless `skip_delivery`) delivers them.
pub(crate) async fn deliver(
    shared: &Arc<Shared>,
    events: Vec<Value>,
    skip_delivery: bool,
) -> DeliveryReport {
    let (appended, events, targets) = {
        // Deliver what is logged: `uuid` and `published` filled in where they were missing.
        let events: Vec<Value> = events.into_iter().map(|e| normalize(e).0).collect();
        let mut inner = shared.lock();
        let appended = inner.append_log(events.iter().cloned());
        let targets: Vec<Hook> = if skip_delivery {
            Vec::new()
        } else {
            inner
                .hooks
                .iter()
                .filter(|h| h.receives())
                .cloned()
                .collect()
        };
        (appended, events, targets)
    };
    // Okta delivers on its own schedule: a caller that stops waiting stops nothing.
    let task = tokio::spawn({
        let shared = shared.clone();
        async move {
            let deliveries = targets
                .iter()
                .map(|hook| deliver_to_hook(&shared, hook, &events));
            let hooks: Vec<HookDelivery> = futures::future::join_all(deliveries)
                .await
                .into_iter()
                .flatten()
                .collect();
            record_drops(&shared, &targets, &hooks);
            hooks
        }
    });
    let hooks = task.await.unwrap_or_default();
    DeliveryReport { appended, hooks }
}

async fn deliver_to_hook(shared: &Shared, hook: &Hook, events: &[Value]) -> Option<HookDelivery> {
    let mut subscribed: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e.get("eventType")
                .and_then(Value::as_str)
                .is_some_and(|t| hook.events.iter().any(|s| s == t))
        })
        .collect();
    if subscribed.is_empty() {
        return None;
    }
    let over_daily_cap = apply_daily_cap(shared, &mut subscribed);
    wait_for_start(shared, hook).await;
    reorder(&mut subscribed, shared.options.delivery.reorder_window);
    let batch_size = shared.options.batch_size.max(1);
    let pending: Vec<_> = subscribed
        .chunks(batch_size)
        .map(|batch| deliver_batch(shared, hook, batch))
        .collect();
    let batches: Vec<BatchResult> = futures::stream::iter(pending)
        .buffered(shared.options.delivery_concurrency.max(1))
        .collect()
        .await;
    Some(HookDelivery {
        hook_id: hook.id.clone(),
        uri: hook.uri.clone(),
        delivered: batches.iter().map(|b| b.delivered).sum(),
        dropped: batches.iter().map(|b| b.dropped).sum(),
        over_daily_cap,
        batches,
    })
}

/// Keeps what the org's daily cap still allows; returns how many events it cut.
fn apply_daily_cap(shared: &Shared, events: &mut Vec<&Value>) -> usize {
    let wanted = events.len() as u64;
    let mut inner = shared.lock();
    let granted = inner
        .delivered_today
        .take(wanted, shared.options.delivery.daily_cap);
    let cut = usize::try_from(wanted - granted).unwrap_or(usize::MAX);
    inner.counters.events_over_daily_cap += wanted - granted;
    events.truncate(events.len() - cut);
    cut
}

/// A freshly verified hook receives nothing for `start_delay`.
async fn wait_for_start(shared: &Shared, hook: &Hook) {
    let start_delay = shared.options.delivery.start_delay;
    if let Some(at) = hook.verified_at.map(|verified| verified + start_delay) {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Shuffles events within consecutive windows of `window` events.
fn reorder(events: &mut [&Value], window: usize) {
    if window < 2 {
        return;
    }
    let mut rng = rand::rng();
    for chunk in events.chunks_mut(window) {
        chunk.shuffle(&mut rng);
    }
}

async fn deliver_batch(shared: &Shared, hook: &Hook, events: &[&Value]) -> BatchResult {
    let (mut result, ok) = deliver_envelope(shared, hook, events).await;
    if ok && redeliver(shared) {
        let (again, _) = deliver_envelope(shared, hook, events).await;
        result.redelivered = again.delivered > 0;
        if result.redelivered {
            shared.lock().counters.events_redelivered += events.len() as u64;
        }
    }
    result
}

fn redeliver(shared: &Shared) -> bool {
    let fraction = shared.options.delivery.redelivery_fraction;
    fraction > 0.0 && rand::rng().random_bool(fraction.clamp(0.0, 1.0))
}

/// One envelope (a fresh `eventId`), with its one retry; whether it was delivered.
async fn deliver_envelope(shared: &Shared, hook: &Hook, events: &[&Value]) -> (BatchResult, bool) {
    let event_id = uuid::Uuid::new_v4().to_string();
    let envelope = json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": format!("{}/api/v1/eventHooks/{}", shared.base_url, hook.id),
        "eventId": event_id,
        "eventTime": okta_time(Utc::now()),
        "contentType": "application/json",
        "data": { "events": events },
    });
    let body = envelope.to_string();
    let mut attempts = 0;
    let (attempt, latency_ms) = loop {
        attempts += 1;
        let started = Instant::now();
        let attempt = post_once(shared, hook, &body).await;
        let latency_ms = duration_ms(started.elapsed());
        if attempts >= 2 || !attempt.retryable() {
            break (attempt, latency_ms);
        }
    };
    record_batch(shared, attempts, attempt.success(), events.len());
    let ok = attempt.success();
    let (status, error) = match attempt {
        Attempt::Answered(status) => (Some(status), None),
        Attempt::Failed(error) => (None, Some(error)),
    };
    let result = BatchResult {
        event_id,
        events: events.len(),
        attempts,
        status,
        error,
        delivered: if ok { events.len() } else { 0 },
        dropped: if ok { 0 } else { events.len() },
        latency_ms,
        redelivered: false,
    };
    (result, ok)
}

async fn post_once(shared: &Shared, hook: &Hook, body: &str) -> Attempt {
    let request = shared
        .http
        .post(&hook.uri)
        .timeout(shared.options.delivery_timeout)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("User-Agent", "Okta-Integrations")
        .body(body.to_owned());
    match with_hook_headers(request, hook).send().await {
        Ok(response) => Attempt::Answered(response.status().as_u16()),
        Err(e) if e.is_timeout() => Attempt::Failed("timeout".to_owned()),
        Err(e) if e.is_connect() => Attempt::Failed("connect error".to_owned()),
        Err(_) => Attempt::Failed("request error".to_owned()),
    }
}

fn record_batch(shared: &Shared, attempts: u32, ok: bool, events: usize) {
    let mut inner = shared.lock();
    let c = &mut inner.counters;
    c.delivery_requests += u64::from(attempts);
    if ok {
        c.batches_delivered += 1;
        c.events_delivered += events as u64;
    } else {
        c.batches_dropped += 1;
        c.events_dropped += events as u64;
    }
}

/// Okta logs a dropped delivery in the System Log as `event_hook.delivery` (FAILURE).
fn record_drops(shared: &Shared, targets: &[Hook], results: &[HookDelivery]) {
    if !shared.options.log_delivery_failures {
        return;
    }
    let failures: Vec<Value> = results
        .iter()
        .flat_map(|r| r.batches.iter().map(move |b| (r, b)))
        .filter(|(_, b)| b.dropped > 0)
        .filter_map(|(r, b)| {
            let hook = targets.iter().find(|h| h.id == r.hook_id)?;
            Some(delivery_failure_event(hook, b))
        })
        .collect();
    if !failures.is_empty() {
        shared.lock().append_log(failures);
    }
}

fn delivery_failure_event(hook: &Hook, batch: &BatchResult) -> Value {
    let reason = match (&batch.status, &batch.error) {
        (Some(status), _) => format!("Event hook delivery failed with HTTP status {status}"),
        (None, Some(error)) => format!("Event hook delivery failed: {error}"),
        (None, None) => "Event hook delivery failed".to_owned(),
    };
    json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "published": okta_time(Utc::now()),
        "eventType": "event_hook.delivery",
        "version": "0",
        "severity": "WARN",
        "legacyEventType": null,
        "displayMessage": "Event hook delivery",
        "actor": { "id": hook.id, "type": "EventHook", "alternateId": hook.uri, "displayName": hook.name },
        "outcome": { "result": "FAILURE", "reason": reason },
        "target": [{ "id": hook.id, "type": "EventHook", "alternateId": hook.uri, "displayName": hook.name }],
        "transaction": { "type": "JOB", "id": batch.event_id, "detail": {} },
        "debugContext": { "debugData": {
            "eventHookId": hook.id,
            "deliveryEventId": batch.event_id,
            "droppedEvents": batch.dropped.to_string(),
            "attempts": batch.attempts.to_string(),
        } },
    })
}
