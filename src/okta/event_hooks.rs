//! Event Hooks API: `/api/v1/eventHooks` (scope `okta.eventHooks.manage`).

use reqwest::Method;

use super::client::{Credentials, OktaClient, join};
use super::error::{OktaError, Result};
use super::types::{EventHook, NewEventHook};

const HOOKS: &str = "/api/v1/eventHooks";

/// Okta's documented quota: at most 25 active and verified event hooks per org.
pub const MAX_ACTIVE_EVENT_HOOKS: usize = 25;

/// A path segment from Okta-issued ids only (`who…`): never lets an id reshape the URL.
fn hook_path(id: &str, suffix: &str) -> Result<String> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(OktaError::Unexpected(format!(
            "{id:?} is not an event hook id"
        )));
    }
    Ok(format!("{HOOKS}/{id}{suffix}"))
}

impl OktaClient {
    pub async fn list_event_hooks(&self, creds: &Credentials) -> Result<Vec<EventHook>> {
        let url = join(&creds.domain, HOOKS)?;
        self.json(creds, Method::GET, url, None::<&()>).await
    }

    /// Creates a hook (ACTIVE, UNVERIFIED). The org's hook limit → `EventHookLimitReached`,
    /// an http URI → `HookUriNotHttps`.
    pub async fn create_event_hook(
        &self,
        creds: &Credentials,
        hook: &NewEventHook,
    ) -> Result<EventHook> {
        let url = join(&creds.domain, HOOKS)?;
        let created = self.json(creds, Method::POST, url, Some(hook)).await;
        self.explain_refusal(creds, None, created).await
    }

    pub async fn get_event_hook(&self, creds: &Credentials, id: &str) -> Result<EventHook> {
        let url = join(&creds.domain, &hook_path(id, "")?)?;
        self.json(creds, Method::GET, url, None::<&()>).await
    }

    /// Replaces the whole hook (PUT); a changed channel must be verified again.
    pub async fn update_event_hook(
        &self,
        creds: &Credentials,
        id: &str,
        hook: &NewEventHook,
    ) -> Result<EventHook> {
        let url = join(&creds.domain, &hook_path(id, "")?)?;
        let replaced = self.json(creds, Method::PUT, url, Some(hook)).await;
        self.explain_refusal(creds, Some(id), replaced).await
    }

    /// Has Okta send the verification GET to the hook's URI. A full hook quota →
    /// `EventHookLimitReached`; any other validation error → `VerificationFailed`.
    pub async fn verify_event_hook(&self, creds: &Credentials, id: &str) -> Result<EventHook> {
        self.going_live(creds, id, "verify")
            .await
            .map_err(OktaError::into_verification_failed)
    }

    /// A full hook quota → `EventHookLimitReached`.
    pub async fn activate_event_hook(&self, creds: &Credentials, id: &str) -> Result<EventHook> {
        self.going_live(creds, id, "activate").await
    }

    /// A lifecycle step that can make the hook active and verified, and so meet the quota.
    async fn going_live(&self, creds: &Credentials, id: &str, action: &str) -> Result<EventHook> {
        let result = self.lifecycle(creds, id, action).await;
        self.explain_refusal(creds, Some(id), result).await
    }

    /// Okta answers the hook quota, an http URI and a failed verification all with a 400
    /// `E0000001`, and documents the words of none: an https complaint is recognised by its
    /// cause, the quota by the org's own count of active and verified hooks (`ours`
    /// excluded), or by Okta's words if the count cannot be had.
    async fn explain_refusal<T>(
        &self,
        creds: &Credentials,
        ours: Option<&str>,
        result: Result<T>,
    ) -> Result<T> {
        let error = match result {
            Err(error) if error.is_validation_failure() => error.into_https_refusal(),
            other => return other,
        };
        if matches!(error, OktaError::HookUriNotHttps { .. }) {
            return Err(error);
        }
        let full = self.quota_full(creds, ours).await;
        if full == Some(true) || error.mentions_limit() {
            return Err(error.into_hook_limit());
        }
        Err(error)
    }

    /// Whether the org has its maximum of active and verified hooks besides `ours`.
    async fn quota_full(&self, creds: &Credentials, ours: Option<&str>) -> Option<bool> {
        let hooks = self.list_event_hooks(creds).await.ok()?;
        let live = hooks
            .iter()
            .filter(|h| h.is_live() && Some(h.id.as_str()) != ours)
            .count();
        Some(live >= MAX_ACTIVE_EVENT_HOOKS)
    }

    pub async fn deactivate_event_hook(&self, creds: &Credentials, id: &str) -> Result<EventHook> {
        self.lifecycle(creds, id, "deactivate").await
    }

    /// Deletes a hook; Okta only deletes INACTIVE hooks (deactivate first).
    pub async fn delete_event_hook(&self, creds: &Credentials, id: &str) -> Result<()> {
        let url = join(&creds.domain, &hook_path(id, "")?)?;
        self.send(creds, Method::DELETE, url, None)
            .await
            .map(|_| ())
    }

    async fn lifecycle(&self, creds: &Credentials, id: &str, action: &str) -> Result<EventHook> {
        let url = join(
            &creds.domain,
            &hook_path(id, &format!("/lifecycle/{action}"))?,
        )?;
        self.json(creds, Method::POST, url, None::<&()>).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_ids_cannot_reshape_the_path() {
        assert_eq!(
            hook_path("who123", "").unwrap(),
            "/api/v1/eventHooks/who123"
        );
        for bad in [
            "",
            "../users",
            "who1/lifecycle",
            "who?x=1",
            "who#",
            "who%2f",
        ] {
            assert!(hook_path(bad, "").is_err(), "{bad}");
        }
    }
}
