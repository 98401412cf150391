//! Realistic System Log events for the demo, the tests and the benchmarks.
//!
//! Shapes follow Okta's LogEvent schema and its sample hook delivery: actor, client (user
//! agent, zone, device, IP, geographical context with geolocation), outcome, typed targets,
//! transaction, `debugContext.debugData` (string values), authenticationContext,
//! securityContext and `request.ipChain`. IP addresses come from the documentation ranges
//! (RFC 5737) so no real host is named; the geography rides in `geographicalContext`, as
//! Okta resolves it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Who the demo's stories are about (`actor.alternateId`), for assertions on detections.
pub const BRUTE_FORCE_USER: &str = "carol.schmidt@acme.example";
/// Rejects seven Okta Verify pushes, then accepts one.
pub const MFA_FLOOD_USER: &str = "dave.okafor@acme.example";
/// Signs in from Romania after six days of sign-ins from the United States.
pub const NEW_COUNTRY_USER: &str = "alice.nguyen@acme.example";
/// Granted Super administrator, then creates an API token.
pub const PRIVILEGE_GRANTEE: &str = "erin.kowalski@acme.example";
/// Signs in through an anonymizing proxy (`securityContext.isProxy`).
pub const PROXY_USER: &str = "bob.martin@acme.example";

#[derive(Clone, Copy)]
struct Place {
    city: &'static str,
    state: &'static str,
    country: &'static str,
    postal: &'static str,
    lat: f64,
    lon: f64,
    asn: u64,
    as_org: &'static str,
    isp: &'static str,
    domain: &'static str,
    proxy: bool,
}

const fn place(
    city: &'static str,
    state: &'static str,
    country: &'static str,
    postal: &'static str,
    (lat, lon): (f64, f64),
    (asn, as_org, isp, domain): (u64, &'static str, &'static str, &'static str),
) -> Place {
    Place {
        city,
        state,
        country,
        postal,
        lat,
        lon,
        asn,
        as_org,
        isp,
        domain,
        proxy: false,
    }
}

const SAN_FRANCISCO: Place = place(
    "San Francisco",
    "California",
    "United States",
    "94105",
    (37.7898, -122.3942),
    (
        7922,
        "comcast",
        "Comcast Cable Communications, LLC",
        "comcast.net",
    ),
);
const CHICAGO: Place = place(
    "Chicago",
    "Illinois",
    "United States",
    "60601",
    (41.8858, -87.6181),
    (7018, "at&t services", "AT&T Services, Inc.", "att.net"),
);
const AUSTIN: Place = place(
    "Austin",
    "Texas",
    "United States",
    "78701",
    (30.2711, -97.7437),
    (11427, "charter communications", "Spectrum", "rr.com"),
);
const PARIS: Place = place(
    "Paris",
    "Ile-de-France",
    "France",
    "75008",
    (48.8763, 2.3183),
    (3215, "orange", "Orange S.A.", "orange.fr"),
);
const BERLIN: Place = place(
    "Berlin",
    "Land Berlin",
    "Germany",
    "10117",
    (52.5170, 13.3889),
    (
        3320,
        "deutsche telekom ag",
        "Deutsche Telekom AG",
        "telekom.de",
    ),
);
const LONDON: Place = place(
    "London",
    "England",
    "United Kingdom",
    "EC2V",
    (51.5145, -0.0930),
    (2856, "british telecommunications plc", "BT", "bt.com"),
);
const TORONTO: Place = place(
    "Toronto",
    "Ontario",
    "Canada",
    "M5H",
    (43.6505, -79.3845),
    (
        812,
        "rogers communications canada inc.",
        "Rogers",
        "rogers.com",
    ),
);
const AMSTERDAM_VPS: Place = place(
    "Amsterdam",
    "North Holland",
    "Netherlands",
    "1012",
    (52.3740, 4.8897),
    (9009, "m247 europe srl", "M247 Europe SRL", "m247.com"),
);
const LAGOS: Place = place(
    "Lagos",
    "Lagos",
    "Nigeria",
    "100001",
    (6.4541, 3.3947),
    (
        29465,
        "mtn nigeria",
        "MTN Nigeria Communication limited",
        "mtnnigeria.net",
    ),
);
const BUCHAREST: Place = place(
    "Bucharest",
    "Bucuresti",
    "Romania",
    "010011",
    (44.4323, 26.1063),
    (8708, "rcs & rds", "RCS & RDS", "rcs-rds.ro"),
);
const TOR_EXIT: Place = Place {
    proxy: true,
    ..place(
        "Frankfurt am Main",
        "Hesse",
        "Germany",
        "60313",
        (50.1155, 8.6842),
        (
            60729,
            "stiftung erneuerbare freiheit",
            "Stiftung Erneuerbare Freiheit",
            "tor-exit.invalid",
        ),
    )
};

const USUAL_PLACES: [Place; 7] = [
    SAN_FRANCISCO,
    CHICAGO,
    AUSTIN,
    PARIS,
    BERLIN,
    LONDON,
    TORONTO,
];

#[derive(Clone, Copy)]
struct Agent {
    raw: &'static str,
    os: &'static str,
    browser: &'static str,
    device: &'static str,
}

const CHROME_MAC: Agent = Agent {
    raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    os: "Mac OS X",
    browser: "CHROME",
    device: "Computer",
};
const EDGE_WINDOWS: Agent = Agent {
    raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    os: "Windows 10",
    browser: "EDGE_CHROMIUM",
    device: "Computer",
};
const FIREFOX_WINDOWS: Agent = Agent {
    raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    os: "Windows 10",
    browser: "FIREFOX",
    device: "Computer",
};
const SAFARI_IPHONE: Agent = Agent {
    raw: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    os: "iOS",
    browser: "SAFARI",
    device: "Mobile",
};
const PYTHON_REQUESTS: Agent = Agent {
    raw: "python-requests/2.32.3",
    os: "Unknown",
    browser: "UNKNOWN",
    device: "Unknown",
};
const AGENTS: [Agent; 4] = [CHROME_MAC, EDGE_WINDOWS, FIREFOX_WINDOWS, SAFARI_IPHONE];

/// A user of the demo org, with where and how they usually sign in.
#[derive(Clone)]
struct Person {
    id: String,
    login: String,
    name: String,
    ip: String,
    place: Place,
    agent: Agent,
}

impl Person {
    fn new(id: &str, login: &str, name: &str, ip: &str, place: Place, agent: Agent) -> Self {
        Self {
            id: id.to_owned(),
            login: login.to_owned(),
            name: name.to_owned(),
            ip: ip.to_owned(),
            place,
            agent,
        }
    }

    fn usual(&self) -> Client {
        Client::new(&self.ip, self.place, self.agent)
    }

    fn actor(&self) -> Value {
        json!({ "id": self.id, "type": "User", "alternateId": self.login, "displayName": self.name, "detailEntry": null })
    }

    fn target(&self) -> Value {
        json!({ "id": self.id, "type": "User", "alternateId": self.login, "displayName": self.name, "detailEntry": null })
    }
}

/// Where a request came from.
#[derive(Clone)]
struct Client {
    ip: String,
    place: Place,
    agent: Agent,
}

impl Client {
    fn new(ip: &str, place: Place, agent: Agent) -> Self {
        Self {
            ip: ip.to_owned(),
            place,
            agent,
        }
    }
}

#[derive(Clone, Copy)]
struct App {
    id: &'static str,
    name: &'static str,
    label: &'static str,
    sign_on: &'static str,
}

const APPS: [App; 4] = [
    App {
        id: "0oa1sfdc7h2KxPq3a0h8",
        name: "salesforce",
        label: "Salesforce.com",
        sign_on: "SAML_2_0",
    },
    App {
        id: "0oa1slck9m4TyRw5b0h8",
        name: "slack",
        label: "Slack",
        sign_on: "SAML_2_0",
    },
    App {
        id: "0oa1ghub3n6UzSx7c0h8",
        name: "githubcloud",
        label: "GitHub Enterprise Cloud",
        sign_on: "SAML_2_0",
    },
    App {
        id: "0oa1goog5p8VaTy9d0h8",
        name: "google",
        label: "Google Workspace",
        sign_on: "OPENID_CONNECT",
    },
];

/// Builds events with one random source, so a seed reproduces them.
struct Gen {
    rng: StdRng,
}

impl Gen {
    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn token(&mut self, prefix: &str, len: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let tail: String = (0..len)
            .map(|_| char::from(CHARS[self.rng.random_range(0..CHARS.len())]))
            .collect();
        format!("{prefix}{tail}")
    }

    /// The fields every event carries; callers then set outcome, targets and details.
    fn base(
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

    fn session_start(
        &mut self,
        at: DateTime<Utc>,
        user: &Person,
        client: &Client,
        failure: Option<&str>,
    ) -> Value {
        let legacy = match failure {
            None => "core.user_auth.login_success",
            Some(_) => "core.user_auth.login_failed",
        };
        let spec = ("user.session.start", Some(legacy), "User login to Okta");
        let mut e = self.base(at, spec, user.actor(), client, "/idp/idx/identify");
        e["authenticationContext"]["authenticationProvider"] =
            json!("OKTA_AUTHENTICATION_PROVIDER");
        e["authenticationContext"]["credentialType"] = json!("PASSWORD");
        e["authenticationContext"]["interface"] = json!("Okta Identity Engine");
        // Okta's risk engine compares with the user's history: new IP, place and device.
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
        if let Some(reason) = failure {
            e["outcome"] = json!({ "result": "FAILURE", "reason": reason });
            e["severity"] = json!("WARN");
        }
        e
    }

    fn sso(&mut self, at: DateTime<Utc>, user: &Person, client: &Client, app: &App) -> Value {
        let spec = (
            "user.authentication.sso",
            Some("app.auth.sso"),
            "User single sign on to app",
        );
        let uri = format!("/app/{}/{}/sso/saml", app.name, self.token("exk", 17));
        let mut e = self.base(at, spec, user.actor(), client, &uri);
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

    /// An Okta Verify push: `None` accepted, `Some(reason)` rejected or failed.
    fn mfa_push(
        &mut self,
        at: DateTime<Utc>,
        user: &Person,
        client: &Client,
        failure: Option<&str>,
    ) -> Value {
        let spec = (
            "user.authentication.auth_via_mfa",
            Some("core.user.factor.attempt_success"),
            "Authentication of user via MFA",
        );
        let mut e = self.base(
            at,
            spec,
            user.actor(),
            client,
            "/idp/idx/authenticators/poll",
        );
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
        if let Some(reason) = failure {
            e["legacyEventType"] = json!("core.user.factor.attempt_fail");
            e["outcome"] = json!({ "result": "FAILURE", "reason": reason });
            e["severity"] = json!("WARN");
        }
        e
    }

    /// An administrative action on `target` by `admin` from the admin console.
    fn admin(
        &mut self,
        at: DateTime<Utc>,
        spec: (&str, Option<&str>, &str),
        admin: &Person,
        targets: Value,
    ) -> Value {
        let uri = "/api/v1/internal/admin";
        let mut e = self.base(at, spec, admin.actor(), &admin.usual(), uri);
        e["target"] = targets;
        e["authenticationContext"]["externalSessionId"] = json!(self.token("102", 22));
        e
    }
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

fn group(id: &str, name: &str) -> Value {
    json!({ "id": id, "type": "UserGroup", "alternateId": "unknown", "displayName": name, "detailEntry": null })
}

fn app_target(app: &App) -> Value {
    json!({ "id": app.id, "type": "AppInstance", "alternateId": app.label, "displayName": app.label, "detailEntry": null })
}

struct Cast {
    alice: Person,
    bob: Person,
    carol: Person,
    dave: Person,
    erin: Person,
    frank: Person,
    grace: Person,
    henry: Person,
    olivia: Person,
}

fn cast() -> Cast {
    let p = Person::new;
    Cast {
        alice: p(
            "00u1alc4Nq2Wx8Ez0h8",
            NEW_COUNTRY_USER,
            "Alice Nguyen",
            "192.0.2.10",
            SAN_FRANCISCO,
            CHROME_MAC,
        ),
        bob: p(
            "00u1bob7Rt3Yz9Fa0h8",
            PROXY_USER,
            "Bob Martin",
            "192.0.2.21",
            PARIS,
            FIREFOX_WINDOWS,
        ),
        carol: p(
            "00u1crl2Su4Ab1Gb0h8",
            BRUTE_FORCE_USER,
            "Carol Schmidt",
            "192.0.2.32",
            BERLIN,
            EDGE_WINDOWS,
        ),
        dave: p(
            "00u1dav5Tv6Bc2Hc0h8",
            MFA_FLOOD_USER,
            "Dave Okafor",
            "192.0.2.43",
            LONDON,
            SAFARI_IPHONE,
        ),
        erin: p(
            "00u1ern8Uw7Cd3Id0h8",
            PRIVILEGE_GRANTEE,
            "Erin Kowalski",
            "192.0.2.54",
            CHICAGO,
            CHROME_MAC,
        ),
        frank: p(
            "00u1frk1Vx8De4Je0h8",
            "frank.admin@acme.example",
            "Frank Admin",
            "192.0.2.65",
            AUSTIN,
            CHROME_MAC,
        ),
        grace: p(
            "00u1grc3Wy9Ef5Kf0h8",
            "grace.lee@acme.example",
            "Grace Lee",
            "192.0.2.76",
            TORONTO,
            EDGE_WINDOWS,
        ),
        henry: p(
            "00u1hnr6Xz1Fg6Lg0h8",
            "henry.adams@acme.example",
            "Henry Adams",
            "192.0.2.87",
            CHICAGO,
            FIREFOX_WINDOWS,
        ),
        olivia: p(
            "00u1olv9Ya2Gh7Mh0h8",
            "olivia.former@acme.example",
            "Olivia Former",
            "192.0.2.98",
            SAN_FRANCISCO,
            CHROME_MAC,
        ),
    }
}

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
fn brute_force(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
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
fn privilege_escalation(g: &mut Gen, c: &Cast, now: DateTime<Utc>, out: &mut Vec<Value>) {
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

fn rate_limit_violation(g: &mut Gen, at: DateTime<Utc>) -> Value {
    let actor = json!({ "id": "0oa1svc2Ab3Cd4Ef0h8", "type": "PublicClientApp", "alternateId": "0oa1svc2Ab3Cd4Ef0h8", "displayName": "HR sync service", "detailEntry": null });
    let client = Client::new("203.0.113.15", CHICAGO, PYTHON_REQUESTS);
    let spec = (
        "system.org.rate_limit.violation",
        None,
        "Rate limit violation",
    );
    let mut e = g.base(at, spec, actor, &client, "/api/v1/users");
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
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
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
    events.sort_by(|a, b| a["published"].as_str().cmp(&b["published"].as_str()));
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

fn random_event(g: &mut Gen, at: DateTime<Utc>, p: &Person, admin: &Person) -> Value {
    let usual = p.usual();
    let roll = g.rng.random_range(0..1000);
    match roll {
        0..350 => g.session_start(at, p, &usual, None),
        350..650 => {
            let app = *APPS.choose(&mut g.rng).unwrap_or(&APPS[0]);
            g.sso(at, p, &usual, &app)
        }
        650..850 => g.mfa_push(at, p, &usual, None),
        850..920 => g.session_start(at, p, &usual, Some("INVALID_CREDENTIALS")),
        920..940 => g.mfa_push(at, p, &usual, Some("User rejected Okta push verify")),
        940..950 => {
            let client = Client::new("198.51.100.77", AMSTERDAM_VPS, PYTHON_REQUESTS);
            g.session_start(at, p, &client, Some("INVALID_CREDENTIALS"))
        }
        950..960 => {
            let spec = (
                "user.account.update_password",
                Some("core.user.config.password_update.success"),
                "User update password for Okta",
            );
            let mut e = g.base(at, spec, p.actor(), &usual, "/idp/myaccount/password");
            e["target"] = json!([p.target()]);
            e
        }
        960..975 => {
            let app = *APPS.choose(&mut g.rng).unwrap_or(&APPS[0]);
            let spec = (
                "application.user_membership.add",
                Some("app.generic.provision.assign_user_to_app"),
                "Add user to application membership",
            );
            g.admin(at, spec, admin, json!([app_target(&app), p.target()]))
        }
        975..990 => {
            let spec = (
                "group.user_membership.add",
                Some("core.user_group_member.user_add"),
                "Add user to group membership",
            );
            g.admin(
                at,
                spec,
                admin,
                json!([p.target(), group("00g1eng4Pq5Rs6Tu0h8", "Engineering")]),
            )
        }
        990..995 => {
            let spec = (
                "user.account.reset_password",
                Some("core.user.config.password_reset"),
                "Fired when the user's Okta password is reset",
            );
            g.admin(at, spec, admin, json!([p.target()]))
        }
        _ => {
            let spec = (
                "user.lifecycle.create",
                Some("core.user.config.user_creation.success"),
                "Create Okta user",
            );
            g.admin(at, spec, admin, json!([p.target()]))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

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
