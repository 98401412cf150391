//! Helpers for the simulator tests: a running simulator, access tokens, and a hook receiver
//! (a small axum server playing the service's hook endpoint).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use okta_ingest::sim::{self, SimHandle, SimOptions};
use serde_json::{Value, json};

pub const ALL_SCOPES: &str = "okta.eventHooks.manage okta.logs.read";

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

/// An access token with `scopes` (client_secret_basic).
pub async fn token(sim: &SimHandle, scopes: &str) -> String {
    let response = http()
        .post(format!("{}/oauth2/v1/token", sim.base_url))
        .basic_auth(&sim.client_id, Some(sim.client_secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", scopes)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
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

/// Creates a hook through the API and returns its JSON.
pub async fn create_hook(sim: &SimHandle, token: &str, uri: &str, secret: &str) -> Value {
    let response = http()
        .post(format!("{}/api/v1/eventHooks", sim.base_url))
        .bearer_auth(token)
        .json(&hook_body("okta-ingest", uri, secret))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub async fn lifecycle(sim: &SimHandle, token: &str, id: &str, action: &str) -> reqwest::Response {
    http()
        .post(format!(
            "{}/api/v1/eventHooks/{id}/lifecycle/{action}",
            sim.base_url
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Creates and verifies a hook pointing at `receiver`; returns the hook id.
pub async fn verified_hook(sim: &SimHandle, receiver: &Receiver, secret: &str) -> String {
    let token = token(sim, ALL_SCOPES).await;
    let hook = create_hook(sim, &token, &receiver.url, secret).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let verified = lifecycle(sim, &token, &id, "verify").await;
    assert_eq!(verified.status(), 200);
    id
}

/// What the receiver answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// Sleep, then answer with the status.
    Slow(Duration, u16),
    /// A verification answer with the wrong challenge.
    WrongChallenge,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    requests: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

/// A hook endpoint: answers scripted replies in order, then 200 (echoing verification).
pub struct Receiver {
    pub url: String,
    state: ReceiverState,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/okta/key", listener.local_addr().unwrap());
        let state = ReceiverState::default();
        let app = Router::new()
            .route("/hooks/okta/key", axum::routing::any(receive))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn posts(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == Method::POST)
            .collect()
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let challenge = headers
        .get("x-okta-verification-challenge")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.requests.lock().unwrap().push(Received {
        method: method.clone(),
        headers,
        body,
    });
    let reply = state.script.lock().unwrap().pop_front();
    let status = match reply {
        None | Some(Reply::Status(200)) => 200,
        Some(Reply::Status(status)) => status,
        Some(Reply::Slow(delay, status)) => {
            tokio::time::sleep(delay).await;
            status
        }
        Some(Reply::WrongChallenge) => {
            return axum::Json(json!({ "verification": "not-the-challenge" })).into_response();
        }
    };
    let status = StatusCode::from_u16(status).unwrap();
    if method == Method::GET && status == StatusCode::OK {
        return axum::Json(json!({ "verification": challenge })).into_response();
    }
    status.into_response()
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
