//! The Okta client against a scripted stand-in for Okta on loopback: the edge cases the
//! simulator does not stage on demand (token caching counts, 401 re-auth, 429 timing,
//! 5xx, foreign next links).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use okta_ingest::okta::{
    Credentials, DomainPolicy, LogsStart, NewEventHook, OktaClient, OktaDomain, OktaError,
};
use secrecy::SecretString;
use serde_json::json;

const GOOD: &str = "good-secret";
const NO_SCOPE: &str = "no-scope-secret";

#[derive(Default)]
struct Mock {
    token_calls: AtomicUsize,
    hook_calls: AtomicUsize,
    /// Which scripted behaviour `/api/v1/eventHooks` shows on its first call.
    script: std::sync::Mutex<Script>,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum Script {
    #[default]
    Normal,
    RateLimitedOnce,
    RateLimitedLong,
    UnauthorizedOnce,
    Down,
    LimitReached,
}

async fn token(State(mock): State<Arc<Mock>>, headers: HeaderMap) -> Response {
    let n = mock.token_calls.fetch_add(1, Ordering::SeqCst) + 1;
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default();
    match basic.as_str() {
        b if b == format!("cid:{GOOD}") => Json(json!({
            "token_type": "Bearer", "expires_in": 3600, "access_token": format!("tok-{n}"),
            "scope": "okta.eventHooks.manage okta.logs.read"
        }))
        .into_response(),
        b if b == format!("cid:{NO_SCOPE}") => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope",
                "error_description": "The following scopes are not permitted: okta.logs.read"})),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client",
                "error_description": "The client secret supplied for a confidential client is invalid."})),
        )
            .into_response(),
    }
}

fn hook_json() -> serde_json::Value {
    json!({"id": "who1", "name": "Sysdig", "status": "ACTIVE", "verificationStatus": "UNVERIFIED",
        "events": {"type": "EVENT_TYPE", "items": ["user.session.start"]},
        "channel": {"type": "HTTP", "version": "1.0.0", "config": {"uri": "https://x.example.com/h",
            "authScheme": {"type": "HEADER", "key": "authorization"}}}})
}

fn reset_in(secs: i64) -> String {
    (chrono::Utc::now().timestamp() + secs).to_string()
}

async fn hooks(State(mock): State<Arc<Mock>>, headers: HeaderMap) -> Response {
    let first = mock.hook_calls.fetch_add(1, Ordering::SeqCst) == 0;
    let script = *mock.script.lock().unwrap();
    let okta_error = |status: StatusCode, code: &str, summary: &str| {
        (
            status,
            Json(json!({"errorCode": code, "errorSummary": summary, "errorCauses": []})),
        )
            .into_response()
    };
    match script {
        Script::RateLimitedOnce if first => (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-rate-limit-reset", reset_in(0))],
        )
            .into_response(),
        Script::RateLimitedLong => (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-rate-limit-reset", reset_in(120))],
        )
            .into_response(),
        Script::UnauthorizedOnce if first => okta_error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        ),
        Script::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ if headers.get("authorization").is_none() => StatusCode::UNAUTHORIZED.into_response(),
        _ => Json(json!([hook_json()])).into_response(),
    }
}

async fn create_hook(State(mock): State<Arc<Mock>>) -> Response {
    if *mock.script.lock().unwrap() == Script::LimitReached {
        let body = json!({"errorCode": "E0000001", "errorSummary": "Api validation failed: eventHook",
            "errorCauses": [{"errorSummary": "Maximum number of allowed Event Hooks reached."}]});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    Json(hook_json()).into_response()
}

async fn logs(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let query = uri.query().unwrap_or_default();
    let (events, next) = if query.contains("after=page2") {
        (
            json!([{"uuid": "e3"}]),
            "<http://evil.example.com/api/v1/logs?after=x>; rel=\"next\"".to_string(),
        )
    } else {
        let link = format!("<http://{host}/api/v1/logs?after=page2&limit=2>; rel=\"next\"");
        (json!([{"uuid": "e1"}, {"uuid": "e2"}]), link)
    };
    let self_link = format!("<http://{host}/api/v1/logs?{query}>; rel=\"self\"");
    let mut response = Json(events).into_response();
    response
        .headers_mut()
        .append("link", self_link.parse().unwrap());
    response.headers_mut().append("link", next.parse().unwrap());
    response
}

async fn start(script: Script) -> (Arc<Mock>, SocketAddr) {
    let mock = Arc::new(Mock {
        script: std::sync::Mutex::new(script),
        ..Default::default()
    });
    let app = Router::new()
        .route("/oauth2/v1/token", post(token))
        .route("/api/v1/eventHooks", get(hooks).post(create_hook))
        .route("/api/v1/logs", get(logs))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (mock, addr)
}

fn creds(addr: SocketAddr, secret: &str) -> Credentials {
    let policy = DomainPolicy {
        allow_loopback: true,
        custom_domains: vec![],
    };
    Credentials {
        domain: OktaDomain::parse(&format!("http://{addr}"), &policy).unwrap(),
        client_id: "cid".into(),
        client_secret: SecretString::from(secret),
    }
}

fn client() -> OktaClient {
    OktaClient::new(Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn token_is_fetched_once_and_cached() {
    let (mock, addr) = start(Script::Normal).await;
    let (client, creds) = (client(), creds(addr, GOOD));
    client.check_credentials(&creds).await.unwrap();
    assert_eq!(client.list_event_hooks(&creds).await.unwrap()[0].id, "who1");
    assert_eq!(
        client.clone().list_event_hooks(&creds).await.unwrap().len(),
        1
    );
    assert_eq!(mock.token_calls.load(Ordering::SeqCst), 1);
    client.invalidate(&creds);
    client.check_credentials(&creds).await.unwrap();
    assert_eq!(mock.token_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_and_never_leaks() {
    let (_mock, addr) = start(Script::Normal).await;
    let err = client()
        .check_credentials(&creds(addr, "wrong-secret-xyz"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_client", "{err:?}");
    assert!(err.detail().contains("\"Sysdig\""));
    let shown = format!("{err} {err:?} {}", err.detail());
    assert!(!shown.contains("wrong-secret-xyz"), "{shown}");
}

#[tokio::test]
async fn refused_scope_is_missing_scopes() {
    let (_mock, addr) = start(Script::Normal).await;
    let err = client()
        .check_credentials(&creds(addr, NO_SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "missing_scopes", "{err:?}");
    assert!(err.detail().contains("okta.logs.read"));
}

#[tokio::test]
async fn rate_limited_once_waits_and_succeeds() {
    let (mock, addr) = start(Script::RateLimitedOnce).await;
    let hooks = client().list_event_hooks(&creds(addr, GOOD)).await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(mock.hook_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn long_rate_limit_returns_retry_time() {
    let (mock, addr) = start(Script::RateLimitedLong).await;
    let err = client()
        .list_event_hooks(&creds(addr, GOOD))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "okta_rate_limited", "{err:?}");
    match err {
        OktaError::RateLimited { retry_at } => assert!(retry_at > chrono::Utc::now()),
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.hook_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn revoked_token_reauthenticates_once() {
    let (mock, addr) = start(Script::UnauthorizedOnce).await;
    let hooks = client().list_event_hooks(&creds(addr, GOOD)).await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(mock.token_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn okta_down_is_org_unreachable() {
    let (_mock, addr) = start(Script::Down).await;
    let err = client()
        .list_event_hooks(&creds(addr, GOOD))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "org_unreachable", "{err:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = client()
        .check_credentials(&creds(closed, GOOD))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "org_unreachable", "{err:?}");
}

#[tokio::test]
async fn hook_limit_is_reported_with_okta_causes() {
    let (_mock, addr) = start(Script::LimitReached).await;
    let hook = NewEventHook::http(
        "Sysdig",
        "https://x.example.com/h",
        SecretString::from("s"),
        &["user.session.start"],
    );
    let err = client()
        .create_event_hook(&creds(addr, GOOD), &hook)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "event_hook_limit_reached", "{err:?}");
    assert!(
        err.detail()
            .contains("Maximum number of allowed Event Hooks reached.")
    );
}

#[tokio::test]
async fn logs_follow_next_links_and_refuse_foreign_ones() {
    let (_mock, addr) = start(Script::Normal).await;
    let (client, creds) = (client(), creds(addr, GOOD));
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);
    let page = client
        .logs_page(&creds, LogsStart::Since(since), 2)
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2);
    let next = page.next.expect("next link");
    assert!(next.contains("after=page2"), "{next}");
    // The second page's next link points elsewhere: refused, never followed.
    let err = client
        .logs_page(&creds, LogsStart::Next(next), 2)
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::ForeignNextLink), "{err:?}");
    let err = client
        .logs_page(
            &creds,
            LogsStart::Next("http://169.254.169.254/api/v1/logs".into()),
            2,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::ForeignNextLink), "{err:?}");
}
