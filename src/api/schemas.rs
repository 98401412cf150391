//! The JSON the handlers write, as OpenAPI schemas.
//!
//! Where a handler writes a service or store type as it is, that type derives its own schema
//! (re-exported here). The structs below describe bodies the handlers assemble: the policy
//! handlers build `Policy`, `Rule` and `PolicyList` and write them; the others describe JSON
//! values built in the handlers, and are never constructed.
//! `tests/service/openapi_contract.rs` checks real responses against them, and schemathesis in
//! `.ci/run` checks every response it provokes, so a shape cannot drift unnoticed.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub use crate::detect::{Priority, Severity};
use crate::ids::{IntegrationId, PolicyId, TokenId};
pub use crate::service::baseline::BaselineView;
pub use crate::service::policies::{
    DryRun as PolicyTestResult, DryRunDetection as PolicyTestDetection,
};
pub use crate::service::status::{IntegrationView as Integration, LastError};
pub use crate::store::baselines::BaselineState;
pub use crate::store::integrations::IntegrationStatus;
pub use crate::store::runtime_events::RuntimeEvent;
pub use crate::store::tenants::{Role, TokenInfo as Token};

/// An RFC 9457 problem document (`application/problem+json`): every error of the API.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `/problems/{code with dashes}`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/not-found")]
    pub problem_type: String,
    /// The HTTP status's reason phrase.
    #[schema(example = "Not Found")]
    pub title: String,
    #[schema(minimum = 400, maximum = 599, example = 404)]
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// Stable, machine-readable: switch on this, not on `detail`.
    #[schema(example = "not_found")]
    pub code: String,
    /// The wizard's checks, when Okta refused a step (422).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub checks: Option<Vec<Check>>,
    /// The tenant's live integration of the same Okta org (409 `already_connected`): open,
    /// continue or delete that one instead of connecting the org again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub integration_id: Option<uuid::Uuid>,
    /// Where a rules text is wrong (422 `invalid_rules`): the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub line: Option<u64>,
    /// Where a rules text is wrong (422 `invalid_rules`): the column.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub column: Option<u64>,
    /// Why a rules text is refused (422 `invalid_rules`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

/// One line of the wizard's validation report.
#[derive(Serialize, ToSchema)]
pub struct Check {
    #[schema(example = "client_credentials")]
    pub name: String,
    pub ok: bool,
    /// What was checked, or what to do when it failed.
    pub detail: String,
}

/// `launch`: the integration, pending, and where to install the "Sysdig" app in Okta.
#[derive(Serialize, ToSchema)]
pub struct Launched {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    #[schema(example = "acme.okta.com")]
    pub okta_domain: String,
    pub coverage: crate::okta::Coverage,
    pub install_url: String,
}

/// `validate`, `create` and `credentials`: the integration with the checks that passed.
#[derive(Serialize, ToSchema)]
pub struct Validated {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    pub okta_domain: String,
    pub coverage: crate::okta::Coverage,
    pub checks: Vec<Check>,
}

/// `complete`: the integration, active, with the Event Hook Okta verified.
#[derive(Serialize, ToSchema)]
pub struct Completed {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    pub okta_domain: String,
    pub coverage: crate::okta::Coverage,
    pub event_hook_id: Option<String>,
}

/// `baseline`: the integration, now learning, and the baseline's progress.
#[derive(Serialize, ToSchema)]
pub struct BaselineStarted {
    pub id: IntegrationId,
    /// `learning`.
    pub status: IntegrationStatus,
    #[schema(example = "acme.okta.com")]
    pub okta_domain: String,
    pub coverage: crate::okta::Coverage,
    pub baseline: BaselineView,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationList {
    pub items: Vec<Integration>,
}

/// A runtime event with the event's normalized fields and the raw Okta LogEvent.
#[derive(Serialize, ToSchema)]
pub struct RuntimeEventDetail {
    #[serde(flatten)]
    pub event: RuntimeEvent,
    /// The `okta.*` fields the rules saw.
    pub normalized: Value,
    /// The LogEvent as Okta sent it.
    pub raw: Value,
}

/// A page of the feed, newest first.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<RuntimeEvent>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The only policy type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyType {
    Okta,
}

/// A policy: managed (shipped, switchable per tenant) or custom (the tenant's own rules).
#[derive(Serialize, ToSchema)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub policy_type: PolicyType,
    pub managed: bool,
    pub enabled: bool,
    /// Custom policies only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub created_at: Option<DateTime<Utc>>,
    /// Custom policies only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub updated_at: Option<DateTime<Utc>>,
    /// A single policy only (not in lists); for a custom policy, when its rules compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rules: Option<Vec<Rule>>,
    /// A single policy only: the rules file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub source: Option<String>,
}

/// A rule of a policy.
#[derive(Serialize, ToSchema)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// The condition as the rules file writes it (appended parts joined on).
    pub condition: Option<String>,
    /// The output template as the rules file writes it.
    pub output: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub items: Vec<Policy>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<Token>,
}

/// A new token: shown this once, stored only as a hash.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub token_id: TokenId,
    pub role: Role,
    #[schema(example = "oki_…")]
    pub token: String,
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// Okta's answer to the verification challenge.
#[derive(Serialize, ToSchema)]
pub struct Verification {
    /// The `X-Okta-Verification-Challenge` value, echoed.
    pub verification: String,
}

/// Okta's Event Hook delivery envelope. A malformed event inside a valid envelope is
/// quarantined with its reason; the rest of the batch is kept.
#[derive(Serialize, ToSchema)]
pub struct EventHookDelivery {
    #[serde(rename = "eventType")]
    pub event_type: EventHookType,
    pub data: EventHookData,
}

#[derive(Serialize, ToSchema)]
pub enum EventHookType {
    #[serde(rename = "com.okta.event_hook")]
    EventHook,
}

#[derive(Serialize, ToSchema)]
pub struct EventHookData {
    /// Okta LogEvents (at most 10,000).
    #[schema(max_items = 10000)]
    pub events: Vec<Value>,
}

/// `/healthz`: the process is alive.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// `/readyz`: each condition of readiness.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub database: bool,
    pub migrations: bool,
    pub worker: bool,
}
