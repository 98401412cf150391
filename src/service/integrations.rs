//! The wizard: an explicit state machine over an integration's life.
//!
//! pending ──validate──► validated ──complete──► active ──delete──► deleted
//! (start from Okta: create = validated in one step). Credentials change by rotation only
//! after the new ones pass validation; a failed step leaves the previous state untouched.

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Services;
use super::tokens::random_secret;
use crate::okta::{
    Credentials, DomainError, EVENT_TYPES, EventHook, HookStatus, NewEventHook, OktaDomain,
    OktaError,
};
use crate::store::credentials::SealedRow;
use crate::store::integrations::{self, Activation, Integration, NewIntegration};
use crate::store::{self, StoreError};
use crate::vault::{Aad, Sealed, VaultError};

const CLIENT_SECRET: &str = "client_secret";
/// Every credential field the vault stores (for `vault rotate`).
pub const CREDENTIAL_FIELDS: [&str; 1] = [CLIENT_SECRET];

#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    #[error("integration not found")]
    NotFound,
    #[error("{0}")]
    InvalidInput(&'static str, String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{detail}")]
    OutOfOrder { code: &'static str, detail: String },
    #[error("another wizard step is running for this integration; retry when it has finished")]
    Busy,
    #[error("{}", .error.detail())]
    Okta {
        error: OktaError,
        checks: Vec<Check>,
    },
    #[error(
        "Okta could not verify the Event Hook at {uri}: {cause}. Make sure OKTA_INGEST_PUBLIC_URL is reachable from Okta over HTTPS, then run Complete again."
    )]
    VerificationFailed { uri: String, cause: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<sqlx::Error> for WizardError {
    fn from(error: sqlx::Error) -> Self {
        WizardError::Store(error.into())
    }
}

/// One line of the validation report shown by the wizard.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
        }
    }
    fn failed(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: false,
            detail: detail.into(),
        }
    }
}

pub struct ClientCredentialsInput {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Parse, don't validate: trims the id, refuses empty, oversized or control characters.
pub fn check_credentials_input(
    client_id: &str,
    client_secret: &SecretString,
) -> Result<ClientCredentialsInput, WizardError> {
    let client_id = client_id.trim();
    if client_id.is_empty() {
        return Err(WizardError::InvalidInput(
            "invalid_client_id",
            "client_id is empty: copy the Client ID shown by Okta".into(),
        ));
    }
    if client_id.len() > 256
        || client_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(WizardError::InvalidInput(
            "invalid_client_id",
            "client_id must be at most 256 characters without spaces or control characters".into(),
        ));
    }
    let secret = client_secret.expose_secret().trim();
    if secret.is_empty() {
        return Err(WizardError::InvalidInput("invalid_client_secret", "client_secret is empty: copy the Client Secret shown by Okta when the integration was installed".into()));
    }
    if secret.len() > 1024 || secret.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(WizardError::InvalidInput(
            "invalid_client_secret",
            "client_secret must be at most 1024 characters without spaces or control characters"
                .into(),
        ));
    }
    Ok(ClientCredentialsInput {
        client_id: client_id.to_string(),
        client_secret: SecretString::from(secret.to_string()),
    })
}

impl Services {
    pub fn parse_domain(&self, input: &str) -> Result<OktaDomain, WizardError> {
        Ok(OktaDomain::parse(input, &self.domain_policy())?)
    }

    fn hook_uri(&self, hook_key: &str) -> String {
        format!("{}/hooks/okta/{hook_key}", self.config().public_url)
    }

    /// "Start from Sysdig": remembers the org and tells where to install the integration.
    pub async fn launch(&self, tenant_id: Uuid, org: &str) -> Result<Integration, WizardError> {
        let domain = self.parse_domain(org)?;
        let id = Uuid::new_v4();
        let hook_key = random_secret("");
        let mut conn = self.pool().acquire().await?;
        integrations::insert(
            &mut conn,
            tenant_id,
            &NewIntegration {
                id,
                status: "pending",
                created_from: "sysdig",
                okta_domain: &stored(&domain),
                client_id: None,
                hook_key: &hook_key,
            },
        )
        .await?;
        drop(conn);
        self.get_integration(tenant_id, id).await
    }

    pub async fn get_integration(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Integration, WizardError> {
        integrations::get(self.pool(), tenant_id, id)
            .await?
            .ok_or(WizardError::NotFound)
    }

    /// Checks the credentials against Okta the way the troubleshooting guide does.
    pub async fn check_with_okta(
        &self,
        creds: &Credentials,
        hook_uri: Option<&str>,
    ) -> Result<Vec<Check>, WizardError> {
        let mut checks = vec![Check::ok(
            "okta_domain",
            format!("{} is an allowed Okta domain", creds.domain.as_str()),
        )];
        let fail = |checks: Vec<Check>, error: OktaError| WizardError::Okta { error, checks };
        if let Err(error) = self.okta().check_credentials(creds).await {
            let mut checks = checks;
            checks.push(Check::failed("client_credentials", error.detail()));
            return Err(fail(checks, error));
        }
        checks.push(Check::ok(
            "client_credentials",
            "Okta issued an access token with the scopes okta.eventHooks.manage and okta.logs.read",
        ));
        let hooks = match self.okta().list_event_hooks(creds).await {
            Ok(hooks) => hooks,
            Err(error) => {
                checks.push(Check::failed("event_hooks", error.detail()));
                return Err(fail(checks, error));
            }
        };
        let ours = hook_uri.is_some_and(|uri| hooks.iter().any(|h| h.channel.config.uri == uri));
        if !ours && hooks.len() >= MAX_EVENT_HOOKS {
            let error = OktaError::EventHookLimitReached {
                causes: vec![format!(
                    "{} Event Hooks already exist in the org",
                    hooks.len()
                )],
            };
            checks.push(Check::failed("event_hook_capacity", error.detail()));
            return Err(fail(checks, error));
        }
        checks.push(Check::ok(
            "event_hook_capacity",
            format!("{} of {} Event Hooks in use", hooks.len(), MAX_EVENT_HOOKS),
        ));
        Ok(checks)
    }

    /// Validate step: checks the credentials, then stores them (encrypted) and moves to validated.
    pub async fn validate(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        input: ClientCredentialsInput,
        okta_domain: Option<&str>,
    ) -> Result<(Integration, Vec<Check>), WizardError> {
        let _lock = self.lock_integration(id).await?;
        let current = self.get_integration(tenant_id, id).await?;
        if current.status == "active" {
            return Err(WizardError::OutOfOrder {
                code: "already_active",
                detail: "this integration is already active; change its credentials with PUT /api/v1/integrations/okta/{id}/credentials".into(),
            });
        }
        let domain = match okta_domain {
            Some(input) => self.parse_domain(input)?,
            None => self.parse_domain(&current.okta_domain)?,
        };
        let creds = Credentials {
            domain,
            client_id: input.client_id,
            client_secret: input.client_secret,
        };
        let checks = self.check_and_store(&current, &creds).await?;
        Ok((self.get_integration(tenant_id, id).await?, checks))
    }

    /// "Start from Okta": domain and credentials at once; created already validated.
    pub async fn create_from_okta(
        &self,
        tenant_id: Uuid,
        okta_domain: &str,
        input: ClientCredentialsInput,
    ) -> Result<(Integration, Vec<Check>), WizardError> {
        let domain = self.parse_domain(okta_domain)?;
        let id = Uuid::new_v4();
        let hook_key = random_secret("");
        let creds = Credentials {
            domain,
            client_id: input.client_id,
            client_secret: input.client_secret,
        };
        let checks = self.check_with_okta(&creds, None).await?;
        let sealed = self
            .vault()
            .seal(&creds.client_secret, &aad(tenant_id, id))?;
        let mut tx = self.pool().begin().await?;
        integrations::insert(
            &mut tx,
            tenant_id,
            &NewIntegration {
                id,
                status: "validated",
                created_from: "okta",
                okta_domain: &stored(&creds.domain),
                client_id: Some(&creds.client_id),
                hook_key: &hook_key,
            },
        )
        .await?;
        store::credentials::put(&mut tx, tenant_id, id, CLIENT_SECRET, &to_row(sealed)).await?;
        tx.commit().await?;
        Ok((self.get_integration(tenant_id, id).await?, checks))
    }

    /// The stored credentials of an integration, decrypted.
    pub async fn credentials(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        okta_domain: &str,
        client_id: Option<&str>,
    ) -> Result<Credentials, WizardError> {
        let missing = || WizardError::OutOfOrder {
            code: "validation_required",
            detail: "validate the integration's Client ID and Client Secret first".into(),
        };
        let client_id = client_id.ok_or_else(missing)?.to_string();
        let row = store::credentials::get(self.pool(), tenant_id, id, CLIENT_SECRET)
            .await?
            .ok_or_else(missing)?;
        let client_secret = self.vault().open(&from_row(row), &aad(tenant_id, id))?;
        Ok(Credentials {
            domain: self.parse_domain(okta_domain)?,
            client_id,
            client_secret,
        })
    }

    /// Complete step: provisions (or adopts) our Event Hook, has Okta verify it, activates it.
    pub async fn complete(&self, tenant_id: Uuid, id: Uuid) -> Result<Integration, WizardError> {
        let _lock = self.lock_integration(id).await?;
        let current = self.get_integration(tenant_id, id).await?;
        if current.status == "pending" {
            return Err(WizardError::OutOfOrder {
                code: "validation_required",
                detail:
                    "validate the Client ID and Client Secret (POST …/validate) before completing"
                        .into(),
            });
        }
        let creds = self
            .credentials(
                tenant_id,
                id,
                &current.okta_domain,
                current.client_id.as_deref(),
            )
            .await?;
        let uri = self.hook_uri(&current.hook_key);
        let existing = self
            .okta()
            .list_event_hooks(&creds)
            .await
            .map_err(|error| okta_failure(error, "event_hooks"))?;
        let ours = existing.into_iter().find(|h| h.channel.config.uri == uri);
        if current.status == "active"
            && let Some(hook) = &ours
            && is_live(hook)
        {
            return Ok(current);
        }
        let secret = SecretString::from(random_secret("ohs_"));
        let spec = NewEventHook::http(
            &self.config().event_hook_name,
            &uri,
            secret.clone(),
            &EVENT_TYPES,
        );
        let hook = match ours {
            // Ours already exists (a re-run, or a previous attempt that failed later): adopt it.
            // Its secret is write-only in Okta, so give it a fresh one.
            Some(hook) => self.okta().update_event_hook(&creds, &hook.id, &spec).await,
            None => self.okta().create_event_hook(&creds, &spec).await,
        }
        .map_err(|error| okta_failure(error, "event_hook_create"))?;
        integrations::set_hook_secret(self.pool(), tenant_id, id, &hash_secret(&secret), None)
            .await?;
        integrations::set_hook_state(self.pool(), tenant_id, id, &hook.id, &status_label(&hook))
            .await?;
        let hook = self
            .okta()
            .verify_event_hook(&creds, &hook.id)
            .await
            .map_err(|error| match error {
                OktaError::VerificationFailed { .. } => WizardError::VerificationFailed {
                    uri: uri.clone(),
                    cause: error.to_string(),
                },
                other => okta_failure(other, "event_hook_verify"),
            })?;
        let hook = if hook.status == HookStatus::Active {
            hook
        } else {
            self.okta()
                .activate_event_hook(&creds, &hook.id)
                .await
                .map_err(|e| okta_failure(e, "event_hook_activate"))?
        };
        if !is_live(&hook) {
            return Err(WizardError::VerificationFailed {
                uri,
                cause: format!("Okta reports the hook as {}", status_label(&hook)),
            });
        }
        let mut tx = self.pool().begin().await?;
        integrations::set_active(
            &mut tx,
            tenant_id,
            id,
            &Activation {
                event_hook_id: &hook.id,
                hook_status: &status_label(&hook),
                hook_secret_hash: &hash_secret(&secret),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%tenant_id, integration_id = %id, event_hook_id = %hook.id, "integration active");
        self.get_integration(tenant_id, id).await
    }

    /// Rotation: the new credentials must pass validation before they replace the old ones.
    pub async fn rotate_credentials(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        client_id: Option<&str>,
        client_secret: &SecretString,
    ) -> Result<(Integration, Vec<Check>), WizardError> {
        let _lock = self.lock_integration(id).await?;
        let current = self.get_integration(tenant_id, id).await?;
        let client_id =
            client_id
                .or(current.client_id.as_deref())
                .ok_or(WizardError::OutOfOrder {
                    code: "validation_required",
                    detail: "this integration has no Client ID yet: use POST …/validate".into(),
                })?;
        let input = check_credentials_input(client_id, client_secret)?;
        let creds = Credentials {
            domain: self.parse_domain(&current.okta_domain)?,
            client_id: input.client_id,
            client_secret: input.client_secret,
        };
        let checks = self.check_and_store(&current, &creds).await?;
        Ok((self.get_integration(tenant_id, id).await?, checks))
    }

    /// Checks the credentials with Okta, then stores them (sealed) with the domain and client
    /// id in one transaction; on any failure nothing changes.
    async fn check_and_store(
        &self,
        current: &Integration,
        creds: &Credentials,
    ) -> Result<Vec<Check>, WizardError> {
        let (tenant_id, id) = (current.tenant_id, current.id);
        let checks = self
            .check_with_okta(creds, Some(&self.hook_uri(&current.hook_key)))
            .await?;
        let sealed = self
            .vault()
            .seal(&creds.client_secret, &aad(tenant_id, id))?;
        let mut tx = self.pool().begin().await?;
        store::credentials::put(&mut tx, tenant_id, id, CLIENT_SECRET, &to_row(sealed)).await?;
        integrations::set_validated(
            &mut tx,
            tenant_id,
            id,
            &stored(&creds.domain),
            &creds.client_id,
        )
        .await?;
        tx.commit().await?;
        Ok(checks)
    }

    /// Deletes locally at once; the hook in Okta is removed now, or by a retried job.
    pub async fn delete(&self, tenant_id: Uuid, id: Uuid) -> Result<(), WizardError> {
        let _lock = self.lock_integration(id).await?;
        let current = self.get_integration(tenant_id, id).await?;
        let deprovisioned = match &current.event_hook_id {
            None => Ok(()),
            Some(hook_id) => match self
                .credentials(
                    tenant_id,
                    id,
                    &current.okta_domain,
                    current.client_id.as_deref(),
                )
                .await
            {
                Ok(creds) => self.deprovision_hook(&creds, hook_id).await,
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
    }

    /// Deactivates then deletes the hook; a hook already gone counts as done.
    pub async fn deprovision_hook(&self, creds: &Credentials, hook_id: &str) -> Result<(), String> {
        match self.okta().deactivate_event_hook(creds, hook_id).await {
            Ok(_) => {}
            Err(error) if error.is_not_found() => return Ok(()),
            Err(error) => return Err(error.to_string()),
        }
        match self.okta().delete_event_hook(creds, hook_id).await {
            Ok(()) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Runs one due deprovisioning job, if any; returns whether one ran.
    pub async fn run_deprovision_job(&self) -> Result<bool, WizardError> {
        let mut tx = self.pool().begin().await?;
        let Some(job) = store::jobs::claim_due(&mut tx).await? else {
            return Ok(false);
        };
        let outcome = match self.job_credentials(&job).await {
            Ok(creds) => self.deprovision_hook(&creds, &job.event_hook_id).await,
            Err(error) => Err(error.to_string()),
        };
        match outcome {
            Ok(()) => {
                store::credentials::delete_all(&mut tx, job.tenant_id, job.integration_id).await?;
                store::jobs::finish(&mut tx, job.id).await?;
                tracing::info!(integration_id = %job.integration_id, "deleted integration's hook removed from Okta");
            }
            Err(error) if job.attempts >= MAX_DEPROVISION_ATTEMPTS => {
                tracing::error!(integration_id = %job.integration_id, %error, "giving up removing the hook from Okta; credentials destroyed");
                store::credentials::delete_all(&mut tx, job.tenant_id, job.integration_id).await?;
                store::jobs::finish(&mut tx, job.id).await?;
            }
            Err(error) => {
                let delay = 5i64
                    .saturating_mul(1 << job.attempts.clamp(0, 10))
                    .min(3600);
                store::jobs::retry_later(&mut tx, job.id, delay, &error).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn job_credentials(
        &self,
        job: &store::jobs::DeprovisionJob,
    ) -> Result<Credentials, WizardError> {
        let (domain, client_id): (String, Option<String>) =
            store::integrations::domain_and_client(self.pool(), job.tenant_id, job.integration_id)
                .await?;
        self.credentials(
            job.tenant_id,
            job.integration_id,
            &domain,
            client_id.as_deref(),
        )
        .await
    }

    /// One wizard step at a time per integration (a second caller gets 409, not a second hook).
    async fn lock_integration(
        &self,
        id: Uuid,
    ) -> Result<store::integrations::StepLock, WizardError> {
        store::integrations::try_lock_step(self.pool(), id)
            .await?
            .ok_or(WizardError::Busy)
    }

    /// Sets a new hook secret in Okta, accepting the old one for the overlap window.
    pub async fn rotate_hook_secret(
        &self,
        target: &store::integrations::RotationTarget,
    ) -> Result<(), WizardError> {
        let Some(hook_id) = &target.event_hook_id else {
            return Ok(());
        };
        let creds = self
            .credentials(
                target.tenant_id,
                target.id,
                &target.okta_domain,
                target.client_id.as_deref(),
            )
            .await?;
        let secret = SecretString::from(random_secret("ohs_"));
        let overlap_until =
            Utc::now() + chrono::Duration::seconds(self.config().hook_secret_overlap_secs as i64);
        // Accept the new secret before Okta starts sending it.
        integrations::set_hook_secret(
            self.pool(),
            target.tenant_id,
            target.id,
            &hash_secret(&secret),
            Some(overlap_until),
        )
        .await?;
        let spec = NewEventHook::http(
            &self.config().event_hook_name,
            &self.hook_uri(&target.hook_key),
            secret,
            &EVENT_TYPES,
        );
        let result = async {
            self.okta()
                .update_event_hook(&creds, hook_id, &spec)
                .await?;
            self.okta().verify_event_hook(&creds, hook_id).await
        }
        .await;
        if let Err(error) = result {
            integrations::set_error(
                self.pool(),
                target.tenant_id,
                target.id,
                error.code(),
                &format!("hook secret rotation failed: {}", error.detail()),
            )
            .await?;
            return Err(WizardError::Okta {
                error,
                checks: vec![],
            });
        }
        tracing::info!(integration_id = %target.id, "hook secret rotated");
        Ok(())
    }
}

const MAX_DEPROVISION_ATTEMPTS: i32 = 50;

/// Okta's limit of event hooks per org.
pub const MAX_EVENT_HOOKS: usize = 25;

fn is_live(hook: &EventHook) -> bool {
    hook.status == HookStatus::Active && hook.is_verified()
}

/// Okta's view of the hook for the status page, e.g. `ACTIVE/VERIFIED`.
fn status_label(hook: &EventHook) -> String {
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

fn okta_failure(error: OktaError, step: &'static str) -> WizardError {
    let checks = vec![Check::failed(step, error.detail())];
    WizardError::Okta { error, checks }
}

pub fn hash_secret(secret: &SecretString) -> Vec<u8> {
    Sha256::digest(secret.expose_secret().as_bytes()).to_vec()
}

/// The form a domain is stored in: parses back to the same domain (loopback keeps its scheme).
fn stored(domain: &OktaDomain) -> String {
    if domain.is_loopback() {
        format!("http://{}", domain.as_str())
    } else {
        domain.as_str().to_string()
    }
}

fn aad(tenant_id: Uuid, integration_id: Uuid) -> Aad {
    Aad {
        tenant_id,
        integration_id,
        field: CLIENT_SECRET,
    }
}

fn to_row(sealed: Sealed) -> SealedRow {
    SealedRow {
        key_id: sealed.key_id,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
    }
}

fn from_row(row: SealedRow) -> Sealed {
    Sealed {
        key_id: row.key_id,
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    }
}
