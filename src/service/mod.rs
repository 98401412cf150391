//! Domain services between the HTTP edge and the store, Okta and vault layers. Each file is
//! one concern; the wizard's steps call the others.
//!
//! - `wizard`: the integration state machine (launch, validate, create, complete, delete).
//! - `credentials`: the org's OAuth2 client credentials, sealed in the vault; rotation.
//! - `hooks`: the Event Hook in Okta: provision, deprovision (and its job), secret rotation.
//! - `status`: the integration's status and health as the API shows it.
//! - `baseline`: learned baselines: starting one, and what the status shows of it.
//! - `policies`: the tenant's policies and the compiled engines the worker uses.
//! - `tokens`: tenants and their API tokens; `offboarding`: a tenant's removal.
//! - `error`: [`IntegrationError`], the error of everything that touches an integration.

pub mod baseline;
pub mod credentials;
mod error;
pub mod hooks;
pub mod offboarding;
pub mod policies;
pub mod status;
pub mod tokens;
pub mod wizard;

pub use credentials::{RotationReport, rotate_vault};
pub use error::{Check, IntegrationError};
