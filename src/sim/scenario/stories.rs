//! The demo's story: ordinary days of sign-ins and SSO, and the attacks hidden among them.

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::catalog::{
    AMSTERDAM_VPS, APPS, BUCHAREST, CHROME_MAC, Cast, Client, FIREFOX_WINDOWS, LAGOS,
    PYTHON_REQUESTS, TOR_EXIT, cast,
};
use super::generators::{Gen, app_target, group, rate_limit_violation};

/// The demo's story, oldest first, ending at `now`: ordinary sign-ins and SSO of several
/// users from their usual countries, and among them a brute force with an account lock, an
/// MFA push flood ending in an accepted push, a Super administrator grant followed by an API
/// token creation, a sign-in from a new country after days of sign-ins from the usual one,
/// a sign-in through an anonymizing proxy, and every one of the 18 hook event types.
pub fn demo_scenario(now: DateTime<Utc>) -> Vec<Value> {
    let mut g = Gen {
        rng: StdRng::from_rng(&mut rand::rng()),
    };
    let c = cast();
    let mut events = Vec::new();
    ordinary_day(&mut g, &c, now, &mut events);
    new_country(&mut g, &c, now, &mut events);
    brute_force(&mut g, &c, now, &mut events);
    push_flood(&mut g, &c, now, &mut events);
    privilege_escalation(&mut g, &c, now, &mut events);
    admin_chores(&mut g, &c, now, &mut events);
    events.push(rate_limit_violation(&mut g, now - Duration::minutes(33)));
    let tor = Client::new("203.0.113.66", TOR_EXIT, FIREFOX_WINDOWS);
    events.push(g.session_start(now - Duration::minutes(8), &c.bob, &tor, None));
    events.sort_by(|a, b| a["published"].as_str().cmp(&b["published"].as_str()));
    events
}

fn ordinary_day(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let people = [
        &c.bob, &c.carol, &c.dave, &c.erin, &c.grace, &c.henry, &c.frank,
    ];
    for (i, person) in people.into_iter().enumerate() {
        let start = now - Duration::minutes(120 - 9 * i as i64);
        out.push(g.session_start(start, person, &person.usual(), None));
        out.push(g.mfa_push(start + Duration::seconds(14), person, &person.usual(), None));
        for (j, app) in APPS.iter().enumerate().take(2 + i % 3) {
            let at = start + Duration::minutes(3 + 11 * j as i64);
            out.push(g.sso(at, person, &person.usual(), app));
        }
    }
}

/// Alice signs in from San Francisco every morning, then from Bucharest 40 minutes after
/// her last San Francisco sign-in (a new country, and impossible travel).
fn new_country(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let alice = &c.alice;
    for day in (1..=6).rev() {
        let at = now - Duration::days(day) - Duration::minutes(37);
        out.push(g.session_start(at, alice, &alice.usual(), None));
        out.push(g.sso(at + Duration::minutes(2), alice, &alice.usual(), &APPS[0]));
    }
    out.push(g.session_start(now - Duration::minutes(52), alice, &alice.usual(), None));
    let abroad = Client::new("198.51.100.23", BUCHAREST, CHROME_MAC);
    let at = now - Duration::minutes(12);
    out.push(g.session_start(at, alice, &abroad, None));
    out.push(g.mfa_push(at + Duration::seconds(20), alice, &abroad, None));
    out.push(g.sso(at + Duration::minutes(1), alice, &abroad, &APPS[2]));
}

/// 27 wrong passwords for Carol from one VPS in nine minutes, then Okta locks her account.
pub(super) fn brute_force(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let attacker = Client::new("198.51.100.77", AMSTERDAM_VPS, PYTHON_REQUESTS);
    let start = now - Duration::minutes(45);
    for i in 0..27 {
        let at = start + Duration::seconds(20 * i);
        out.push(g.session_start(at, &c.carol, &attacker, Some("INVALID_CREDENTIALS")));
    }
    let spec = (
        "user.account.lock",
        Some("core.user_auth.account_locked"),
        "Max sign in attempts exceeded",
    );
    let at = start + Duration::seconds(20 * 27);
    let mut lock = g.base(at, spec, c.carol.actor(), &attacker, "/idp/idx/identify");
    lock["outcome"] = json!({ "result": "FAILURE", "reason": "LOCKED_OUT" });
    lock["severity"] = json!("WARN");
    lock["target"] = json!([c.carol.target()]);
    out.push(lock);
}

/// Dave's password is known: seven rejected Okta Verify pushes in four minutes, then he
/// accepts one and the attacker's session starts.
fn push_flood(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let attacker = Client::new("198.51.100.140", LAGOS, CHROME_MAC);
    let start = now - Duration::minutes(25);
    for i in 0..7 {
        let at = start + Duration::seconds(35 * i);
        out.push(g.mfa_push(
            at,
            &c.dave,
            &attacker,
            Some("User rejected Okta push verify"),
        ));
    }
    let accepted = start + Duration::seconds(35 * 7 + 10);
    out.push(g.mfa_push(accepted, &c.dave, &attacker, None));
    out.push(g.session_start(accepted + Duration::seconds(2), &c.dave, &attacker, None));
    out.push(g.sso(
        accepted + Duration::seconds(40),
        &c.dave,
        &attacker,
        &APPS[1],
    ));
}

/// Frank grants Erin Super administrator; Erin creates an API token minutes later.
pub(super) fn privilege_escalation(
    g: &mut Gen,
    c: &Cast,
    now: DateTime<Utc>,
    out: &mut Vec<Value>,
) {
    let spec = (
        "user.account.privilege.grant",
        Some("core.user.admin_privilege.granted"),
        "Grant user privilege",
    );
    let at = now - Duration::minutes(18);
    let mut grant = g.admin(at, spec, &c.frank, json!([c.erin.target()]));
    grant["debugContext"]["debugData"]["privilegeGranted"] = json!("Super administrator");
    out.push(grant);

    let spec = (
        "system.api_token.create",
        Some("api.token.create"),
        "Create API token",
    );
    let token = json!([{ "id": g.token("00T", 17), "type": "Token", "alternateId": "unknown", "displayName": "ci-deploy", "detailEntry": null }]);
    let mut created = g.admin(at + Duration::minutes(6), spec, &c.erin, token);
    created["debugContext"]["debugData"]["requestUri"] = json!("/api/internal/tokens");
    out.push(created);
}

/// The rest of the 18 types: onboarding, offboarding and helpdesk work by Frank and users.
fn admin_chores(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let t = |minutes: i64| now - Duration::minutes(minutes);
    let frank = &c.frank;
    let grace = json!([c.grace.target()]);
    let henry = json!([c.henry.target()]);
    out.push(g.admin(
        t(100),
        (
            "user.lifecycle.create",
            Some("core.user.config.user_creation.success"),
            "Create Okta user",
        ),
        frank,
        grace.clone(),
    ));
    out.push(g.admin(
        t(99),
        (
            "user.lifecycle.activate",
            Some("core.user.config.user_activated"),
            "Activate Okta user",
        ),
        frank,
        grace.clone(),
    ));
    let engineering = json!([
        c.grace.target(),
        group("00g1eng4Pq5Rs6Tu0h8", "Engineering")
    ]);
    out.push(g.admin(
        t(98),
        (
            "group.user_membership.add",
            Some("core.user_group_member.user_add"),
            "Add user to group membership",
        ),
        frank,
        engineering,
    ));
    let slack = json!([app_target(&APPS[1]), c.grace.target()]);
    out.push(g.admin(
        t(97),
        (
            "application.user_membership.add",
            Some("app.generic.provision.assign_user_to_app"),
            "Add user to application membership",
        ),
        frank,
        slack,
    ));
    let mut update = g.base(
        t(90),
        (
            "user.account.update_password",
            Some("core.user.config.password_update.success"),
            "User update password for Okta",
        ),
        c.grace.actor(),
        &c.grace.usual(),
        "/idp/myaccount/password",
    );
    update["target"] = grace;
    out.push(update);
    out.push(g.admin(
        t(80),
        (
            "user.lifecycle.deactivate",
            Some("core.user.config.user_deactivated"),
            "Deactivate Okta user",
        ),
        frank,
        json!([c.olivia.target()]),
    ));
    out.push(g.admin(
        t(70),
        (
            "user.lifecycle.suspend",
            Some("core.user.config.user_status.suspended"),
            "Suspend Okta user",
        ),
        frank,
        henry.clone(),
    ));
    out.push(g.admin(
        t(65),
        (
            "user.lifecycle.unsuspend",
            Some("core.user.config.user_status.unsuspended"),
            "Unsuspend Okta user",
        ),
        frank,
        henry.clone(),
    ));
    out.push(g.admin(
        t(64),
        (
            "user.account.reset_password",
            Some("core.user.config.password_reset"),
            "Fired when the user's Okta password is reset",
        ),
        frank,
        henry.clone(),
    ));
    out.push(g.admin(
        t(63),
        (
            "user.mfa.factor.reset_all",
            Some("core.user.factor.reset_all"),
            "Reset all factors for user",
        ),
        frank,
        henry,
    ));
    let sms = json!([c.erin.target(), { "id": g.token("mbl", 17), "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "Phone", "detailEntry": { "methodTypeUsed": "SMS" } }]);
    let mut removed = g.base(
        t(60),
        (
            "user.mfa.factor.deactivate",
            Some("core.user.factor.deactivate"),
            "Reset factor for user",
        ),
        c.erin.actor(),
        &c.erin.usual(),
        "/idp/myaccount/phones",
    );
    removed["target"] = sms;
    removed["outcome"]["reason"] = json!("User reset SMS_FACTOR factor");
    removed["debugContext"]["debugData"]["factor"] = json!("SMS_FACTOR");
    out.push(removed);
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::sim::scenario::{
        BRUTE_FORCE_USER, MFA_FLOOD_USER, NEW_COUNTRY_USER, PRIVILEGE_GRANTEE, PROXY_USER,
    };

    fn count(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
        events.iter().filter(|e| pred(e)).count()
    }

    #[test]
    fn demo_scenario_covers_the_story() {
        let now = Utc::now();
        let events = demo_scenario(now);
        let uuids: HashSet<&str> = events.iter().filter_map(|e| e["uuid"].as_str()).collect();
        assert_eq!(uuids.len(), events.len());
        let types: HashSet<&str> = events
            .iter()
            .filter_map(|e| e["eventType"].as_str())
            .collect();
        for t in crate::okta::EVENT_TYPES {
            assert!(types.contains(t), "missing {t}");
        }
        let carol = |e: &Value| e["actor"]["alternateId"] == BRUTE_FORCE_USER;
        let failed_logins = count(&events, |e| {
            carol(e)
                && e["eventType"] == "user.session.start"
                && e["outcome"]["reason"] == "INVALID_CREDENTIALS"
        });
        assert!(failed_logins >= 25);
        assert_eq!(
            count(&events, |e| carol(e)
                && e["eventType"] == "user.account.lock"),
            1
        );
        let dave_denied = count(&events, |e| {
            e["actor"]["alternateId"] == MFA_FLOOD_USER
                && e["eventType"] == "user.authentication.auth_via_mfa"
                && e["outcome"]["result"] == "FAILURE"
        });
        assert!(dave_denied >= 6);
        let grant = events
            .iter()
            .find(|e| e["eventType"] == "user.account.privilege.grant")
            .unwrap();
        assert_eq!(
            grant["debugContext"]["debugData"]["privilegeGranted"],
            "Super administrator"
        );
        assert_eq!(grant["target"][0]["alternateId"], PRIVILEGE_GRANTEE);
        let token = events
            .iter()
            .find(|e| e["eventType"] == "system.api_token.create")
            .unwrap();
        assert_eq!(token["actor"]["alternateId"], PRIVILEGE_GRANTEE);
        assert!(
            events
                .iter()
                .any(|e| e["actor"]["alternateId"] == PROXY_USER
                    && e["securityContext"]["isProxy"] == true)
        );
        let alice_countries: HashSet<&str> = events
            .iter()
            .filter(|e| e["actor"]["alternateId"] == NEW_COUNTRY_USER)
            .filter_map(|e| e["client"]["geographicalContext"]["country"].as_str())
            .collect();
        assert_eq!(alice_countries.len(), 2);
        for e in &events {
            assert!(
                e["published"]
                    .as_str()
                    .is_some_and(|p| DateTime::parse_from_rfc3339(p).is_ok())
            );
            assert!(e["client"]["geographicalContext"]["geolocation"]["lat"].is_f64());
            let data = e["debugContext"]["debugData"].as_object().unwrap();
            assert!(
                data.values().all(Value::is_string),
                "debugData values are strings: {e}"
            );
            let parsed: crate::okta::LogEvent = serde_json::from_value(e.clone()).unwrap();
            assert!(!parsed.uuid.is_empty());
        }
        let last = events.last().unwrap()["published"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(last).unwrap() <= now);
    }
}
