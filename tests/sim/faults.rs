//! Faults and control: latency, 429, 500, hangs, org down, and the `/sim/…` HTTP control API.

use std::time::{Duration, Instant};

use okta_ingest::sim::{DownMode, RateLimits, SimOptions, SimState};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn next_calls_answer_429_then_500_then_recover() {
    let sim = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    sim.fail_next_with_429(1);
    sim.fail_next_with_500(1);

    let limited = okta.send(Method::GET, LOGS, None).await;
    assert_eq!(limited.status(), 429);
    let reset: i64 = limited.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    // An injected 429 resets with the endpoint's one-minute window, as Okta's do.
    assert!((now..=now + 60).contains(&reset), "reset {reset} now {now}");
    assert_eq!(limited.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(
        limited.json::<serde_json::Value>().await.unwrap()["errorCode"],
        "E0000047"
    );

    let (status, failed) = okta.get(LOGS).await;
    assert_eq!(status, 500);
    assert_eq!(failed["errorCode"], "E0000009");

    let ok = okta.send(Method::GET, LOGS, None).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("x-rate-limit-limit"));
}

#[tokio::test]
async fn the_token_endpoint_is_subject_to_faults_too() {
    let sim = start_sim(sim_options()).await;
    sim.fail_next_with_500(1);
    let secret = sim.client_secret();
    let (status, _) =
        token_request(&sim, &grant(ALL_SCOPES), Some((&sim.client_id, &secret))).await;
    assert_eq!(status, 500);
    token(&sim, ALL_SCOPES).await;
}

#[tokio::test]
async fn rate_limit_window_runs_out() {
    let sim = start_sim(SimOptions {
        rate_limits: RateLimits {
            logs_per_window: 4,
            ..RateLimits::default()
        },
        ..sim_options()
    })
    .await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let first = okta.send(Method::GET, LOGS, None).await;
    assert_eq!(
        first.headers()["x-rate-limit-limit"],
        "2",
        "the app's 50 % of the org's 4"
    );
    assert_eq!(first.headers()["x-rate-limit-remaining"], "1");
    okta.get(LOGS).await;
    assert_eq!(okta.get(LOGS).await.0, 429);
}

#[tokio::test]
async fn hang_outlasts_the_client_timeout_and_latency_delays() {
    let sim = start_sim(sim_options()).await;
    sim.hang_next(1);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}{HOOKS}", sim.base_url);
    let hung = client.get(&url).send().await;
    assert!(hung.unwrap_err().is_timeout());

    sim.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    let (status, _) = SimClient::new(&sim).get(HOOKS).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(status, 401);
}

#[tokio::test]
async fn org_down_answers_503_or_refuses_connections() {
    let sim = start_sim(sim_options()).await;
    let url = format!("{}/oauth2/v1/token", sim.base_url);
    sim.set_down(DownMode::Unavailable);
    let (status, _) = SimClient::new(&sim)
        .call(Method::POST, "/oauth2/v1/token", None)
        .await;
    assert_eq!(status, 503);

    sim.set_down(DownMode::Refuse);
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.post(&url).send().await.is_err());

    sim.clear_faults();
    let up = fresh.post(&url).send().await.unwrap();
    assert_eq!(up.status(), 400);
}

#[tokio::test]
async fn control_api_over_http() {
    let sim = start_sim(sim_options()).await;
    let control = SimClient::new(&sim);

    let (_, faults) = control
        .post("/sim/faults", &json!({ "fail_500": 2, "latency_ms": 5 }))
        .await;
    assert_eq!(faults["fail_500"], 2);
    let (_, created) = control
        .post("/sim/hooks/foreign", &json!({ "count": 3 }))
        .await;
    assert_eq!(created["created"].as_array().unwrap().len(), 3);
    let (status, _) = control
        .put("/sim/scopes", &json!({ "scopes": ["okta.logs.read"] }))
        .await;
    assert_eq!(status, 200);
    let (status, _) = control
        .put("/sim/down", &json!({ "mode": "unavailable" }))
        .await;
    assert_eq!(status, 200);
    control.get(LOGS).await;

    let (_, state) = control.get("/sim/state").await;
    let state: SimState = serde_json::from_value(state).unwrap();
    assert_eq!(state.hooks.len(), 3);
    assert_eq!(state.granted_scopes, vec!["okta.logs.read".to_owned()]);
    assert_eq!(state.down, DownMode::Unavailable);
    assert_eq!(state.faults.fail_500, 2);
    assert_eq!(state.counters.api_calls["GET /api/v1/logs"], 1);

    assert_eq!(control.delete("/sim/faults").await.0, 204);
    assert_eq!(sim.state().down, DownMode::Up);
    let bad = control
        .request(Method::POST, "/sim/faults")
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start_sim(sim_options()).await;
    let url = format!("{}/sim/state", sim.base_url);
    assert_eq!(SimClient::new(&sim).get("/sim/state").await.0, 200);
    sim.shutdown().await;
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.get(&url).send().await.is_err());
}
