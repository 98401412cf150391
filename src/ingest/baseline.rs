//! Learned baselines: reads an org's System Log history and hands it to the detection worker
//! as learn-only events, so first-seen, travel and threshold rules start from what the org
//! did in the last N days instead of from nothing (Elastic's new-terms rules look back the
//! same way).
//!
//! Why through the inbox: the tenant's state is owned, in memory, by the worker that holds
//! the tenant, and checkpointed with each batch, exactly once. Writing state from here would
//! race that owner. Instead each page of history is inserted like a delivery (dedup by event
//! uuid, the same queue), marked learn-only; the owner applies it with its live events and
//! discards its detections (`detect/learn.rs`). Learn-only events never reach the feed.
//!
//! The window is `[until - days, until)` with `until` the moment the integration went live:
//! from then on the hook and gap fill bring every event, so history and live events never
//! overlap, and a baseline started later (on demand) adds older history only. History is read
//! newest first: a baseline that reaches `baseline_max_events` keeps the most recent days.
//! Order does not matter to the state (first-seen keeps first and last times; counts and
//! locations are sets by event time), and live events are never held back while it learns.
//!
//! The job is resumable: Okta's `next` link is saved with each page in the transaction that
//! stores the page, under a lease; a replica that dies mid-way leaves a lease that runs out,
//! and whoever claims it next resumes from the link. Re-read events are dropped by the uuid
//! dedup. The Okta client paces calls by the rate-limit headers and waits out 429s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{envelope, gapfill, inbox};
use crate::okta::{LogsPage, LogsStart};
use crate::service::IntegrationError;
use crate::state::Services;
use crate::store::baselines::{self, BaselineJob, BaselineState, PageProgress};
use crate::store::integrations::{self, Integration, IntegrationStatus};

/// Pages one round reads before it lets other baselines have a turn.
const PAGES_PER_ROUND: usize = 10;
const PAGE_SIZE: u32 = crate::okta::system_log::MAX_LIMIT;
/// Long enough for a page with a whole rate-limit wait; renewed with every page.
const LEASE_SECS: i64 = 300;
/// How often an idle replica looks for due baselines (a start on this replica wakes it).
const TICK: Duration = Duration::from_secs(2);
/// While the worker applies what was read.
const APPLYING_RECHECK_SECS: f64 = 1.0;
const MAX_ATTEMPTS: i32 = 10;

/// The baseline task of a replica. Shutdown does not wait for a round (one may wait minutes
/// on Okta's rate limits): the pages read so far are committed with their cursor, and the
/// round's lease runs out for whoever resumes it.
pub fn spawn(services: Services, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let round = super::background::guarded("baseline", async {
                if let Err(error) = run_due(&services).await {
                    tracing::warn!(%error, "baseline round failed");
                }
            });
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = round => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = services.wait_baseline_requested() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    })
}

/// Runs due baseline rounds until none is due; returns how many ran.
pub async fn run_due(services: &Services) -> crate::store::Result<usize> {
    let mut rounds = 0;
    while let Some(job) = baselines::claim_due(services.pool(), LEASE_SECS).await? {
        round(services, &job).await?;
        rounds += 1;
    }
    Ok(rounds)
}

/// One turn of a baseline: read a few pages, or, once all are read, see whether the worker
/// has applied them.
async fn round(services: &Services, job: &BaselineJob) -> crate::store::Result<()> {
    let pool = services.pool();
    let integration = match services
        .get_integration(job.tenant_id, job.integration_id)
        .await
    {
        Ok(i) if i.status == IntegrationStatus::Active => i,
        // Deleted (or never live): nothing to learn for.
        Ok(_) | Err(IntegrationError::NotFound) => {
            let why = "the integration is no longer active";
            return baselines::finish(pool, job, BaselineState::Failed, Some(why)).await;
        }
        Err(error) => return retry(services, job, &error).await,
    };
    if job.read_all {
        // The count the status shows: read, not yet applied by the worker.
        let baseline = baselines::get(pool, job.tenant_id, job.integration_id).await?;
        return match baseline.map_or(0, |b| b.events_pending) {
            0 => {
                tracing::info!(integration_id = %job.integration_id, "baseline complete");
                baselines::finish(pool, job, BaselineState::Complete, None).await
            }
            _ => baselines::release(pool, job, APPLYING_RECHECK_SECS).await,
        };
    }
    match read_pages(services, job, &integration).await {
        Ok(()) => baselines::release(pool, job, 0.0).await,
        Err(error) => retry(services, job, &error).await,
    }
}

/// A failed round is tried again later, with back-off; after [`MAX_ATTEMPTS`] the baseline
/// fails (the live path never depended on it).
async fn retry(
    services: &Services,
    job: &BaselineJob,
    error: &IntegrationError,
) -> crate::store::Result<()> {
    let detail = match error {
        IntegrationError::Okta { error, .. } => error.detail(),
        other => other.to_string(),
    };
    tracing::warn!(integration_id = %job.integration_id, error = %detail, "baseline round failed");
    if job.attempts + 1 >= MAX_ATTEMPTS {
        let why = format!("gave up after {MAX_ATTEMPTS} attempts: {detail}");
        return baselines::finish(services.pool(), job, BaselineState::Failed, Some(&why)).await;
    }
    let delay = match error {
        IntegrationError::Okta {
            error: crate::okta::OktaError::RateLimited { retry_at },
            ..
        } => (*retry_at - Utc::now()).num_seconds().max(1) as f64,
        _ => crate::store::backoff_secs(job.attempts),
    };
    baselines::retry_later(services.pool(), job, delay, &detail).await
}

/// Reads up to [`PAGES_PER_ROUND`] pages from the job's cursor, storing each as learn-only
/// events with its progress in one transaction.
async fn read_pages(
    services: &Services,
    job: &BaselineJob,
    integration: &Integration,
) -> Result<(), IntegrationError> {
    let creds = services.credentials(&integration.org).await?;
    let types = integration.coverage.event_types();
    let budget = services.config().baseline_max_events as i64;
    let mut start = match &job.cursor {
        Some(next) => LogsStart::Next(next.clone()),
        None => LogsStart::NewestFirst(job.since, job.until),
    };
    let mut read = job.events_read;
    for _ in 0..PAGES_PER_ROUND {
        let page = services
            .okta()
            .logs_page(&creds, start.clone(), PAGE_SIZE)
            .await?;
        let saved = save_page(services, job, &page, types, budget - read).await?;
        read += saved.read;
        match (saved.read_all, page.next) {
            (false, Some(next)) => start = LogsStart::Next(next),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// What [`save_page`] stored.
struct Saved {
    read: i64,
    read_all: bool,
}

/// One page into the inbox (learn-only) and into the job's progress, in one transaction.
async fn save_page(
    services: &Services,
    job: &BaselineJob,
    page: &LogsPage,
    types: &[&str],
    budget: i64,
) -> Result<Saved, IntegrationError> {
    let mut subscribed = gapfill::storable_subscribed(&page.events, types);
    // The bound: what is left of it is taken, and reading stops once it is spent.
    let budget = usize::try_from(budget).unwrap_or(0);
    let truncated =
        subscribed.len() > budget || (subscribed.len() == budget && page.next.is_some());
    subscribed.truncate(budget);
    let batch = envelope::batch_of(subscribed.iter().map(AsRef::as_ref));
    let oldest: Option<DateTime<Utc>> = batch.accepted.iter().filter_map(|e| e.published).min();
    let read_all = truncated || page.next.is_none();
    let mut tx = services.pool().begin().await?;
    let stored = inbox::insert_in(&mut tx, job.tenant_id, job.integration_id, &batch, true).await?;
    // A round reads for minutes: the integration may have been deleted (or its tenant
    // offboarded) since it began, and then the page is rolled back and reading stops.
    if !integrations::lock_active(&mut tx, job.tenant_id, job.integration_id).await? {
        return Ok(Saved {
            read: 0,
            read_all: true,
        });
    }
    let progress = PageProgress {
        cursor: page.next.as_deref(),
        read: subscribed.len() as i64,
        learned: stored.accepted as i64,
        oldest,
        read_all,
        truncated,
    };
    baselines::save_page(&mut tx, job, &progress, LEASE_SECS).await?;
    tx.commit().await?;
    if stored.accepted > 0 {
        services.events_queued();
    }
    metrics::counter!("okta_ingest_baseline_events_total").increment(stored.accepted);
    Ok(Saved {
        read: progress.read,
        read_all,
    })
}
