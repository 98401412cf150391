//! Two service processes on one database: thousands of events, each processed exactly once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, free_port, log_event};

const EVENTS: usize = 3000;
const BATCH: usize = 100;

#[sqlx::test(migrations = "./migrations")]
async fn two_processes_process_each_event_exactly_once(pool: PgPool) {
    let t = TestApp::spawn_with(&pool, Default::default(), |c| {
        c.worker_tasks = 2;
        c.worker_batch_size = 50;
    })
    .await;
    t.connect_from_sysdig().await;
    t.only_counting_rules().await;
    let port = free_port();
    let _child = t.start_serve_process(port).await;
    let second = format!("http://127.0.0.1:{port}");
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
