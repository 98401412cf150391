//! The Okta client against the project's Okta simulator over real HTTP on loopback.

use std::time::Duration;

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::get;
use okta_ingest::okta::{
    Credentials, DomainPolicy, EVENT_TYPES, HookStatus, LogsStart, NewEventHook, OktaClient,
    OktaDomain, OktaError,
};
use okta_ingest::sim::{self, DownMode, HookLimitAt, RateLimits, SimHandle, SimOptions};
use secrecy::SecretString;
use serde_json::{Value, json};

const HOOK_SECRET: &str = "hook-auth-secret-for-tests";

/// The strict simulator; hooks on loopback http receivers pass through the dev switch, as
/// `creds_with` below allows a loopback Okta domain.
async fn start_sim(options: SimOptions) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sim::spawn(listener, options.with_dev_loopback(true))
        .await
        .unwrap()
}

/// Rate-limit windows of 2 s instead of Okta's minute, so that waiting one out is quick.
fn short_windows() -> SimOptions {
    SimOptions {
        rate_limits: RateLimits {
            window: Duration::from_secs(2),
            ..RateLimits::default()
        },
        ..SimOptions::default()
    }
}

fn creds_with(sim: &SimHandle, secret: &str) -> Credentials {
    let policy = DomainPolicy {
        allow_loopback: true,
        custom_domains: vec![],
    };
    Credentials {
        domain: OktaDomain::parse(&sim.base_url, &policy).unwrap(),
        client_id: sim.client_id.clone(),
        client_secret: SecretString::from(secret),
    }
}

fn creds(sim: &SimHandle) -> Credentials {
    creds_with(sim, &sim.client_secret())
}

fn client() -> OktaClient {
    OktaClient::new(Duration::from_secs(5)).unwrap()
}

/// A hook receiver that answers Okta's verification challenge.
async fn start_receiver() -> String {
    async fn verify(headers: HeaderMap) -> Json<Value> {
        let challenge = headers
            .get("x-okta-verification-challenge")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Json(json!({ "verification": challenge }))
    }
    let app = axum::Router::new().route("/hooks/okta/k1", get(verify).post(|| async { "" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hooks/okta/k1")
}

fn new_hook(uri: &str) -> NewEventHook {
    NewEventHook::http("Sysdig", uri, SecretString::from(HOOK_SECRET), &EVENT_TYPES)
}

#[tokio::test]
async fn token_is_fetched_and_cached() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    client.check_credentials(&creds).await.unwrap();
    client.list_event_hooks(&creds).await.unwrap();
    client.clone().list_event_hooks(&creds).await.unwrap();
    assert_eq!(sim.counters().tokens_issued, 1, "{:?}", sim.counters());
}

#[tokio::test]
async fn a_check_never_takes_a_token_fetched_before_it() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, old) = (client(), creds(&sim));
    client.list_event_hooks(&old).await.unwrap();
    client.check_credentials(&old).await.unwrap();
    assert_eq!(sim.counters().tokens_issued, 2, "{:?}", sim.counters());
    // Okta still honours the token issued with the old secret; only a new fetch tells.
    sim.rotate_client_secret();
    client.list_event_hooks(&old).await.unwrap();
    let err = client.check_credentials(&old).await.unwrap_err();
    assert_eq!(err.code(), "invalid_client", "{err:?}");
}

#[tokio::test]
async fn concurrent_checks_of_the_same_credentials_share_one_token_request() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    sim.set_latency(Duration::from_millis(300));
    let checks = (0..30).map(|_| client.check_credentials(&creds));
    for outcome in futures::future::join_all(checks).await {
        outcome.unwrap();
    }
    assert_eq!(sim.counters().token_requests, 1, "{:?}", sim.counters());

    // A failed fetch is shared with its waiters, not retried by each in turn.
    let wrong = creds_with(&sim, "not-the-secret");
    let checks = (0..30).map(|_| client.check_credentials(&wrong));
    for outcome in futures::future::join_all(checks).await {
        assert_eq!(outcome.unwrap_err().code(), "invalid_client");
    }
    assert_eq!(sim.counters().token_requests, 2, "{:?}", sim.counters());
}

#[tokio::test]
async fn wrong_or_rotated_secret_is_invalid_client() {
    let sim = start_sim(SimOptions::default()).await;
    let client = client();
    let err = client
        .check_credentials(&creds_with(&sim, "not-the-secret"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_client", "{err:?}");
    assert!(!format!("{err:?}{err}{}", err.detail()).contains("not-the-secret"));

    let old = creds(&sim);
    client.check_credentials(&old).await.unwrap();
    sim.rotate_client_secret();
    sim.revoke_tokens();
    let err = client.list_event_hooks(&old).await.unwrap_err();
    assert_eq!(err.code(), "invalid_client", "{err:?}");
    client.check_credentials(&creds(&sim)).await.unwrap();
}

#[tokio::test]
async fn missing_scope_is_missing_scopes() {
    let sim = start_sim(SimOptions::default()).await;
    sim.set_granted_scopes(&["okta.eventHooks.manage"]);
    let err = client().check_credentials(&creds(&sim)).await.unwrap_err();
    assert_eq!(err.code(), "missing_scopes", "{err:?}");
    assert!(err.detail().contains("okta.logs.read"), "{}", err.detail());
}

#[tokio::test]
async fn full_hook_quota_is_event_hook_limit_reached() {
    let sim = start_sim(SimOptions {
        hook_limit_at: HookLimitAt::Create,
        ..SimOptions::default()
    })
    .await;
    sim.create_foreign_hooks(25);
    let receiver = start_receiver().await;
    let err = client()
        .create_event_hook(&creds(&sim), &new_hook(&receiver))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "event_hook_limit_reached", "{err:?}");
    match &err {
        OktaError::EventHookLimitReached { causes } => {
            assert!(causes.iter().any(|c| c.contains("maximum")), "{causes:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.detail().contains("Workflow → Event Hooks"));
}

/// Okta enforces the quota of active and verified hooks where it likes and does not
/// document its words: verify and activate are recognised by the org's count.
#[tokio::test]
async fn full_hook_quota_at_verify_or_activate_is_event_hook_limit_reached() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    let receiver = start_receiver().await;
    let ours = client
        .create_event_hook(&creds, &new_hook(&receiver))
        .await
        .unwrap();
    let foreign = sim.create_foreign_hooks(25);
    let err = client
        .verify_event_hook(&creds, &ours.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "event_hook_limit_reached", "{err:?}");

    // A slot frees up: ours is verified; deactivated, it cannot come back while full.
    client
        .deactivate_event_hook(&creds, &foreign[0])
        .await
        .unwrap();
    client.verify_event_hook(&creds, &ours.id).await.unwrap();
    client
        .deactivate_event_hook(&creds, &ours.id)
        .await
        .unwrap();
    client
        .activate_event_hook(&creds, &foreign[0])
        .await
        .unwrap();
    let err = client
        .activate_event_hook(&creds, &ours.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "event_hook_limit_reached", "{err:?}");
}

#[tokio::test]
async fn an_http_hook_uri_is_public_url_not_https() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Okta itself: no dev switch, https only.
    let sim = sim::spawn(listener, SimOptions::default()).await.unwrap();
    let receiver = start_receiver().await;
    let err = client()
        .create_event_hook(&creds(&sim), &new_hook(&receiver))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "public_url_not_https", "{err:?}");
    assert!(
        err.detail().contains("OKTA_INGEST_PUBLIC_URL"),
        "{}",
        err.detail()
    );
}

#[tokio::test]
async fn org_down_is_org_unreachable() {
    let sim = start_sim(SimOptions::default()).await;
    let creds = creds(&sim);
    for mode in [DownMode::Unavailable, DownMode::Refuse] {
        sim.set_down(mode);
        let err = client().check_credentials(&creds).await.unwrap_err();
        assert_eq!(err.code(), "org_unreachable", "{mode:?}: {err:?}");
    }
    sim.clear_faults();
    client().check_credentials(&creds).await.unwrap();
}

#[tokio::test]
async fn rate_limit_is_waited_out_once() {
    let sim = start_sim(short_windows()).await;
    let (client, creds) = (client(), creds(&sim));
    client.check_credentials(&creds).await.unwrap();
    sim.fail_next_with_429(1);
    client.list_event_hooks(&creds).await.unwrap();

    sim.fail_next_with_429(2);
    let err = client.list_event_hooks(&creds).await.unwrap_err();
    assert_eq!(err.code(), "okta_rate_limited", "{err:?}");
}

#[tokio::test]
async fn hook_crud_and_verify() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    let receiver = start_receiver().await;

    let hook = client
        .create_event_hook(&creds, &new_hook(&receiver))
        .await
        .unwrap();
    assert!(hook.id.starts_with("who"), "{}", hook.id);
    assert_eq!(hook.status, HookStatus::Active);
    assert!(!hook.is_verified());
    assert_eq!(hook.events.items.len(), EVENT_TYPES.len());
    assert_eq!(sim.hook_auth_value(&hook.id).as_deref(), Some(HOOK_SECRET));

    let verified = client.verify_event_hook(&creds, &hook.id).await.unwrap();
    assert!(verified.is_verified());

    let mut renamed = new_hook(&receiver);
    renamed.name = "Sysdig (renamed)".into();
    let updated = client
        .update_event_hook(&creds, &hook.id, &renamed)
        .await
        .unwrap();
    assert_eq!(updated.name, "Sysdig (renamed)");
    let fetched = client.get_event_hook(&creds, &hook.id).await.unwrap();
    assert_eq!(fetched.name, "Sysdig (renamed)");
    assert!(
        client
            .list_event_hooks(&creds)
            .await
            .unwrap()
            .iter()
            .any(|h| h.id == hook.id)
    );

    let inactive = client
        .deactivate_event_hook(&creds, &hook.id)
        .await
        .unwrap();
    assert_eq!(inactive.status, HookStatus::Inactive);
    let active = client.activate_event_hook(&creds, &hook.id).await.unwrap();
    assert_eq!(active.status, HookStatus::Active);
    client
        .deactivate_event_hook(&creds, &hook.id)
        .await
        .unwrap();
    client.delete_event_hook(&creds, &hook.id).await.unwrap();
    let err = client.get_event_hook(&creds, &hook.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn verify_fails_when_the_receiver_does_not_answer() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let hook = client
        .create_event_hook(&creds, &new_hook(&format!("http://{closed}/hooks/okta/k1")))
        .await
        .unwrap();
    let err = client
        .verify_event_hook(&creds, &hook.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "okta_error", "{err:?}");
}

#[tokio::test]
async fn logs_are_paged_through_next_links() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    let now = chrono::Utc::now();
    let events: Vec<Value> = (0..5)
        .map(|i| {
            json!({"uuid": format!("00000000-0000-4000-8000-00000000000{i}"),
                "published": now.to_rfc3339(), "eventType": "user.session.start"})
        })
        .collect();
    sim.append_log(events);

    let since = now - chrono::Duration::minutes(5);
    let mut start = LogsStart::Since(since);
    let mut seen = Vec::new();
    for _ in 0..5 {
        let page = client.logs_page(&creds, start, 2).await.unwrap();
        seen.extend(page.events.iter().map(|e| e.get().to_string()));
        let next = page.next.expect("polling mode always links to a next page");
        assert!(next.starts_with(&sim.base_url), "{next}");
        if page.events.is_empty() {
            break;
        }
        start = LogsStart::Next(next);
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen[4].contains("00000000-0000-4000-8000-000000000004"));

    // Bounded mode: only [since, until), and the paging ends.
    let mut start = LogsStart::Between(since, now - chrono::Duration::minutes(1));
    let page = client.logs_page(&creds, start.clone(), 2).await.unwrap();
    assert!(
        page.events.is_empty() && page.next.is_none(),
        "nothing published before until"
    );
    start = LogsStart::Between(since, now + chrono::Duration::minutes(1));
    let mut bounded = 0;
    for _ in 0..5 {
        let page = client.logs_page(&creds, start, 2).await.unwrap();
        bounded += page.events.len();
        match page.next {
            Some(next) => start = LogsStart::Next(next),
            None => break,
        }
    }
    assert_eq!(bounded, 5);
}

#[tokio::test]
async fn hanging_org_times_out_as_org_unreachable() {
    let sim = start_sim(SimOptions::default()).await;
    let client = OktaClient::new(Duration::from_millis(500)).unwrap();
    let creds = creds(&sim);
    client.check_credentials(&creds).await.unwrap();
    sim.hang_next(1);
    let started = std::time::Instant::now();
    let err = client.list_event_hooks(&creds).await.unwrap_err();
    assert_eq!(err.code(), "org_unreachable", "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn token_endpoint_rate_limit_is_waited_out() {
    let sim = start_sim(short_windows()).await;
    sim.fail_next_with_429(1);
    client().check_credentials(&creds(&sim)).await.unwrap();
    assert_eq!(sim.counters().tokens_issued, 1);
}

#[tokio::test]
async fn short_lived_tokens_are_not_reused_past_the_margin() {
    let options = SimOptions {
        token_ttl: Duration::from_secs(30),
        ..SimOptions::default()
    };
    let sim = start_sim(options).await;
    let (client, creds) = (client(), creds(&sim));
    client.list_event_hooks(&creds).await.unwrap();
    client.list_event_hooks(&creds).await.unwrap();
    // 30 s is inside the 60 s refresh margin: every call gets a fresh token.
    assert_eq!(sim.counters().tokens_issued, 2);
}

#[tokio::test]
async fn internal_error_is_okta_error_with_details() {
    let sim = start_sim(SimOptions::default()).await;
    let (client, creds) = (client(), creds(&sim));
    client.check_credentials(&creds).await.unwrap();
    sim.fail_next_with_500(1);
    let err = client.list_event_hooks(&creds).await.unwrap_err();
    assert_eq!(err.code(), "okta_error", "{err:?}");
    assert!(err.to_string().contains("500"), "{err}");
}
