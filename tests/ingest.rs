//! Okta deliveries → inbox → worker → runtime events → feed, against the simulator.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{TestApp, log_event};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn hook_of(t: &TestApp) -> (String, String) {
    let key: String =
        sqlx::query_scalar("SELECT hook_key FROM integrations WHERE status = 'active'")
            .fetch_one(t.app.services.pool())
            .await
            .unwrap();
    let hook = t
        .sim
        .hooks()
        .into_iter()
        .find(|h| h.uri.ends_with(&key))
        .expect("our hook in Okta");
    let secret = t
        .sim
        .hook_auth_value(&hook.id)
        .expect("the hook's auth value");
    (key, secret)
}

fn envelope(events: &[Value]) -> Value {
    json!({
        "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
        "source": "https://acme.okta.com/api/v1/eventHooks/who1", "eventId": uuid::Uuid::new_v4().to_string(),
        "eventTime": chrono::Utc::now().to_rfc3339(), "contentType": "application/json",
        "data": { "events": events }
    })
}

async fn post_hook(
    t: &TestApp,
    key: &str,
    auth: Option<&str>,
    content_type: &str,
    body: String,
) -> StatusCode {
    let mut request = t
        .http
        .post(format!("{}/hooks/okta/{key}", t.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.unwrap().status()
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn scenario_from_both_wizard_directions_reaches_the_feed(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let events = okta_ingest::sim::scenario::demo_scenario(chrono::Utc::now());
    let report = t.sim.deliver(events.clone()).await;
    assert_eq!(report.dropped(), 0);
    assert_eq!(report.delivered(), events.len());
    t.wait_processed().await;
    let detections = t.all_runtime_events("").await;
    assert!(
        detections.len() >= 5,
        "the scenario's attacks are detected: {}",
        detections.len()
    );
    let rules: HashSet<&str> = detections
        .iter()
        .filter_map(|d| d["rule_name"].as_str())
        .collect();
    assert!(rules.len() >= 4, "several different rules fire: {rules:?}");
    let found = t.all_runtime_events("&q=okta").await;
    assert_eq!(
        found.len(),
        detections.len(),
        "\"okta\" finds every Okta runtime event"
    );

    // The other direction, on a second org of the same tenant.
    let second = TestApp::spawn(&pool).await;
    second.connect_from_okta().await;
    let report = second
        .sim
        .deliver(vec![log_event("user.session.start", "x@acme.com")])
        .await;
    assert_eq!(report.delivered(), 1);
    second.wait_processed().await;
    let received = count(&pool, "SELECT count(*) FROM okta_event_keys").await;
    assert_eq!(received as usize, events.len() + 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_batch_twice_creates_nothing_twice(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let events = okta_ingest::sim::scenario::demo_scenario(chrono::Utc::now());
    t.sim.deliver(events.clone()).await;
    t.wait_processed().await;
    let stored = count(&pool, "SELECT count(*) FROM okta_events").await;
    let detections = count(&pool, "SELECT count(*) FROM runtime_events").await;
    t.sim.deliver(events.clone()).await;
    t.wait_processed().await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_events").await,
        stored
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM runtime_events").await,
        detections
    );
    let (_, shown) = t.get("/api/v1/integrations/okta").await;
    assert_eq!(shown["items"][0]["events_received"], json!(events.len()));
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_deliveries_get_their_status_and_lose_nothing(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let (key, secret) = hook_of(&t).await;
    let good = log_event("user.session.start", "a@acme.com");
    let body = |events: &[Value]| envelope(events).to_string();

    assert_eq!(
        post_hook(
            &t,
            &key,
            None,
            "application/json",
            body(std::slice::from_ref(&good))
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some("wrong"),
            "application/json",
            body(std::slice::from_ref(&good))
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_hook(
            &t,
            "no-such-key",
            Some(&secret),
            "application/json",
            body(std::slice::from_ref(&good))
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some(&secret),
            "text/plain",
            body(std::slice::from_ref(&good))
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some(&secret),
            "application/json",
            "{not json".into()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some(&secret),
            "application/json",
            r#"{"eventType":"x","data":{"events":[]}}"#.into()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some(&secret),
            "application/json",
            r#"{"eventType":"com.okta.event_hook","data":{"events":{}}}"#.into()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let oversized = body(&[
        json!({ "uuid": "big", "eventType": "x", "displayMessage": "x".repeat(11 * 1024 * 1024) }),
    ]);
    assert_eq!(
        post_hook(&t, &key, Some(&secret), "application/json", oversized).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        0,
        "nothing from refused deliveries"
    );

    // A malformed event inside a good batch is quarantined; the others are kept.
    let other = log_event("user.account.lock", "b@acme.com");
    let mixed = body(&[
        good.clone(),
        json!({ "eventType": "no uuid" }),
        json!("a string"),
        other.clone(),
    ]);
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some(&secret),
            "application/json; charset=utf-8",
            mixed
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        2
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM quarantined_events").await,
        2
    );
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM quarantined_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(reasons[0].contains("uuid"), "{reasons:?}");
    t.wait_processed().await;
    let health = t
        .http
        .get(format!("{}/readyz", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "./migrations")]
async fn database_outage_is_a_503_then_recovers_without_restart(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let (key, secret) = hook_of(&t).await;
    let database = common::database_url(&pool)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let admin = PgPool::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .unwrap();
    let before = log_event("user.session.start", "before@acme.com");
    assert_eq!(
        post_hook(
            &t,
            &key,
            Some(&secret),
            "application/json",
            envelope(&[before]).to_string()
        )
        .await,
        StatusCode::OK
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()").bind(&database).execute(&admin).await.unwrap();
    let during = log_event("user.session.start", "during@acme.com");
    let response = t
        .http
        .post(format!("{}/hooks/okta/{key}", t.base))
        .header("authorization", &secret)
        .json(&envelope(std::slice::from_ref(&during)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        t.http
            .get(format!("{}/healthz", t.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
    )))
    .execute(&admin)
    .await
    .unwrap();
    // Okta's retry of the same delivery now succeeds.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        status = post_hook(
            &t,
            &key,
            Some(&secret),
            "application/json",
            envelope(std::slice::from_ref(&during)).to_string(),
        )
        .await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, StatusCode::OK);
    t.wait_processed().await;
    assert_eq!(
        count(
            t.app.services.pool(),
            "SELECT count(*) FROM okta_event_keys"
        )
        .await,
        2
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn gap_fill_recovers_what_the_hook_missed_without_duplicates(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let delivered: Vec<Value> = (0..5)
        .map(|i| log_event("user.session.start", &format!("d{i}@acme.com")))
        .collect();
    let missed: Vec<Value> = (0..7)
        .map(|i| log_event("user.account.lock", &format!("m{i}@acme.com")))
        .collect();
    t.sim.deliver(delivered.clone()).await;
    t.sim.append_log(missed.clone());
    t.sim
        .append_log(vec![log_event("user.profile.update", "noise@acme.com")]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        5
    );

    let report = okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    assert_eq!(report.inserted, 7, "only the missing, subscribed events");
    sqlx::query("UPDATE integrations SET gapfill_needed = true")
        .execute(&pool)
        .await
        .unwrap();
    let again = okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        12
    );
    t.wait_processed().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn hook_secret_rotation_overlaps_then_refuses_the_old_secret(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let (key, old) = hook_of(&t).await;
    sqlx::query("UPDATE integrations SET hook_secret_rotated_at = now() - interval '40 days'")
        .execute(&pool)
        .await
        .unwrap();
    let due = okta_ingest::store::integrations::due_for_secret_rotation(&pool, 30 * 86400)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    t.app.services.rotate_hook_secret(&due[0]).await.unwrap();
    let (_, new) = hook_of(&t).await;
    assert_ne!(old, new);
    let body = || envelope(&[log_event("user.session.start", "r@acme.com")]).to_string();
    assert_eq!(
        post_hook(&t, &key, Some(&old), "application/json", body()).await,
        StatusCode::OK,
        "old secret during overlap"
    );
    assert_eq!(
        post_hook(&t, &key, Some(&new), "application/json", body()).await,
        StatusCode::OK
    );
    let report = t
        .sim
        .deliver(vec![log_event("user.session.start", "s@acme.com")])
        .await;
    assert_eq!(report.delivered(), 1, "Okta uses the new secret, verified");
    sqlx::query("UPDATE integrations SET hook_secret_prev_until = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        post_hook(&t, &key, Some(&old), "application/json", body()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_hook(&t, &key, Some(&new), "application/json", body()).await,
        StatusCode::OK
    );
}

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
        let path = match &cursor {
            Some(c) => format!("/api/v1/events?limit=2&cursor={c}"),
            None => "/api/v1/events?limit=2".to_string(),
        };
        let (status, page) = t.get(&path).await;
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
    let (status, detail) = t.get(&format!("/api/v1/events/{}", first["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["raw"]["uuid"], first["okta_event_uuid"]);
    assert!(detail["normalized"]["event_type"].is_string());
    let (status, problem) = t.get("/api/v1/events?limit=0").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    assert_eq!(
        t.get("/api/v1/events?cursor=garbage").await.0,
        StatusCode::BAD_REQUEST
    );

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
    let (status, _) = t
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/integrations/okta/{id}"),
            &t.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(t.all_runtime_events("").await.len(), before);
}

fn failed_sign_in(actor: &str) -> Value {
    let mut event = log_event("user.session.start", actor);
    event["outcome"] = json!({ "result": "FAILURE", "reason": "INVALID_CREDENTIALS" });
    event
}

/// Hardening defect 4: `\u0000` or a lone surrogate in one field made Postgres refuse the whole
/// delivery (500), so Okta's single retry failed too and every event in it was lost.
#[sqlx::test(migrations = "./migrations")]
async fn nul_and_lone_surrogates_cost_no_event(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let (key, secret) = hook_of(&t).await;
    let events = [
        log_event("user.session.start", "plain@acme.com"),
        log_event("user.session.start", "NUL_HERE@acme.com"),
        log_event("user.account.lock", "SURROGATE_HERE@acme.com"),
    ];
    let body = envelope(&events)
        .to_string()
        .replace("NUL_HERE", r"nul\u0000")
        .replace("SURROGATE_HERE", r"lone\ud800");
    let status = post_hook(&t, &key, Some(&secret), "application/json", body).await;
    assert_eq!(status, StatusCode::OK);
    t.wait_processed().await;
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT raw->'actor'->>'alternateId' FROM okta_events ORDER BY raw->'actor'->>'alternateId'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        actors,
        [
            "lone\u{fffd}@acme.com",
            "nul\u{fffd}@acme.com",
            "plain@acme.com"
        ]
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM quarantined_events").await,
        0
    );
}

/// Defect 4 in gap fill: a System Log page holding such an event failed every round without
/// advancing its cursor, so no later gap was recovered either, and the status showed no error.
#[sqlx::test(migrations = "./migrations")]
async fn gap_fill_stores_a_nul_event_and_moves_on(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.sim.append_log(vec![
        log_event("user.account.lock", "nul\u{0}@acme.com"),
        log_event("user.account.lock", "next@acme.com"),
    ]);
    let gap_fill = || okta_ingest::ingest::gapfill::run_due(&t.app.services);
    assert_eq!(gap_fill().await.unwrap().inserted, 2);
    t.sim
        .append_log(vec![log_event("user.account.lock", "later@acme.com")]);
    sqlx::query("UPDATE integrations SET gapfill_needed = true")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(gap_fill().await.unwrap().inserted, 1, "the cursor advanced");
    let (_, shown) = t.get("/api/v1/integrations/okta").await;
    assert_eq!(shown["items"][0]["last_error"], Value::Null);
    t.wait_processed().await;
}

/// Hardening defect 3: a failed sign-in whose username is ~2,700 characters made the
/// detection state's btree refuse the row, failing the worker's batch forever and leaving
/// every later event of every tenant queued.
#[sqlx::test(migrations = "./migrations")]
async fn a_huge_username_neither_blocks_the_queue_nor_escapes_detection(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let huge = format!("{}@acme.com", "x".repeat(2_700));
    let attempts: Vec<Value> = (0..12).map(|_| failed_sign_in(&huge)).collect();
    t.sim.deliver(attempts).await;
    t.sim
        .deliver(vec![log_event("user.session.start", "after@acme.com")])
        .await;
    t.wait_processed().await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM quarantined_events").await,
        0
    );
    let brute_force = t.all_runtime_events("&q=brute").await;
    assert_eq!(
        brute_force.len(),
        1,
        "still detected, once: {brute_force:?}"
    );
}

/// Any event the worker cannot process (here: Postgres refuses its state row) is quarantined
/// with its reason; its batch neighbours are processed and the queue moves on.
#[sqlx::test(migrations = "./migrations")]
async fn a_poison_event_is_quarantined_and_its_neighbours_processed(pool: PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22000'; END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON detect_observations
         FOR EACH ROW WHEN (NEW.event_uuid = 'poison') EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let mut events: Vec<Value> = (0..5)
        .map(|i| failed_sign_in(&format!("u{i}@acme.com")))
        .collect();
    events[2]["uuid"] = json!("poison");
    t.sim.deliver(events).await;
    t.wait_processed().await;
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM quarantined_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("refused by the test"), "{reasons:?}");
    let observed: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT event_uuid FROM detect_observations")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        observed.len(),
        4,
        "the other four were processed: {observed:?}"
    );
}
