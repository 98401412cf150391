//! Learned baselines against the simulator's System Log: history in, no runtime events out,
//! and the first live events afterwards judged against what the history taught.

use std::time::Duration;

use chrono::Utc;
use okta_ingest::sim::scenario::{self, SignIn};
use okta_ingest::sim::{DownMode, SimOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, count};

const NEW_DEVICE: &str = "Okta Sign-In From a New Device";
/// The live sign-ins judged with and without a baseline: the usual device, the phone the
/// history knows, and a device it never showed.
const LIVE_SIGN_INS: [(&str, SignIn); 3] = [
    (TWO_DEVICES, SignIn::Usual),
    (TWO_DEVICES, SignIn::SecondDevice),
    (TRAVELLER, SignIn::NewDevice),
];
const TWO_DEVICES: &str = scenario::NEW_COUNTRY_USER;
const TRAVELLER: &str = scenario::PROXY_USER;

/// The service with Complete starting a baseline, as configured by default.
async fn spawn_learning(pool: &PgPool) -> TestApp {
    let options = SimOptions::default().with_deterministic_delivery();
    TestApp::spawn_with(pool, options, |c| c.baseline_on_complete = true).await
}

/// Live sign-ins, a second apart up to now, through the hook.
async fn sign_in_live(t: &TestApp, sign_ins: &[(&str, SignIn)]) {
    let now = Utc::now();
    let events: Vec<Value> = sign_ins
        .iter()
        .enumerate()
        .map(|(i, (login, how))| {
            let at = now - chrono::Duration::seconds((sign_ins.len() - i) as i64);
            scenario::sign_in(login, at, *how).expect("a user of the history")
        })
        .collect();
    let report = t.sim.deliver(events).await;
    assert_eq!(report.delivered(), sign_ins.len(), "{report:?}");
    t.wait_processed().await;
}

/// The logins a rule fired for, from the feed.
async fn fired_for(t: &TestApp, rule: &str) -> Vec<String> {
    let items = t.all_runtime_events("").await;
    let mut actors: Vec<String> = items
        .iter()
        .filter(|e| e["rule_name"] == rule)
        .map(|e| e["actor"].as_str().unwrap_or_default().to_string())
        .collect();
    actors.sort();
    actors
}

#[sqlx::test(migrations = "./migrations")]
async fn complete_learns_the_history_and_the_next_sign_ins_are_judged_against_it(pool: PgPool) {
    let t = spawn_learning(&pool).await;
    let seeded = t.sim.seed_history(14);
    // Slow Okta down so the learning is seen; Complete's own calls are slowed too.
    t.sim.set_latency(Duration::from_millis(700));
    let id = t.connect_from_sysdig().await;

    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "learning", "{shown}");
    assert_eq!(shown["baseline"]["state"], "learning", "{shown}");
    assert_eq!(shown["baseline"]["days"], 14);
    t.sim.set_latency(Duration::ZERO);

    let shown = t.wait_baseline(&id).await;
    assert_eq!(shown["status"], "active", "{shown}");
    let baseline = &shown["baseline"];
    assert_eq!(baseline["state"], "complete", "{shown}");
    assert_eq!(baseline["progress"], 1.0);
    assert_eq!(baseline["events_pending"], 0);
    assert_eq!(baseline["truncated"], false);
    assert_eq!(baseline["events_read"], json!(seeded), "{shown}");
    assert_eq!(baseline["events_learned"], json!(seeded), "{shown}");
    // History is not what the hook received, and raised nothing: the brute force, the Super
    // administrator grant and the API token in it are history.
    assert_eq!(shown["events_received"], 0);
    assert!(t.all_runtime_events("").await.is_empty());
    assert_eq!(
        count(t.pool(), "SELECT count(*) FROM runtime_events").await,
        0
    );

    // The user's phone is not new (it alerts without a baseline, see below); a computer the
    // history never showed is, for a user the history made known.
    sign_in_live(&t, &LIVE_SIGN_INS).await;
    assert_eq!(fired_for(&t, NEW_DEVICE).await, vec![TRAVELLER.to_string()]);
    let country = fired_for(&t, "Okta Sign-In From a New Country").await;
    assert!(country.is_empty(), "{country:?}");
    sign_in_live(&t, &[(TWO_DEVICES, SignIn::NewCountry)]).await;
    let country = fired_for(&t, "Okta Sign-In From a New Country").await;
    assert_eq!(country, vec![TWO_DEVICES.to_string()]);
}

#[sqlx::test(migrations = "./migrations")]
async fn without_a_baseline_the_second_device_alerts(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.sim.seed_history(14);
    t.connect_from_sysdig().await;
    sign_in_live(&t, &LIVE_SIGN_INS).await;
    // The first sign-in of a user is never new (no history); the second device is.
    assert_eq!(
        fired_for(&t, NEW_DEVICE).await,
        vec![TWO_DEVICES.to_string()]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_baseline_needs_an_active_integration_and_days_within_okta_retention(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (status, launched) = t.launch("acme").await;
    assert_eq!(status, StatusCode::CREATED, "{launched}");
    let pending = launched["id"].as_str().expect("id");
    let (status, problem) = t.start_baseline(pending, json!({ "days": 14 })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "not_active");

    let id = t.connect_from_sysdig().await;
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "active");
    assert!(shown["baseline"].is_null(), "{shown}");
    for (body, code) in [
        (json!({ "days": 0 }), "invalid_days"),
        (json!({ "days": 91 }), "invalid_days"),
        (json!({ "days": -3 }), "invalid_days"),
        (json!({ "days": "14" }), "invalid_body"),
        (json!({ "weeks": 2 }), "invalid_body"),
    ] {
        let response = t
            .post_raw(
                &format!("/api/v1/integrations/okta/{id}/baseline"),
                "application/json",
                body.to_string(),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{body}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    t.sim.set_latency(Duration::from_millis(700));
    let (status, started) = t.start_baseline(&id, json!({ "days": 30 })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["status"], "learning");
    assert_eq!(started["baseline"]["state"], "learning");
    assert_eq!(started["baseline"]["days"], 30);
    let (status, problem) = t.start_baseline(&id, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "baseline_in_progress");
    t.sim.set_latency(Duration::ZERO);

    let shown = t.wait_baseline(&id).await;
    assert_eq!(shown["baseline"]["state"], "complete", "{shown}");
    // Without days, the configured default.
    let (status, started) = t.start_baseline(&id, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["baseline"]["days"], 14);
    t.wait_baseline(&id).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_baseline_interrupted_by_okta_resumes_from_its_cursor(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let seeded = t.sim.seed_history(14) + t.sim.append_log(scenario::random_events(3500, 7));
    let id = t.connect_from_sysdig().await;
    t.sim.set_latency(Duration::from_millis(400));
    let (status, _) = t.start_baseline(&id, json!({ "days": 14 })).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Okta goes down once the first page is in.
    let read = loop {
        let read: Option<i64> =
            sqlx::query_scalar("SELECT events_read FROM baselines WHERE events_read > 0")
                .fetch_optional(t.pool())
                .await
                .unwrap();
        if let Some(read) = read {
            break read;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    t.sim.set_down(DownMode::Unavailable);
    let shown = loop {
        let (_, shown) = t.integration(&id).await;
        if shown["baseline"]["last_error"].is_string() {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["status"], "learning", "{shown}");
    // Read newest first: the last hour's events came first.
    let progress = shown["baseline"]["progress"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&progress), "{shown}");
    assert!(shown["baseline"]["through"].is_string(), "{shown}");
    assert!(read < seeded as i64, "{read} of {seeded}");

    t.sim.clear_faults();
    let shown = t.wait_baseline(&id).await;
    let baseline = &shown["baseline"];
    assert_eq!(baseline["state"], "complete", "{shown}");
    // Every event once: the pages before the failure were not read again.
    assert_eq!(baseline["events_read"], json!(seeded), "{shown}");
    assert_eq!(baseline["events_learned"], json!(seeded), "{shown}");
    assert!(baseline["last_error"].is_null(), "{shown}");
    let keys = count(t.pool(), "SELECT count(*) FROM okta_event_keys").await;
    assert_eq!(keys, seeded as i64);
    assert!(t.all_runtime_events("").await.is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_baseline_stops_at_its_bound_keeping_the_newest_history(pool: PgPool) {
    let options = SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| c.baseline_max_events = 150).await;
    let seeded = t.sim.seed_history(14);
    assert!(seeded > 300, "{seeded}");
    let id = t.connect_from_sysdig().await;
    let (status, _) = t.start_baseline(&id, json!({ "days": 14 })).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let shown = t.wait_baseline(&id).await;
    let baseline = &shown["baseline"];
    assert_eq!(baseline["state"], "complete", "{shown}");
    assert_eq!(baseline["truncated"], true, "{shown}");
    assert_eq!(baseline["events_read"], 150, "{shown}");
    assert_eq!(baseline["events_learned"], 150, "{shown}");
    // Newest first: what was left out is the oldest part of the window.
    let through = baseline["through"].as_str().unwrap();
    let since = baseline["since"].as_str().unwrap();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    assert!(
        parse(through) > parse(since) + chrono::Duration::days(7),
        "{shown}"
    );
    assert_eq!(
        count(t.pool(), "SELECT count(*) FROM okta_event_keys").await,
        150
    );
}

/// Offboarding a tenant while its baseline reads the org's history (a round trip to Okta per
/// page) must leave none of the tenant's events behind: the pages read after the integration
/// was deleted are not stored.
#[sqlx::test(migrations = "./migrations")]
async fn a_baseline_stores_nothing_for_a_tenant_offboarded_mid_read(pool: PgPool) {
    let options = SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| c.worker_tasks = 0).await;
    t.sim.seed_history(14);
    t.sim.append_log(scenario::random_events(3500, 7));
    let id = t.connect_from_sysdig().await;
    t.sim.set_latency(Duration::from_millis(300));
    let (status, _) = t.start_baseline(&id, json!({ "days": 14 })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    while count(t.pool(), "SELECT count(*) FROM okta_event_keys").await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    t.app.services.offboard_tenant(t.tenant_id).await.unwrap();
    // Until the round that was reading has stopped calling Okta.
    let log_reads = || t.sim.counters().api_calls.get("GET /api/v1/logs").copied();
    loop {
        let before = log_reads();
        tokio::time::sleep(Duration::from_secs(1)).await;
        if log_reads() == before {
            break;
        }
    }
    let left = [
        count(t.pool(), "SELECT count(*) FROM okta_event_keys").await,
        count(t.pool(), "SELECT count(*) FROM okta_events").await,
        count(t.pool(), "SELECT count(*) FROM event_queue").await,
    ];
    assert_eq!(
        left,
        [0, 0, 0],
        "keys, raw events, queue of the offboarded tenant"
    );
}
