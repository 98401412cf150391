//! The wizard: an explicit state machine over an integration's life.
//!
//! pending ──validate──► validated ──complete──► active ──delete──► deleted
//! (start from Okta: create = validated in one step). Credentials change by rotation only
//! after the new ones pass validation; a failed step leaves the previous state untouched.
//!
//! A tenant has at most one live (not deleted) integration per Okta org, pending ones
//! included: launch, create and a validate that changes the domain refuse a second one with
//! 409 `already_connected`, and the unique index `integrations_one_live_per_org` keeps it
//! so under concurrent submits.

use chrono::Utc;

use super::credentials::ClientCredentials;
use super::error::{Check, IntegrationError};
use super::hooks::MAX_EVENT_HOOKS;
use crate::ids::{HookKey, IntegrationId, TenantId};
use crate::okta::{Coverage, Credentials, EventHook, OktaDomain, OktaError};
use crate::state::Services;
use crate::store::integrations::{
    self, HookState, Integration, IntegrationStatus, NewIntegration, OrgAccess,
};
use crate::store::{self, StoreError};

/// How long one wizard step may hold its integration before another may start.
const STEP_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// The lease of a running wizard step.
struct StepLease {
    services: Services,
    tenant_id: TenantId,
    id: IntegrationId,
    holder: Option<uuid::Uuid>,
}

impl StepLease {
    async fn release(mut self) {
        if let Some(holder) = self.holder.take() {
            let pool = self.services.pool();
            let _ = integrations::release_step(pool, self.tenant_id, self.id, holder).await;
        }
    }
}

impl Drop for StepLease {
    /// A step whose request was cancelled mid-way: release in the background (the lease's
    /// expiry frees it anyway if this is lost too).
    fn drop(&mut self) {
        if let Some(holder) = self.holder.take() {
            let (services, tenant_id, id) = (self.services.clone(), self.tenant_id, self.id);
            tokio::spawn(async move {
                let _ = integrations::release_step(services.pool(), tenant_id, id, holder).await;
            });
        }
    }
}

impl Services {
    pub fn parse_domain(&self, input: &str) -> Result<OktaDomain, IntegrationError> {
        Ok(OktaDomain::parse(input, &self.domain_policy())?)
    }

    /// "Start from Sysdig": remembers the org and tells where to install the integration.
    pub async fn launch(
        &self,
        tenant_id: TenantId,
        org: &str,
    ) -> Result<Integration, IntegrationError> {
        let domain = self.parse_domain(org)?;
        self.refuse_second_connection(tenant_id, &domain, None)
            .await?;
        self.create(tenant_id, &domain, None).await
    }

    /// Creates an integration of the org with a fresh hook key: pending until credentials
    /// are validated (launched here), or validated at once with `validated` (from Okta),
    /// whose client secret it stores in the same transaction. Its callers refuse an org the
    /// tenant has a live integration of; a concurrent submit that got past them together is
    /// refused by the index.
    async fn create(
        &self,
        tenant_id: TenantId,
        domain: &OktaDomain,
        validated: Option<&Credentials>,
    ) -> Result<Integration, IntegrationError> {
        let (status, created_from) = match validated {
            None => (IntegrationStatus::Pending, "sysdig"),
            Some(_) => (IntegrationStatus::Validated, "okta"),
        };
        let id = IntegrationId::new();
        let mut tx = self.pool().begin().await?;
        let new = NewIntegration {
            id,
            status,
            created_from,
            okta_domain: domain,
            client_id: validated.map(|creds| creds.client_id.as_str()),
            hook_key: &HookKey::generate(),
        };
        if let Err(error) = integrations::insert(&mut tx, tenant_id, &new).await {
            drop(tx);
            return Err(self.explain_conflict(error, tenant_id, domain, None).await);
        }
        if let Some(creds) = validated {
            self.store_client_secret(&mut tx, tenant_id, id, &creds.client_secret)
                .await?;
        }
        tx.commit().await?;
        self.get_integration(tenant_id, id).await
    }

    /// Refuses a second live integration of the org in the tenant: 409 `already_connected`
    /// naming the existing one. `except` is the integration a validate changes.
    async fn refuse_second_connection(
        &self,
        tenant_id: TenantId,
        domain: &OktaDomain,
        except: Option<IntegrationId>,
    ) -> Result<(), IntegrationError> {
        match integrations::live_of_org(self.pool(), tenant_id, domain, except).await? {
            Some(existing) => Err(IntegrationError::already_connected(domain, &existing)),
            None => Ok(()),
        }
    }

    /// A write refused by the one-live-integration-per-org index (a concurrent submit won
    /// the race) becomes the same 409 as the check before it; other errors pass through.
    async fn explain_conflict(
        &self,
        error: StoreError,
        tenant_id: TenantId,
        domain: &OktaDomain,
        except: Option<IntegrationId>,
    ) -> IntegrationError {
        match &error {
            StoreError::Conflict { constraint } if constraint == integrations::ONE_LIVE_PER_ORG => {
                match self
                    .refuse_second_connection(tenant_id, domain, except)
                    .await
                {
                    Err(refused) => refused,
                    Ok(()) => IntegrationError::connected_meanwhile(domain),
                }
            }
            _ => error.into(),
        }
    }

    pub async fn get_integration(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
    ) -> Result<Integration, IntegrationError> {
        integrations::get(self.pool(), tenant_id, id)
            .await?
            .ok_or(IntegrationError::NotFound)
    }

    /// The tenant's live integrations, oldest first.
    pub async fn list_integrations(
        &self,
        tenant_id: TenantId,
    ) -> Result<Vec<Integration>, IntegrationError> {
        Ok(integrations::list(self.pool(), tenant_id).await?)
    }

    /// Checks the credentials against Okta the way the troubleshooting guide does.
    pub async fn check_with_okta(
        &self,
        creds: &Credentials,
        hook_uri: Option<&str>,
    ) -> Result<Vec<Check>, IntegrationError> {
        let mut checks = vec![Check::ok(
            "okta_domain",
            format!("{} is an allowed Okta domain", creds.domain.as_str()),
        )];
        let failed = |mut checks: Vec<Check>, name, error: OktaError| {
            checks.push(Check::failed(name, error.detail()));
            IntegrationError::Okta { error, checks }
        };
        if let Err(error) = self.okta().check_credentials(creds).await {
            return Err(failed(checks, "client_credentials", error));
        }
        checks.push(Check::ok(
            "client_credentials",
            "Okta issued an access token with the scopes okta.eventHooks.manage and okta.logs.read",
        ));
        let hooks = match self.okta().list_event_hooks(creds).await {
            Ok(hooks) => hooks,
            Err(error) => return Err(failed(checks, "event_hooks", error)),
        };
        // Okta's quota counts active and verified hooks; ours does not take another slot.
        let is_ours = |h: &&EventHook| hook_uri.is_some_and(|uri| h.channel.config.uri == uri);
        let live = hooks.iter().filter(|h| h.is_live() && !is_ours(h)).count();
        let ours_live = hooks.iter().any(|h| h.is_live() && is_ours(&h));
        if !ours_live && live >= MAX_EVENT_HOOKS {
            let error = OktaError::EventHookLimitReached {
                causes: vec![format!(
                    "{live} active and verified Event Hooks already exist in the org"
                )],
            };
            return Err(failed(checks, "event_hook_capacity", error));
        }
        checks.push(Check::ok(
            "event_hook_capacity",
            format!("{live} of {MAX_EVENT_HOOKS} active and verified Event Hooks in use"),
        ));
        Ok(checks)
    }

    /// Validate step: checks the credentials, then stores them (encrypted) and moves to validated.
    pub async fn validate(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
        input: ClientCredentials,
        okta_domain: Option<&str>,
    ) -> Result<(Integration, Vec<Check>), IntegrationError> {
        self.in_step(tenant_id, id, async |current| {
            if current.status == IntegrationStatus::Active {
                return Err(IntegrationError::OutOfOrder {
                    code: "already_active",
                    detail: "this integration is already active; change its credentials with PUT /api/v1/integrations/okta/{id}/credentials".into(),
                });
            }
            let domain = match okta_domain {
                Some(input) => self.parse_domain(input)?,
                None => current.org.domain.clone(),
            };
            if domain.stored() != current.org.domain.stored() {
                self.refuse_second_connection(tenant_id, &domain, Some(id))
                    .await?;
            }
            let creds = Credentials {
                domain,
                client_id: input.client_id,
                client_secret: input.client_secret,
            };
            let checks = self.check_and_store(&current, &creds).await?;
            Ok((self.get_integration(tenant_id, id).await?, checks))
        })
        .await
    }

    /// "Start from Okta": domain and credentials at once; created already validated.
    pub async fn create_from_okta(
        &self,
        tenant_id: TenantId,
        okta_domain: &str,
        input: ClientCredentials,
    ) -> Result<(Integration, Vec<Check>), IntegrationError> {
        let creds = Credentials {
            domain: self.parse_domain(okta_domain)?,
            client_id: input.client_id,
            client_secret: input.client_secret,
        };
        // Before asking Okta: a double submit is refused at once (and by the index in
        // `create` if both get past this check together).
        self.refuse_second_connection(tenant_id, &creds.domain, None)
            .await?;
        let checks = self.check_with_okta(&creds, None).await?;
        let created = self.create(tenant_id, &creds.domain, Some(&creds)).await?;
        Ok((created, checks))
    }

    /// Complete step: provisions (or adopts) our Event Hook for the integration's coverage
    /// (`coverage`, when given, replaces it first), has Okta verify it, activates it.
    pub async fn complete(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
        coverage: Option<Coverage>,
    ) -> Result<Integration, IntegrationError> {
        self.in_step(tenant_id, id, async |mut current| {
            if current.status == IntegrationStatus::Pending {
                return Err(IntegrationError::validation_required(
                    "validate the Client ID and Client Secret (POST …/validate) before completing",
                ));
            }
            if self.change_coverage(&mut current, coverage).await? == Changed::HookResubscribed {
                return self.get_integration(tenant_id, id).await;
            }
            let creds = self.credentials(&current.org).await?;
            let Some(provisioned) = self.provision_hook(&current, &creds).await? else {
                return Ok(current);
            };
            let hook = &provisioned.hook;
            let mut tx = self.pool().begin().await?;
            integrations::set_active(
                &mut tx,
                tenant_id,
                id,
                &HookState {
                    event_hook_id: &hook.id,
                    hook_status: &super::hooks::status_label(hook),
                    hook_secret_hash: &provisioned.secret.hash(),
                },
            )
            .await?;
            tx.commit().await?;
            tracing::info!(%tenant_id, integration_id = %id, event_hook_id = %hook.id, "integration active");
            let activated = self.get_integration(tenant_id, id).await?;
            // Only a fresh activation: a Complete that found the hook live changes nothing.
            self.start_baseline_on_complete(tenant_id, id).await;
            Ok(activated)
        })
        .await
    }

    /// `PUT /{id}`: changes the integration's settings. A new coverage of an active
    /// integration re-provisions its hook (Okta verifies it again); before that, complete
    /// provisions the hook with it.
    pub async fn update_integration(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
        coverage: Option<Coverage>,
    ) -> Result<Integration, IntegrationError> {
        self.in_step(tenant_id, id, async |mut current| {
            self.change_coverage(&mut current, coverage).await?;
            self.get_integration(tenant_id, id).await
        })
        .await
    }

    /// A new coverage: an active integration's hook is resubscribed (Okta verifies it
    /// again); before that, it is only stored, and complete provisions the hook with it.
    async fn change_coverage(
        &self,
        current: &mut Integration,
        wanted: Option<Coverage>,
    ) -> Result<Changed, IntegrationError> {
        let Some(wanted) = wanted.filter(|w| *w != current.coverage) else {
            return Ok(Changed::Nothing);
        };
        if current.status == IntegrationStatus::Active {
            self.resubscribe_hook(current, wanted).await?;
            return Ok(Changed::HookResubscribed);
        }
        let org = &current.org;
        integrations::set_coverage(self.pool(), org.tenant_id, org.id, wanted).await?;
        current.coverage = wanted;
        Ok(Changed::Stored)
    }

    /// Checks the credentials with Okta, then stores them (sealed) with the domain and client
    /// id in one transaction; on any failure nothing changes.
    pub(super) async fn check_and_store(
        &self,
        current: &Integration,
        creds: &Credentials,
    ) -> Result<Vec<Check>, IntegrationError> {
        let (tenant_id, id) = (current.org.tenant_id, current.org.id);
        let checks = self
            .check_with_okta(creds, Some(&self.hook_uri(&current.hook_key)))
            .await?;
        let validated = OrgAccess {
            tenant_id,
            id,
            domain: creds.domain.clone(),
            client_id: Some(creds.client_id.clone()),
        };
        // Rotating an active integration's credentials keeps it active.
        let status = match current.status {
            IntegrationStatus::Active => IntegrationStatus::Active,
            _ => IntegrationStatus::Validated,
        };
        let mut tx = self.pool().begin().await?;
        self.store_client_secret(&mut tx, tenant_id, id, &creds.client_secret)
            .await?;
        // A new domain may meet a concurrent launch of the same org in the index.
        if let Err(error) = integrations::set_validated(&mut tx, &validated, status).await {
            drop(tx);
            let domain = &creds.domain;
            return Err(self
                .explain_conflict(error, tenant_id, domain, Some(id))
                .await);
        }
        tx.commit().await?;
        Ok(checks)
    }

    /// Deletes locally at once; the hook in Okta is removed now, or by a retried job.
    pub async fn delete(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
    ) -> Result<(), IntegrationError> {
        self.in_step(tenant_id, id, async |current| {
            let deprovisioned = match &current.event_hook_id {
                None => Ok(()),
                Some(hook_id) => match self.credentials(&current.org).await {
                    Ok(creds) => self
                        .deprovision_hook(&creds, hook_id)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                },
            };
            let mut tx = self.pool().begin().await?;
            integrations::mark_deleted(&mut tx, tenant_id, id).await?;
            match (&deprovisioned, &current.event_hook_id) {
                (Err(error), Some(hook_id)) => {
                    tracing::warn!(integration_id = %id, %error, "hook not removed from Okta yet; retrying in the background");
                    // The job needs the credentials to call Okta: they are destroyed when it finishes.
                    store::jobs::enqueue_deprovision(&mut tx, tenant_id, id, hook_id).await?;
                }
                _ => store::credentials::delete_all(&mut tx, tenant_id, id).await?,
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Runs `step` on the integration as its only wizard step: a second caller meanwhile gets
    /// 409, not a second hook. The step gets the integration as read under the lease. The
    /// lease is a row, so no pooled connection waits on Okta.
    pub(super) async fn in_step<T>(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
        step: impl AsyncFnOnce(Integration) -> Result<T, IntegrationError>,
    ) -> Result<T, IntegrationError> {
        let holder = uuid::Uuid::new_v4();
        let until = Utc::now() + STEP_LEASE;
        if !integrations::lease_step(self.pool(), tenant_id, id, holder, until).await? {
            // Either another step holds it, or the integration is not the tenant's (404).
            self.get_integration(tenant_id, id).await?;
            return Err(IntegrationError::Busy);
        }
        let lease = StepLease {
            services: self.clone(),
            tenant_id,
            id,
            holder: Some(holder),
        };
        let outcome = match self.get_integration(tenant_id, id).await {
            Ok(current) => step(current).await,
            Err(error) => Err(error),
        };
        lease.release().await;
        outcome
    }
}

/// What [`Services::change_coverage`] did.
#[derive(Debug, PartialEq, Eq)]
enum Changed {
    Nothing,
    Stored,
    HookResubscribed,
}
