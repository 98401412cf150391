//! Weeks of an org's ordinary life, for the System Log a baseline learns from: the cast signs
//! in every working day from their usual place and network, each with a computer and a phone
//! (the "second device" that alerts as new without a baseline), uses a few apps, and, among
//! the ordinary days, things that would alert if they happened live (a brute force ending in
//! a lock, a Super administrator grant, an API token, a rate-limit violation). Plus the live
//! sign-ins a test or the demo judges against that history.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use serde_json::Value;

use super::catalog::{
    AGENTS, APPS, Agent, BUCHAREST, CHROME_MAC, Cast, Client, Person, SAFARI_IPHONE, cast,
};
use super::generators::Attempt;
use super::generators::{Gen, oldest_first, rate_limit_violation};
use super::stories::{brute_force, privilege_escalation};

/// The cast's logins whose sign-ins the history holds.
pub const HISTORY_USERS: [&str; 8] = [
    super::NEW_COUNTRY_USER,
    super::PROXY_USER,
    super::BRUTE_FORCE_USER,
    super::MFA_FLOOD_USER,
    super::PRIVILEGE_GRANTEE,
    "frank.admin@acme.example",
    "grace.lee@acme.example",
    "henry.adams@acme.example",
];

/// How a live sign-in relates to the user's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// The usual computer, place and network.
    Usual,
    /// The user's phone, from the usual place: seen every few days in the history.
    SecondDevice,
    /// A browser and OS the history never shows for the user, from the usual place.
    NewDevice,
    /// The usual computer, from a country (and network) the history never shows for the user.
    NewCountry,
}

/// `days` of ordinary history ending just before `until`, oldest first (Okta's System Log of
/// the org). Reproducible for a seed, but for the timestamps.
pub fn ordinary_history(until: DateTime<Utc>, days: u32, seed: u64) -> Vec<Value> {
    let mut g = Gen::seeded(seed);
    let c = cast();
    let mut events = Vec::new();
    for day in (1..=i64::from(days)).rev() {
        // An hour into each day: the oldest day still falls inside a window of `days` that
        // ends a little later than `until` (when the integration went live).
        let morning = until - Duration::days(day) + Duration::hours(1);
        if matches!(morning.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for (i, person) in people(&c).into_iter().enumerate() {
            let start = morning + Duration::minutes(7 * i as i64);
            let client = match (day + i as i64) % 3 {
                0 => phone(person),
                _ => person.usual(),
            };
            working_day(&mut g, start, person, &client, &mut events);
        }
    }
    // Alerts nobody must see: they are history.
    let quiet = until - Duration::days(i64::from(days.min(3)));
    brute_force(&mut g, &c, quiet, &mut events);
    privilege_escalation(&mut g, &c, quiet + Duration::hours(2), &mut events);
    events.push(rate_limit_violation(&mut g, quiet + Duration::hours(3)));
    events.retain(|e| published(e).is_some_and(|p| p < until));
    oldest_first(&mut events);
    events
}

/// A successful sign-in of one of [`HISTORY_USERS`] at `at`; `None` for anyone else.
pub fn sign_in(login: &str, at: DateTime<Utc>, how: SignIn) -> Option<Value> {
    let c = cast();
    let person = people(&c).into_iter().find(|p| p.login == login)?.clone();
    let mut g = Gen::new();
    let usual = person.usual();
    let client = match how {
        SignIn::Usual => usual,
        SignIn::SecondDevice => phone(&person),
        SignIn::NewDevice => Client::new(&usual.ip, usual.place, unseen_agent(&person)),
        SignIn::NewCountry => Client::new("198.51.100.23", BUCHAREST, usual.agent),
    };
    Some(g.attempt(Attempt::SignIn, at, &person, &client, None))
}

fn people(c: &Cast) -> [&Person; 8] {
    [
        &c.alice, &c.bob, &c.carol, &c.dave, &c.erin, &c.frank, &c.grace, &c.henry,
    ]
}

/// Sign-in, push, and two or three apps.
fn working_day(
    g: &mut Gen,
    start: DateTime<Utc>,
    p: &Person,
    client: &Client,
    out: &mut Vec<Value>,
) {
    let pushed = start + Duration::seconds(12);
    out.push(g.attempt(Attempt::SignIn, start, p, client, None));
    out.push(g.attempt(Attempt::Push, pushed, p, client, None));
    let apps = 2 + start.day() as usize % 2;
    for (j, app) in APPS.iter().enumerate().take(apps) {
        out.push(g.sso(start + Duration::minutes(4 + 23 * j as i64), p, client, app));
    }
}

/// The user's phone on the usual network (home or office Wi-Fi).
fn phone(p: &Person) -> Client {
    let usual = p.usual();
    let agent = if same(&usual.agent, &SAFARI_IPHONE) {
        CHROME_MAC
    } else {
        SAFARI_IPHONE
    };
    Client::new(&usual.ip, usual.place, agent)
}

/// A browser and OS that is neither the user's computer nor phone.
fn unseen_agent(p: &Person) -> Agent {
    let (usual, second) = (p.usual().agent, phone(p).agent);
    AGENTS
        .into_iter()
        .find(|a| !same(a, &usual) && !same(a, &second))
        .unwrap_or(CHROME_MAC)
}

fn same(a: &Agent, b: &Agent) -> bool {
    a.raw == b.raw
}

fn published(event: &Value) -> Option<DateTime<Utc>> {
    let text = event["published"].as_str()?;
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn every_user_has_two_devices_and_one_country_in_the_history() {
        let until = Utc::now();
        let events = ordinary_history(until, 14, 1);
        assert!(events.len() > 300, "{}", events.len());
        let mut devices: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut countries: HashMap<&str, HashSet<&str>> = HashMap::new();
        for e in events.iter().filter(|e| {
            e["eventType"] == "user.session.start" && e["outcome"]["result"] == "SUCCESS"
        }) {
            let login = e["actor"]["alternateId"].as_str().unwrap();
            devices
                .entry(login)
                .or_default()
                .insert(e["client"]["userAgent"]["browser"].as_str().unwrap());
            countries.entry(login).or_default().insert(
                e["client"]["geographicalContext"]["country"]
                    .as_str()
                    .unwrap(),
            );
        }
        for login in HISTORY_USERS {
            assert_eq!(devices[login].len(), 2, "{login}: {:?}", devices[login]);
            assert_eq!(countries[login].len(), 1, "{login}");
        }
        assert!(events.iter().all(|e| published(e).unwrap() < until));
        let new = sign_in(HISTORY_USERS[0], until, SignIn::NewDevice).unwrap();
        let browser = new["client"]["userAgent"]["browser"].as_str().unwrap();
        assert!(!devices[HISTORY_USERS[0]].contains(browser));
        assert!(sign_in("nobody@acme.example", until, SignIn::Usual).is_none());
    }
}
