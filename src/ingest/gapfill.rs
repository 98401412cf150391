//! Gap fill: reads each active integration's System Log from a durable cursor and inserts
//! what the hook did not deliver, through the same dedup path as deliveries.

use std::borrow::Cow;

use chrono::Utc;
use futures::StreamExt;
use serde_json::value::RawValue;

use super::{envelope, inbox};
use crate::okta::LogsStart;
use crate::service::IntegrationError;
use crate::state::Services;
use crate::store::{self, gapfill, gapfill::GapFillTarget};

/// Pages read per integration per round, so one busy org cannot starve the others (a longer
/// backlog is read on in the next round, five seconds later, not after the poll interval).
const MAX_PAGES_PER_ROUND: usize = 20;
const PAGE_SIZE: u32 = 1000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GapFillReport {
    pub pages: usize,
    pub inserted: u64,
}

/// Integrations one replica claims per round, and how many of them it polls at once: a round
/// of caught-up orgs takes 16 System Log round trips, not 64 (or thousands, unclaimed), so it
/// and a shutdown waiting for it stay short, and the other replicas claim the rest.
const CLAIMED_PER_ROUND: i64 = 64;
const POLLS_AT_ONCE: usize = 4;
/// A claim outlives the longest round (20 pages under Okta's rate limits), not a dead replica.
const CLAIM_SECS: i64 = 15 * 60;

/// Claims the integrations that are due and polls them; errors are recorded on each
/// integration's status.
pub async fn run_due(services: &Services) -> store::Result<GapFillReport> {
    let interval = services.config().gapfill_interval_secs as i64;
    let targets =
        gapfill::claim_due(services.pool(), interval, CLAIMED_PER_ROUND, CLAIM_SECS).await?;
    let mut polls = futures::stream::iter(targets)
        .map(|target| poll(services, target))
        .buffer_unordered(POLLS_AT_ONCE);
    let mut total = GapFillReport::default();
    // Every claimed poll runs to its end, so none keeps its claim (15 minutes) for another's
    // failure to record its outcome.
    let mut first_error = None;
    while let Some(outcome) = polls.next().await {
        match outcome {
            Ok(report) => {
                total.pages += report.pages;
                total.inserted += report.inserted;
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(total), Err)
}

/// One claimed integration's poll, its outcome recorded (which ends the claim).
async fn poll(services: &Services, target: GapFillTarget) -> store::Result<GapFillReport> {
    let (tenant_id, id) = (target.org.tenant_id, target.org.id);
    match fill(services, &target).await {
        Ok(report) => {
            gapfill::succeeded(services.pool(), tenant_id, id).await?;
            if report.inserted > 0 {
                tracing::info!(integration_id = %id, inserted = report.inserted, "gap fill recovered events");
            }
            Ok(report)
        }
        Err(error) => {
            tracing::warn!(integration_id = %id, %error, "gap fill failed");
            // The status shows every failure, ours included: a silent gap fill that
            // stopped advancing loses the events it was there to recover.
            let (code, detail) = match &error {
                IntegrationError::Okta { error, .. } => (error.code(), error.detail()),
                other => ("gap_fill_failed", other.to_string()),
            };
            // Not again at every tick of every replica: a token request and a warning
            // each time, for an org that refuses until its admin acts.
            let retry = store::backoff_secs(target.gapfill_failures);
            let detail = format!("System Log gap fill: {detail}");
            gapfill::failed(services.pool(), tenant_id, id, code, &detail, retry).await?;
            Ok(GapFillReport::default())
        }
    }
}

/// Reads one integration's System Log from its cursor until caught up (or the page budget).
pub async fn fill(
    services: &Services,
    target: &GapFillTarget,
) -> Result<GapFillReport, IntegrationError> {
    let creds = services.credentials(&target.org).await?;
    let (tenant_id, id) = (target.org.tenant_id, target.org.id);
    let mut start = match &target.gapfill_cursor {
        Some(next) => LogsStart::Next(next.clone()),
        None => {
            let lookback =
                chrono::Duration::seconds(services.config().gapfill_initial_lookback_secs as i64);
            let since = target
                .activated_at
                .map_or(Utc::now() - lookback, |at| at.max(Utc::now() - lookback));
            // Kept before Okta is asked: if this poll fails, the next ones start here too,
            // not an hour before their own time (what the hook missed in between was lost).
            let first = LogsStart::Since(since).link(&creds.domain, PAGE_SIZE)?;
            gapfill::start_cursor(services.pool(), tenant_id, id, &first).await?;
            LogsStart::Next(first)
        }
    };
    let mut report = GapFillReport::default();
    for _ in 0..MAX_PAGES_PER_ROUND {
        let page = services
            .okta()
            .logs_page(&creds, start.clone(), PAGE_SIZE)
            .await?;
        report.pages += 1;
        let subscribed = storable_subscribed(&page.events, target.coverage.event_types());
        let batch = envelope::batch_of(subscribed.iter().map(AsRef::as_ref));
        let caught_up = page.events.len() < PAGE_SIZE as usize;
        let mut tx = services.pool().begin().await?;
        let stored = inbox::insert_in(&mut tx, tenant_id, id, &batch, false).await?;
        // The cursor last, with the page's events: its row lock keeps the integration active
        // until they are committed (a round reads for minutes under rate limits), and is
        // held for the commit only, so the hook's counters hardly wait on it.
        let next = page.next.as_deref();
        if !gapfill::save_cursor(&mut tx, tenant_id, id, next, caught_up).await? {
            // Deleted, or its tenant offboarded, meanwhile: the page is rolled back, and
            // nothing more is stored for it.
            break;
        }
        tx.commit().await?;
        inbox::committed(services, tenant_id, id, &stored).await;
        report.inserted += stored.accepted;
        match page.next {
            Some(next) if !caught_up => start = LogsStart::Next(next),
            _ => break,
        }
    }
    metrics::counter!("okta_ingest_gapfill_events_total").increment(report.inserted);
    Ok(report)
}

/// The events of the `types` the hook subscribes to (the System Log has every event of the
/// org), with the escapes Postgres refuses replaced as on the hook path.
pub(super) fn storable_subscribed(events: &[Box<RawValue>], types: &[&str]) -> Vec<Box<RawValue>> {
    events
        .iter()
        .filter(|raw| is_subscribed(raw.get(), types))
        .map(|raw| match envelope::storable(raw.get()) {
            Cow::Borrowed(_) => raw.clone(),
            // Only escapes were rewritten, so the text is still valid JSON.
            Cow::Owned(text) => RawValue::from_string(text).unwrap_or_else(|_| raw.clone()),
        })
        .collect()
}

/// Only the event types the hook subscribes to: the System Log has every event of the org.
fn is_subscribed(raw: &str, types: &[&str]) -> bool {
    #[derive(serde::Deserialize)]
    struct TypeOnly<'a> {
        #[serde(rename = "eventType", borrow)]
        event_type: Option<&'a str>,
    }
    serde_json::from_str::<TypeOnly>(raw)
        .ok()
        .and_then(|t| t.event_type)
        .is_none_or(|t| types.contains(&t))
}
