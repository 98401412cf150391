//! The delivery engine: envelope, auth header, batching, one retry on 5xx/timeout, none on 4xx.

use std::time::Duration;

use okta_ingest::sim::{DeliveryReport, SimHandle, SimOptions};
use serde_json::{Value, json};

use crate::support::*;

/// A simulator with one verified hook; its receiver answers `replies` in order, then 200.
async fn sim_with_hook(replies: impl IntoIterator<Item = Reply>) -> (SimHandle, Receiver) {
    let sim = start_sim(sim_options()).await;
    let receiver = Receiver::start().await;
    verified_hook(&sim, &receiver, "s").await;
    receiver.script(replies);
    (sim, receiver)
}

#[tokio::test]
async fn delivers_okta_envelopes_in_batches_with_the_auth_header() {
    let sim = start_sim(SimOptions {
        batch_size: 50,
        ..sim_options()
    })
    .await;
    let receiver = Receiver::start().await;
    let hook_id = verified_hook(&sim, &receiver, "hook-secret").await;

    let mut batch = events("user.session.start", 120);
    batch.push(event("user.account.unsubscribed_type"));
    let report = sim.deliver(batch.clone()).await;

    assert_eq!(report.appended, 121);
    assert_eq!(report.hooks.len(), 1);
    let hook = &report.hooks[0];
    assert_eq!(
        (hook.hook_id.as_str(), hook.uri.as_str()),
        (hook_id.as_str(), receiver.url.as_str())
    );
    assert_eq!((hook.delivered, hook.dropped), (120, 0));
    let sizes: Vec<usize> = hook.batches.iter().map(|b| b.events).collect();
    assert_eq!(sizes, vec![50, 50, 20]);
    assert!(
        hook.batches
            .iter()
            .all(|b| b.attempts == 1 && b.status == Some(200))
    );

    let posts = receiver.posts();
    assert_eq!(posts.len(), 3);
    let post = &posts[0];
    assert_eq!(post.header("authorization"), Some("hook-secret"));
    assert_eq!(post.header("x-custom"), Some("custom-value"));
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("accept"), Some("application/json"));
    let envelope = post.json();
    assert_eq!(envelope["eventType"], "com.okta.event_hook");
    assert_eq!(envelope["eventTypeVersion"], "1.0");
    assert_eq!(envelope["cloudEventsVersion"], "0.1");
    assert_eq!(envelope["contentType"], "application/json");
    assert_eq!(
        envelope["source"],
        format!("{}/api/v1/eventHooks/{hook_id}", sim.base_url)
    );
    assert!(uuid::Uuid::parse_str(envelope["eventId"].as_str().unwrap()).is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(envelope["eventTime"].as_str().unwrap()).is_ok());
    let delivered: Vec<Value> = posts
        .iter()
        .flat_map(|p| p.json()["data"]["events"].as_array().unwrap().clone())
        .collect();
    assert_eq!(delivered, batch[..120].to_vec());
    assert_eq!(sim.log_events().len(), 121);
}

#[tokio::test]
async fn a_500_is_retried_once() {
    let (sim, receiver) = sim_with_hook([Reply::Status(500)]).await;

    let report = sim.deliver(events("user.account.lock", 3)).await;
    let batch = &report.hooks[0].batches[0];
    assert_eq!(
        (batch.attempts, batch.status, batch.delivered),
        (2, Some(200), 3)
    );
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2);
    // The retry is the same delivery.
    assert_eq!(posts[0].json()["eventId"], posts[1].json()["eventId"]);
}

#[tokio::test]
async fn two_5xx_drop_the_batch_and_okta_logs_the_failure() {
    let (sim, _receiver) = sim_with_hook([Reply::Status(503), Reply::Status(500)]).await;

    let report = sim.deliver(events("user.account.lock", 2)).await;
    let batch = &report.hooks[0].batches[0];
    assert_eq!(
        (batch.attempts, batch.status, batch.dropped),
        (2, Some(500), 2)
    );
    assert_eq!(report.dropped(), 2);
    let log = sim.log_events();
    let failure = log
        .iter()
        .find(|e| e["eventType"] == "event_hook.delivery")
        .unwrap();
    assert_eq!(failure["outcome"]["result"], "FAILURE");
    assert_eq!(sim.counters().batches_dropped, 1);
}

#[tokio::test]
async fn a_4xx_is_never_retried() {
    let (sim, receiver) = sim_with_hook([Reply::Status(400)]).await;

    let report = sim.deliver(events("user.account.lock", 2)).await;
    let batch = &report.hooks[0].batches[0];
    assert_eq!(
        (batch.attempts, batch.status, batch.dropped),
        (1, Some(400), 2)
    );
    assert_eq!(receiver.posts().len(), 1);
}

#[tokio::test]
async fn a_timeout_is_retried_once() {
    let sim = start_sim(SimOptions {
        delivery_timeout: Duration::from_millis(200),
        ..sim_options()
    })
    .await;
    let receiver = Receiver::start().await;
    verified_hook(&sim, &receiver, "s").await;
    let slow = Duration::from_millis(600);
    receiver.script([Reply::Slow(slow, 200), Reply::Slow(slow, 200)]);

    let report = sim.deliver(events("user.account.lock", 1)).await;
    let batch = &report.hooks[0].batches[0];
    assert_eq!(batch.attempts, 2);
    assert_eq!(batch.error.as_deref(), Some("timeout"));
    assert_eq!(batch.dropped, 1);
    assert!(batch.latency_ms >= 200);
}

#[tokio::test]
async fn only_active_verified_hooks_receive() {
    let sim = start_sim(sim_options()).await;
    let unverified = Receiver::start().await;
    let inactive = Receiver::start().await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    okta.create_hook(&unverified.url, "s").await;
    let id = verified_hook(&sim, &inactive, "s").await;
    okta.lifecycle(&id, "deactivate").await;
    sim.create_foreign_hooks(2);

    let report = sim.deliver(events("user.lifecycle.create", 2)).await;
    assert!(report.hooks.is_empty());
    assert!(unverified.posts().is_empty() && inactive.posts().is_empty());
    assert_eq!(sim.log_events().len(), 2);
}

#[tokio::test]
async fn sim_deliver_over_http_and_skip_delivery() {
    let (sim, receiver) = sim_with_hook([]).await;
    let control = &SimClient::new(&sim);
    let deliver = |body: Value| async move {
        let (status, report) = control.post("/sim/deliver", &body).await;
        assert_eq!(status, 200, "{report}");
        serde_json::from_value::<DeliveryReport>(report).unwrap()
    };

    let report = deliver(json!({ "events": events("user.session.start", 3) })).await;
    assert_eq!((report.appended, report.delivered()), (3, 3));

    let skipped =
        deliver(json!({ "events": events("user.session.start", 4), "skip_delivery": true })).await;
    assert_eq!((skipped.appended, skipped.hooks.len()), (4, 0));
    assert_eq!(receiver.posts().len(), 1);
    assert_eq!(sim.log_events().len(), 7);

    let (status, _) = control.post("/sim/deliver", &json!({ "nope": 1 })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_redelivered_event_reaches_the_hook_again_but_is_logged_once() {
    let (sim, receiver) = sim_with_hook([]).await;
    let batch = events("user.session.start", 2);

    let first = sim.deliver(batch.clone()).await;
    let second = sim.deliver(batch).await;
    assert_eq!((first.appended, second.appended), (2, 0));
    assert_eq!((first.delivered(), second.delivered()), (2, 2));
    assert_eq!(receiver.posts().len(), 2);
    assert_eq!(sim.log_events().len(), 2);
}

#[tokio::test]
async fn events_without_uuid_or_published_get_them() {
    let (sim, receiver) = sim_with_hook([]).await;
    sim.deliver(vec![json!({ "eventType": "user.lifecycle.create" })])
        .await;
    let delivered = receiver.posts()[0].json()["data"]["events"][0].clone();
    assert!(delivered["uuid"].is_string() && delivered["published"].is_string());
    assert_eq!(sim.log_events(), vec![delivered]);
}
