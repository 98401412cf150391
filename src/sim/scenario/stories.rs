//! The demo's story: ordinary days of sign-ins and SSO, and the attacks hidden among them.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::catalog::{
    ACCOUNT_LOCK, AMSTERDAM_VPS, API_TOKEN_CREATE, APP_MEMBERSHIP_ADD, APPS, BUCHAREST, CHROME_MAC,
    Cast, Client, FACTOR_DEACTIVATE, FACTORS_RESET_ALL, FIREFOX_WINDOWS, GROUP_MEMBERSHIP_ADD,
    LAGOS, PASSWORD_RESET, PRIVILEGE_GRANT, PYTHON_REQUESTS, TOR_EXIT, USER_ACTIVATE, USER_CREATE,
    USER_DEACTIVATE, USER_SUSPEND, USER_UNSUSPEND, cast,
};
use super::generators::Attempt::{Push, SignIn};
use super::generators::{Gen, app_target, failed, group, oldest_first, rate_limit_violation};

/// A part of a story: adds its events, told with `g` about the cast `c`, up to `now`.
pub(super) type Chapter = fn(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>);

/// The chapters' events, oldest first, with a random source seeded from the OS.
pub(super) fn tell(now: DateTime<Utc>, chapters: &[Chapter]) -> Vec<Value> {
    let mut g = Gen::new();
    let c = cast();
    let mut events = Vec::new();
    for chapter in chapters {
        chapter(&mut g, &c, now, &mut events);
    }
    oldest_first(&mut events);
    events
}

/// The demo's story, oldest first, ending at `now`: ordinary sign-ins and SSO of several
/// users from their usual countries, and among them a brute force with an account lock, an
/// MFA push flood ending in an accepted push, a Super administrator grant followed by an API
/// token creation, a sign-in from a new country after days of sign-ins from the usual one,
/// a sign-in through an anonymizing proxy, and every one of the 18 hook event types.
pub fn demo_scenario(now: DateTime<Utc>) -> Vec<Value> {
    tell(
        now,
        &[
            ordinary_day,
            new_country,
            brute_force,
            push_flood,
            privilege_escalation,
            admin_chores,
            rate_limited_sync,
            proxy_sign_in,
        ],
    )
}

fn ordinary_day(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let people = [
        &c.bob, &c.carol, &c.dave, &c.erin, &c.grace, &c.henry, &c.frank,
    ];
    for (i, person) in people.into_iter().enumerate() {
        let start = now - Duration::minutes(120 - 9 * i as i64);
        let usual = person.usual();
        out.push(g.attempt(SignIn, start, person, &usual, None));
        out.push(g.attempt(Push, start + Duration::seconds(14), person, &usual, None));
        for (j, app) in APPS.iter().enumerate().take(2 + i % 3) {
            let at = start + Duration::minutes(3 + 11 * j as i64);
            out.push(g.sso(at, person, &usual, app));
        }
    }
}

/// Alice signs in from San Francisco every morning, then from Bucharest 40 minutes after
/// her last San Francisco sign-in (a new country, and impossible travel).
fn new_country(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let (alice, home) = (&c.alice, c.alice.usual());
    for day in (1..=6).rev() {
        let at = now - Duration::days(day) - Duration::minutes(37);
        out.push(g.attempt(SignIn, at, alice, &home, None));
        out.push(g.sso(at + Duration::minutes(2), alice, &home, &APPS[0]));
    }
    out.push(g.attempt(SignIn, now - Duration::minutes(52), alice, &home, None));
    let abroad = Client::new("198.51.100.23", BUCHAREST, CHROME_MAC);
    let at = now - Duration::minutes(12);
    out.push(g.attempt(SignIn, at, alice, &abroad, None));
    out.push(g.attempt(Push, at + Duration::seconds(20), alice, &abroad, None));
    out.push(g.sso(at + Duration::minutes(1), alice, &abroad, &APPS[2]));
}

/// 27 wrong passwords for Carol from one VPS in nine minutes, then Okta locks her account.
pub(super) fn brute_force(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let attacker = Client::new("198.51.100.77", AMSTERDAM_VPS, PYTHON_REQUESTS);
    let start = now - Duration::minutes(45);
    for i in 0..27 {
        let at = start + Duration::seconds(20 * i);
        out.push(g.attempt(SignIn, at, &c.carol, &attacker, Some("INVALID_CREDENTIALS")));
    }
    let at = start + Duration::seconds(20 * 27);
    let mut lock = g.base(
        at,
        ACCOUNT_LOCK,
        c.carol.actor(),
        &attacker,
        "/idp/idx/identify",
    );
    failed(&mut lock, "LOCKED_OUT");
    lock["target"] = json!([c.carol.target()]);
    out.push(lock);
}

/// Dave's password is known: seven rejected Okta Verify pushes in four minutes, then he
/// accepts one and the attacker's session starts.
fn push_flood(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let (dave, attacker) = (&c.dave, Client::new("198.51.100.140", LAGOS, CHROME_MAC));
    let start = now - Duration::minutes(25);
    let rejected = Some("User rejected Okta push verify");
    for i in 0..7 {
        let at = start + Duration::seconds(35 * i);
        out.push(g.attempt(Push, at, dave, &attacker, rejected));
    }
    let accepted = start + Duration::seconds(35 * 7 + 10);
    out.push(g.attempt(Push, accepted, dave, &attacker, None));
    out.push(g.attempt(
        SignIn,
        accepted + Duration::seconds(2),
        dave,
        &attacker,
        None,
    ));
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
    let at = now - Duration::minutes(18);
    let mut grant = g.admin(at, PRIVILEGE_GRANT, &c.frank, json!([c.erin.target()]));
    grant["debugContext"]["debugData"]["privilegeGranted"] = json!("Super administrator");
    out.push(grant);

    let token = json!([{ "id": g.token("00T", 17), "type": "Token", "alternateId": "unknown", "displayName": "ci-deploy", "detailEntry": null }]);
    let mut created = g.admin(at + Duration::minutes(6), API_TOKEN_CREATE, &c.erin, token);
    created["debugContext"]["debugData"]["requestUri"] = json!("/api/internal/tokens");
    out.push(created);
}

/// The service account of the HR sync goes over the org's rate limit.
fn rate_limited_sync(g: &mut Gen, _: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    out.push(rate_limit_violation(g, now - Duration::minutes(33)));
}

/// Bob signs in through a Tor exit.
fn proxy_sign_in(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let tor = Client::new("203.0.113.66", TOR_EXIT, FIREFOX_WINDOWS);
    out.push(g.attempt(SignIn, now - Duration::minutes(8), &c.bob, &tor, None));
}

/// The rest of the 18 types: onboarding, offboarding and helpdesk work by Frank and users.
fn admin_chores(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
    let t = |minutes: i64| now - Duration::minutes(minutes);
    let frank = &c.frank;
    let grace = json!([c.grace.target()]);
    let henry = json!([c.henry.target()]);
    out.push(g.admin(t(100), USER_CREATE, frank, grace.clone()));
    out.push(g.admin(t(99), USER_ACTIVATE, frank, grace));
    let engineering = json!([
        c.grace.target(),
        group("00g1eng4Pq5Rs6Tu0h8", "Engineering")
    ]);
    out.push(g.admin(t(98), GROUP_MEMBERSHIP_ADD, frank, engineering));
    let slack = json!([app_target(&APPS[1]), c.grace.target()]);
    out.push(g.admin(t(97), APP_MEMBERSHIP_ADD, frank, slack));
    out.push(g.password_update(t(90), &c.grace));
    out.push(g.admin(t(80), USER_DEACTIVATE, frank, json!([c.olivia.target()])));
    out.push(g.admin(t(70), USER_SUSPEND, frank, henry.clone()));
    out.push(g.admin(t(65), USER_UNSUSPEND, frank, henry.clone()));
    out.push(g.admin(t(64), PASSWORD_RESET, frank, henry.clone()));
    out.push(g.admin(t(63), FACTORS_RESET_ALL, frank, henry));
    let sms = json!({ "id": g.token("mbl", 17), "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "Phone", "detailEntry": { "methodTypeUsed": "SMS" } });
    let mut removed = g.factor_change(t(60), FACTOR_DEACTIVATE, &c.erin, &sms);
    removed["outcome"]["reason"] = json!("User reset SMS_FACTOR factor");
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
