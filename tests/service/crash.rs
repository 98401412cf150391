//! `okta-ingest serve` killed with SIGKILL in the middle of a delivery load, then restarted:
//! every acknowledged event is stored and processed exactly once, and the stateful rule
//! raises exactly the detections an uninterrupted run raises.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, free_port, log_event};

const EVENTS: usize = 4000;
const BATCH: usize = 50;
const USERS: usize = 97;

#[sqlx::test(migrations = "./migrations")]
async fn sigkill_under_load_loses_and_repeats_nothing(pool: PgPool) {
    // The test's own service only runs the wizard; the process that is killed does all the
    // receiving and all the processing.
    let t = TestApp::spawn_with(&pool, Default::default(), |c| c.worker_tasks = 0).await;
    t.connect_from_sysdig().await;
    t.only_counting_rules().await;
    let hook = t.hook().await;

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/okta/{}", hook.key);
    let batches: Vec<Vec<Value>> = (0..EVENTS)
        .map(|i| log_event("user.session.start", &format!("u{}@acme.com", i % USERS)))
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[Value]>::to_vec)
        .collect();
    let deliver = |batch: &Vec<Value>| {
        let body = json!({ "eventType": "com.okta.event_hook", "data": { "events": batch } });
        let request = t
            .http
            .post(&url)
            .header("authorization", &hook.secret)
            .json(&body);
        tokio::spawn(async move { request.send().await.map(|r| r.status()) })
    };

    // Four deliveries in flight at a time, as Okta sends them; the process dies after a
    // third of the load, while batches are being received and processed.
    let mut child = t.start_serve_process(port).await;
    let mut unacked = Vec::new();
    let mut acked = 0;
    for (n, window) in batches.chunks(4).enumerate() {
        let sent: Vec<_> = window.iter().map(deliver).collect();
        if n == batches.len() / 12 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            child.start_kill().expect("SIGKILL");
        }
        for (batch, delivery) in window.iter().zip(sent) {
            match delivery.await.expect("task") {
                Ok(StatusCode::OK) => acked += 1,
                _ => unacked.push(batch.clone()),
            }
        }
    }
    child.wait().await.expect("the killed process is reaped");
    assert!(acked > 0 && !unacked.is_empty(), "the kill landed mid-load");

    // Restarted, it gets what Okta would retry (and gap fill would recover).
    let _child = t.start_serve_process(port).await;
    for batch in &unacked {
        assert_eq!(
            deliver(batch).await.expect("task").expect("delivered"),
            StatusCode::OK
        );
    }
    t.wait_processed().await;

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM okta_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        stored as usize, EVENTS,
        "every acknowledged event is stored once"
    );
    let (total, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT okta_event_uuid) FROM runtime_events WHERE rule_name = 'Every event'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((total as usize, distinct as usize), (EVENTS, EVENTS));
    // Uninterrupted, each user crosses the threshold once within the window.
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM runtime_events WHERE rule_name = 'Ten sign-ins per user'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let distinct_actors: BTreeSet<&String> = actors.iter().collect();
    assert_eq!((actors.len(), distinct_actors.len()), (USERS, USERS));
}
