//! The runtime-event feed: search, filters, cursor pagination under concurrent inserts,
//! tenant isolation, and runtime events that outlive their integration.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{TestApp, log_event};

#[sqlx::test(migrations = "./migrations")]
async fn feed_search_filters_pagination_and_isolation(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let events = okta_ingest::sim::scenario::demo_scenario(chrono::Utc::now());
    t.sim.deliver(events).await;
    t.wait_processed().await;
    let all = t.all_runtime_events("").await;
    assert!(all.len() >= 5);

    // Pages of 2 walk every item once, newest first, while new detections arrive.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".to_string(),
        };
        let (status, page) = t.events(&query).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap()),
        );
        if seen.len() == 2 {
            // Concurrent inserts land above the first page and do not shift the rest.
            t.sim
                .deliver(okta_ingest::sim::scenario::demo_scenario(
                    chrono::Utc::now() - chrono::Duration::days(400),
                ))
                .await;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    t.wait_processed().await;
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no item twice");
    assert!(
        all.iter()
            .all(|i| unique.contains(&i["id"].as_i64().unwrap())),
        "no item skipped"
    );

    let high = t.all_runtime_events("&severity=high").await;
    assert!(high.iter().all(|i| i["severity"] == "high"));
    let first = &all[0];
    let by_rule = t
        .all_runtime_events(&format!("&policy={}", first["policy_id"].as_str().unwrap()))
        .await;
    assert!(by_rule.iter().all(|i| i["policy_id"] == first["policy_id"]));
    let (status, detail) = t.event(&first["id"]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["raw"]["uuid"], first["okta_event_uuid"]);
    assert!(detail["normalized"]["event_type"].is_string());
    let (status, problem) = t.events("?limit=0").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    assert_eq!(t.events("?cursor=garbage").await.0, StatusCode::BAD_REQUEST);

    let (_, other) = t.other_tenant().await;
    let (_, theirs) = t
        .call(reqwest::Method::GET, "/api/v1/events", &other, None)
        .await;
    assert_eq!(theirs["items"], json!([]));
    let (status, _) = t
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/events/{}", first["id"]),
            &other,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "./migrations")]
async fn runtime_events_outlive_their_integration(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    t.sim
        .deliver(okta_ingest::sim::scenario::demo_scenario(chrono::Utc::now()))
        .await;
    t.wait_processed().await;
    let before = t.all_runtime_events("").await.len();
    assert!(before > 0);
    assert_eq!(t.delete_integration(&id).await, StatusCode::NO_CONTENT);
    assert_eq!(t.all_runtime_events("").await.len(), before);
}

/// `next_cursor` is null on the last page: a page that ended exactly on the last event
/// answered a cursor to an empty page (the console said "more below" of nothing).
#[sqlx::test(migrations = "./migrations")]
async fn the_last_page_has_no_cursor_even_when_full(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    for i in 0..4 {
        sqlx::query(
            "INSERT INTO runtime_events (tenant_id, integration_id, policy_id, policy_name,
                 rule_name, severity, priority, output, okta_event_uuid, event_type, published,
                 normalized, raw)
             VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'p', 'r', 'high', 'critical',
                 'o', $2, 'user.account.lock', now(), '{}', '{}')",
        )
        .bind(t.tenant_id.0)
        .bind(format!("event-{i}"))
        .execute(t.pool())
        .await
        .unwrap();
    }
    let (_, all) = t.events("?limit=4").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    assert!(all["next_cursor"].is_null(), "{all}");
    let (_, first) = t.events("?limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, last) = t.events(&format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 2);
    assert!(last["next_cursor"].is_null(), "{last}");
}

/// Postgres' parser keeps a login as one word, so searching a person's name or their
/// company's domain used to find none of their detections.
#[sqlx::test(migrations = "./migrations")]
async fn the_feed_finds_a_login_by_its_parts(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let token_created = log_event("system.api_token.create", "zoe.smith@acme.com");
    t.sim.deliver(vec![token_created]).await;
    t.wait_processed().await;

    for q in [
        "zoe.smith@acme.com",
        "zoe",
        "smith",
        "acme.com",
        "zoe%20smith",
    ] {
        let found = t.all_runtime_events(&format!("&q={q}")).await;
        assert!(!found.is_empty(), "q={q} finds nothing");
    }
    for q in ["zo", "bob", "example.com"] {
        let found = t.all_runtime_events(&format!("&q={q}")).await;
        assert!(found.is_empty(), "q={q} finds {found:?}");
    }
}
