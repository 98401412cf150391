//! The event builders: one seeded random source and a function per kind of LogEvent.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::catalog::{
    AGENTS, AMSTERDAM_VPS, APP_MEMBERSHIP_ADD, APPS, App, CHICAGO, CHROME_MAC, Client, EventKind,
    GROUP_MEMBERSHIP_ADD, MFA_PUSH, MFA_PUSH_FAILED, PASSWORD_RESET, PASSWORD_UPDATE,
    PYTHON_REQUESTS, Person, Place, RATE_LIMIT_VIOLATION, SAN_FRANCISCO, SIGN_IN, SIGN_IN_FAILED,
    SSO, USER_CREATE, USUAL_PLACES, cast,
};

/// What a user attempts: signing in with a password, or answering an Okta Verify push.
#[derive(Clone, Copy)]
pub(super) enum Attempt {
    SignIn,
    Push,
}

use Attempt::{Push, SignIn};

/// Builds events with one random source, so a seed reproduces them.
pub(super) struct Gen {
    pub(super) rng: StdRng,
}

impl Gen {
    /// A random source seeded from the OS: different events every time.
    pub(super) fn new() -> Self {
        Self {
            rng: StdRng::from_rng(&mut rand::rng()),
        }
    }

    /// The same seed gives the same events.
    pub(super) fn seeded(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    pub(super) fn token(&mut self, prefix: &str, len: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let tail: String = (0..len)
            .map(|_| char::from(CHARS[self.rng.random_range(0..CHARS.len())]))
            .collect();
        format!("{prefix}{tail}")
    }

    /// The fields every event carries; callers then set outcome, targets and details.
    pub(super) fn base(
        &mut self,
        at: DateTime<Utc>,
        (event_type, legacy, message): (&str, Option<&str>, &str),
        actor: Value,
        client: &Client,
        request_uri: &str,
    ) -> Value {
        let request_id = self.token("", 27);
        let geo = geo(&client.place);
        json!({
            "uuid": self.uuid(),
            "published": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "eventType": event_type,
            "version": "0",
            "severity": "INFO",
            "legacyEventType": legacy,
            "displayMessage": message,
            "actor": actor,
            "client": {
                "userAgent": { "rawUserAgent": client.agent.raw, "os": client.agent.os, "browser": client.agent.browser },
                "zone": "null",
                "device": client.agent.device,
                "id": null,
                "ipAddress": client.ip,
                "geographicalContext": geo,
            },
            "device": null,
            "authenticationContext": {
                "authenticationProvider": null,
                "credentialProvider": null,
                "credentialType": null,
                "issuer": null,
                "interface": null,
                "authenticationStep": 0,
                "externalSessionId": self.token("102", 22),
            },
            "outcome": { "result": "SUCCESS", "reason": null },
            "target": [],
            "transaction": { "type": "WEB", "id": request_id, "detail": {} },
            "debugContext": { "debugData": {
                "requestId": request_id,
                "requestUri": request_uri,
                "url": format!("{request_uri}?"),
                "threatSuspected": "false",
            } },
            "securityContext": {
                "asNumber": client.place.asn,
                "asOrg": client.place.as_org,
                "isp": client.place.isp,
                "domain": client.place.domain,
                "isProxy": client.place.proxy,
            },
            "request": { "ipChain": [{
                "ip": client.ip,
                "geographicalContext": geo,
                "version": "V4",
                "source": null,
            }] },
            "insertionTimestamp": null,
        })
    }

    /// An event by `user` from their usual place and device.
    pub(super) fn by_user(
        &mut self,
        at: DateTime<Utc>,
        kind: EventKind,
        user: &Person,
        request_uri: &str,
    ) -> Value {
        self.base(at, kind, user.actor(), &user.usual(), request_uri)
    }

    pub(super) fn sso(
        &mut self,
        at: DateTime<Utc>,
        user: &Person,
        client: &Client,
        app: &App,
    ) -> Value {
        let uri = format!("/app/{}/{}/sso/saml", app.name, self.token("exk", 17));
        let mut e = self.base(at, SSO, user.actor(), client, &uri);
        e["target"] = json!([
            { "id": app.id, "type": "AppInstance", "alternateId": app.label, "displayName": app.label,
              "detailEntry": { "signOnModeType": app.sign_on } },
            { "id": self.token("0ua", 17), "type": "AppUser", "alternateId": user.login, "displayName": user.name, "detailEntry": null },
        ]);
        let data = &mut e["debugContext"]["debugData"];
        data["initiationType"] = json!("IDP_INITIATED");
        data["signOnMode"] = json!(if app.sign_on == "SAML_2_0" {
            "SAML 2.0"
        } else {
            "OpenID Connect"
        });
        e
    }

    /// The user's sign-in or Okta Verify push from `client`: accepted when `failure` is `None`,
    /// else failed for that reason.
    pub(super) fn attempt(
        &mut self,
        what: Attempt,
        at: DateTime<Utc>,
        user: &Person,
        client: &Client,
        failure: Option<&str>,
    ) -> Value {
        let (succeeded, failed_kind, uri) = match what {
            Attempt::SignIn => (SIGN_IN, SIGN_IN_FAILED, "/idp/idx/identify"),
            Attempt::Push => (MFA_PUSH, MFA_PUSH_FAILED, "/idp/idx/authenticators/poll"),
        };
        let kind = failure.map_or(succeeded, |_| failed_kind);
        let mut e = self.base(at, kind, user.actor(), client, uri);
        if let Some(reason) = failure {
            failed(&mut e, reason);
        }
        match what {
            Attempt::SignIn => sign_in_context(&mut e, user, client),
            Attempt::Push => self.push_context(&mut e),
        }
        e
    }

    fn push_context(&mut self, e: &mut Value) {
        let ctx = &mut e["authenticationContext"];
        ctx["authenticationProvider"] = json!("FACTOR_PROVIDER");
        ctx["credentialProvider"] = json!("OKTA_CREDENTIAL_PROVIDER");
        ctx["authenticationStep"] = json!(1);
        e["target"] = json!([{
            "id": self.token("pfd", 17), "type": "AuthenticatorEnrollment", "alternateId": "unknown",
            "displayName": "Okta Verify",
            "detailEntry": { "methodTypeUsed": "Get a push notification", "methodUsedVerifiedProperties": "[DEVICE_BOUND, HARDWARE_PROTECTED]" }
        }]);
        e["debugContext"]["debugData"]["factor"] = json!("OKTA_VERIFY_PUSH");
    }

    /// An administrative action on `target` by `admin` from the admin console.
    pub(super) fn admin(
        &mut self,
        at: DateTime<Utc>,
        kind: EventKind,
        admin: &Person,
        targets: Value,
    ) -> Value {
        let mut e = self.by_user(at, kind, admin, "/api/v1/internal/admin");
        e["target"] = targets;
        e["authenticationContext"]["externalSessionId"] = json!(self.token("102", 22));
        e
    }

    /// The user changes their own password in the end-user settings.
    pub(super) fn password_update(&mut self, at: DateTime<Utc>, user: &Person) -> Value {
        let mut e = self.by_user(at, PASSWORD_UPDATE, user, "/idp/myaccount/password");
        e["target"] = json!([user.target()]);
        e
    }

    /// The user's own factor change (`FACTOR_ACTIVATE` or `FACTOR_DEACTIVATE`) in the
    /// end-user settings.
    pub(super) fn factor_change(
        &mut self,
        at: DateTime<Utc>,
        kind: EventKind,
        user: &Person,
        enrollment: &Value,
    ) -> Value {
        let mut e = self.by_user(at, kind, user, "/idp/myaccount/phones");
        e["target"] = json!([user.target(), enrollment]);
        e["debugContext"]["debugData"]["factor"] = json!("SMS_FACTOR");
        e
    }
}

/// A failed attempt: Okta's outcome with the reason, at severity WARN.
pub(super) fn failed(e: &mut Value, reason: &str) {
    e["outcome"] = json!({ "result": "FAILURE", "reason": reason });
    e["severity"] = json!("WARN");
}

/// Sorts events by `published`, oldest first, as the System Log lists them.
pub(super) fn oldest_first(events: &mut [Value]) {
    events.sort_by(|a, b| a["published"].as_str().cmp(&b["published"].as_str()));
}

fn geo(place: &Place) -> Value {
    json!({
        "city": place.city,
        "state": place.state,
        "country": place.country,
        "postalCode": place.postal,
        "geolocation": { "lat": place.lat, "lon": place.lon },
    })
}

pub(super) fn group(id: &str, name: &str) -> Value {
    json!({ "id": id, "type": "UserGroup", "alternateId": "unknown", "displayName": name, "detailEntry": null })
}

pub(super) fn app_target(app: &App) -> Value {
    json!({ "id": app.id, "type": "AppInstance", "alternateId": app.label, "displayName": app.label, "detailEntry": null })
}

pub(super) fn rate_limit_violation(g: &mut Gen, at: DateTime<Utc>) -> Value {
    let actor = json!({ "id": "0oa1svc2Ab3Cd4Ef0h8", "type": "PublicClientApp", "alternateId": "0oa1svc2Ab3Cd4Ef0h8", "displayName": "HR sync service", "detailEntry": null });
    let client = Client::new("203.0.113.15", CHICAGO, PYTHON_REQUESTS);
    let mut e = g.base(at, RATE_LIMIT_VIOLATION, actor, &client, "/api/v1/users");
    e["severity"] = json!("WARN");
    e["outcome"] = json!({ "result": "DENY", "reason": null });
    let data = &mut e["debugContext"]["debugData"];
    data["threshold"] = json!("600");
    data["timeSpan"] = json!("1");
    data["timeUnit"] = json!("MINUTES");
    data["operationRateLimitScopeType"] = json!("ORG");
    data["operationRateLimitSubtype"] = json!("API_ENDPOINT");
    data["operationRateLimitType"] = json!("web_request");
    e
}

/// `n` events with a realistic mix (mostly successful sign-ins, SSO and MFA; some failures;
/// a trickle of admin and lifecycle events), over the hour before now. The same seed gives
/// the same events (uuids included); only the timestamps follow the clock.
pub fn random_events(n: usize, seed: u64) -> Vec<Value> {
    let mut g = Gen::seeded(seed);
    let people: Vec<Person> = (0..200).map(|i| random_person(&mut g, i)).collect();
    let admins = cast();
    let now = Utc::now();
    let mut events: Vec<Value> = (0..n)
        .map(|_| {
            let at = now - Duration::milliseconds(g.rng.random_range(0..3_600_000));
            let person = people
                .choose(&mut g.rng)
                .cloned()
                .unwrap_or_else(|| admins.alice.clone());
            random_event(&mut g, at, &person, &admins.frank)
        })
        .collect();
    oldest_first(&mut events);
    events
}

fn random_person(g: &mut Gen, i: usize) -> Person {
    const FIRST: [&str; 12] = [
        "ana", "ben", "chloe", "diego", "emma", "farid", "gita", "hugo", "ines", "jonas", "kim",
        "liam",
    ];
    const LAST: [&str; 10] = [
        "smith", "garcia", "muller", "rossi", "tanaka", "dubois", "kowalski", "silva", "nakamura",
        "jensen",
    ];
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    let place = *USUAL_PLACES.choose(&mut g.rng).unwrap_or(&SAN_FRANCISCO);
    let agent = *AGENTS.choose(&mut g.rng).unwrap_or(&CHROME_MAC);
    let login = format!("{first}.{last}{i}@acme.example");
    let name = format!(
        "{}{} {}{}",
        first[..1].to_uppercase(),
        &first[1..],
        last[..1].to_uppercase(),
        &last[1..]
    );
    let ip = format!("192.0.2.{}", 1 + i % 254);
    let id = g.token("00u", 17);
    Person::new(&id, &login, &name, &ip, place, agent)
}

/// Okta's password step, with what its risk engine says of the place: new IP, place and
/// device unless the user is where they usually are.
fn sign_in_context(e: &mut Value, user: &Person, client: &Client) {
    e["authenticationContext"]["authenticationProvider"] = json!("OKTA_AUTHENTICATION_PROVIDER");
    e["authenticationContext"]["credentialType"] = json!("PASSWORD");
    e["authenticationContext"]["interface"] = json!("Okta Identity Engine");
    let (flag, level, reasons) = if user.ip == client.ip {
        ("NEGATIVE", "LOW", "")
    } else {
        ("POSITIVE", "HIGH", "reasons=Anomalous Location, ")
    };
    let data = &mut e["debugContext"]["debugData"];
    data["behaviors"] = json!(format!(
        "{{New Geo-Location={flag}, New Device={flag}, New IP={flag}, New State={flag}, New Country={flag}, Velocity={flag}, New City={flag}}}"
    ));
    data["risk"] = json!(format!("{{{reasons}level={level}}}"));
    data["logOnlySecurityData"] = json!(format!(
        "{{\"risk\":{{\"level\":\"{level}\"}},\"behaviors\":{{\"New IP\":\"{flag}\"}}}}"
    ));
}

fn random_event(g: &mut Gen, at: DateTime<Utc>, p: &Person, admin: &Person) -> Value {
    let usual = p.usual();
    let roll = g.rng.random_range(0..1000);
    match roll {
        0..350 => g.attempt(SignIn, at, p, &usual, None),
        350..650 => {
            let app = *APPS.choose(&mut g.rng).unwrap_or(&APPS[0]);
            g.sso(at, p, &usual, &app)
        }
        650..850 => g.attempt(Push, at, p, &usual, None),
        850..920 => g.attempt(SignIn, at, p, &usual, Some("INVALID_CREDENTIALS")),
        920..940 => g.attempt(Push, at, p, &usual, Some("User rejected Okta push verify")),
        940..950 => {
            let client = Client::new("198.51.100.77", AMSTERDAM_VPS, PYTHON_REQUESTS);
            g.attempt(SignIn, at, p, &client, Some("INVALID_CREDENTIALS"))
        }
        950..960 => g.password_update(at, p),
        960..975 => {
            let app = *APPS.choose(&mut g.rng).unwrap_or(&APPS[0]);
            let targets = json!([app_target(&app), p.target()]);
            g.admin(at, APP_MEMBERSHIP_ADD, admin, targets)
        }
        975..990 => {
            let targets = json!([p.target(), group("00g1eng4Pq5Rs6Tu0h8", "Engineering")]);
            g.admin(at, GROUP_MEMBERSHIP_ADD, admin, targets)
        }
        990..995 => g.admin(at, PASSWORD_RESET, admin, json!([p.target()])),
        _ => g.admin(at, USER_CREATE, admin, json!([p.target()])),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn random_events_are_reproducible_and_unique() {
        let a = random_events(2000, 7);
        let b = random_events(2000, 7);
        assert_eq!(a.len(), 2000);
        let uuids = |v: &[Value]| {
            v.iter()
                .map(|e| e["uuid"].as_str().unwrap().to_owned())
                .collect::<HashSet<_>>()
        };
        assert_eq!(uuids(&a), uuids(&b));
        assert_eq!(uuids(&a).len(), 2000);
        assert_ne!(uuids(&a), uuids(&random_events(2000, 8)));
        let types: HashSet<&str> = a.iter().filter_map(|e| e["eventType"].as_str()).collect();
        assert!(types.len() >= 8, "{types:?}");
    }
}
