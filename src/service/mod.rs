//! Domain services between the HTTP edge and the store/Okta/vault layers.

pub mod integrations;
pub mod policies;
pub mod status;
pub mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::PgPool;

use crate::config::Config;
use crate::okta::{DomainPolicy, OktaClient};
use crate::vault::Vault;

/// Everything a request handler or background task needs; cheap to clone.
#[derive(Clone)]
pub struct Services(Arc<Inner>);

struct Inner {
    pool: PgPool,
    config: Config,
    vault: Vault,
    okta: OktaClient,
    worker_heartbeat: AtomicI64,
}

impl Services {
    pub fn new(pool: PgPool, config: Config, vault: Vault, okta: OktaClient) -> Self {
        Services(Arc::new(Inner {
            pool,
            config,
            vault,
            okta,
            worker_heartbeat: AtomicI64::new(0),
        }))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn vault(&self) -> &Vault {
        &self.0.vault
    }

    pub fn okta(&self) -> &OktaClient {
        &self.0.okta
    }

    pub fn domain_policy(&self) -> DomainPolicy {
        DomainPolicy {
            allow_loopback: self.0.config.dev_allow_loopback_okta,
            custom_domains: self.0.config.custom_okta_domains.clone(),
        }
    }

    /// Called by the worker loop each round; `/readyz` checks it is recent.
    pub fn worker_beat(&self) {
        self.0
            .worker_heartbeat
            .store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }

    pub fn worker_last_beat(&self) -> i64 {
        self.0.worker_heartbeat.load(Ordering::Relaxed)
    }
}

/// Outcome of `vault rotate`.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub reencrypted: u64,
    pub current: u64,
}

/// Re-encrypts every stored credential under the vault's primary key.
pub async fn rotate_vault(pool: &PgPool, vault: &Vault) -> anyhow::Result<RotationReport> {
    let mut report = RotationReport::default();
    for row in crate::store::credentials::all(pool).await? {
        let Some(field) = integrations::CREDENTIAL_FIELDS
            .iter()
            .find(|f| **f == row.field)
        else {
            anyhow::bail!(
                "credential field {:?} of integration {} is unknown to this version",
                row.field,
                row.integration_id
            );
        };
        let aad = crate::vault::Aad {
            tenant_id: row.tenant_id,
            integration_id: row.integration_id,
            field,
        };
        let sealed = crate::vault::Sealed {
            key_id: row.key_id.clone(),
            nonce: row.nonce.clone(),
            ciphertext: row.ciphertext.clone(),
        };
        match vault.reseal(&sealed, &aad)? {
            None => report.current += 1,
            Some(new) => {
                let new = crate::store::credentials::SealedRow {
                    key_id: new.key_id,
                    nonce: new.nonce,
                    ciphertext: new.ciphertext,
                };
                if crate::store::credentials::replace_if_unchanged(pool, &row, &new).await? {
                    report.reencrypted += 1;
                }
            }
        }
    }
    Ok(report)
}
