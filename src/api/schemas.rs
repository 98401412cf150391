//! The JSON the handlers write, as OpenAPI schemas.
//!
//! The handlers build their bodies from the service's and the store's own types (which know
//! nothing of OpenAPI); these structs only describe those bodies and are never constructed.
//! `tests/service/openapi_contract.rs` checks real responses against them, and schemathesis in
//! `.ci/run` checks every response it provokes, so a shape cannot drift unnoticed.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::ids::{IntegrationId, PolicyId, TokenId};

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

/// Where an integration is in the wizard.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationStatus {
    Pending,
    Validated,
    Active,
    Deleted,
}

/// `launch`: the integration, pending, and where to install the "Sysdig" app in Okta.
#[derive(Serialize, ToSchema)]
pub struct Launched {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    #[schema(example = "acme.okta.com")]
    pub okta_domain: String,
    pub install_url: String,
}

/// `validate`, `create` and `credentials`: the integration with the checks that passed.
#[derive(Serialize, ToSchema)]
pub struct Validated {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    pub okta_domain: String,
    pub checks: Vec<Check>,
}

/// `complete`: the integration, active, with the Event Hook Okta verified.
#[derive(Serialize, ToSchema)]
pub struct Completed {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    pub okta_domain: String,
    pub event_hook_id: Option<String>,
}

/// An integration's status and health.
#[derive(Serialize, ToSchema)]
pub struct Integration {
    pub id: IntegrationId,
    pub status: IntegrationStatus,
    /// `sysdig` (launched here) or `okta` (created from Okta's side).
    pub created_from: String,
    pub okta_domain: String,
    /// Only while pending: where to install the app in Okta.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub install_url: Option<String>,
    pub client_id: Option<String>,
    pub event_hook_id: Option<String>,
    pub hook_status: Option<String>,
    pub events_received: i64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    pub processing_lag_seconds: f64,
    pub quarantined_events: i64,
    pub last_error: Option<LastError>,
    pub last_delivery_error: Option<String>,
    /// What an admin should act on, e.g. no event within 5 minutes of going active.
    pub warnings: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The last failed step of an integration.
#[derive(Serialize, ToSchema)]
pub struct LastError {
    pub code: String,
    pub detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationList {
    pub items: Vec<Integration>,
}

/// The feed's four severities (Falco's eight priorities folded).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

/// Falco's eight priorities.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

/// A detection: a rule of a policy fired on an Okta event.
#[derive(Serialize, ToSchema)]
pub struct RuntimeEvent {
    pub id: i64,
    pub integration_id: IntegrationId,
    #[schema(example = "okta")]
    pub source: String,
    pub policy_id: PolicyId,
    pub policy_name: String,
    pub rule_name: String,
    pub severity: Severity,
    pub priority: Priority,
    pub output: String,
    pub tags: Vec<String>,
    pub okta_event_uuid: String,
    pub event_type: String,
    pub actor: String,
    pub target: String,
    pub okta_domain: String,
    /// Okta's `published` time of the event.
    pub published: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
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

/// `POST /api/v1/policies/test`: what rules would raise on the tenant's recent events.
#[derive(Serialize, ToSchema)]
pub struct PolicyTestResult {
    /// Events received since then were considered.
    pub since: DateTime<Utc>,
    /// Events the rules ran on.
    pub events_scanned: u64,
    /// A bound (5,000 events, 2 s, 1,000 detections) stopped the run early.
    pub truncated: bool,
    pub detections: Vec<PolicyTestDetection>,
}

/// A detection the rules under test would raise.
#[derive(Serialize, ToSchema)]
pub struct PolicyTestDetection {
    pub rule: String,
    pub priority: Priority,
    pub severity: Severity,
    pub output: String,
    pub tags: Vec<String>,
    pub okta_event_uuid: String,
    pub event_type: String,
    /// Okta's `published` time of the event, as Okta wrote it.
    pub published: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub items: Vec<Policy>,
}

/// A token's role: `admin` may change things, `viewer` only reads.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Viewer,
}

/// An API token as an admin sees it: never the token itself.
#[derive(Serialize, ToSchema)]
pub struct Token {
    pub token_id: TokenId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
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
