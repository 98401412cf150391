//! The error of everything that touches an integration: wizard steps, status, gap fill and
//! the background jobs. `api/error.rs` maps it to problem+json in one place.

use serde::Serialize;

use crate::okta::{DomainError, OktaError};
use crate::store::StoreError;
use crate::vault::VaultError;

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
