//! The Event Hook in the customer's org: provisioned (or adopted) and verified by Complete,
//! deprovisioned on delete (now, or by a retried job while Okta is down), and its secret
//! rotated on a schedule with an overlap window.

use chrono::Utc;

use super::error::IntegrationError;
use crate::ids::HookKey;
pub use crate::okta::MAX_ACTIVE_EVENT_HOOKS as MAX_EVENT_HOOKS;
use crate::okta::{Coverage, Credentials, EventHook, HookStatus, NewEventHook, OktaError};
use crate::secrets::HookSecret;
use crate::state::Services;
use crate::store::integrations::{self, HookState, Integration, OrgAccess};
use crate::store::{self, jobs::DeprovisionJob};

const MAX_DEPROVISION_ATTEMPTS: i32 = 50;

/// A hook that Okta verified and activated: what Complete leaves behind.
pub struct Provisioned {
    pub hook: EventHook,
    pub secret: HookSecret,
}

impl Services {
    /// Okta calls https hook URLs only; `http://` on loopback passes with the dev switch
    /// (the simulator's side of the same switch accepts it).
    fn check_https(&self, uri: &str) -> Result<(), OktaError> {
        let Ok(url) = url::Url::parse(uri) else {
            return Ok(());
        };
        let loopback = match url.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let dev_loopback = loopback && self.config().dev_allow_loopback_okta;
        if url.scheme() == "https" || dev_loopback {
            return Ok(());
        }
        Err(OktaError::HookUriNotHttps {
            causes: vec![format!(
                "OKTA_INGEST_PUBLIC_URL is {}, not an https URL",
                self.config().public_url
            )],
        })
    }

    pub(super) fn hook_uri(&self, hook_key: &HookKey) -> String {
        format!("{}/hooks/okta/{hook_key}", self.config().public_url)
    }

    fn hook_spec(
        &self,
        hook_key: &HookKey,
        secret: &HookSecret,
        coverage: Coverage,
    ) -> NewEventHook {
        NewEventHook::http(
            &self.config().event_hook_name,
            &self.hook_uri(hook_key),
            secret.secret().clone(),
            coverage.event_types(),
        )
    }

    /// Creates our hook, or adopts the one a previous attempt left (its secret is write-only in
    /// Okta, so it gets a fresh one); then has Okta verify and activate it. `None` when ours
    /// is already live, subscribed to the integration's coverage, and the integration active:
    /// nothing to do.
    pub(super) async fn provision_hook(
        &self,
        current: &Integration,
        creds: &Credentials,
    ) -> Result<Option<Provisioned>, IntegrationError> {
        let org = &current.org;
        let uri = self.hook_uri(&current.hook_key);
        self.check_https(&uri)
            .map_err(|e| IntegrationError::okta_at("event_hook_create", e))?;
        let existing = self
            .okta()
            .list_event_hooks(creds)
            .await
            .map_err(|e| IntegrationError::okta_at("event_hooks", e))?;
        let ours = existing.into_iter().find(|h| h.channel.config.uri == uri);
        let in_place = |h: &EventHook| h.is_live() && subscribes_exactly(h, current.coverage);
        if current.status == integrations::IntegrationStatus::Active
            && ours.as_ref().is_some_and(in_place)
        {
            return Ok(None);
        }
        let secret = HookSecret::generate();
        let spec = self.hook_spec(&current.hook_key, &secret, current.coverage);
        let hook = match ours {
            Some(hook) => self.okta().update_event_hook(creds, &hook.id, &spec).await,
            None => self.okta().create_event_hook(creds, &spec).await,
        }
        .map_err(|e| IntegrationError::okta_at("event_hook_create", e))?;
        // Okta's verification GET carries the new secret: accept it before asking.
        integrations::set_hook(
            self.pool(),
            org.tenant_id,
            org.id,
            &HookState {
                event_hook_id: &hook.id,
                hook_status: &status_label(&hook),
                hook_secret_hash: &secret.hash(),
            },
        )
        .await?;
        let hook = self
            .okta()
            .verify_event_hook(creds, &hook.id)
            .await
            .map_err(|error| match error {
                OktaError::VerificationFailed { .. } => IntegrationError::VerificationFailed {
                    uri: uri.clone(),
                    cause: error.to_string(),
                },
                other => IntegrationError::okta_at("event_hook_verify", other),
            })?;
        let hook = match hook.status {
            HookStatus::Active => hook,
            _ => self
                .okta()
                .activate_event_hook(creds, &hook.id)
                .await
                .map_err(|e| IntegrationError::okta_at("event_hook_activate", e))?,
        };
        if !hook.is_live() {
            return Err(IntegrationError::VerificationFailed {
                uri,
                cause: format!("Okta reports the hook as {}", status_label(&hook)),
            });
        }
        Ok(Some(Provisioned { hook, secret }))
    }

    /// Deactivates then deletes the hook; a hook already gone counts as done.
    pub async fn deprovision_hook(
        &self,
        creds: &Credentials,
        hook_id: &str,
    ) -> Result<(), OktaError> {
        let gone = |result: Result<(), OktaError>| match result {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        };
        gone(
            self.okta()
                .deactivate_event_hook(creds, hook_id)
                .await
                .map(drop),
        )?;
        gone(self.okta().delete_event_hook(creds, hook_id).await)
    }

    /// Runs one due deprovisioning job, if any; returns whether one ran.
    pub async fn run_deprovision_job(&self) -> Result<bool, IntegrationError> {
        let mut tx = self.pool().begin().await?;
        let Some(job) = store::jobs::claim_due(&mut tx).await? else {
            return Ok(false);
        };
        let outcome = match self.job_credentials(&job).await {
            Ok(creds) => self
                .deprovision_hook(&creds, &job.event_hook_id)
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match outcome {
            Ok(()) => {
                finish_deprovision(&mut tx, &job).await?;
                tracing::info!(integration_id = %job.integration_id, "deleted integration's hook removed from Okta");
            }
            Err(error) if job.attempts >= MAX_DEPROVISION_ATTEMPTS => {
                tracing::error!(integration_id = %job.integration_id, %error, "giving up removing the hook from Okta; credentials destroyed");
                finish_deprovision(&mut tx, &job).await?;
            }
            Err(error) => {
                let delay = store::backoff_secs(job.attempts);
                store::jobs::retry_later(&mut tx, &job, delay, &error).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn job_credentials(&self, job: &DeprovisionJob) -> Result<Credentials, IntegrationError> {
        let org = integrations::org_access(self.pool(), job.tenant_id, job.integration_id).await?;
        self.credentials(&org).await
    }

    /// Sets a new hook secret in Okta, accepting the old one for the overlap window. Under
    /// the step lease: a wizard step or another replica's rotation would stage a secret of
    /// its own meanwhile ([`IntegrationError::Busy`]: the rotation is still due next time).
    pub async fn rotate_hook_secret(&self, org: &OrgAccess) -> Result<(), IntegrationError> {
        self.in_step(org.tenant_id, org.id, async |current| {
            let Some(hook_id) = &current.event_hook_id else {
                return Ok(());
            };
            let hook = HookRef {
                id: hook_id,
                key: &current.hook_key,
            };
            // Okta's refusal (the inner error) is this job's error too.
            let change = "hook secret rotation";
            self.replace_hook(&current.org, hook, current.coverage, change)
                .await??;
            tracing::info!(integration_id = %org.id, "hook secret rotated");
            Ok(())
        })
        .await
    }

    /// Changes what an active integration's hook subscribes to. The store follows only once
    /// Okta verified the replaced hook; on failure the error is on the status page too.
    pub(super) async fn resubscribe_hook(
        &self,
        current: &Integration,
        coverage: Coverage,
    ) -> Result<(), IntegrationError> {
        let org = &current.org;
        let Some(hook_id) = &current.event_hook_id else {
            return Err(IntegrationError::validation_required(
                "the integration has no Event Hook yet: complete it (POST …/complete)",
            ));
        };
        let hook = HookRef {
            id: hook_id,
            key: &current.hook_key,
        };
        let change = format!("changing the coverage to {coverage}");
        if let Err(error) = self.replace_hook(org, hook, coverage, &change).await? {
            return Err(match error {
                OktaError::VerificationFailed { .. } => IntegrationError::VerificationFailed {
                    uri: self.hook_uri(&current.hook_key),
                    cause: error.to_string(),
                },
                other => IntegrationError::okta_at("event_hook_update", other),
            });
        }
        integrations::set_coverage(self.pool(), org.tenant_id, org.id, coverage).await?;
        tracing::info!(integration_id = %org.id, %coverage, "hook resubscribed");
        Ok(())
    }

    /// Replaces our hook in Okta (`PUT /api/v1/eventHooks/{id}`) with `coverage`'s event
    /// types and a freshly staged secret, then has Okta verify it. Okta's PUT replaces the
    /// whole hook and its secret is write-only (we keep only a hash), so every PUT carries a
    /// new secret: a changed `channel`, which Okta requires to be verified again. Okta's
    /// refusal is the inner error, already on the status page as "`change` failed: …".
    async fn replace_hook(
        &self,
        org: &OrgAccess,
        hook: HookRef<'_>,
        coverage: Coverage,
        change: &str,
    ) -> Result<Result<(), OktaError>, IntegrationError> {
        let creds = self.credentials(org).await?;
        let secret = HookSecret::generate();
        let hash = secret.hash();
        // The old secret stays accepted for the overlap window: Okta may have signed
        // deliveries with it that are still on their way.
        let overlap_until =
            Utc::now() + chrono::Duration::seconds(self.config().hook_secret_overlap_secs as i64);
        let (tenant_id, id) = (org.tenant_id, org.id);
        let rotated_at =
            integrations::stage_hook_secret(self.pool(), tenant_id, id, &hash, overlap_until)
                .await?;
        let spec = self.hook_spec(hook.key, &secret, coverage);
        let okta = self.okta();
        let replaced = match okta.update_event_hook(&creds, hook.id, &spec).await {
            Ok(_) => okta.verify_event_hook(&creds, hook.id).await.map(drop),
            Err(error) => {
                // Okta kept the secret it had, most likely: without this it would be refused
                // once the overlap ends, for as long as no later PUT succeeds.
                integrations::unstage_hook_secret(self.pool(), tenant_id, id, &hash, rotated_at)
                    .await?;
                Err(error)
            }
        };
        if let Err(error) = &replaced {
            let detail = format!("{change} failed: {}", error.detail());
            integrations::set_error(self.pool(), tenant_id, id, error.code(), &detail).await?;
        }
        Ok(replaced)
    }
}

/// Our hook in Okta: its id there, and the key of its URI here.
#[derive(Clone, Copy)]
struct HookRef<'a> {
    id: &'a str,
    key: &'a HookKey,
}

/// Whether the hook's subscription is exactly `coverage`'s types (order aside).
pub(super) fn subscribes_exactly(hook: &EventHook, coverage: Coverage) -> bool {
    let wanted = coverage.event_types();
    hook.events.items.len() == wanted.len()
        && wanted
            .iter()
            .all(|t| hook.events.items.iter().any(|have| have == t))
}

/// Okta's view of the hook for the status page, e.g. `ACTIVE/VERIFIED`.
pub(super) fn status_label(hook: &EventHook) -> String {
    let status = match hook.status {
        HookStatus::Active => "ACTIVE",
        HookStatus::Inactive => "INACTIVE",
        HookStatus::Unknown => "UNKNOWN",
    };
    let verification = if hook.is_verified() {
        "VERIFIED"
    } else {
        "UNVERIFIED"
    };
    format!("{status}/{verification}")
}

/// A deprovisioning job is done: the credentials it kept are destroyed, and an offboarded
/// tenant whose last queued removal this was goes entirely.
async fn finish_deprovision(
    tx: &mut sqlx::PgConnection,
    job: &DeprovisionJob,
) -> Result<(), IntegrationError> {
    store::credentials::delete_all(&mut *tx, job.tenant_id, job.integration_id).await?;
    store::jobs::finish(&mut *tx, job).await?;
    if store::tenants::delete_offboarded(tx, job.tenant_id).await? {
        tracing::info!(tenant_id = %job.tenant_id, "offboarded tenant's last hook removal done; tenant deleted");
    }
    Ok(())
}
