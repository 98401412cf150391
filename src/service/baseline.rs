//! Learned baselines, the service side: starting one (Complete, or the API) and what the
//! status shows of it. The reading and learning is `ingest/baseline.rs`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::IntegrationError;
use crate::config::MAX_BASELINE_DAYS;
use crate::ids::{IntegrationId, TenantId};
use crate::state::Services;
use crate::store::baselines::{self, Baseline, BaselineState, NewBaseline};
use crate::store::integrations::{Integration, IntegrationStatus};

/// A baseline as the integration's status shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BaselineView {
    pub state: BaselineState,
    /// Days of history asked for.
    pub days: i32,
    /// The window read: from `since` up to `until`, when the integration went live (the
    /// hook and gap fill bring everything after).
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Events of the subscribed types read from the System Log.
    pub events_read: i64,
    /// Of those, new to the service (the rest were known already).
    pub events_learned: i64,
    /// Read but not yet applied by the detection worker.
    pub events_pending: i64,
    /// How far back the history is learned: it is read newest first.
    pub through: Option<DateTime<Utc>>,
    /// Share of the window covered, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    pub progress: f64,
    /// Stopped at `baseline_max_events`: the oldest part of the window was left out.
    pub truncated: bool,
    pub last_error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Services {
    /// Starts learning from the last `days` of the org's System Log (the configured default
    /// without). Refused while the integration is not active or a baseline is learning.
    pub async fn start_baseline(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
        days: Option<i64>,
    ) -> Result<BaselineView, IntegrationError> {
        let days = checked_days(days.unwrap_or(i64::from(self.config().baseline_days)))?;
        let integration = self.get_integration(tenant_id, id).await?;
        if integration.status != IntegrationStatus::Active {
            return Err(IntegrationError::OutOfOrder {
                code: "not_active",
                detail: "a baseline learns for an active integration: complete it first (POST …/complete)".into(),
            });
        }
        let window = window(integration.activated_at, days, Utc::now());
        if !baselines::start(self.pool(), tenant_id, id, &window).await? {
            return Err(IntegrationError::OutOfOrder {
                code: "baseline_in_progress",
                detail: "a baseline is already learning for this integration; its progress is on GET /api/v1/integrations/okta/{id}".into(),
            });
        }
        self.baseline_requested();
        tracing::info!(%tenant_id, integration_id = %id, days, "baseline started");
        self.baseline_view(tenant_id, id)
            .await?
            .ok_or(IntegrationError::NotFound)
    }

    /// Complete starts a baseline with the default days (unless configured off); a failure
    /// to start one is logged, never Complete's failure.
    pub(super) async fn start_baseline_on_complete(&self, tenant_id: TenantId, id: IntegrationId) {
        if !self.config().baseline_on_complete {
            return;
        }
        if let Err(error) = self.start_baseline(tenant_id, id, None).await {
            tracing::warn!(integration_id = %id, %error, "could not start the baseline");
        }
    }

    /// The integration's latest baseline, if it ever had one.
    pub async fn baseline_view(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
    ) -> Result<Option<BaselineView>, IntegrationError> {
        let Some(baseline) = baselines::get(self.pool(), tenant_id, id).await? else {
            return Ok(None);
        };
        let pending = match baseline.state {
            BaselineState::Learning => {
                crate::store::inbox::learn_only_queued(self.pool(), tenant_id, id).await?
            }
            _ => 0,
        };
        Ok(Some(view(baseline, pending)))
    }
}

/// The status an integration shows: `learning` while it is active and a baseline learns.
pub(super) fn shown_status(i: &Integration, baseline: Option<&BaselineView>) -> IntegrationStatus {
    let learning = baseline.is_some_and(|b| b.state == BaselineState::Learning);
    match i.status {
        IntegrationStatus::Active if learning => IntegrationStatus::Learning,
        other => other,
    }
}

fn checked_days(days: i64) -> Result<i64, IntegrationError> {
    if (1..=i64::from(MAX_BASELINE_DAYS)).contains(&days) {
        return Ok(days);
    }
    Err(IntegrationError::invalid(
        "invalid_days",
        format!(
            "days must be between 1 and {MAX_BASELINE_DAYS} (Okta keeps {MAX_BASELINE_DAYS} days of System Log); got {days}"
        ),
    ))
}

/// `[until - days, until)`, `until` being when the integration went live (the live path owns
/// everything after), and never older than Okta's retention.
fn window(activated_at: Option<DateTime<Utc>>, days: i64, now: DateTime<Utc>) -> NewBaseline {
    let until = activated_at.unwrap_or(now).min(now);
    let retained = now - Duration::days(i64::from(MAX_BASELINE_DAYS));
    let since = (until - Duration::days(days)).max(retained).min(until);
    NewBaseline {
        days: days as i32,
        since,
        until,
    }
}

fn view(b: Baseline, pending: i64) -> BaselineView {
    let progress = match b.state {
        BaselineState::Complete => 1.0,
        _ => coverage(b.since, b.until, b.through),
    };
    BaselineView {
        state: b.state,
        days: b.days,
        since: b.since,
        until: b.until,
        events_read: b.events_read,
        events_learned: b.events_learned,
        events_pending: pending,
        through: b.through,
        progress,
        truncated: b.truncated,
        last_error: b.last_error,
        started_at: b.started_at,
        finished_at: b.finished_at,
    }
}

/// The share of `[since, until)` learned, newest first, down to `through`; below 1 until done.
fn coverage(since: DateTime<Utc>, until: DateTime<Utc>, through: Option<DateTime<Utc>>) -> f64 {
    let span = (until - since).num_milliseconds();
    let (Some(through), true) = (through, span > 0) else {
        return 0.0;
    };
    let done = (until - through).num_milliseconds() as f64 / span as f64;
    (done * 1000.0).round().clamp(0.0, 999.0) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_window_ends_when_the_integration_went_live() {
        let now = at("2026-03-20T12:00:00Z");
        let live = at("2026-03-10T12:00:00Z");
        let w = window(Some(live), 14, now);
        assert_eq!((w.since, w.until), (at("2026-02-24T12:00:00Z"), live));
        let w = window(None, 14, now);
        assert_eq!((w.since, w.until), (at("2026-03-06T12:00:00Z"), now));
        // Never older than Okta's 90 days.
        let w = window(Some(at("2026-01-01T00:00:00Z")), 30, now);
        assert_eq!(w.since, at("2025-12-20T12:00:00Z"));
        let w = window(Some(at("2025-12-01T00:00:00Z")), 14, now);
        assert_eq!(w.since, w.until, "nothing left to read");
    }

    #[test]
    fn days_outside_okta_retention_are_refused() {
        for days in [0, -1, 91, 365] {
            assert!(checked_days(days).is_err(), "{days}");
        }
        assert_eq!(checked_days(90).ok(), Some(90));
        assert_eq!(checked_days(1).ok(), Some(1));
    }

    #[test]
    fn coverage_counts_back_from_until() {
        let (since, until) = (at("2026-03-01T00:00:00Z"), at("2026-03-11T00:00:00Z"));
        assert_eq!(coverage(since, until, None), 0.0);
        assert_eq!(
            coverage(since, until, Some(at("2026-03-06T00:00:00Z"))),
            0.5
        );
        assert_eq!(coverage(since, until, Some(since)), 0.999);
    }
}
