//! A scored corpus: one working day of an org of 50 people (sign-ins, typos, MFA, SSO, a
//! hotspot, help-desk and admin chores) with attack scenarios woven into the same day, run
//! through `okta-ingest rules test` (the managed policies). Every scenario must be found and
//! the benign part must raise nothing at WARNING or above.
//!
//! Events follow real LogEvent shapes (Okta's System Log docs, the anchors' test cases):
//! push rejections as `auth_via_mfa` FAILURE with factor OKTA_VERIFY_PUSH, password typos as
//! FAILURE with PASSWORD_AS_FACTOR, `externalSessionId` per session, `dtHash` per browser.

use std::collections::{BTreeMap, BTreeSet};

use okta_ingest::rules_cli;
use serde_json::{Value, json};

/// 2026-03-02 (a Monday) 00:00 UTC.
const DAY_MS: i64 = 1_772_409_600_000;
const MIN: i64 = 60_000;

/// Deterministic xorshift: the same corpus on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone)]
struct Person {
    id: String,
    login: String,
    name: String,
    ip: String,
    asn: u64,
    isp: &'static str,
    city: &'static str,
    state: &'static str,
    lat: f64,
    lon: f64,
    os: &'static str,
    browser: &'static str,
    ua: &'static str,
    dt_hash: String,
}

const LAPTOPS: [(&str, &str, &str); 3] = [
    (
        "Mac OS X",
        "CHROME",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    ),
    (
        "Windows 10",
        "EDGE",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    ),
    (
        "Mac OS X",
        "SAFARI",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    ),
];

const APPS: [&str; 8] = [
    "Slack",
    "Google Workspace",
    "Jira",
    "Confluence",
    "GitHub",
    "Zoom",
    "Salesforce",
    "Workday",
];

fn people(rng: &mut Rng) -> Vec<Person> {
    (0..50)
        .map(|i| {
            let (os, browser, ua) = LAPTOPS[i % 3];
            // 35 in the Austin office behind one NAT, 15 remote on home broadband.
            let (ip, asn, isp, city, state, lat, lon) = if i < 35 {
                (
                    "198.51.100.10".to_owned(),
                    7922,
                    "Comcast",
                    "Austin",
                    "Texas",
                    30.27,
                    -97.74,
                )
            } else {
                (
                    format!("73.{}.{}.{}", 10 + i, rng.below(250), 1 + rng.below(250)),
                    7018,
                    "AT&T",
                    "Denver",
                    "Colorado",
                    39.74,
                    -104.99,
                )
            };
            Person {
                id: format!("00u{i:04}corp"),
                login: format!("user{i:02}@acme.example"),
                name: format!("User {i:02}"),
                ip,
                asn,
                isp,
                city,
                state,
                lat,
                lon,
                os,
                browser,
                ua,
                dt_hash: format!("{:016x}", rng.next()),
            }
        })
        .collect()
}

/// Builds LogEvents; `tag` (benign | scenario name) prefixes every uuid.
struct Log {
    events: Vec<(i64, Value)>,
    seq: usize,
}

impl Log {
    fn push(&mut self, tag: &str, at: i64, mut event: Value) {
        self.seq += 1;
        event["uuid"] = json!(format!("{tag}:{:05}", self.seq));
        event["published"] = json!(
            chrono::DateTime::from_timestamp_millis(at)
                .expect("time")
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        self.events.push((at, event));
    }
}

fn base(p: &Person, event_type: &str, result: &str, session: &str) -> Value {
    json!({
        "eventType": event_type,
        "version": "0",
        "severity": if result == "SUCCESS" { "INFO" } else { "WARN" },
        "displayMessage": event_type,
        "actor": {"id": p.id, "type": "User", "alternateId": p.login, "displayName": p.name},
        "client": {
            "ipAddress": p.ip, "device": "Computer", "zone": "null",
            "userAgent": {"rawUserAgent": p.ua, "os": p.os, "browser": p.browser},
            "geographicalContext": {"city": p.city, "state": p.state, "country": "United States",
                "postalCode": "78701", "geolocation": {"lat": p.lat, "lon": p.lon}}
        },
        "outcome": {"result": result},
        "authenticationContext": {"authenticationStep": 0, "externalSessionId": session},
        "securityContext": {"asNumber": p.asn, "asOrg": p.isp, "isp": p.isp, "domain": "example.net", "isProxy": false},
        "debugContext": {"debugData": {"dtHash": p.dt_hash, "threatSuspected": "false",
            "requestUri": "/idp/idx/identify",
            "behaviors": "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}"}},
        "transaction": {"type": "WEB", "id": "tx"},
        "request": {"ipChain": [{"ip": p.ip, "version": "V4"}]},
        "target": [{"id": "lae1password", "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "Password"}]
    })
}

fn with(mut event: Value, patch: Value) -> Value {
    crate::support::merge(&mut event, patch);
    event
}

fn mfa(p: &Person, result: &str, factor: &str, reason: Option<&str>, session: &str) -> Value {
    with(
        base(p, "user.authentication.auth_via_mfa", result, session),
        json!({"outcome": {"reason": reason}, "legacyEventType": if result == "SUCCESS" {
                "core.user.factor.attempt_success" } else { "core.user.factor.attempt_fail" },
            "debugContext": {"debugData": {"factor": factor}},
            "authenticationContext": {"authenticationProvider": "FACTOR_PROVIDER"}}),
    )
}

fn sso(p: &Person, app: &str, session: &str) -> Value {
    with(
        base(p, "user.authentication.sso", "SUCCESS", session),
        json!({"target": [{"id": format!("0oa{app}"), "type": "AppInstance", "alternateId": app, "displayName": app}]}),
    )
}

fn admin_action(admin: &Person, event_type: &str, user: &Person, extra: Value) -> Value {
    let mut ev = with(
        base(admin, event_type, "SUCCESS", "idxadmin"),
        json!({"target": [{"id": user.id, "type": "User", "alternateId": user.login, "displayName": user.name}]}),
    );
    crate::support::merge(&mut ev, extra);
    ev
}

/// A sign-in: a few people mistype the password first, everyone answers a push.
fn sign_in(log: &mut Log, rng: &mut Rng, p: &Person, at: i64, session: &str) -> i64 {
    let mut t = at;
    if rng.chance(15) {
        for _ in 0..(1 + rng.below(2)) {
            let typo = mfa(
                p,
                "FAILURE",
                "PASSWORD_AS_FACTOR",
                Some("INVALID_CREDENTIALS"),
                "unknown",
            );
            log.push("benign", t, typo);
            t += 20_000;
        }
    }
    let password = mfa(p, "SUCCESS", "PASSWORD_AS_FACTOR", None, "unknown");
    log.push("benign", t, password);
    if rng.chance(4) {
        // One push rejected by mistake (the phone was in a pocket), then approved.
        let reject = mfa(
            p,
            "FAILURE",
            "OKTA_VERIFY_PUSH",
            Some("User rejected Okta push verify"),
            "unknown",
        );
        log.push("benign", t + 10_000, reject);
        t += 30_000;
    }
    log.push(
        "benign",
        t + 15_000,
        mfa(p, "SUCCESS", "OKTA_VERIFY_PUSH", None, "unknown"),
    );
    let start = with(
        base(p, "user.session.start", "SUCCESS", session),
        json!({"legacyEventType": "core.user_auth.login_success"}),
    );
    log.push("benign", t + 20_000, start);
    t + 20_000
}

fn benign_day(log: &mut Log, rng: &mut Rng, people: &[Person]) {
    for (i, p) in people.iter().enumerate() {
        let session = format!("idx{i:02}morning");
        let arrive = DAY_MS + 13 * 60 * MIN + rng.below(120) as i64 * MIN; // 07:00–09:00 CST
        let mut t = sign_in(log, rng, p, arrive, &session);
        for _ in 0..(8 + rng.below(8)) {
            t += (10 + rng.below(35) as i64) * MIN;
            let app = APPS[rng.below(APPS.len() as u64) as usize];
            log.push("benign", t, sso(p, app, &session));
        }
        if i % 10 == 3 {
            // Off to a café: the laptop joins the phone's hotspot on the same carrier.
            let mut moved = p.clone();
            moved.ip = format!("198.51.100.{}", 150 + i);
            t += 20 * MIN;
            log.push("benign", t, sso(&moved, "Slack", &session));
        }
        if i % 7 == 0 {
            // Evening sign-in from home on the same laptop.
            let mut home = p.clone();
            home.ip = format!("73.200.{i}.9");
            home.asn = 7018;
            home.isp = "AT&T";
            sign_in(
                log,
                rng,
                &home,
                DAY_MS + 26 * 60 * MIN,
                &format!("idx{i:02}evening"),
            );
        }
    }
    chores(log, people);
}

/// What admins and the help desk do on an ordinary day.
fn chores(log: &mut Log, people: &[Person]) {
    let (admin, helpdesk) = (&people[0], &people[1]);
    let at = |h: i64, m: i64| DAY_MS + h * 60 * MIN + m * MIN;
    // One person forgets their password: lockout, help-desk reset, new password.
    let locked = &people[12];
    for k in 0..5 {
        let fail = with(
            base(locked, "user.session.start", "FAILURE", "unknown"),
            json!({"outcome": {"reason": "INVALID_CREDENTIALS"}}),
        );
        log.push("benign", at(15, 2 + k), fail);
    }
    let lock = with(
        base(locked, "user.account.lock", "FAILURE", "unknown"),
        json!({"outcome": {"reason": "LOCKED_OUT"}}),
    );
    log.push("benign", at(15, 7), lock);
    log.push(
        "benign",
        at(15, 20),
        admin_action(helpdesk, "user.account.reset_password", locked, json!({})),
    );
    let update = with(
        base(locked, "user.account.update_password", "SUCCESS", "idx12b"),
        json!({"target": [{"id": locked.id, "type": "User", "alternateId": locked.login}]}),
    );
    log.push("benign", at(15, 25), update);
    // A new hire: created, activated, put in their team's group and apps.
    let hire = Person {
        id: "00unewhire".into(),
        login: "new.hire@acme.example".into(),
        name: "New Hire".into(),
        ..people[2].clone()
    };
    log.push(
        "benign",
        at(16, 0),
        admin_action(admin, "user.lifecycle.create", &hire, json!({})),
    );
    log.push(
        "benign",
        at(16, 1),
        admin_action(admin, "user.lifecycle.activate", &hire, json!({})),
    );
    let group = json!({"target": [{"id": hire.id, "type": "User", "alternateId": hire.login},
        {"id": "00gsales", "type": "UserGroup", "alternateId": "Sales", "displayName": "Sales"}]});
    log.push(
        "benign",
        at(16, 2),
        admin_action(admin, "group.user_membership.add", &hire, group),
    );
    let app = json!({"target": [{"id": hire.id, "type": "User", "alternateId": hire.login},
        {"id": "0oaslack", "type": "AppInstance", "alternateId": "Slack", "displayName": "Slack"}]});
    log.push(
        "benign",
        at(16, 3),
        admin_action(admin, "application.user_membership.add", &hire, app),
    );
    // A leaver is deactivated; someone on leave is suspended, then back a week later.
    log.push(
        "benign",
        at(17, 0),
        admin_action(admin, "user.lifecycle.deactivate", &people[40], json!({})),
    );
    log.push(
        "benign",
        at(17, 5),
        admin_action(admin, "user.lifecycle.suspend", &people[41], json!({})),
    );
    // Someone got a new phone: removes the old Okta Verify enrolment.
    let own = &people[20];
    let factor = with(
        admin_action(own, "user.mfa.factor.deactivate", own, json!({})),
        json!({"outcome": {"reason": "User reset OKTA_VERIFY_PUSH factor"}}),
    );
    log.push("benign", at(18, 30), factor);
    // An admin mints a token for a new integration; the help desk resets the factors of
    // someone who lost their phone (no password reset involved).
    let token = with(
        base(admin, "system.api_token.create", "SUCCESS", "idxadmin"),
        json!({"target": [{"id": "00Tci", "type": "Token", "displayName": "hr-sync"}]}),
    );
    log.push("benign", at(18, 0), token);
    log.push(
        "benign",
        at(18, 10),
        admin_action(
            helpdesk,
            "user.mfa.factor.reset_all",
            &people[21],
            json!({}),
        ),
    );
    // A busy integration trips a rate limit once.
    let limit = with(
        base(
            admin,
            "system.org.rate_limit.violation",
            "SUCCESS",
            "unknown",
        ),
        json!({"actor": {"type": "PublicClientApp", "alternateId": "hr-sync"},
            "debugContext": {"debugData": {"requestUri": "/api/v1/users"}}}),
    );
    log.push("benign", at(19, 0), limit);
}

fn attacker(login: &str, ip: &str, asn: u64, org: &'static str, ua: &'static str) -> Person {
    Person {
        id: "unknown".into(),
        login: login.into(),
        name: "unknown".into(),
        ip: ip.into(),
        asn,
        isp: org,
        city: "Bucharest",
        state: "Bucuresti",
        lat: 44.43,
        lon: 26.1,
        os: "Linux",
        browser: "CHROME",
        ua,
        dt_hash: "attackerdt".into(),
    }
}

const LINUX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0 Safari/537.36";

fn foreign(mut event: Value) -> Value {
    event["client"]["geographicalContext"] = json!({"city": "Bucharest", "country": "Romania",
        "geolocation": {"lat": 44.43, "lon": 26.1}});
    event
}

fn failed(p: &Person) -> Value {
    with(
        foreign(base(p, "user.session.start", "FAILURE", "unknown")),
        json!({"outcome": {"reason": "INVALID_CREDENTIALS"}, "legacyEventType": "core.user_auth.login_failed"}),
    )
}

/// Each scenario: its name, the rules any of which finding it counts as found.
fn attacks(log: &mut Log, people: &[Person]) -> Vec<(&'static str, Vec<&'static str>)> {
    let at = |h: i64, m: i64| DAY_MS + h * 60 * MIN + m * MIN;
    let mut scenarios = Vec::new();

    // 1. One IP sprays a common password over twenty accounts.
    for (k, p) in people.iter().take(20).enumerate() {
        let mut a = attacker(
            &p.login,
            "45.155.205.233",
            48693,
            "Rices Privately",
            LINUX_UA,
        );
        a.id = p.id.clone();
        log.push("spray-one-ip", at(10, 0) + k as i64 * 25_000, failed(&a));
    }
    scenarios.push(("spray-one-ip", vec!["Okta Password Spraying From One IP"]));

    // 2. Spraying spread over a proxy pool: 30 attempts, 15 users, 10 IPs in 12 minutes.
    for k in 0..30 {
        let p = &people[20 + k % 15];
        let mut a = attacker(
            &p.login,
            &format!("91.92.{}.{}", 100 + k % 10, 7 + k),
            9009,
            "M247",
            LINUX_UA,
        );
        a.id = p.id.clone();
        log.push("spray-many-ips", at(11, 0) + k as i64 * 24_000, failed(&a));
    }
    scenarios.push((
        "spray-many-ips",
        vec!["Okta Password Spraying From Many IPs"],
    ));

    // 3. Brute force against one account after hours, then the password works.
    let victim = &people[5];
    let mut a = attacker(&victim.login, "185.100.87.41", 200651, "Flokinet", LINUX_UA);
    a.id = victim.id.clone();
    for k in 0..12 {
        log.push("brute-force", at(21, 0) + k * 40_000, failed(&a));
    }
    let ok = foreign(base(&a, "user.session.start", "SUCCESS", "idxbrute"));
    log.push("brute-force", at(21, 9), ok);
    scenarios.push((
        "brute-force",
        vec![
            "Okta Brute Force Against a User",
            "Okta Successful Sign-In After Brute Force",
        ],
    ));

    // 4. Push bombing: four rejected pushes in three minutes, then the tired user approves.
    let tired = &people[8];
    for k in 0..4 {
        let reject = mfa(
            tired,
            "FAILURE",
            "OKTA_VERIFY_PUSH",
            Some("User rejected Okta push verify"),
            "unknown",
        );
        log.push("push-bombing", at(20, 0) + k * 45_000, foreign(reject));
    }
    let approve = mfa(tired, "SUCCESS", "OKTA_VERIFY_PUSH", None, "unknown");
    log.push("push-bombing", at(20, 4), foreign(approve));
    scenarios.push((
        "push-bombing",
        vec![
            "Okta MFA Push Fatigue",
            "Okta MFA Denials Followed by Success",
        ],
    ));

    // 5. A stolen session cookie replayed from another machine and network.
    let owner = &people[9];
    let mut thief = attacker(
        &owner.login,
        "179.43.128.7",
        51852,
        "Private Layer",
        LINUX_UA,
    );
    thief.id = owner.id.clone();
    thief.dt_hash = owner.dt_hash.clone();
    let replay = foreign(sso(&thief, "Salesforce", "idx09morning"));
    log.push("stolen-session", at(21, 30), replay);
    scenarios.push((
        "stolen-session",
        vec![
            "Okta Session Used From a New IP and Device",
            "Okta Impossible Travel",
        ],
    ));

    // 6. The same account signs in from Romania an hour after Austin.
    let traveller = &people[10];
    let mut far = traveller.clone();
    far.ip = "86.120.4.4".into();
    far.asn = 8708;
    far.isp = "RCS & RDS";
    let start = foreign(base(&far, "user.session.start", "SUCCESS", "idxfar"));
    log.push("impossible-travel", at(16, 30), start);
    scenarios.push((
        "impossible-travel",
        vec!["Okta Impossible Travel", "Okta Sign-In From a New Country"],
    ));

    // 7. ThreatInsight flags a credential-stuffing source.
    let mut flagged = failed(&attacker(
        &people[11].login,
        "194.26.29.10",
        57523,
        "Chang Way",
        LINUX_UA,
    ));
    flagged["debugContext"]["debugData"]["threatSuspected"] = json!("true");
    log.push("threatinsight", at(13, 0), flagged);
    scenarios.push((
        "threatinsight",
        vec!["Okta Sign-In Flagged by ThreatInsight"],
    ));

    // 8. A script tries a password with python-requests.
    let script = failed(&attacker(
        &people[13].login,
        "5.188.62.140",
        49505,
        "Selectel",
        "python-requests/2.31.0",
    ));
    log.push("scripted-client", at(13, 30), script);
    scenarios.push((
        "scripted-client",
        vec!["Okta Sign-In With a Scripted User Agent"],
    ));

    // 9. A compromised admin grants Super Administrator to a sleeper account.
    let grant = with(
        admin_action(
            &people[0],
            "user.account.privilege.grant",
            &people[30],
            json!({}),
        ),
        json!({"debugContext": {"debugData": {"privilegeGranted": "Super administrator"}}}),
    );
    log.push("super-admin-grant", at(22, 0), grant);
    scenarios.push((
        "super-admin-grant",
        vec!["Okta Super Administrator Role Granted"],
    ));

    // 10. An API token minted through Tor.
    let mut token = with(
        base(&people[0], "system.api_token.create", "SUCCESS", "idxadmin"),
        json!({"target": [{"id": "00Tabc", "type": "Token", "displayName": "backup-sync"}],
            "securityContext": {"isProxy": true, "asOrg": "Tor exit"}}),
    );
    token["client"]["ipAddress"] = json!("185.220.101.4");
    log.push("api-token-via-tor", at(22, 30), token);
    scenarios.push((
        "api-token-via-tor",
        vec!["Okta API Token Created From an Anonymizing Proxy"],
    ));

    // 11. Help-desk social engineering: password reset, then all factors reset.
    let target = &people[31];
    log.push(
        "helpdesk-takeover",
        at(23, 0),
        admin_action(&people[1], "user.account.reset_password", target, json!({})),
    );
    log.push(
        "helpdesk-takeover",
        at(23, 10),
        admin_action(&people[1], "user.mfa.factor.reset_all", target, json!({})),
    );
    scenarios.push((
        "helpdesk-takeover",
        vec![
            "Okta MFA Removed After Password Reset",
            "Okta All MFA Factors Reset",
        ],
    ));

    // 12. Six accounts locked out within twenty minutes.
    for k in 0..6 {
        let lock = with(
            base(&people[42 + k], "user.account.lock", "FAILURE", "unknown"),
            json!({"outcome": {"reason": "LOCKED_OUT"}}),
        );
        log.push(
            "lockout-storm",
            at(14, 0) + k as i64 * 3 * MIN,
            foreign(lock),
        );
    }
    scenarios.push(("lockout-storm", vec!["Okta Lockout Storm"]));

    // 13. Stuffing at volume trips the authentication endpoint's rate limit.
    let limit = with(
        base(
            &people[0],
            "system.org.rate_limit.violation",
            "SUCCESS",
            "unknown",
        ),
        json!({"actor": {"type": "PublicClientApp", "alternateId": "unknown"},
            "client": {"ipAddress": "45.155.205.233"},
            "debugContext": {"debugData": {"requestUri": "/api/v1/authn"}}}),
    );
    log.push("authn-rate-limit", at(10, 20), limit);
    scenarios.push((
        "authn-rate-limit",
        vec!["Okta Rate Limit Violation on Authentication Endpoints"],
    ));

    // 14. A compromised admin strips MFA from six users.
    for k in 0..6 {
        let removal = admin_action(
            &people[0],
            "user.mfa.factor.deactivate",
            &people[14 + k],
            json!({}),
        );
        log.push("mass-mfa-removal", at(23, 30) + k as i64 * MIN, removal);
    }
    scenarios.push((
        "mass-mfa-removal",
        vec!["Okta MFA Factors Removed From Many Users"],
    ));

    // 15. A sign-in Okta itself rates HIGH risk: new device, new place, anomalous.
    let mut risky = people[33].clone();
    risky.ip = "102.89.34.7".into();
    risky.asn = 29465;
    risky.isp = "MTN Nigeria";
    let mut start = foreign(base(&risky, "user.session.start", "SUCCESS", "idxrisky"));
    start["debugContext"]["debugData"]["risk"] =
        json!("{reasons=Anomalous Device, Anomalous Location, level=HIGH}");
    start["debugContext"]["debugData"]["behaviors"] = json!(
        "{New Geo-Location=POSITIVE, New Device=POSITIVE, New IP=POSITIVE, New State=POSITIVE, New Country=POSITIVE, Velocity=POSITIVE, New City=POSITIVE}"
    );
    log.push("okta-high-risk", at(22, 45), start);
    scenarios.push((
        "okta-high-risk",
        vec![
            "Okta Sign-In Rated High Risk by Okta",
            "Okta Sign-In With a New Device From a New Place",
        ],
    ));
    scenarios
}

fn rank(priority: &str) -> u8 {
    match priority {
        "emergency" => 0,
        "alert" => 1,
        "critical" => 2,
        "error" => 3,
        "warning" => 4,
        "notice" => 5,
        "informational" => 6,
        _ => 7,
    }
}

#[test]
fn a_day_of_benign_traffic_and_attacks_scores_clean() {
    let mut rng = Rng(0x5eed_0c7a);
    let people = people(&mut rng);
    let mut log = Log {
        events: Vec::new(),
        seq: 0,
    };
    benign_day(&mut log, &mut rng, &people);
    let scenarios = attacks(&mut log, &people);
    log.events.sort_by_key(|(at, _)| *at);
    let ndjson: String = log.events.iter().map(|(_, e)| format!("{e}\n")).collect();
    let dir = std::env::temp_dir().join(format!("detect-corpus-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("day.ndjson");
    std::fs::write(&path, &ndjson).expect("write corpus");

    let mut out = Vec::new();
    rules_cli::test(&path, &[], &mut out).expect("rules test runs");
    let detections: Vec<Value> = String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();

    let tag = |d: &Value| {
        d["okta_event_uuid"]
            .as_str()
            .and_then(|u| u.split_once(':'))
            .map_or(String::new(), |(t, _)| t.to_owned())
    };
    let mut benign_by_priority: BTreeMap<String, usize> = BTreeMap::new();
    let mut loud_benign = Vec::new();
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in &detections {
        let (rule, priority) = (
            d["rule"].as_str().unwrap_or(""),
            d["priority"].as_str().unwrap_or(""),
        );
        match tag(d).as_str() {
            "benign" => {
                *benign_by_priority.entry(priority.to_owned()).or_default() += 1;
                if rank(priority) <= rank("warning") {
                    loud_benign.push(format!("{rule} ({priority}): {}", d["output"]));
                }
            }
            scenario => {
                found
                    .entry(scenario.to_owned())
                    .or_default()
                    .insert(rule.to_owned());
            }
        }
    }
    let benign_events = log
        .events
        .iter()
        .filter(|(_, e)| e["uuid"].as_str().is_some_and(|u| u.starts_with("benign:")))
        .count();
    let missed: Vec<_> = scenarios
        .iter()
        .filter(|(name, rules)| {
            !found
                .get(*name)
                .is_some_and(|hit| rules.iter().any(|r| hit.contains(*r)))
        })
        .map(|(name, _)| *name)
        .collect();
    eprintln!(
        "corpus: {} events ({benign_events} benign, 50 users), {} scenarios, {} found; \
         benign detections by priority {benign_by_priority:?}; scenario detections {found:?}",
        log.events.len(),
        scenarios.len(),
        scenarios.len() - missed.len()
    );
    assert!(
        missed.is_empty(),
        "scenarios not found: {missed:?} (found {found:?})"
    );
    assert!(
        loud_benign.is_empty(),
        "WARNING or higher on benign traffic:\n{}",
        loud_benign.join("\n")
    );
    assert!(
        benign_events > 600,
        "a day of 50 people is more than {benign_events} events"
    );
}
