//! One typed method per endpoint the tests exercise, as the tenant's admin, so a test says
//! what it asks for. Each answers the status and the JSON body (null when there is none).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::TestApp;

const INTEGRATIONS: &str = "/api/v1/integrations/okta";

/// The body of `POST /api/v1/policies` for an Okta policy.
pub fn okta_policy(name: &str, rules: &str) -> Value {
    json!({ "name": name, "type": "okta", "rules": rules })
}

impl TestApp {
    // The wizard, "start from Sysdig": launch → validate → complete.

    pub async fn launch(&self, org: &str) -> (StatusCode, Value) {
        self.post(&format!("{INTEGRATIONS}/launch"), json!({ "org": org }))
            .await
    }

    /// Launches at this test's simulator; returns the pending integration's id.
    pub async fn launch_pending(&self) -> String {
        let (status, launched) = self.launch(&self.sim.base_url).await;
        assert_eq!(status, StatusCode::CREATED, "{launched}");
        launched["id"].as_str().expect("id").to_string()
    }

    pub async fn validate(&self, id: &str, creds: Value) -> (StatusCode, Value) {
        self.post(&format!("{INTEGRATIONS}/{id}/validate"), creds)
            .await
    }

    pub async fn complete(&self, id: &str) -> (StatusCode, Value) {
        self.post(&format!("{INTEGRATIONS}/{id}/complete"), json!({}))
            .await
    }

    /// `POST …/{id}/complete` with a body, e.g. `{"coverage":"extended"}`.
    pub async fn complete_with(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("{INTEGRATIONS}/{id}/complete"), body)
            .await
    }

    /// `PUT …/{id}`: the integration's settings, e.g. `{"coverage":"standard"}`.
    pub async fn update_integration(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.put(&format!("{INTEGRATIONS}/{id}"), body).await
    }

    /// Launch → validate → complete with `coverage`; returns the integration id.
    pub async fn connect_with_coverage(&self, coverage: &str) -> String {
        let id = self.launch_pending().await;
        let (status, body) = self.validate(&id, self.creds()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self
            .complete_with(&id, json!({ "coverage": coverage }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["coverage"], coverage, "{body}");
        id
    }

    /// "Start from Okta": the credentials and the org in one call.
    pub async fn create_from_okta(&self, body: Value) -> (StatusCode, Value) {
        self.post(INTEGRATIONS, body).await
    }

    pub async fn integration(&self, id: &str) -> (StatusCode, Value) {
        self.get(&format!("{INTEGRATIONS}/{id}")).await
    }

    pub async fn integrations(&self) -> (StatusCode, Value) {
        self.get(INTEGRATIONS).await
    }

    /// `PUT …/{id}/credentials`: a new client secret.
    pub async fn replace_secret(&self, id: &str, client_secret: &str) -> (StatusCode, Value) {
        self.put(
            &format!("{INTEGRATIONS}/{id}/credentials"),
            json!({ "client_secret": client_secret }),
        )
        .await
    }

    pub async fn delete_integration(&self, id: &str) -> StatusCode {
        self.delete(&format!("{INTEGRATIONS}/{id}")).await
    }

    /// Launch → validate → complete; returns the integration id.
    pub async fn connect_from_sysdig(&self) -> String {
        let id = self.launch_pending().await;
        let (status, body) = self.validate(&id, self.creds()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self.complete(&id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "active");
        id
    }

    /// "Start from Okta": one call, then complete.
    pub async fn connect_from_okta(&self) -> String {
        self.connect_from_okta_as(&self.admin).await
    }

    /// "Start from Okta" as the admin holding `token`, e.g. another tenant's: a tenant
    /// connects an org once, so a second integration of the simulator's org needs a second
    /// tenant.
    pub async fn connect_from_okta_as(&self, token: &str) -> String {
        let mut body = self.creds();
        body["okta_domain"] = json!(self.sim.base_url);
        let (status, created) = self
            .call(Method::POST, INTEGRATIONS, token, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("id").to_string();
        let complete = format!("{INTEGRATIONS}/{id}/complete");
        let (status, body) = self
            .call(Method::POST, &complete, token, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id
    }

    /// `POST …/{id}/baseline` with `body`, e.g. `{"days": 14}`.
    pub async fn start_baseline(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("{INTEGRATIONS}/{id}/baseline"), body)
            .await
    }

    /// Waits until the integration's baseline is no longer learning; returns the integration.
    pub async fn wait_baseline(&self, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (status, shown) = self.integration(id).await;
            assert_eq!(status, StatusCode::OK, "{shown}");
            if shown["baseline"]["state"] != "learning" {
                return shown;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the baseline is still learning: {shown}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    // Policies.

    /// `GET /api/v1/policies{query}`, e.g. `?managed=true&type=okta`.
    pub async fn policies(&self, query: &str) -> (StatusCode, Value) {
        self.get(&format!("/api/v1/policies{query}")).await
    }

    pub async fn policy(&self, id: &str) -> (StatusCode, Value) {
        self.get(&format!("/api/v1/policies/{id}")).await
    }

    /// A custom policy with one rule that fires on every `user.account.lock`, output
    /// "locked <actor>" (searchable as `locked`).
    pub async fn alert_on_every_lock(&self) {
        let rules = "- rule: every lock\n  desc: d\n  condition: okta.evt.type = user.account.lock\n  output: \"locked %okta.actor.alternateid\"\n  priority: NOTICE\n";
        let (status, body) = self.create_policy(okta_policy("locks", rules)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Managed policies off; one rule that fires on every event (the count of detections is
    /// the count of processed events) and a stateful one: with every event in one window,
    /// each user crosses the threshold exactly once, however the events are spread over
    /// workers, processes and restarts.
    pub async fn only_counting_rules(&self) {
        let (_, policies) = self.policies("?managed=true&type=okta").await;
        for policy in policies["items"].as_array().expect("items") {
            let id = policy["id"].as_str().expect("id");
            let (status, body) = self.patch_policy(id, json!({ "enabled": false })).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let rules = r#"- rule: Every event
  desc: counts processing
  condition: okta.evt.type exists
  output: "seen %okta.evt.type"
  priority: INFO
  source: okta
- rule: Ten sign-ins per user
  desc: fires once per user and window
  condition: okta.evt.type = user.session.start
  threshold: {window: 1h, group_by: [okta.actor.alternateid], count: 10}
  output: "%okta.actor.alternateid signed in %state.count times"
  priority: NOTICE
  source: okta
"#;
        let (status, body) = self.create_policy(okta_policy("counting", rules)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn create_policy(&self, body: Value) -> (StatusCode, Value) {
        self.post("/api/v1/policies", body).await
    }

    pub async fn patch_policy(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.patch(&format!("/api/v1/policies/{id}"), body).await
    }

    pub async fn delete_policy(&self, id: &str) -> StatusCode {
        self.delete(&format!("/api/v1/policies/{id}")).await
    }

    // The runtime-event feed.

    /// `GET /api/v1/events{query}`, e.g. `?limit=2&cursor=…`.
    pub async fn events(&self, query: &str) -> (StatusCode, Value) {
        self.get(&format!("/api/v1/events{query}")).await
    }

    pub async fn event(&self, id: &Value) -> (StatusCode, Value) {
        self.get(&format!("/api/v1/events/{id}")).await
    }

    /// Every runtime event of the tenant, following the feed's cursor.
    pub async fn all_runtime_events(&self, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = format!("?limit=100{query}");
            if let Some(c) = &cursor {
                query.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = self.events(&query).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
    }

    /// A GET with no Authorization header: `/healthz`, `/readyz`, or a refused API call.
    pub async fn get_without_token(&self, path: &str) -> StatusCode {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
            .status()
    }

    pub async fn metrics(&self) -> String {
        let response = self.http.get(format!("{}/metrics", self.base)).send();
        response.await.expect("request").text().await.expect("body")
    }
}
