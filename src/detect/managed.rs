//! Managed policies: the rule files in `rules/`, embedded in the binary.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use uuid::Uuid;

use super::{Engine, PolicyRef, RuleSet};

#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    /// Stable across releases: a v5 UUID of the policy's file name.
    pub id: Uuid,
    pub name: &'static str,
    pub description: &'static str,
    pub source: &'static str,
    /// The file name under `rules/`, used in load errors.
    pub file: &'static str,
}

/// Namespace of managed policy ids (a v5 of the project's URN).
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:okta-ingest:managed-policy")
}

macro_rules! policy {
    ($file:literal, $name:literal, $desc:literal) => {
        (
            $file,
            $name,
            $desc,
            include_str!(concat!("../../rules/", $file)),
        )
    };
}

const POLICIES: [(&str, &str, &str, &str); 9] = [
    policy!(
        "okta_credential_attacks.yaml",
        "Okta Credential Attacks",
        "Brute force, password spraying, credential stuffing, account lockouts and sign-ins through anonymizers."
    ),
    policy!(
        "okta_mfa.yaml",
        "Okta MFA Tampering and Fatigue",
        "MFA push bombing, MFA failures, denials followed by success, and factors removed or reset."
    ),
    policy!(
        "okta_privilege.yaml",
        "Okta Privilege Escalation and Admin Activity",
        "Admin role grants, privileged group and application assignments, and Okta support impersonation."
    ),
    policy!(
        "okta_account_lifecycle.yaml",
        "Okta Account Lifecycle Abuse",
        "Mass deactivation or suspension, persistence through new accounts, and suspicious password resets."
    ),
    policy!(
        "okta_api_abuse.yaml",
        "Okta API Token and Rate-Limit Abuse",
        "API token creation in risky contexts and rate-limit violations that signal enumeration or abuse."
    ),
    policy!(
        "okta_sessions.yaml",
        "Okta Session Anomalies",
        "Impossible travel, first sign-in from a new country, network or device, and risky sessions."
    ),
    // The extended subscription's types (integrations with `coverage: extended`).
    policy!(
        "okta_extended_trust.yaml",
        "Okta Identity Providers and Applications",
        "Identity providers and Org2Org apps created or changed, IdP secrets read, apps removed (extended coverage)."
    ),
    policy!(
        "okta_extended_policy.yaml",
        "Okta Policy and Admin Role Changes",
        "Sign-on and MFA policy rules weakened, bursts of policy changes, admin roles granted to groups or through resource sets (extended coverage)."
    ),
    policy!(
        "okta_extended_accounts.yaml",
        "Okta Account Signals and Follow-Ups",
        "User-reported suspicious activity, factors suspended or enrolled by others, MFA removed and not re-enrolled, sensitive changes after a proxy sign-in (extended coverage)."
    ),
];

static MANAGED: LazyLock<Vec<ManagedPolicy>> = LazyLock::new(|| {
    POLICIES
        .iter()
        .map(|(file, name, description, source)| ManagedPolicy {
            id: Uuid::new_v5(&namespace(), file.as_bytes()),
            name,
            description,
            source,
            file,
        })
        .collect()
});

/// Compiled once; a managed file that fails to compile is left out and logged (the test
/// suite guarantees none does).
static COMPILED: LazyLock<HashMap<Uuid, Arc<RuleSet>>> = LazyLock::new(|| {
    managed_policies()
        .iter()
        .filter_map(
            |p| match RuleSet::compile(&format!("rules/{}", p.file), p.source) {
                Ok(set) => Some((p.id, Arc::new(set))),
                Err(e) => {
                    tracing::error!(error = %e, "managed policy does not compile");
                    None
                }
            },
        )
        .collect()
});

pub fn managed_policies() -> &'static [ManagedPolicy] {
    &MANAGED
}

pub fn managed_rule_set(id: Uuid) -> Option<Arc<RuleSet>> {
    COMPILED.get(&id).cloned()
}

/// Every managed policy, as the service runs them for a tenant that enabled them all.
pub fn managed_engine() -> Engine {
    let policies = managed_policies()
        .iter()
        .filter_map(|p| {
            let set = managed_rule_set(p.id)?;
            Some((
                PolicyRef {
                    id: p.id,
                    name: p.name.to_owned(),
                },
                set,
            ))
        })
        .collect();
    Engine::new(policies)
}
