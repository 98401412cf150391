//! Learned baselines, the service side: starting one (Complete, or the API) and what the
//! status shows of it. The reading and learning is `ingest/baseline.rs`.

use chrono::{DateTime, Duration, Utc};

use super::IntegrationError;
use crate::config::MAX_BASELINE_DAYS;
use crate::ids::{IntegrationId, TenantId};
use crate::state::Services;
use crate::store::baselines::{self, BaselineState, NewBaseline};
use crate::store::integrations::{Integration, IntegrationStatus};

/// The API's name for a baseline as the integration's status shows it.
pub use crate::store::baselines::Baseline as BaselineView;

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
        baselines::get(self.pool(), tenant_id, id)
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
}
