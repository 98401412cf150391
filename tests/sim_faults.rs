//! Faults and control: latency, 429, 500, hangs, org down, and the `/sim/…` HTTP control API.

mod sim_support;

use std::time::{Duration, Instant};

use okta_ingest::sim::{DownMode, SimOptions, SimState};
use serde_json::{Value, json};
use sim_support::*;

#[tokio::test]
async fn next_calls_answer_429_then_500_then_recover() {
    let sim = start_sim(SimOptions::default()).await;
    let token = token(&sim, ALL_SCOPES).await;
    let logs = format!("{}/api/v1/logs", sim.base_url);
    sim.fail_next_with_429(1);
    sim.fail_next_with_500(1);

    let limited = http().get(&logs).bearer_auth(&token).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let reset: i64 = limited.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now..=now + 2).contains(&reset), "reset {reset} now {now}");
    assert_eq!(limited.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(
        limited.json::<Value>().await.unwrap()["errorCode"],
        "E0000047"
    );

    let failed = http().get(&logs).bearer_auth(&token).send().await.unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(
        failed.json::<Value>().await.unwrap()["errorCode"],
        "E0000009"
    );

    let ok = http().get(&logs).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("x-rate-limit-limit"));
}

#[tokio::test]
async fn the_token_endpoint_is_subject_to_faults_too() {
    let sim = start_sim(SimOptions::default()).await;
    sim.fail_next_with_500(1);
    let response = http()
        .post(format!("{}/oauth2/v1/token", sim.base_url))
        .basic_auth(&sim.client_id, Some(sim.client_secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", ALL_SCOPES)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    token(&sim, ALL_SCOPES).await;
}

#[tokio::test]
async fn rate_limit_window_runs_out() {
    let sim = start_sim(SimOptions {
        rate_limit_per_minute: 2,
        ..SimOptions::default()
    })
    .await;
    let token = token(&sim, ALL_SCOPES).await;
    let logs = format!("{}/api/v1/logs", sim.base_url);
    let first = http().get(&logs).bearer_auth(&token).send().await.unwrap();
    assert_eq!(first.headers()["x-rate-limit-remaining"], "1");
    http().get(&logs).bearer_auth(&token).send().await.unwrap();
    let third = http().get(&logs).bearer_auth(&token).send().await.unwrap();
    assert_eq!(third.status(), 429);
}

#[tokio::test]
async fn hang_outlasts_the_client_timeout_and_latency_delays() {
    let sim = start_sim(SimOptions::default()).await;
    sim.hang_next(1);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/api/v1/eventHooks", sim.base_url);
    let hung = client.get(&url).send().await;
    assert!(hung.unwrap_err().is_timeout());

    sim.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    let slow = http().get(&url).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(slow.status(), 401);
}

#[tokio::test]
async fn org_down_answers_503_or_refuses_connections() {
    let sim = start_sim(SimOptions::default()).await;
    let url = format!("{}/oauth2/v1/token", sim.base_url);
    sim.set_down(DownMode::Unavailable);
    let down = http().post(&url).send().await.unwrap();
    assert_eq!(down.status(), 503);

    sim.set_down(DownMode::Refuse);
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.post(&url).send().await.is_err());

    sim.clear_faults();
    let up = fresh.post(&url).send().await.unwrap();
    assert_eq!(up.status(), 400);
}

#[tokio::test]
async fn control_api_over_http() {
    let sim = start_sim(SimOptions::default()).await;
    let base = &sim.base_url;
    let client = http();

    let faults: Value = client
        .post(format!("{base}/sim/faults"))
        .json(&json!({ "fail_500": 2, "latency_ms": 5 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["fail_500"], 2);
    let created: Value = client
        .post(format!("{base}/sim/hooks/foreign"))
        .json(&json!({ "count": 3 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["created"].as_array().unwrap().len(), 3);
    let scopes = client
        .put(format!("{base}/sim/scopes"))
        .json(&json!({ "scopes": ["okta.logs.read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(scopes.status(), 200);
    let down = client
        .put(format!("{base}/sim/down"))
        .json(&json!({ "mode": "unavailable" }))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 200);
    client
        .get(format!("{base}/api/v1/logs"))
        .send()
        .await
        .unwrap();

    let state: SimState = client
        .get(format!("{base}/sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state.hooks.len(), 3);
    assert_eq!(state.granted_scopes, vec!["okta.logs.read".to_owned()]);
    assert_eq!(state.down, DownMode::Unavailable);
    assert_eq!(state.faults.fail_500, 2);
    assert_eq!(state.counters.api_calls["GET /api/v1/logs"], 1);

    let cleared = client
        .delete(format!("{base}/sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert_eq!(sim.state().down, DownMode::Up);
    let bad = client
        .post(format!("{base}/sim/faults"))
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start_sim(SimOptions::default()).await;
    let url = format!("{}/sim/state", sim.base_url);
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    sim.shutdown().await;
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.get(&url).send().await.is_err());
}
