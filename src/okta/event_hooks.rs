//! Event Hooks API: `/api/v1/eventHooks` (scope `okta.eventHooks.manage`).

use reqwest::Method;

use super::client::{Credentials, OktaClient, join};
use super::error::OktaError;
use super::types::{EventHook, NewEventHook};

const HOOKS: &str = "/api/v1/eventHooks";

/// A path segment from Okta-issued ids only (`who…`): never lets an id reshape the URL.
fn hook_path(id: &str, suffix: &str) -> Result<String, OktaError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(OktaError::Unexpected(format!(
            "{id:?} is not an event hook id"
        )));
    }
    Ok(format!("{HOOKS}/{id}{suffix}"))
}

impl OktaClient {
    pub async fn list_event_hooks(&self, creds: &Credentials) -> Result<Vec<EventHook>, OktaError> {
        let url = join(&creds.domain, HOOKS)?;
        self.json(creds, Method::GET, url, None::<&()>).await
    }

    /// Creates a hook (ACTIVE, UNVERIFIED). The org's hook limit → `EventHookLimitReached`.
    pub async fn create_event_hook(
        &self,
        creds: &Credentials,
        hook: &NewEventHook,
    ) -> Result<EventHook, OktaError> {
        let url = join(&creds.domain, HOOKS)?;
        self.json(creds, Method::POST, url, Some(hook))
            .await
            .map_err(OktaError::into_hook_limit)
    }

    pub async fn get_event_hook(
        &self,
        creds: &Credentials,
        id: &str,
    ) -> Result<EventHook, OktaError> {
        let url = join(&creds.domain, &hook_path(id, "")?)?;
        self.json(creds, Method::GET, url, None::<&()>).await
    }

    /// Replaces the whole hook (PUT); a changed channel must be verified again.
    pub async fn update_event_hook(
        &self,
        creds: &Credentials,
        id: &str,
        hook: &NewEventHook,
    ) -> Result<EventHook, OktaError> {
        let url = join(&creds.domain, &hook_path(id, "")?)?;
        self.json(creds, Method::PUT, url, Some(hook)).await
    }

    /// Has Okta send the verification GET to the hook's URI.
    pub async fn verify_event_hook(
        &self,
        creds: &Credentials,
        id: &str,
    ) -> Result<EventHook, OktaError> {
        self.lifecycle(creds, id, "verify")
            .await
            .map_err(OktaError::into_verification_failed)
    }

    pub async fn activate_event_hook(
        &self,
        creds: &Credentials,
        id: &str,
    ) -> Result<EventHook, OktaError> {
        self.lifecycle(creds, id, "activate").await
    }

    pub async fn deactivate_event_hook(
        &self,
        creds: &Credentials,
        id: &str,
    ) -> Result<EventHook, OktaError> {
        self.lifecycle(creds, id, "deactivate").await
    }

    /// Deletes a hook; Okta only deletes INACTIVE hooks (deactivate first).
    pub async fn delete_event_hook(&self, creds: &Credentials, id: &str) -> Result<(), OktaError> {
        let url = join(&creds.domain, &hook_path(id, "")?)?;
        self.send(creds, Method::DELETE, url, None)
            .await
            .map(|_| ())
    }

    async fn lifecycle(
        &self,
        creds: &Credentials,
        id: &str,
        action: &str,
    ) -> Result<EventHook, OktaError> {
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
