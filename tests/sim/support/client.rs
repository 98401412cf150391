//! One client for the simulator's HTTP APIs, so a test says what it asks, not how reqwest
//! sends it: Okta's APIs (with an access token) and the `/sim/…` control API (without).

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use okta_ingest::sim::SimHandle;

pub const HOOKS: &str = "/api/v1/eventHooks";
pub const LOGS: &str = "/api/v1/logs";

#[derive(Clone)]
pub struct SimClient {
    base: String,
    bearer: Option<String>,
    http: reqwest::Client,
}

impl SimClient {
    /// No access token: the control API, or Okta's APIs as an anonymous caller.
    pub fn new(sim: &SimHandle) -> Self {
        Self {
            base: sim.base_url.clone(),
            bearer: None,
            http: super::http(),
        }
    }

    /// Okta's APIs with a fresh access token for `scopes`.
    pub async fn with_scopes(sim: &SimHandle, scopes: &str) -> Self {
        let token = super::token(sim, scopes).await;
        Self {
            bearer: Some(token),
            ..Self::new(sim)
        }
    }

    /// A request to `path` below the simulator's base URL, or to a full URL (a `next` link).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let request = self.http.request(method, url);
        match &self.bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// The status and the JSON body (null when there is none) of one request.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let response = self.send(method, path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a hook named "okta-ingest" through the Event Hooks API; returns its JSON.
    pub async fn create_hook(&self, uri: &str, secret: &str) -> Value {
        let (status, hook) = self
            .post(HOOKS, &super::hook_body("okta-ingest", uri, secret))
            .await;
        assert_eq!(status, 200, "{hook}");
        hook
    }

    /// `POST /api/v1/eventHooks/{id}/lifecycle/{action}` (verify, activate, deactivate).
    pub async fn lifecycle(&self, id: &str, action: &str) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("{HOOKS}/{id}/lifecycle/{action}"),
            None,
        )
        .await
    }
}
