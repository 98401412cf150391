//! The realism switches at their defaults: rate-limit headers and buckets, concurrency
//! 429s, error bodies in every shape, and Okta's delivery model (delay after verification,
//! at least once, reordered, capped per day).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use okta_ingest::sim::{DeliveryOptions, RateLimits, SimOptions};
use reqwest::Method;
use serde_json::Value;

use crate::support::*;

fn header(response: &reqwest::Response, name: &str) -> i64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn rate_limit_headers_count_down_per_endpoint_group_at_the_apps_share() {
    let sim = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let first = okta.send(Method::GET, LOGS, None).await;
    let second = okta.send(Method::GET, LOGS, None).await;
    // A small org's System Log allows 50 a minute; the app gets 50 % of it.
    assert_eq!(header(&first, "x-rate-limit-limit"), 25);
    assert_eq!(header(&first, "x-rate-limit-remaining"), 24);
    assert_eq!(header(&second, "x-rate-limit-remaining"), 23);
    let reset = header(&first, "x-rate-limit-reset");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now + 55..=now + 60).contains(&reset),
        "a one-minute window: {reset} - {now}"
    );
    // The Event Hooks API is another bucket ("most other API actions": 600, so 300).
    let hooks = okta.send(Method::GET, HOOKS, None).await;
    assert_eq!(header(&hooks, "x-rate-limit-limit"), 300);
    assert_eq!(header(&hooks, "x-rate-limit-remaining"), 299);
}

#[tokio::test]
async fn too_many_requests_in_flight_get_a_concurrency_429_with_limit_0() {
    let sim = start_sim(SimOptions {
        rate_limits: RateLimits {
            max_concurrent: 2,
            ..RateLimits::default()
        },
        ..sim_options()
    })
    .await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    sim.set_latency(Duration::from_secs(1));
    let calls = (0..4).map(|_| okta.send(Method::GET, HOOKS, None));
    let answers = futures::future::join_all(calls).await;
    let refused: Vec<&reqwest::Response> = answers.iter().filter(|r| r.status() == 429).collect();
    assert_eq!(refused.len(), 2, "two in flight at once");
    for response in refused {
        assert_eq!(header(response, "x-rate-limit-limit"), 0);
        assert_eq!(header(response, "x-rate-limit-remaining"), 0);
    }
    assert_eq!(sim.counters().concurrency_limited, 2);
}

#[tokio::test]
async fn error_bodies_come_in_every_shape_okta_shows() {
    let sim = start_sim(SimOptions {
        vary_error_shapes: true,
        ..sim_options()
    })
    .await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let mut shapes = HashSet::new();
    for _ in 0..3 {
        let (_, error) = okta.get(&format!("{HOOKS}/who404")).await;
        assert_eq!(error["errorCode"], "E0000007");
        shapes.insert(shape(error.get("errorCauses")));
        let (_, error) = okta
            .post(HOOKS, &hook_body("", "https://example.com/h", "s"))
            .await;
        assert_eq!(error["errorCode"], "E0000001");
        assert!(
            error
                .to_string()
                .contains("name: The field cannot be left blank")
        );
        shapes.insert(shape(error.get("errorCauses")));
    }
    let expected: HashSet<&str> = ["[]", "null", "absent", "[{…}]", "{…}", "[\"…\"]"].into();
    assert_eq!(shapes, expected);
}

fn shape(causes: Option<&Value>) -> &'static str {
    match causes {
        None => "absent",
        Some(Value::Null) => "null",
        Some(Value::Object(_)) => "{…}",
        Some(Value::Array(items)) if items.is_empty() => "[]",
        Some(Value::Array(items)) if items[0].is_string() => "[\"…\"]",
        Some(Value::Array(_)) => "[{…}]",
        Some(_) => "other",
    }
}

#[tokio::test]
async fn deliveries_start_a_while_after_verification() {
    let delivery = DeliveryOptions {
        start_delay: Duration::from_millis(700),
        ..DeliveryOptions::deterministic()
    };
    let sim = start_sim(SimOptions {
        delivery,
        ..sim_options()
    })
    .await;
    let receiver = Receiver::start().await;
    verified_hook(&sim, &receiver, "s").await;
    let verified = Instant::now();
    let report = sim.deliver(events("user.session.start", 3)).await;
    assert!(
        verified.elapsed() >= Duration::from_millis(600),
        "{:?}",
        verified.elapsed()
    );
    assert_eq!(report.delivered(), 3);
    // Later deliveries go out at once.
    let again = Instant::now();
    sim.deliver(events("user.session.start", 1)).await;
    assert!(again.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn at_least_once_and_out_of_order() {
    let delivery = DeliveryOptions {
        redelivery_fraction: 1.0,
        reorder_window: 100,
        ..DeliveryOptions::deterministic()
    };
    let sim = start_sim(SimOptions {
        delivery,
        batch_size: 10,
        ..sim_options()
    })
    .await;
    let receiver = Receiver::start().await;
    verified_hook(&sim, &receiver, "s").await;
    let sent = events("user.session.start", 100);
    let report = sim.deliver(sent.clone()).await;
    assert_eq!(report.delivered(), 100);
    assert!(report.hooks[0].batches.iter().all(|b| b.redelivered));

    let posts = receiver.posts();
    assert_eq!(posts.len(), 20, "every batch twice");
    let envelope_ids: HashSet<String> = posts
        .iter()
        .map(|p| p.json()["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(envelope_ids.len(), 20, "a redelivery is a new envelope");
    let received: Vec<String> = posts
        .iter()
        .flat_map(|p| p.json()["data"]["events"].as_array().unwrap().clone())
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!((received.len(), unique.len()), (200, 100));
    let in_order: Vec<String> = sent
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect();
    let first_seen: Vec<String> = {
        let mut seen = HashSet::new();
        received
            .iter()
            .filter(|u| seen.insert(*u))
            .cloned()
            .collect()
    };
    assert_ne!(
        first_seen, in_order,
        "100 events in one window are shuffled"
    );
    assert_eq!(sim.counters().events_redelivered, 100);
}

#[tokio::test]
async fn the_daily_cap_drops_what_is_over_it_for_good() {
    let delivery = DeliveryOptions {
        daily_cap: 5,
        ..DeliveryOptions::deterministic()
    };
    let sim = start_sim(SimOptions {
        delivery,
        ..sim_options()
    })
    .await;
    let receiver = Receiver::start().await;
    verified_hook(&sim, &receiver, "s").await;
    let first = sim.deliver(events("user.session.start", 3)).await;
    let second = sim.deliver(events("user.session.start", 4)).await;
    assert_eq!((first.delivered(), second.delivered()), (3, 2));
    assert_eq!(second.hooks[0].over_daily_cap, 2);
    let third = sim.deliver(events("user.session.start", 1)).await;
    assert_eq!(third.delivered(), 0);
    assert_eq!(sim.counters().events_over_daily_cap, 3);
    assert_eq!(sim.log_events().len(), 8, "the System Log has every event");
}
