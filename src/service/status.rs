//! The status of an integration as the wizard's GET shows it: state, hook, health counters
//! and the warnings an admin should act on.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::IntegrationError;
use super::baseline::BaselineView;
use crate::ids::IntegrationId;
use crate::okta::{Coverage, OktaDomain};
use crate::state::Services;
use crate::store::{
    self,
    integrations::{Integration, IntegrationStatus},
};

/// An integration's status and health.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Integration)]
pub struct IntegrationView {
    pub id: IntegrationId,
    /// `learning` while active and a baseline learns (`baseline` has its progress).
    pub status: IntegrationStatus,
    /// `sysdig` (launched here) or `okta` (created from Okta's side).
    pub created_from: String,
    #[schema(value_type = String, example = "acme.okta.com")]
    pub okta_domain: OktaDomain,
    /// Only while pending: where to install the app in Okta.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub install_url: Option<String>,
    pub client_id: Option<String>,
    /// The event types the Event Hook subscribes to: `standard` (18) or `extended`.
    pub coverage: Coverage,
    pub event_hook_id: Option<String>,
    pub hook_status: Option<String>,
    pub events_received: i64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    pub processing_lag_seconds: f64,
    pub quarantined_events: i64,
    pub last_error: Option<LastError>,
    pub last_delivery_error: Option<String>,
    /// What an admin should act on, e.g. no event within 5 minutes of going active.
    pub warnings: Vec<String>,
    /// The latest learned baseline (history that trained the stateful rules), if any.
    pub baseline: Option<BaselineView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The last failed step of an integration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LastError {
    pub code: String,
    pub detail: String,
}

impl Services {
    pub async fn view(&self, i: Integration) -> Result<IntegrationView, IntegrationError> {
        let (tenant_id, id) = (i.org.tenant_id, i.org.id);
        let backlog = store::inbox::backlog(self.pool(), tenant_id, id).await?;
        let warnings = self.warnings(&i);
        let baseline = store::baselines::get(self.pool(), tenant_id, id).await?;
        let status = super::baseline::shown_status(&i, baseline.as_ref());
        let install_url =
            (i.status == IntegrationStatus::Pending).then(|| i.org.domain.install_url());
        Ok(IntegrationView {
            id,
            status,
            created_from: i.created_from,
            okta_domain: i.org.domain,
            install_url,
            client_id: i.org.client_id,
            coverage: i.coverage,
            event_hook_id: i.event_hook_id,
            hook_status: i.hook_status,
            events_received: i.events_received,
            last_event_at: i.last_event_at,
            activated_at: i.activated_at,
            processing_lag_seconds: backlog.lag_secs.unwrap_or(0.0),
            quarantined_events: backlog.quarantined,
            last_error: i
                .last_error_code
                .zip(i.last_error)
                .map(|(code, detail)| LastError { code, detail }),
            last_delivery_error: i.last_delivery_error,
            warnings,
            baseline,
            created_at: i.created_at,
            updated_at: i.updated_at,
        })
    }

    fn warnings(&self, i: &Integration) -> Vec<String> {
        let mut warnings = Vec::new();
        let quiet_for = chrono::Duration::seconds(self.config().no_events_warning_secs as i64);
        if i.status == IntegrationStatus::Active
            && i.events_received == 0
            && i.activated_at.is_some_and(|at| Utc::now() - at > quiet_for)
        {
            warnings.push(format!(
                "No events received within {} minutes of going active. In Okta (Workflow → Event Hooks) check that the hook is Active and Verified; events may take a few minutes to start flowing.",
                quiet_for.num_minutes()
            ));
        }
        if i.last_error_code.as_deref() == Some("invalid_client") {
            warnings.push("Okta rejects the stored Client Secret (rotated or deactivated in Okta?): enter the new one with PUT /api/v1/integrations/okta/{id}/credentials.".into());
        }
        warnings
    }
}
