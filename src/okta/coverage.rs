//! Data table (event types), plus the one function that says which types an integration's
//! Event Hook subscribes to: [`Coverage::event_types`]. Provisioning, gap fill and baseline
//! learning all ask it, so the hook, the System Log filter and the history read agree.
//!
//! Every type here is marked "event-hook-eligible" in Okta's Event Types catalog (checked
//! against catalog release 2026.08.1; the README's table lists each with the check). Okta
//! refuses a hook that names an ineligible type, so candidates the catalog does not mark
//! (`user.mfa.okta_verify.deny_push`, `security.threat.detected`, `zone.*`,
//! `user.session.impersonation.*`, `system.mfa.factor.deactivate`, `user.mfa.attempt_bypass`,
//! `policy.lifecycle.create|delete|overwrite`, `policy.rule.invalidate|action.execute`) are
//! not here: the detections that want them read the System Log fields of eligible types.

use serde::{Deserialize, Serialize};

/// The 18 event types of the standard subscription (the seed's set, the default).
pub const EVENT_TYPES: [&str; 18] = [
    "application.user_membership.add",
    "group.user_membership.add",
    "system.api_token.create",
    "system.org.rate_limit.violation",
    "user.account.lock",
    "user.account.privilege.grant",
    "user.account.reset_password",
    "user.account.update_password",
    "user.authentication.auth_via_mfa",
    "user.authentication.sso",
    "user.lifecycle.activate",
    "user.lifecycle.create",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.reset_all",
    "user.session.start",
];

/// What the extended subscription adds to the 18 (all Event-Hook-eligible).
pub const EXTENDED_ONLY: [&str; 25] = [
    // Sign-on and password policies, and their rules: weakening MFA or session policy.
    "policy.lifecycle.activate",
    "policy.lifecycle.deactivate",
    "policy.lifecycle.update",
    "policy.rule.activate",
    "policy.rule.add",
    "policy.rule.deactivate",
    "policy.rule.delete",
    "policy.rule.update",
    // Identity providers: a rogue IdP signs anyone in (the 2023 cross-tenant attacks).
    "system.idp.lifecycle.activate",
    "system.idp.lifecycle.create",
    "system.idp.lifecycle.deactivate",
    "system.idp.lifecycle.delete",
    "system.idp.lifecycle.read_client_secret",
    "system.idp.lifecycle.update",
    // Applications (org2org and OIDC apps as persistence).
    "application.lifecycle.activate",
    "application.lifecycle.create",
    "application.lifecycle.deactivate",
    "application.lifecycle.delete",
    "application.lifecycle.update",
    // Admin roles given to groups and through resource sets.
    "group.privilege.grant",
    "iam.resourceset.bindings.add",
    // The user says "that was not me".
    "user.account.report_suspicious_activity_by_enduser",
    // Tokens and factors.
    "system.api_token.revoke",
    "user.mfa.factor.activate",
    "user.mfa.factor.suspend",
];

/// The standard 18 followed by the extended additions.
pub const EXTENDED_EVENT_TYPES: [&str; 43] = concat(EVENT_TYPES, EXTENDED_ONLY);

const fn concat<const A: usize, const B: usize, const C: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; C] {
    assert!(
        A + B == C,
        "the extended list is the standard one plus its additions"
    );
    let mut out = [""; C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = b[j];
        j += 1;
    }
    out
}

/// Which event types an integration's hook subscribes to.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
// Stored as its name; a CHECK constraint keeps it one of these.
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Coverage {
    /// The 18 types the seed subscribed to.
    #[default]
    Standard,
    /// The 18 plus 25 more Event-Hook-eligible types (policies, IdPs, apps, admin roles,
    /// factor enrolment and suspension, token revocation, end-user reports).
    Extended,
}

impl Coverage {
    /// The event types the integration's Event Hook subscribes to, and so the ones gap fill
    /// takes from the System Log and baselines learn from.
    pub fn event_types(&self) -> &'static [&'static str] {
        match self {
            Coverage::Standard => &EVENT_TYPES,
            Coverage::Extended => &EXTENDED_EVENT_TYPES,
        }
    }

    /// Whether the subscription includes `event_type`.
    pub fn includes(&self, event_type: &str) -> bool {
        self.event_types().contains(&event_type)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Coverage::Standard => "standard",
            Coverage::Extended => "extended",
        }
    }
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn extended_is_the_standard_set_plus_distinct_additions() {
        let standard = Coverage::Standard.event_types();
        let extended = Coverage::Extended.event_types();
        assert_eq!(standard.len(), 18);
        assert_eq!(&extended[..18], standard);
        let unique: HashSet<_> = extended.iter().collect();
        assert_eq!(unique.len(), extended.len(), "no type twice");
        assert!(Coverage::Extended.includes("group.privilege.grant"));
        assert!(!Coverage::Standard.includes("group.privilege.grant"));
        assert!(!Coverage::Extended.includes("user.mfa.okta_verify.deny_push"));
    }

    #[test]
    fn names_round_trip() {
        for c in [Coverage::Standard, Coverage::Extended] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(
                serde_json::from_value::<Coverage>(c.as_str().into()).unwrap(),
                c
            );
        }
        assert_eq!(Coverage::default(), Coverage::Standard);
        assert!(serde_json::from_value::<Coverage>("all".into()).is_err());
    }
}
