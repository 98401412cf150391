//! The org's OAuth2 client credentials: parsed at the edge, sealed in the vault (bound to
//! tenant, integration and field), opened only to call Okta, rotated only after the new ones
//! pass validation, and re-encrypted by `vault rotate`.

use secrecy::{ExposeSecret, SecretString};

use super::error::{Check, IntegrationError};
use crate::ids::{IntegrationId, TenantId};
use crate::okta::Credentials;
use crate::state::Services;
use crate::store::integrations::{Integration, OrgAccess};
use crate::store::{self, StoreError};
use crate::vault::{Aad, Vault, VaultError};

const CLIENT_SECRET: &str = "client_secret";
/// Every credential field the vault stores (for `vault rotate`).
pub const CREDENTIAL_FIELDS: [&str; 1] = [CLIENT_SECRET];

/// A Client ID as the admin pasted it: trimmed, non-empty, no spaces or control characters.
pub fn parse_client_id(client_id: &str) -> Result<String, IntegrationError> {
    let client_id = client_id.trim();
    if client_id.is_empty() {
        return Err(IntegrationError::invalid(
            "invalid_client_id",
            "client_id is empty: copy the Client ID shown by Okta",
        ));
    }
    if client_id.len() > 256
        || client_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(IntegrationError::invalid(
            "invalid_client_id",
            "client_id must be at most 256 characters without spaces or control characters",
        ));
    }
    Ok(client_id.to_string())
}

/// A Client Secret as the admin pasted it, under the same rules as the Client ID.
pub fn parse_client_secret(secret: &SecretString) -> Result<SecretString, IntegrationError> {
    let secret = secret.expose_secret().trim();
    if secret.is_empty() {
        return Err(IntegrationError::invalid(
            "invalid_client_secret",
            "client_secret is empty: copy the Client Secret shown by Okta when the integration was installed",
        ));
    }
    if secret.len() > 1024 || secret.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(IntegrationError::invalid(
            "invalid_client_secret",
            "client_secret must be at most 1024 characters without spaces or control characters",
        ));
    }
    Ok(SecretString::from(secret.to_string()))
}

/// Client ID and Client Secret, both parsed.
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl ClientCredentials {
    pub fn parse(client_id: &str, secret: &SecretString) -> Result<Self, IntegrationError> {
        Ok(ClientCredentials {
            client_id: parse_client_id(client_id)?,
            client_secret: parse_client_secret(secret)?,
        })
    }
}

impl Services {
    /// The stored credentials of an integration, decrypted, to call its org.
    pub async fn credentials(&self, org: &OrgAccess) -> Result<Credentials, IntegrationError> {
        let missing = || {
            IntegrationError::validation_required(
                "validate the integration's Client ID and Client Secret first",
            )
        };
        if org.domain.is_loopback() && !self.config().dev_allow_loopback_okta {
            return Err(IntegrationError::Domain(crate::okta::DomainError::NotHttps));
        }
        let client_id = org.client_id.clone().ok_or_else(missing)?;
        let row = store::credentials::get(self.pool(), org.tenant_id, org.id, CLIENT_SECRET)
            .await?
            .ok_or_else(missing)?;
        let client_secret = self.vault().open(&row, &aad(org.tenant_id, org.id))?;
        Ok(Credentials {
            domain: org.domain.clone(),
            client_id,
            client_secret,
        })
    }

    /// Seals and stores the credentials in the caller's transaction.
    pub(super) async fn store_client_secret(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant_id: TenantId,
        id: IntegrationId,
        secret: &SecretString,
    ) -> Result<(), IntegrationError> {
        let sealed = self.vault().seal(secret, &aad(tenant_id, id))?;
        store::credentials::put(conn, tenant_id, id, CLIENT_SECRET, &sealed).await?;
        Ok(())
    }

    /// Rotation: the new credentials must pass validation before they replace the old ones.
    /// Without a new Client ID, the current one is kept.
    pub async fn rotate_credentials(
        &self,
        tenant_id: TenantId,
        id: IntegrationId,
        client_id: Option<String>,
        client_secret: SecretString,
    ) -> Result<(Integration, Vec<Check>), IntegrationError> {
        self.in_step(tenant_id, id, async |current| {
            let client_id = client_id.or(current.org.client_id.clone()).ok_or_else(|| {
                IntegrationError::validation_required(
                    "this integration has no Client ID yet: use POST …/validate",
                )
            })?;
            let creds = Credentials {
                domain: current.org.domain.clone(),
                client_id,
                client_secret,
            };
            let checks = self.check_and_store(&current, &creds).await?;
            Ok((self.get_integration(tenant_id, id).await?, checks))
        })
        .await
    }
}

/// Outcome of `vault rotate`.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub reencrypted: u64,
    pub current: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultRotationError {
    #[error(
        "credential field {field:?} of integration {integration_id} is unknown to this version"
    )]
    UnknownField {
        field: String,
        integration_id: IntegrationId,
    },
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Re-encrypts every stored credential under the vault's primary key.
pub async fn rotate_vault(
    pool: &sqlx::PgPool,
    vault: &Vault,
) -> Result<RotationReport, VaultRotationError> {
    let mut report = RotationReport::default();
    for row in store::credentials::all(pool).await? {
        let Some(field) = CREDENTIAL_FIELDS.iter().find(|f| **f == row.field) else {
            return Err(VaultRotationError::UnknownField {
                field: row.field.clone(),
                integration_id: row.integration_id,
            });
        };
        let aad = Aad {
            tenant_id: row.tenant_id,
            integration_id: row.integration_id,
            field,
        };
        match vault.reseal(&row.sealed, &aad)? {
            None => report.current += 1,
            Some(new) => {
                if store::credentials::replace_if_unchanged(pool, &row, &new).await? {
                    report.reencrypted += 1;
                }
            }
        }
    }
    Ok(report)
}

fn aad(tenant_id: TenantId, integration_id: IntegrationId) -> Aad {
    Aad {
        tenant_id,
        integration_id,
        field: CLIENT_SECRET,
    }
}
