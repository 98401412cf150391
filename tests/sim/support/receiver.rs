//! A hook endpoint playing the service's: records every request and answers scripted replies.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
