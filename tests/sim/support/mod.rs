//! Helpers for the simulator tests: a running simulator, a client for its HTTP APIs, a hook
//! receiver (a small axum server playing the service's hook endpoint), and events.

mod client;
mod receiver;

use std::time::Duration;

use okta_ingest::sim::{self, SimHandle, SimOptions};
use serde_json::{Value, json};

pub use client::{HOOKS, LOGS, SimClient};
pub use receiver::{Receiver, Reply};

pub const ALL_SCOPES: &str = "okta.eventHooks.manage okta.logs.read";

/// The options most simulator tests start from: the strict defaults, except that they read
/// exact answers — hooks on loopback http receivers (the dev switch), the deterministic
/// delivery (exact batches and order) and one error-body shape. The realism switches are
/// tested on their own in `realism.rs`.
pub fn sim_options() -> SimOptions {
    SimOptions {
        vary_error_shapes: false,
        ..SimOptions::default()
            .with_dev_loopback(true)
            .with_deterministic_delivery()
    }
}

pub async fn start_sim(options: SimOptions) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sim::spawn(listener, options).await.unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The client-credentials form asking for `scopes`.
pub fn grant(scopes: &str) -> [(&'static str, &str); 2] {
    [("grant_type", "client_credentials"), ("scope", scopes)]
}

/// POSTs `form` to the token endpoint, with `basic` as client_secret_basic if given.
pub async fn token_request(
    sim: &SimHandle,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut request = http()
        .post(format!("{}/oauth2/v1/token", sim.base_url))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An access token with `scopes` (client_secret_basic).
pub async fn token(sim: &SimHandle, scopes: &str) -> String {
    let secret = sim.client_secret();
    let (status, body) = token_request(sim, &grant(scopes), Some((&sim.client_id, &secret))).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

pub fn hook_body(name: &str, uri: &str, secret: &str) -> Value {
    json!({
        "name": name,
        "events": { "type": "EVENT_TYPE", "items": okta_ingest::okta::EVENT_TYPES },
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": uri,
                "headers": [{ "key": "X-Custom", "value": "custom-value" }],
                "authScheme": { "type": "HEADER", "key": "Authorization", "value": secret }
            }
        }
    })
}

/// Creates and verifies a hook pointing at `receiver`; returns the hook id.
pub async fn verified_hook(sim: &SimHandle, receiver: &Receiver, secret: &str) -> String {
    let okta = SimClient::with_scopes(sim, ALL_SCOPES).await;
    let hook = okta.create_hook(&receiver.url, secret).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let (status, body) = okta.lifecycle(&id, "verify").await;
    assert_eq!(status, 200, "{body}");
    id
}

/// A minimal valid LogEvent of `event_type`.
pub fn event(event_type: &str) -> Value {
    json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "published": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": "test event",
        "actor": { "id": "00u1", "type": "User", "alternateId": "a@example.com", "displayName": "A" },
        "outcome": { "result": "SUCCESS" }
    })
}

pub fn events(event_type: &str, n: usize) -> Vec<Value> {
    (0..n).map(|_| event(event_type)).collect()
}
