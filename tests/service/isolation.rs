//! The isolation matrix: every operation of `/api/v1/*` (read from the OpenAPI document, so a
//! new endpoint joins the matrix by being documented) × every kind of caller that must not
//! reach the tenant's data. No caller but the tenant's own gets a 2xx on its objects, and
//! nothing of the tenant changes.

use crate::support::{TestApp, execute, okta_policy};
use okta_ingest::service::tokens;
use okta_ingest::store::tenants::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

/// Who calls, and what they must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    NoToken,
    BadToken,
    RevokedToken,
    ExpiredToken,
    OtherTenantAdmin,
    Viewer,
}

const CALLERS: [Caller; 6] = [
    Caller::NoToken,
    Caller::BadToken,
    Caller::RevokedToken,
    Caller::ExpiredToken,
    Caller::OtherTenantAdmin,
    Caller::Viewer,
];

#[sqlx::test(migrations = "./migrations")]
async fn no_caller_but_the_tenant_reaches_its_data(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let objects = Objects::create(&t).await;
    let tokens = Tokens::create(&t).await;
    let before = t.tenant_view().await;

    let doc = t.get("/api/v1/openapi.json").await.1;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
            continue;
        }
        for method in item.as_object().expect("operation").keys() {
            let concrete = objects.fill(path);
            for caller in CALLERS {
                let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut request = t.http.request(verb, format!("{}{concrete}", t.base));
                if let Some(token) = tokens.of(caller) {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = request_body(&t, method, path) {
                    request = request.json(&body);
                }
                let response = request.send().await.expect("request");
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let at = format!("{} {concrete} as {caller:?}", method.to_uppercase());
                check(caller, method, path, status, &body, &objects, &at);
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 6 * 14,
        "only {checked} calls: did the document lose paths?"
    );
    assert_eq!(t.tenant_view().await, before, "the tenant's data changed");
}

fn check(
    caller: Caller,
    method: &str,
    path: &str,
    status: StatusCode,
    body: &Value,
    objects: &Objects,
    at: &str,
) {
    let admin_only = method != "get" || path == "/api/v1/tokens";
    let names_an_object = path.contains('{');
    let expected = match caller {
        Caller::NoToken | Caller::BadToken | Caller::RevokedToken | Caller::ExpiredToken => {
            Some(StatusCode::UNAUTHORIZED)
        }
        Caller::Viewer if admin_only => Some(StatusCode::FORBIDDEN),
        Caller::Viewer => Some(StatusCode::OK),
        // Another tenant's object does not exist for them: 404, never 403.
        Caller::OtherTenantAdmin if names_an_object => Some(StatusCode::NOT_FOUND),
        // On a collection the other admin acts on their own tenant (checked below).
        Caller::OtherTenantAdmin => None,
    };
    match expected {
        Some(expected) => assert_eq!(status, expected, "{at}: {body}"),
        None => assert!(
            status.is_success() || status.is_client_error(),
            "{at}: {status} {body}"
        ),
    }
    if status.is_client_error() {
        assert!(body["code"].is_string(), "{at}: a problem document: {body}");
    }
    if caller == Caller::OtherTenantAdmin {
        let text = body.to_string();
        for id in objects.ids() {
            assert!(!text.contains(id.as_str()), "{at}: leaks {id}: {text}");
        }
    }
}

/// A body the operation accepts, so a refusal comes from who calls, not from what they send.
fn request_body(t: &TestApp, method: &str, path: &str) -> Option<Value> {
    let body = match (method, path) {
        ("get" | "delete", _) => return None,
        ("post", "/api/v1/integrations/okta") => {
            let mut creds = t.creds();
            creds["okta_domain"] = json!(t.sim.base_url);
            creds
        }
        ("post", "/api/v1/integrations/okta/launch") => json!({ "org": t.sim.base_url }),
        ("post", "/api/v1/integrations/okta/{id}/validate") => t.creds(),
        ("post", "/api/v1/integrations/okta/{id}/complete") => json!({}),
        ("post", "/api/v1/integrations/okta/{id}/baseline") => json!({ "days": 14 }),
        ("put", "/api/v1/integrations/okta/{id}") => json!({ "coverage": "standard" }),
        ("put", "/api/v1/integrations/okta/{id}/credentials") => {
            json!({ "client_secret": t.sim.client_secret() })
        }
        ("post", "/api/v1/policies") => okta_policy("theirs", EVERY_LOCK),
        ("patch", "/api/v1/policies/{id}") => json!({ "enabled": false }),
        ("post", "/api/v1/policies/test") => json!({ "rules": EVERY_LOCK }),
        ("post", "/api/v1/tokens") => json!({ "role": "viewer" }),
        _ => panic!("{method} {path} is new: give it a valid body in isolation.rs"),
    };
    Some(body)
}

const EVERY_LOCK: &str = "- rule: every lock\n  desc: d\n  condition: okta.evt.type = user.account.lock\n  output: \"locked %okta.actor.alternateid\"\n  priority: NOTICE\n";

/// One object of each kind the tenant owns.
struct Objects {
    integration: String,
    policy: String,
    event: String,
    token: String,
}

impl Objects {
    async fn create(t: &TestApp) -> Objects {
        let integration = t.connect_from_sysdig().await;
        t.alert_on_every_lock().await;
        let policy = t.policies("?managed=false").await.1["items"][0]["id"]
            .as_str()
            .expect("custom policy")
            .to_owned();
        let hook = t.hook().await;
        let lock = crate::support::log_event("user.account.lock", "ana@acme.example");
        assert_eq!(
            t.deliver_events(&hook, &hook.secret, &[lock]).await,
            StatusCode::OK
        );
        t.wait_processed().await;
        let event = t.events("").await.1["items"][0]["id"].to_string();
        let token = tokens::create_token(t.pool(), t.tenant_id, Role::Viewer, None)
            .await
            .expect("token")
            .token_id
            .to_string();
        Objects {
            integration,
            policy,
            event,
            token,
        }
    }

    fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/api/v1/policies/") {
            &self.policy
        } else {
            &self.integration
        };
        path.replace("/events/{id}", &format!("/events/{}", self.event))
            .replace("{token_id}", &self.token)
            .replace("{id}", id)
    }

    fn ids(&self) -> [&String; 3] {
        [&self.integration, &self.policy, &self.token]
    }
}

/// A token for each caller but the anonymous one.
struct Tokens {
    revoked: String,
    expired: String,
    other_admin: String,
    viewer: String,
}

impl Tokens {
    async fn create(t: &TestApp) -> Tokens {
        let revoked = tokens::create_token(t.pool(), t.tenant_id, Role::Admin, None)
            .await
            .expect("token");
        let status = t
            .delete(&format!("/api/v1/tokens/{}", revoked.token_id))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let expired = tokens::create_token(t.pool(), t.tenant_id, Role::Admin, Some(1))
            .await
            .expect("token")
            .token;
        execute(
            t.pool(),
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE expires_at IS NOT NULL",
        )
        .await;
        Tokens {
            revoked: revoked.token,
            expired,
            other_admin: t.other_tenant().await.1,
            viewer: t.token(Role::Viewer).await,
        }
    }

    fn of(&self, caller: Caller) -> Option<&str> {
        Some(match caller {
            Caller::NoToken => return None,
            Caller::BadToken => "oki_not-a-token",
            Caller::RevokedToken => &self.revoked,
            Caller::ExpiredToken => &self.expired,
            Caller::OtherTenantAdmin => &self.other_admin,
            Caller::Viewer => &self.viewer,
        })
    }
}

impl TestApp {
    /// Everything the tenant can see of itself, to compare before and after.
    async fn tenant_view(&self) -> Value {
        let mut view = json!({});
        for path in [
            "/api/v1/integrations/okta",
            "/api/v1/policies?managed=false",
            "/api/v1/events",
        ] {
            let (status, body) = self.get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            view[path] = strip_volatile(body);
        }
        let managed = self.policies("?managed=true").await.1;
        view["enabled"] = json!(
            managed["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|p| p["enabled"].clone())
                .collect::<Vec<_>>()
        );
        let tokens = self.get("/api/v1/tokens").await.1;
        view["tokens"] = json!(tokens["items"].as_array().map(Vec::len));
        view
    }
}

/// Health figures move on their own (lag, warnings); the matrix compares the data.
fn strip_volatile(mut body: Value) -> Value {
    if let Some(items) = body["items"].as_array_mut() {
        for item in items {
            if let Some(object) = item.as_object_mut() {
                object.retain(|key, _| {
                    !matches!(
                        key.as_str(),
                        "processing_lag_seconds" | "warnings" | "updated_at"
                    )
                });
            }
        }
    }
    body
}

/// What a refused token call says is what to do: a viewer reading the tokens was told that
/// "changes need an admin token", and revoking a revoked token said "token not found" of a
/// token `GET /api/v1/tokens` lists.
#[sqlx::test(migrations = "./migrations")]
async fn refused_token_calls_say_why(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let viewer = t.token(Role::Viewer).await;
    let (status, problem) = t.call(Method::GET, "/api/v1/tokens", &viewer, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("admin token") && !detail.contains("changes"),
        "{detail}"
    );
    let created = tokens::create_token(t.pool(), t.tenant_id, Role::Viewer, None)
        .await
        .expect("token");
    let path = format!("/api/v1/tokens/{}", created.token_id);
    assert_eq!(t.delete(&path).await, StatusCode::NO_CONTENT);
    let (status, problem) = t.call(Method::DELETE, &path, &t.admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        problem["detail"].as_str().unwrap().contains("revoked"),
        "{problem}"
    );
}
