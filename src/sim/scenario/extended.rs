//! Events of the extended subscription's types, and the stories they tell: an attacker who
//! signed in through an anonymizing proxy adds an identity provider and an Org2Org app,
//! weakens the MFA policy and gives a group admin rights; a help desk removes a user's only
//! factor and nobody re-enrols it; a user reports a sign-in that was not theirs. Benign work
//! of the same types sits beside it (a self-service factor swap, a token revoked, an app
//! updated). Shapes follow Okta's catalog entries for each type (targets `PolicyEntity`,
//! `PolicyRule`, `IdentityProvider`, `AppInstance`, `UserGroup`, `ResourceSet`, `Token`,
//! `AuthenticatorEnrollment`; string `debugData`).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::catalog::{
    API_TOKEN_REVOKE, APP_ACTIVATE, APP_CREATE, APP_UPDATE, APPS, Cast, Client, EventKind,
    FACTOR_ACTIVATE, FACTOR_DEACTIVATE, FACTOR_SUSPEND, FIREFOX_WINDOWS, GROUP_PRIVILEGE_GRANT,
    IDP_ACTIVATE, IDP_CREATE, OKTA_VERIFY_DENY_PUSH, POLICY_RULE_DEACTIVATE, POLICY_RULE_UPDATE,
    Person, RESOURCE_SET_BINDING_ADD, SUSPICIOUS_ACTIVITY_REPORT, TOR_EXIT,
};
use super::generators::Attempt::SignIn;
use super::generators::{Gen, group};
use super::stories::tell;

/// The user whose only factor the help desk removes and who signs in 14 hours later
/// without having enrolled a new one.
pub const UNENROLLED_USER: &str = "henry.adams@acme.example";
/// The account an attacker signs in as through Tor before changing the org's trust.
pub use super::catalog::PROXY_USER as PROXY_ADMIN;

/// The extended types' story, oldest first, ending at `now` (the first events are 15 hours
/// old, for the 12-hour re-enrolment rule). Includes two `user.mfa.okta_verify.deny_push`
/// events: in the System Log, never delivered (Okta does not let a hook subscribe to them).
pub fn extended_scenario(now: DateTime<Utc>) -> Vec<Value> {
    tell(
        now,
        &[
            proxy_admin_takeover,
            factor_removed_not_reenrolled,
            everyday_changes,
            suspicious_activity_report,
            denied_pushes,
        ],
    )
}

/// Dave rejects two Okta Verify pushes: System Log events a hook cannot subscribe to.
fn denied_pushes(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    for minutes in [6, 5] {
        let at = now - Duration::minutes(minutes);
        let mut deny = g.by_user(
            at,
            OKTA_VERIFY_DENY_PUSH,
            &c.dave,
            "/api/v1/authn/factors/opf/verify",
        );
        deny["outcome"] =
            json!({ "result": "FAILURE", "reason": "User rejected Okta push verify" });
        out.push(deny);
    }
}

/// Bob's session comes through a Tor exit; minutes later "Bob" creates and activates an
/// identity provider and an Org2Org app, turns the MFA rule off and makes a group Super Admin.
fn proxy_admin_takeover(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let tor = Client::new("203.0.113.66", TOR_EXIT, FIREFOX_WINDOWS);
    let t = |minutes: i64| now - Duration::minutes(minutes);
    out.push(g.attempt(SignIn, t(40), &c.bob, &tor, None));
    let idp = idp_target(g, "Acme Partner SSO");
    for (minutes, spec) in [(36, IDP_CREATE), (35, IDP_ACTIVATE)] {
        out.push(admin_from(
            g,
            t(minutes),
            spec,
            &c.bob,
            &tor,
            json!([idp.clone()]),
        ));
    }
    let org2org = json!({ "id": g.token("0oa", 17), "type": "AppInstance", "alternateId": "Okta Org2Org", "displayName": "Okta Org2Org", "detailEntry": { "signOnModeType": "SAML_2_0" } });
    for (minutes, spec) in [(33, APP_CREATE), (32, APP_ACTIVATE)] {
        out.push(admin_from(
            g,
            t(minutes),
            spec,
            &c.bob,
            &tor,
            json!([org2org.clone()]),
        ));
    }
    let (policy, rule) = policy_targets(g, "Default Policy", "OKTA_SIGN_ON", "Require MFA");
    let mut off = admin_from(
        g,
        t(30),
        POLICY_RULE_DEACTIVATE,
        &c.bob,
        &tor,
        json!([policy, rule]),
    );
    off["debugContext"]["debugData"]["policyType"] = json!("OKTA_SIGN_ON");
    out.push(off);
    let mut grant = admin_from(
        g,
        t(28),
        GROUP_PRIVILEGE_GRANT,
        &c.bob,
        &tor,
        json!([group("00g1ita9Zq3Xw7Vb0h8", "IT Contractors")]),
    );
    grant["debugContext"]["debugData"]["privilegeGranted"] = json!("Super administrator");
    out.push(grant);
}

/// Frank removes Henry's only factor for a "lost phone"; 14 hours later Henry signs in with
/// his password alone and opens an app, still without a factor. Grace swaps her phone factor
/// herself and enrols the new one at once.
fn factor_removed_not_reenrolled(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let removed_at = now - Duration::hours(15);
    let verify = enrollment(g, "Okta Verify");
    let targets = json!([c.henry.target(), verify]);
    let mut removed = g.admin(removed_at, FACTOR_DEACTIVATE, &c.frank, targets);
    removed["outcome"]["reason"] = json!("User reset OKTA_VERIFY_PUSH factor");
    removed["debugContext"]["debugData"]["factor"] = json!("OKTA_VERIFY_PUSH");
    out.push(removed);
    let signed_in_at = removed_at + Duration::hours(14);
    let usual = c.henry.usual();
    out.push(g.attempt(SignIn, signed_in_at, &c.henry, &usual, None));
    let app = &APPS[0];
    out.push(g.sso(signed_in_at + Duration::minutes(1), &c.henry, &usual, app));

    let swapped_at = now - Duration::hours(5);
    let phone = enrollment(g, "Phone");
    let mut gone = g.factor_change(swapped_at, FACTOR_DEACTIVATE, &c.grace, &phone);
    gone["outcome"]["reason"] = json!("User reset SMS_FACTOR factor");
    out.push(gone);
    let enrolled_at = swapped_at + Duration::minutes(4);
    out.push(g.factor_change(enrolled_at, FACTOR_ACTIVATE, &c.grace, &phone));
    out.push(g.attempt(
        SignIn,
        swapped_at + Duration::hours(1),
        &c.grace,
        &c.grace.usual(),
        None,
    ));
}

/// Routine administration of the extended types by Frank from his usual place.
fn everyday_changes(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let t = |minutes: i64| now - Duration::minutes(minutes);
    let token = json!([{ "id": g.token("00T", 17), "type": "Token", "alternateId": "unknown", "displayName": "old-ci-deploy", "detailEntry": null }]);
    out.push(g.admin(t(90), API_TOKEN_REVOKE, &c.frank, token));
    let slack = json!([{ "id": "0oa1slck9m4TyRw5b0h8", "type": "AppInstance", "alternateId": "Slack", "displayName": "Slack", "detailEntry": { "signOnModeType": "SAML_2_0" } }]);
    out.push(g.admin(t(80), APP_UPDATE, &c.frank, slack));
    let (policy, rule) = policy_targets(g, "Password policy", "PASSWORD", "Default Rule");
    let mut update = g.admin(t(70), POLICY_RULE_UPDATE, &c.frank, json!([policy, rule]));
    update["debugContext"]["debugData"]["policyType"] = json!("PASSWORD");
    out.push(update);
    let set = json!([
        { "id": g.token("iam", 17), "type": "ResourceSet", "alternateId": "Helpdesk users", "displayName": "Helpdesk users", "detailEntry": null },
        { "id": g.token("cr0", 17), "type": "Role", "alternateId": "Helpdesk password reset", "displayName": "Helpdesk password reset", "detailEntry": null },
        c.grace.target(),
    ]);
    out.push(g.admin(t(60), RESOURCE_SET_BINDING_ADD, &c.frank, set));
    let verify = enrollment(g, "Okta Verify");
    let mut suspended = g.admin(
        t(50),
        FACTOR_SUSPEND,
        &c.frank,
        json!([c.olivia.target(), verify]),
    );
    suspended["outcome"]["reason"] = json!("User suspended SIGNED_NONCE factor");
    out.push(suspended);
}

/// Alice clicks "I don't recognize this" in Okta's new-sign-in email.
fn suspicious_activity_report(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let (at, user) = (now - Duration::minutes(3), &c.alice);
    let mut e = g.by_user(
        at,
        SUSPICIOUS_ACTIVITY_REPORT,
        user,
        "/api/v1/users/report-suspicious-activity",
    );
    e["severity"] = json!("WARN");
    e["target"] = json!([user.target()]);
    let data = &mut e["debugContext"]["debugData"];
    data["suspiciousActivityEventType"] =
        json!("system.email.new_device_notification.sent_message");
    data["suspiciousActivityEventId"] = json!(g.token("", 22));
    data["suspiciousActivityBrowser"] = json!("CHROME");
    data["suspiciousActivityOs"] = json!("Windows 10");
    data["suspiciousActivityClientIp"] = json!("198.51.100.140");
    data["suspiciousActivityLocation"] = json!("Lagos, Lagos, Nigeria");
    data["suspiciousActivityTimestamp"] = json!((at - Duration::minutes(20)).to_rfc3339());
    out.push(e);
}

/// An admin action from wherever `client` is (the admin console of the actor's session).
fn admin_from(
    g: &mut Gen,
    at: DateTime<Utc>,
    spec: EventKind,
    actor: &Person,
    client: &Client,
    targets: Value,
) -> Value {
    let mut e = g.base(at, spec, actor.actor(), client, "/api/v1/internal/admin");
    e["target"] = targets;
    e
}

fn enrollment(g: &mut Gen, name: &str) -> Value {
    json!({ "id": g.token("pfd", 17), "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": name, "detailEntry": null })
}

fn idp_target(g: &mut Gen, name: &str) -> Value {
    json!({ "id": g.token("0oa", 17), "type": "IdentityProvider", "alternateId": name, "displayName": name, "detailEntry": { "IdpType": "SAML2" } })
}

fn policy_targets(g: &mut Gen, policy: &str, kind: &str, rule: &str) -> (Value, Value) {
    (
        json!({ "id": g.token("00p", 17), "type": "PolicyEntity", "alternateId": "unknown", "displayName": policy, "detailEntry": { "policyType": kind } }),
        json!({ "id": g.token("0pr", 17), "type": "PolicyRule", "alternateId": "unknown", "displayName": rule, "detailEntry": { "policyRuleType": kind } }),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::okta::Coverage;
    use crate::sim::event_types::is_event_hook_eligible;

    #[test]
    fn extended_scenario_is_realistic_and_mostly_extended() {
        let events = extended_scenario(Utc::now());
        let types: HashSet<&str> = events
            .iter()
            .filter_map(|e| e["eventType"].as_str())
            .collect();
        let extended_only = types
            .iter()
            .filter(|t| Coverage::Extended.includes(t) && !Coverage::Standard.includes(t))
            .count();
        assert!(extended_only >= 10, "{types:?}");
        assert!(types.contains("user.mfa.okta_verify.deny_push"));
        assert!(!is_event_hook_eligible("user.mfa.okta_verify.deny_push"));
        for e in &events {
            let data = e["debugContext"]["debugData"].as_object().unwrap();
            assert!(data.values().all(Value::is_string), "{e}");
            let parsed: crate::okta::LogEvent = serde_json::from_value(e.clone()).unwrap();
            assert!(!parsed.uuid.is_empty());
        }
    }
}
