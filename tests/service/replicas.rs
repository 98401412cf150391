//! Two service processes on one database: thousands of events, each processed exactly once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, database_url, log_event, okta_policy};

const EVENTS: usize = 3000;
const BATCH: usize = 100;

async fn start_second_process(t: &TestApp, pool: &PgPool) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-ingest"))
        .arg("serve")
        .env("DATABASE_URL", database_url(pool))
        .env("OKTA_INGEST_LISTEN", format!("127.0.0.1:{port}"))
        .env("OKTA_INGEST_PUBLIC_URL", &t.base)
        .env("OKTA_INGEST_MASTER_KEY", &t.master_key)
        .env("OKTA_INGEST_DEV_ALLOW_LOOPBACK_OKTA", "true")
        .env("OKTA_INGEST_WORKER_TASKS", "2")
        .env("OKTA_INGEST_WORKER_BATCH_SIZE", "50")
        .env("OKTA_INGEST_GAPFILL_INTERVAL_SECS", "0")
        .env("OKTA_INGEST_HOOK_SECRET_ROTATION_SECS", "0")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("second process starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = t.http.get(format!("{base}/readyz")).send().await
            && r.status() == StatusCode::OK
        {
            return (child, base);
        }
        assert!(
            Instant::now() < deadline,
            "second process never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn two_processes_process_each_event_exactly_once(pool: PgPool) {
    let t = TestApp::spawn_with(&pool, Default::default(), |c| {
        c.worker_tasks = 2;
        c.worker_batch_size = 50;
    })
    .await;
    t.connect_from_sysdig().await;
    // Only a rule that fires once on every event: the count of detections is the count of
    // processed events.
    let (_, policies) = t.policies("?managed=true&type=okta").await;
    for policy in policies["items"].as_array().unwrap() {
        let id = policy["id"].as_str().unwrap();
        let (status, body) = t.patch_policy(id, json!({ "enabled": false })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // ... and a stateful one: with every event in one window, each of the 97 users crosses
    // the threshold exactly once, however the events are spread over the workers.
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
    let (status, body) = t.create_policy(okta_policy("every", rules)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (_child, second) = start_second_process(&t, &pool).await;
    let hook = t.hook().await;

    let events: Vec<Value> = (0..EVENTS)
        .map(|i| log_event("user.session.start", &format!("u{}@acme.com", i % 97)))
        .collect();
    let mut deliveries = Vec::new();
    for (n, chunk) in events.chunks(BATCH).enumerate() {
        let base = if n % 2 == 0 {
            t.base.clone()
        } else {
            second.clone()
        };
        let body = json!({ "eventType": "com.okta.event_hook", "data": { "events": chunk } });
        let request = t
            .http
            .post(format!("{base}/hooks/okta/{}", hook.key))
            .header("authorization", &hook.secret)
            .json(&body);
        deliveries.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status())
        }));
    }
    for delivery in deliveries {
        assert_eq!(delivery.await.unwrap().unwrap(), StatusCode::OK);
    }
    t.wait_processed().await;
    let (total, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT okta_event_uuid) FROM runtime_events WHERE rule_name = 'Every event'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total as usize, distinct as usize), (EVENTS, EVENTS));
    let (alerts, users): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT actor) FROM runtime_events WHERE rule_name = 'Ten sign-ins per user'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((alerts, users), (97, 97));
}
