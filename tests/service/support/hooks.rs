//! Okta's side of the event hook: the hook Okta holds for this service, the envelope it
//! wraps events in, and deliveries to `/hooks/okta/{hook_key}`.

use okta_ingest::sim::HookView;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::TestApp;

pub const JSON: &str = "application/json";

/// The active integration's hook: its key in our URL and the secret Okta sends.
pub struct Hook {
    pub key: String,
    pub secret: String,
}

/// Okta's event hook envelope around `events`.
pub fn envelope(events: &[Value]) -> Value {
    json!({
        "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
        "source": "https://acme.okta.com/api/v1/eventHooks/who1", "eventId": uuid::Uuid::new_v4().to_string(),
        "eventTime": chrono::Utc::now().to_rfc3339(), "contentType": "application/json",
        "data": { "events": events }
    })
}

impl TestApp {
    /// The hook Okta holds for the active integration.
    pub async fn hook(&self) -> Hook {
        let key: String =
            sqlx::query_scalar("SELECT hook_key FROM integrations WHERE status = 'active'")
                .fetch_one(self.pool())
                .await
                .unwrap();
        let hook = self
            .sim
            .hooks()
            .into_iter()
            .find(|h| h.uri.ends_with(&key))
            .expect("our hook in Okta");
        let secret = self
            .sim
            .hook_auth_value(&hook.id)
            .expect("the hook's auth value");
        Hook { key, secret }
    }

    /// The simulator's hooks that point at this service.
    pub fn our_hooks(&self) -> Vec<HookView> {
        self.sim
            .hooks()
            .into_iter()
            .filter(|h| h.uri.starts_with(&self.base))
            .collect()
    }

    /// `POST /hooks/okta/{key}` as Okta (or an impostor) would send it.
    pub async fn hook_response(
        &self,
        key: &str,
        auth: Option<&str>,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/hooks/okta/{key}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send().await.unwrap()
    }

    /// A delivery's status and problem body (null on success).
    pub async fn deliver_hook(
        &self,
        key: &str,
        auth: Option<&str>,
        content_type: &str,
        body: String,
    ) -> (StatusCode, Value) {
        let response = self.hook_response(key, auth, content_type, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `events` delivered in one envelope through `hook` with `secret`.
    pub async fn deliver_events(&self, hook: &Hook, secret: &str, events: &[Value]) -> StatusCode {
        let body = envelope(events).to_string();
        self.deliver_hook(&hook.key, Some(secret), JSON, body)
            .await
            .0
    }
}
