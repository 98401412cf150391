//! Recorded-style Okta answers (`tests/fixtures/okta/`, written from Okta's spec and docs)
//! served over real HTTP to the Okta client, which must read every one; and the
//! simulator's own answers checked against the same shapes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use okta_ingest::okta::{
    Credentials, DomainPolicy, EVENT_TYPES, LogsStart, NewEventHook, OktaClient, OktaDomain,
    OktaError,
};
use okta_ingest::sim::{self, SimOptions};
use secrecy::SecretString;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/okta/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fake org answering `"METHOD /path"` (query ignored) with fixtures; counts the calls.
struct Replay {
    base: String,
    hits: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Routes {
    base: String,
    answers: Arc<HashMap<String, Value>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Replay {
    async fn start(answers: Vec<(&str, Value)>) -> Replay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = Routes {
            base: base.clone(),
            answers: Arc::new(
                answers
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            ),
            hits: Arc::default(),
        };
        let hits = routes.hits.clone();
        let app = axum::Router::new().fallback(answer).with_state(routes);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Replay { base, hits }
    }

    fn creds(&self) -> Credentials {
        let policy = DomainPolicy {
            allow_loopback: true,
            custom_domains: vec![],
        };
        Credentials {
            domain: OktaDomain::parse(&self.base, &policy).unwrap(),
            client_id: "0oafixture".into(),
            client_secret: SecretString::from("fixture-secret"),
        }
    }

    fn hits(&self, route: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| *h == route)
            .count()
    }
}

async fn answer(State(routes): State<Routes>, request: Request) -> Response {
    let route = format!("{} {}", request.method(), request.uri().path());
    routes.hits.lock().unwrap().push(route.clone());
    let Some(fixture) = routes.answers.get(&route) else {
        return Response::builder()
            .status(404)
            .body(Body::from(format!("no fixture for {route}")))
            .unwrap();
    };
    let fill = |text: &str| fill_placeholders(text, &routes.base);
    let mut response = Response::new(match &fixture["body"] {
        Value::String(text) => Body::from(text.clone()),
        body => Body::from(body.to_string()),
    });
    *response.status_mut() =
        StatusCode::from_u16(fixture["status"].as_u64().unwrap() as u16).unwrap();
    for (name, value) in fixture["headers"].as_object().unwrap() {
        let values = match value {
            Value::Array(values) => values.clone(),
            value => vec![value.clone()],
        };
        for value in values {
            let value = HeaderValue::from_str(&fill(value.as_str().unwrap())).unwrap();
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// `{now+N}` → the epoch second N seconds from now; `{base}` → the fake org's base URL.
fn fill_placeholders(text: &str, base: &str) -> String {
    let text = text.replace("{base}", base);
    match text.strip_prefix("{now+").and_then(|t| t.strip_suffix('}')) {
        Some(secs) => (chrono::Utc::now().timestamp() + secs.parse::<i64>().unwrap()).to_string(),
        None => text,
    }
}

fn token() -> (&'static str, Value) {
    ("POST /oauth2/v1/token", fixture("oauth-token"))
}

fn client() -> OktaClient {
    OktaClient::new(Duration::from_secs(5)).unwrap()
}

/// `n` copies of the hook fixture (active and verified), with their own ids.
fn hook_list(n: usize) -> Value {
    let hook = fixture("event-hook")["body"].clone();
    let hooks: Vec<Value> = (0..n)
        .map(|i| {
            let mut hook = hook.clone();
            hook["id"] = json!(format!("who{i:017}"));
            hook
        })
        .collect();
    json!({ "status": 200, "headers": { "content-type": "application/json" }, "body": hooks })
}

fn new_hook() -> NewEventHook {
    NewEventHook::http(
        "Sysdig",
        "https://okta-ingest.example.com/hooks/okta/key",
        SecretString::from("hook-secret"),
        &EVENT_TYPES,
    )
}

#[tokio::test]
async fn error_bodies_keep_their_code_whatever_error_causes_is() {
    let okta = Replay::start(vec![
        token(),
        (
            "GET /api/v1/eventHooks/who1",
            fixture("error-access-denied-object-causes"),
        ),
        (
            "GET /api/v1/eventHooks/who2",
            fixture("error-access-denied-null-causes"),
        ),
        (
            "GET /api/v1/eventHooks/who3",
            fixture("error-not-found-string-causes"),
        ),
    ])
    .await;
    let (client, creds) = (client(), okta.creds());
    for id in ["who1", "who2"] {
        let err = client.get_event_hook(&creds, id).await.unwrap_err();
        assert_eq!(err.code(), "missing_scopes", "{id}: {err:?}");
    }
    let err = client.get_event_hook(&creds, "who3").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("who0000000000000000"), "{err}");
}

#[tokio::test]
async fn oauth_errors_keep_their_status_and_code() {
    let denied = Replay::start(vec![(
        "POST /oauth2/v1/token",
        fixture("oauth-access-denied"),
    )])
    .await;
    let err = client()
        .check_credentials(&denied.creds())
        .await
        .unwrap_err();
    match &err {
        OktaError::Api {
            status, error_code, ..
        } => assert_eq!(
            (*status, error_code.as_deref()),
            (403, Some("access_denied"))
        ),
        other => panic!("{other:?}"),
    }
    let invalid = Replay::start(vec![(
        "POST /oauth2/v1/token",
        fixture("oauth-invalid-client"),
    )])
    .await;
    let err = client()
        .check_credentials(&invalid.creds())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_client", "{err:?}");
}

/// Okta's words for a full quota are undocumented: the fixture's cause says nothing of a
/// limit, and the org's own count of active and verified hooks decides.
#[tokio::test]
async fn the_hook_quota_is_recognised_by_the_orgs_count_wherever_okta_refuses() {
    let quota = fixture("error-validation-hook-quota");
    for route in [
        "POST /api/v1/eventHooks",
        "POST /api/v1/eventHooks/who1/lifecycle/verify",
        "POST /api/v1/eventHooks/who1/lifecycle/activate",
    ] {
        for (live, expected) in [(25, "event_hook_limit_reached"), (3, "okta_error")] {
            let okta = Replay::start(vec![
                token(),
                (route, quota.clone()),
                ("GET /api/v1/eventHooks", hook_list(live)),
            ])
            .await;
            let (client, creds) = (client(), okta.creds());
            let err = match route {
                "POST /api/v1/eventHooks" => client.create_event_hook(&creds, &new_hook()).await,
                r if r.ends_with("verify") => client.verify_event_hook(&creds, "who1").await,
                _ => client.activate_event_hook(&creds, "who1").await,
            }
            .unwrap_err();
            assert_eq!(
                err.code(),
                expected,
                "{route} with {live} live hooks: {err:?}"
            );
            assert!(
                err.to_string().contains("Cannot be verified at this time"),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn an_https_complaint_is_public_url_not_https() {
    let okta = Replay::start(vec![
        token(),
        ("POST /api/v1/eventHooks", fixture("error-validation-https")),
    ])
    .await;
    let err = client()
        .create_event_hook(&okta.creds(), &new_hook())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "public_url_not_https", "{err:?}");
}

#[tokio::test]
async fn a_far_rate_limit_reset_is_reported_without_calling_again() {
    let okta = Replay::start(vec![
        token(),
        ("GET /api/v1/eventHooks", fixture("error-rate-limited")),
    ])
    .await;
    let (client, creds) = (client(), okta.creds());
    let err = client.list_event_hooks(&creds).await.unwrap_err();
    match &err {
        OktaError::RateLimited { retry_at } => {
            let ahead = (*retry_at - chrono::Utc::now()).num_seconds();
            assert!((40..=45).contains(&ahead), "{ahead}");
        }
        other => panic!("{other:?}"),
    }
    // The bucket is known to be spent: the next call does not even reach Okta.
    let err = client.list_event_hooks(&creds).await.unwrap_err();
    assert_eq!(err.code(), "okta_rate_limited");
    assert_eq!(okta.hits("GET /api/v1/eventHooks"), 1);
}

#[tokio::test]
async fn concurrency_429s_are_backed_off_then_reported() {
    let okta = Replay::start(vec![
        token(),
        (
            "GET /api/v1/eventHooks",
            fixture("error-concurrency-limited"),
        ),
    ])
    .await;
    let err = client().list_event_hooks(&okta.creds()).await.unwrap_err();
    assert_eq!(err.code(), "okta_rate_limited", "{err:?}");
    // Three short back-offs, then the one wait a bucket's 429 gets.
    assert_eq!(okta.hits("GET /api/v1/eventHooks"), 5);
}

#[tokio::test]
async fn a_log_page_and_its_next_link_are_read() {
    let okta = Replay::start(vec![token(), ("GET /api/v1/logs", fixture("logs-page"))]).await;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let page = client()
        .logs_page(&okta.creds(), LogsStart::Since(since), 2)
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2);
    assert!(page.events[1].get().contains("insertionTimestamp"));
    let next = page.next.unwrap();
    assert!(
        next.starts_with(&okta.base) && next.ends_with("after=1764061200000_1"),
        "{next}"
    );
}

#[tokio::test]
async fn an_event_hook_is_read() {
    let okta = Replay::start(vec![
        token(),
        (
            "GET /api/v1/eventHooks/who8vt36qfNpCGz9H1e6",
            fixture("event-hook"),
        ),
    ])
    .await;
    let hook = client()
        .get_event_hook(&okta.creds(), "who8vt36qfNpCGz9H1e6")
        .await
        .unwrap();
    assert!(hook.is_live());
    assert_eq!(
        hook.channel.config.uri,
        "https://okta-ingest.example.com/hooks/okta/key"
    );
}

// ---- shapes: the fixtures and the simulator must both pass them ----

fn error_shape(body: &Value) -> Result<(), String> {
    let error = body.as_object().ok_or("not an object")?;
    let code = error
        .get("errorCode")
        .and_then(Value::as_str)
        .ok_or("errorCode")?;
    if !(code.len() == 8 && code.starts_with('E') && code[1..].chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("errorCode {code}"));
    }
    error
        .get("errorSummary")
        .and_then(Value::as_str)
        .ok_or("errorSummary")?;
    for optional in ["errorLink", "errorId"] {
        if error.get(optional).is_some_and(|v| !v.is_string()) {
            return Err(optional.to_owned());
        }
    }
    let cause_ok = |c: &Value| c.is_string() || c.get("errorSummary").is_some_and(Value::is_string);
    match error.get("errorCauses") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(causes)) if causes.iter().all(cause_ok) => Ok(()),
        Some(cause @ Value::Object(_)) if cause_ok(cause) => Ok(()),
        Some(other) => Err(format!("errorCauses {other}")),
    }
}

fn hook_shape(hook: &Value) -> Result<(), String> {
    let text = |path: &str| {
        hook.pointer(path)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{path} in {hook}"))
    };
    if !text("/id")?.starts_with("who") {
        return Err("id".into());
    }
    let one_of = |path: &str, allowed: &[&str]| {
        let value = text(path)?;
        allowed
            .contains(&value)
            .then_some(())
            .ok_or(format!("{path} {value}"))
    };
    one_of("/status", &["ACTIVE", "INACTIVE"])?;
    one_of("/verificationStatus", &["VERIFIED", "UNVERIFIED"])?;
    one_of("/events/type", &["EVENT_TYPE"])?;
    one_of("/channel/type", &["HTTP"])?;
    one_of("/channel/config/authScheme/type", &["HEADER"])?;
    for path in [
        "/name",
        "/channel/version",
        "/channel/config/uri",
        "/channel/config/authScheme/key",
        "/_links/self/href",
    ] {
        text(path)?;
    }
    for path in ["/created", "/lastUpdated"] {
        chrono::DateTime::parse_from_rfc3339(text(path)?).map_err(|e| format!("{path}: {e}"))?;
    }
    if hook.pointer("/channel/config/authScheme/value").is_some() {
        return Err("the auth secret is write-only".into());
    }
    let items = hook
        .pointer("/events/items")
        .and_then(Value::as_array)
        .ok_or("events.items")?;
    items
        .iter()
        .all(Value::is_string)
        .then_some(())
        .ok_or("events.items".into())
}

fn log_event_shape(event: &Value) -> Result<(), String> {
    for field in ["uuid", "eventType", "published"] {
        event.get(field).and_then(Value::as_str).ok_or(field)?;
    }
    let published = event["published"].as_str().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(published).map_err(|e| format!("published: {e}"))?;
    match event.get("severity").and_then(Value::as_str) {
        None | Some("DEBUG" | "INFO" | "WARN" | "ERROR") => Ok(()),
        Some(other) => Err(format!("severity {other}")),
    }
}

fn rate_headers_shape(headers: &reqwest::header::HeaderMap) -> Result<(), String> {
    for name in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or(name)?;
    }
    Ok(())
}

#[tokio::test]
async fn fixtures_pass_the_shapes() {
    for name in [
        "error-validation-hook-quota",
        "error-validation-https",
        "error-access-denied-object-causes",
        "error-access-denied-null-causes",
        "error-not-found-string-causes",
        "error-rate-limited",
        "error-concurrency-limited",
    ] {
        error_shape(&fixture(name)["body"]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    hook_shape(&fixture("event-hook")["body"]).unwrap();
    for event in fixture("logs-page")["body"].as_array().unwrap() {
        log_event_shape(event).unwrap();
    }
}

#[tokio::test]
async fn the_simulators_answers_pass_the_same_shapes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // The strict defaults: error shapes vary from answer to answer.
    let sim = sim::spawn(listener, SimOptions::default()).await.unwrap();
    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.eventHooks.manage okta.logs.read"),
    ];
    let token: Value = http
        .post(format!("{}/oauth2/v1/token", sim.base_url))
        .basic_auth(&sim.client_id, Some(sim.client_secret()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{}{path}", sim.base_url))
            .bearer_auth(&bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let hook = json!({
        "name": "Sysdig",
        "events": { "type": "EVENT_TYPE", "items": EVENT_TYPES },
        "channel": { "type": "HTTP", "version": "1.0.0", "config": {
            "uri": "https://okta-ingest.example.com/hooks/okta/key",
            "authScheme": { "type": "HEADER", "key": "Authorization", "value": "secret" } } }
    });
    let created = call(reqwest::Method::POST, "/api/v1/eventHooks", Some(hook))
        .await
        .unwrap();
    rate_headers_shape(created.headers()).unwrap();
    hook_shape(&created.json().await.unwrap()).unwrap();

    for _ in 0..3 {
        let missing = call(reqwest::Method::GET, "/api/v1/eventHooks/who404", None)
            .await
            .unwrap();
        error_shape(&missing.json().await.unwrap()).unwrap();
        let invalid = json!({ "name": "", "events": {}, "channel": {} });
        let refused = call(reqwest::Method::POST, "/api/v1/eventHooks", Some(invalid))
            .await
            .unwrap();
        error_shape(&refused.json().await.unwrap()).unwrap();
    }
    sim.fail_next_with_429(1);
    let limited = call(reqwest::Method::GET, "/api/v1/logs", None)
        .await
        .unwrap();
    rate_headers_shape(limited.headers()).unwrap();
    error_shape(&limited.json().await.unwrap()).unwrap();

    sim.append_log(vec![
        json!({ "eventType": "user.session.start", "severity": "INFO" }),
    ]);
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let page = http
        .get(format!("{}/api/v1/logs", sim.base_url))
        .query(&[("since", since)])
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    rate_headers_shape(page.headers()).unwrap();
    assert!(
        page.headers().get_all("link").iter().count() >= 2,
        "self and next"
    );
    let events: Vec<Value> = page.json().await.unwrap();
    assert_eq!(events.len(), 1);
    events.iter().try_for_each(log_event_shape).unwrap();
}
