//! The error of everything that touches an integration: wizard steps, status, gap fill and
//! the background jobs. `api/error.rs` maps it to problem+json in one place.

use serde::Serialize;

use crate::ids::IntegrationId;
use crate::okta::{DomainError, OktaDomain, OktaError};
use crate::store::StoreError;
use crate::store::integrations::{IntegrationStatus, LiveOfOrg};
use crate::vault::VaultError;

/// Why a tenant connects an org once, said with every `already_connected`.
const ONE_PER_ORG: &str = "A tenant connects an Okta org once: a second integration would receive every event twice and take another of the org's 25 Event Hooks.";

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("integration not found")]
    NotFound,
    #[error("{detail}")]
    InvalidInput { code: &'static str, detail: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{detail}")]
    OutOfOrder { code: &'static str, detail: String },
    #[error("another wizard step is running for this integration; retry when it has finished")]
    Busy,
    /// The tenant already has a live integration of the org: `id` names it (none only when
    /// it vanished between the refused write and the look-up).
    #[error("{detail}")]
    AlreadyConnected {
        id: Option<IntegrationId>,
        detail: String,
    },
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

impl From<sqlx::Error> for IntegrationError {
    fn from(error: sqlx::Error) -> Self {
        IntegrationError::Store(error.into())
    }
}

impl From<OktaError> for IntegrationError {
    fn from(error: OktaError) -> Self {
        IntegrationError::Okta {
            error,
            checks: vec![],
        }
    }
}

impl IntegrationError {
    pub(super) fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        IntegrationError::InvalidInput {
            code,
            detail: detail.into(),
        }
    }

    pub(super) fn validation_required(detail: impl Into<String>) -> Self {
        IntegrationError::OutOfOrder {
            code: "validation_required",
            detail: detail.into(),
        }
    }

    /// A second live integration of an org the tenant has connected: the detail names the
    /// existing one and what to do with it, by its status.
    pub(super) fn already_connected(domain: &OktaDomain, existing: &LiveOfOrg) -> Self {
        let (domain, id) = (domain.as_str(), existing.id);
        let path = format!("/api/v1/integrations/okta/{id}");
        let next = match existing.status {
            IntegrationStatus::Pending => format!(
                "{domain} is already being connected by integration {id} (pending): continue it with POST {path}/validate"
            ),
            IntegrationStatus::Validated => format!(
                "{domain} is already connected by integration {id} (validated, not yet active): finish it with POST {path}/complete, or replace its credentials with PUT {path}/credentials"
            ),
            _ => format!(
                "{domain} is already connected by integration {id} (active): open it with GET {path}, or rotate its credentials with PUT {path}/credentials"
            ),
        };
        IntegrationError::AlreadyConnected {
            id: Some(id),
            detail: format!(
                "{next}; to start over, delete it first with DELETE {path}. {ONE_PER_ORG}"
            ),
        }
    }

    /// The index refused a second integration of the org, but the winner of the race is gone
    /// by the time we look (deleted meanwhile): nothing to name, a retry may pass.
    pub(super) fn connected_meanwhile(domain: &OktaDomain) -> Self {
        IntegrationError::AlreadyConnected {
            id: None,
            detail: format!(
                "another integration of {} was being created at the same time; list the integrations with GET /api/v1/integrations/okta and continue that one, or retry. {ONE_PER_ORG}",
                domain.as_str()
            ),
        }
    }

    /// An Okta failure at one wizard step, reported as that step's failed check.
    pub(super) fn okta_at(step: &'static str, error: OktaError) -> Self {
        let checks = vec![Check::failed(step, error.detail())];
        IntegrationError::Okta { error, checks }
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
    pub(super) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
        }
    }

    pub(super) fn failed(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: false,
            detail: detail.into(),
        }
    }
}
