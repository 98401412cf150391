//! Okta deliveries → inbox → worker → runtime events → feed, against the simulator.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{JSON, TestApp, count, database_url, envelope, execute, log_event};

#[sqlx::test(migrations = "./migrations")]
async fn scenario_from_both_wizard_directions_reaches_the_feed(pool: PgPool) {
    // Okta's delivery model: batches redelivered, events out of order.
    let t = TestApp::spawn_realistic(&pool).await;
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
    // Okta's delivery model: batches redelivered, events out of order.
    let t = TestApp::spawn_realistic(&pool).await;
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
    let (_, shown) = t.integrations().await;
    assert_eq!(shown["items"][0]["events_received"], json!(events.len()));
}

/// A delivery as Okta would send it; each refused case changes one thing about it.
#[derive(Clone)]
struct Delivery {
    key: String,
    auth: Option<String>,
    content_type: &'static str,
    body: String,
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_deliveries_get_their_status_and_lose_nothing(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let hook = t.hook().await;
    let good = log_event("user.session.start", "a@acme.com");
    let valid = Delivery {
        key: hook.key.clone(),
        auth: Some(hook.secret.clone()),
        content_type: JSON,
        body: envelope(std::slice::from_ref(&good)).to_string(),
    };
    type Tweak = fn(&mut Delivery);
    let refused: [(&str, Tweak, StatusCode, &str); 8] = [
        (
            "no Authorization header",
            |d| d.auth = None,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "a wrong secret",
            |d| d.auth = Some("wrong".into()),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "an unknown hook key",
            |d| d.key = "no-such-key".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "text/plain",
            |d| d.content_type = "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "malformed JSON",
            |d| d.body = "{not json".into(),
            StatusCode::BAD_REQUEST,
            "malformed_envelope",
        ),
        (
            "not an event hook envelope",
            |d| d.body = r#"{"eventType":"x","data":{"events":[]}}"#.into(),
            StatusCode::BAD_REQUEST,
            "malformed_envelope",
        ),
        (
            "events not a list",
            |d| d.body = r#"{"eventType":"com.okta.event_hook","data":{"events":{}}}"#.into(),
            StatusCode::BAD_REQUEST,
            "malformed_envelope",
        ),
        (
            "over the body limit",
            |d| {
                let big = "x".repeat(11 * 1024 * 1024);
                let event = json!({ "uuid": "big", "eventType": "x", "displayMessage": big });
                d.body = envelope(&[event]).to_string();
            },
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (case, tweak, expected_status, expected_code) in refused {
        let mut d = valid.clone();
        tweak(&mut d);
        let (status, problem) = t
            .deliver_hook(&d.key, d.auth.as_deref(), d.content_type, d.body)
            .await;
        assert_eq!(status, expected_status, "{case}: {problem}");
        assert_eq!(problem["code"], expected_code, "{case}: {problem}");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        0,
        "nothing from refused deliveries"
    );

    // A malformed event inside a good batch is quarantined; the others are kept.
    let other = log_event("user.account.lock", "b@acme.com");
    let mixed = envelope(&[
        good.clone(),
        json!({ "eventType": "no uuid" }),
        json!("a string"),
        other.clone(),
    ]);
    let (status, _) = t
        .deliver_hook(
            &hook.key,
            Some(&hook.secret),
            "application/json; charset=utf-8",
            mixed.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
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
    assert_eq!(t.get_without_token("/readyz").await, StatusCode::OK);
}

/// The hook's body used to be read (up to the 10 MB limit) before the key and the secret
/// were checked: anyone could hold a connection and 10 MB of memory per request by sending
/// a body slowly, until the connection limit kept Okta's own deliveries out. A request
/// without this hook's secret is answered as soon as its headers are in.
#[sqlx::test(migrations = "./migrations")]
async fn an_unauthenticated_delivery_is_refused_before_its_body_is_read(pool: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let hook = t.hook().await;
    let address = t.base.trim_start_matches("http://").to_string();
    let cases = [
        (hook.key.clone(), "Authorization: wrong\r\n", "401"),
        (hook.key.clone(), "", "401"),
        ("no-such-key".to_string(), "Authorization: wrong\r\n", "404"),
    ];
    for (key, auth, expected) in cases {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /hooks/okta/{key} HTTP/1.1\r\nHost: {address}\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // A part of the promised body, and then nothing.
        stream.write_all(&[b' '; 64 * 1024]).await.unwrap();
        let mut answer = [0u8; 12];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{expected}: no answer while the body is unsent"));
        read.unwrap();
        let status_line = String::from_utf8_lossy(&answer);
        assert!(status_line.ends_with(expected), "{expected}: {status_line}");
    }
    assert_eq!(
        t.deliver_events(
            &hook,
            &hook.secret,
            &[log_event("user.session.start", "a@acme.com")]
        )
        .await,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn database_outage_is_a_503_then_recovers_without_restart(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let hook = t.hook().await;
    let database = database_url(&pool).rsplit('/').next().unwrap().to_string();
    let admin = PgPool::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .unwrap();
    let before = log_event("user.session.start", "before@acme.com");
    assert_eq!(
        t.deliver_events(&hook, &hook.secret, &[before]).await,
        StatusCode::OK
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()").bind(&database).execute(&admin).await.unwrap();
    let during = envelope(&[log_event("user.session.start", "during@acme.com")]).to_string();
    let response = t
        .hook_response(&hook.key, Some(&hook.secret), JSON, during.clone())
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(t.get_without_token("/healthz").await, StatusCode::OK);

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
    )))
    .execute(&admin)
    .await
    .unwrap();
    // Okta's retry of the same delivery now succeeds.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        (status, _) = t
            .deliver_hook(&hook.key, Some(&hook.secret), JSON, during.clone())
            .await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, StatusCode::OK);
    t.wait_processed().await;
    assert_eq!(
        count(t.pool(), "SELECT count(*) FROM okta_event_keys").await,
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
    execute(&pool, "UPDATE integrations SET gapfill_needed = true").await;
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
    let hook = t.hook().await;
    let old = hook.secret.clone();
    execute(
        &pool,
        "UPDATE integrations SET hook_secret_rotated_at = now() - interval '40 days'",
    )
    .await;
    let due = okta_ingest::store::integrations::due_for_secret_rotation(&pool, 30 * 86400)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    t.app.services.rotate_hook_secret(&due[0]).await.unwrap();
    let new = t.hook().await.secret;
    assert_ne!(old, new);
    let events = || [log_event("user.session.start", "r@acme.com")];
    assert_eq!(
        t.deliver_events(&hook, &old, &events()).await,
        StatusCode::OK,
        "old secret during overlap"
    );
    assert_eq!(
        t.deliver_events(&hook, &new, &events()).await,
        StatusCode::OK
    );
    let report = t
        .sim
        .deliver(vec![log_event("user.session.start", "s@acme.com")])
        .await;
    assert_eq!(report.delivered(), 1, "Okta uses the new secret, verified");
    execute(
        &pool,
        "UPDATE integrations SET hook_secret_prev_until = now() - interval '1 second'",
    )
    .await;
    assert_eq!(
        t.deliver_events(&hook, &old, &events()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.deliver_events(&hook, &new, &events()).await,
        StatusCode::OK
    );
}

/// Okta refusing the rotated hook leaves it holding the secret it had: that one must stay
/// accepted after the overlap window (not only during it), the status says why, and the
/// rotation is due again once that window is over, so it succeeds once Okta is back.
#[sqlx::test(migrations = "./migrations")]
async fn a_refused_secret_rotation_keeps_the_hook_working_and_is_retried_after_the_overlap(
    pool: PgPool,
) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let old = t.hook().await.secret;
    let age_the_secret =
        "UPDATE integrations SET hook_secret_rotated_at = now() - interval '40 days'";
    execute(&pool, age_the_secret).await;
    let due = || okta_ingest::store::integrations::due_for_secret_rotation(&pool, 30 * 86400);
    let org = due().await.unwrap().pop().expect("due");

    t.sim.fail_next_with_500(4);
    let refused = t.app.services.rotate_hook_secret(&org).await;
    assert!(refused.is_err(), "{refused:?}");
    t.sim.clear_faults();
    let view = t.integration(&id).await.1;
    let detail = view["last_error"]["detail"].as_str().unwrap_or("");
    assert!(detail.starts_with("hook secret rotation failed"), "{view}");
    assert!(
        due().await.unwrap().is_empty(),
        "not retried before the window is over"
    );
    execute(
        &pool,
        "UPDATE integrations SET hook_secret_prev_until = now() - interval '1 second'",
    )
    .await;
    let hook = t.hook().await;
    assert_eq!(hook.secret, old, "Okta kept the secret it had");
    let events = [log_event("user.session.start", "r@acme.com")];
    assert_eq!(
        t.deliver_events(&hook, &old, &events).await,
        StatusCode::OK,
        "past the overlap window"
    );
    let report = t
        .sim
        .deliver(vec![log_event("user.session.start", "s@acme.com")])
        .await;
    assert_eq!(report.delivered(), 1, "Okta's own deliveries");

    assert_eq!(
        due().await.unwrap().len(),
        1,
        "due again once the window is over"
    );
    t.app.services.rotate_hook_secret(&org).await.unwrap();
    assert_ne!(t.hook().await.secret, old);
    assert!(due().await.unwrap().is_empty());
    let report = t
        .sim
        .deliver(vec![log_event("user.session.start", "u@acme.com")])
        .await;
    assert_eq!(report.delivered(), 1, "Okta uses the new secret, verified");
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
    let hook = t.hook().await;
    let events = [
        log_event("user.session.start", "plain@acme.com"),
        log_event("user.session.start", "NUL_HERE@acme.com"),
        log_event("user.account.lock", "SURROGATE_HERE@acme.com"),
    ];
    let body = envelope(&events)
        .to_string()
        .replace("NUL_HERE", r"nul\u0000")
        .replace("SURROGATE_HERE", r"lone\ud800");
    let (status, _) = t
        .deliver_hook(&hook.key, Some(&hook.secret), JSON, body)
        .await;
    assert_eq!(status, StatusCode::OK);
    t.wait_processed().await;
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT raw::jsonb->'actor'->>'alternateId' FROM okta_events ORDER BY 1",
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
    execute(&pool, "UPDATE integrations SET gapfill_needed = true").await;
    assert_eq!(gap_fill().await.unwrap().inserted, 1, "the cursor advanced");
    let (_, shown) = t.integrations().await;
    assert_eq!(shown["items"][0]["last_error"], Value::Null);
    t.wait_processed().await;
}

/// Hardening defect 3: a failed sign-in whose username is ~2,700 characters made the
/// detection state's btree refuse the row, failing the worker's batch forever and leaving
/// every later event of every tenant queued.
#[sqlx::test(migrations = "./migrations")]
async fn a_huge_username_neither_blocks_the_queue_nor_escapes_detection(pool: PgPool) {
    // Okta's delivery model: batches redelivered, events out of order.
    let t = TestApp::spawn_realistic(&pool).await;
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

/// Any event the worker cannot process (here: Postgres refuses its detection) is quarantined
/// with its reason; its batch neighbours are processed and the queue moves on.
#[sqlx::test(migrations = "./migrations")]
async fn a_poison_event_is_quarantined_and_its_neighbours_processed(pool: PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22000'; END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON runtime_events
         FOR EACH ROW WHEN (NEW.okta_event_uuid = 'poison') EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.alert_on_every_lock().await;
    let mut events: Vec<Value> = (0..5)
        .map(|i| log_event("user.account.lock", &format!("u{i}@acme.com")))
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
        sqlx::query_scalar("SELECT DISTINCT okta_event_uuid FROM runtime_events")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        observed.len(),
        4,
        "the other four were processed: {observed:?}"
    );
}

/// A small org's System Log budget (here 8 calls a window, the app's half is 4; windows of
/// 2 s instead of a minute to keep the test short) and 6,500 events to recover: gap fill
/// paces itself by the rate-limit headers and finishes without one 429.
#[sqlx::test(migrations = "./migrations")]
async fn gap_fill_finishes_within_realistic_rate_limits_without_a_429(pool: PgPool) {
    let mut options = okta_ingest::sim::SimOptions::default().with_deterministic_delivery();
    options.rate_limits.logs_per_window = 8;
    options.rate_limits.window = Duration::from_secs(2);
    let t = TestApp::spawn_with(&pool, options, |_| {}).await;
    t.connect_from_sysdig().await;
    let missed: Vec<Value> = (0..6_500)
        .map(|i| log_event("user.session.start", &format!("u{i}@acme.com")))
        .collect();
    t.sim.append_log(missed);

    let started = std::time::Instant::now();
    let report = okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    assert_eq!(report.inserted, 6_500, "{report:?}");
    assert!(report.pages >= 7, "{report:?}");
    let counters = t.sim.counters();
    assert_eq!(counters.rate_limited, 0, "no 429 at all: {counters:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it had to wait for a reset: {:?}",
        started.elapsed()
    );
    let (_, shown) = t.integrations().await;
    assert_eq!(shown["items"][0]["last_error"], Value::Null);
}

/// Okta never retries a 4xx: an authenticated delivery refused for its content loses its
/// events unless gap fill looks for them. Such a refusal asks for gap fill and shows on the
/// status page; one from an impostor (wrong secret) writes nothing there.
#[sqlx::test(migrations = "./migrations")]
async fn an_authenticated_delivery_refused_for_its_content_shows_and_asks_for_gap_fill(
    pool: PgPool,
) {
    let options = okta_ingest::sim::SimOptions::default().with_deterministic_delivery();
    // No gap fill round in the background: the test reads the flag it would clear.
    let t = TestApp::spawn_with(&pool, options, |c| c.gapfill_interval_secs = 0).await;
    let id = t.connect_from_sysdig().await;
    let hook = t.hook().await;
    let gapfill_needed = || async {
        sqlx::query_scalar::<_, bool>("SELECT gapfill_needed FROM integrations")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    execute(&pool, "UPDATE integrations SET gapfill_needed = false").await;

    let (status, _) = t
        .deliver_hook(&hook.key, Some("wrong"), JSON, "{not json".into())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, view) = t.integration(&id).await;
    assert_eq!(view["last_delivery_error"], Value::Null, "{view}");
    assert!(!gapfill_needed().await, "an impostor asks for nothing");

    let big = "x".repeat(11 * 1024 * 1024);
    let too_large = envelope(&[json!({ "uuid": "big", "eventType": "x", "displayMessage": big })]);
    let refused = [
        (
            "{not json".to_string(),
            StatusCode::BAD_REQUEST,
            "malformed_envelope",
        ),
        (
            too_large.to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (body, expected, code) in refused {
        let (status, problem) = t
            .deliver_hook(&hook.key, Some(&hook.secret), JSON, body)
            .await;
        assert_eq!(status, expected, "{problem}");
        let (_, view) = t.integration(&id).await;
        let shown = view["last_delivery_error"].as_str().unwrap_or_default();
        assert!(
            shown.contains(code) && shown.contains(expected.as_str()),
            "{code}: {view}"
        );
        assert!(!shown.contains(&hook.secret), "{view}");
        assert!(gapfill_needed().await, "{code}: gap fill is asked to look");
        execute(&pool, "UPDATE integrations SET gapfill_needed = false").await;
    }

    let good = [log_event("user.session.start", "a@acme.com")];
    assert_eq!(
        t.deliver_events(&hook, &hook.secret, &good).await,
        StatusCode::OK
    );
    let (_, view) = t.integration(&id).await;
    assert_eq!(
        view["last_delivery_error"],
        Value::Null,
        "a stored delivery clears it"
    );
}

/// A failure that is no one event's fault (here every checkpoint write fails) is retried
/// with a growing pause, not in a loop that burns a core and floods the log; once the cause
/// is gone, the events are processed.
#[sqlx::test(migrations = "./migrations")]
async fn a_batch_failing_whatever_its_events_is_retried_with_backoff(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    execute(&pool, "CREATE SEQUENCE checkpoint_attempts").await;
    execute(
        &pool,
        "CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM nextval('checkpoint_attempts'); RAISE EXCEPTION 'checkpoint refused'; END $$",
    )
    .await;
    execute(
        &pool,
        "CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON detect_checkpoints
         FOR EACH STATEMENT EXECUTE FUNCTION refuse_checkpoint()",
    )
    .await;
    let events = [
        log_event("user.session.start", "a@acme.com"),
        log_event("user.account.lock", "b@acme.com"),
    ];
    t.sim.deliver(events.to_vec()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let attempts = count(
        &pool,
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM checkpoint_attempts",
    )
    .await;
    // Two worker tasks, each: the batch, the batch event by event, then pauses from 200 ms
    // doubling: about a dozen in 3 s. Without a pause it is hundreds.
    assert!((2..=30).contains(&attempts), "{attempts} attempts in 3 s");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM quarantined_events").await,
        0,
        "no event is blamed for it"
    );

    execute(
        &pool,
        "DROP TRIGGER refuse_checkpoint ON detect_checkpoints",
    )
    .await;
    t.wait_processed().await;
}

/// Offboarding a tenant while gap fill reads a backlog from its org's System Log (a round
/// trip to Okta per page) must leave none of the tenant's events behind: the pages read
/// after the integration was deleted are not stored.
#[sqlx::test(migrations = "./migrations")]
async fn gap_fill_stores_nothing_for_a_tenant_offboarded_mid_run(pool: PgPool) {
    let options = okta_ingest::sim::SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| c.worker_tasks = 0).await;
    t.connect_from_sysdig().await;
    let backlog: Vec<Value> = (0..8_000)
        .map(|i| log_event("user.account.lock", &format!("u{i}@acme.com")))
        .collect();
    t.sim.append_log(backlog);
    t.sim.set_latency(Duration::from_millis(300));
    let services = t.app.services.clone();
    let gap_fill =
        tokio::spawn(async move { okta_ingest::ingest::gapfill::run_due(&services).await });
    while count(&pool, "SELECT count(*) FROM okta_event_keys").await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    t.app.services.offboard_tenant(t.tenant_id).await.unwrap();
    gap_fill.await.unwrap().unwrap();
    let left = [
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        count(&pool, "SELECT count(*) FROM okta_events").await,
        count(&pool, "SELECT count(*) FROM event_queue").await,
    ];
    assert_eq!(
        left,
        [0, 0, 0],
        "keys, raw events, queue of the offboarded tenant"
    );
}

/// A backlog longer than one round's page budget (after an outage of ours at a busy org): the
/// next round carries on at once. It used to wait for the poll interval, which capped the
/// recovery at 20 pages (20,000 events) per five minutes, whatever Okta's rate limits allowed.
#[sqlx::test(migrations = "./migrations")]
async fn gap_fill_keeps_reading_a_backlog_longer_than_one_round(pool: PgPool) {
    let mut options = okta_ingest::sim::SimOptions::default().with_deterministic_delivery();
    options.rate_limits.window = Duration::from_secs(2);
    let t = TestApp::spawn_with(&pool, options, |c| {
        c.gapfill_interval_secs = 300;
        c.worker_tasks = 0;
    })
    .await;
    t.connect_from_sysdig().await;
    let gap_fill = || okta_ingest::ingest::gapfill::run_due(&t.app.services);
    let keys = || count(&pool, "SELECT count(*) FROM okta_event_keys");
    // The first poll stores the cursor; the next is due in five minutes.
    gap_fill().await.unwrap();
    let missed: Vec<Value> = (0..25_000)
        .map(|i| log_event("user.session.start", &format!("u{i}@acme.com")))
        .collect();
    t.sim.append_log(missed);
    assert_eq!(gap_fill().await.unwrap().pages, 0, "not due yet");

    // The interval has passed (during our outage no failed delivery reached us to flag it).
    execute(
        &pool,
        "UPDATE integrations SET gapfill_last_run_at = now() - interval '301 seconds'",
    )
    .await;
    gap_fill().await.unwrap();
    assert!(keys().await < 25_000, "one round reads 20 pages at most");
    gap_fill().await.unwrap();
    assert_eq!(keys().await, 25_000, "the next round reads the rest");
    let caught_up = gap_fill().await.unwrap();
    assert_eq!(
        caught_up.pages, 0,
        "due again after the interval: {caught_up:?}"
    );
}

/// Gap fill that cannot read the System Log from the first poll on (here the Client Secret was
/// rotated in Okta right after the wizard) must, once it can, recover what the hook missed
/// since the integration went live, not only what is younger than the initial lookback (an
/// hour by default; two seconds here).
#[sqlx::test(migrations = "./migrations")]
async fn gap_fill_failing_from_its_first_poll_recovers_from_where_that_poll_started(pool: PgPool) {
    let options = okta_ingest::sim::SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| c.gapfill_initial_lookback_secs = 2).await;
    let id = t.connect_from_sysdig().await;
    let new_secret = t.sim.rotate_client_secret();
    t.sim.revoke_tokens();
    let gap_fill = || okta_ingest::ingest::gapfill::run_due(&t.app.services);
    assert_eq!(gap_fill().await.unwrap().pages, 0);
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["last_error"]["code"], "invalid_client", "{shown}");
    // A delivery Okta gave up on.
    t.sim
        .append_log(vec![log_event("user.account.lock", "missed@acme.com")]);

    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = t.replace_secret(&id, &new_secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gap_fill().await.unwrap().inserted, 1, "the missed event");
    t.wait_processed().await;
}

/// A gap fill Okta keeps refusing (the secret rotated in Okta) is not retried at every tick
/// of every replica: each failure doubles the pause (5 s, 10 s, …), and credentials the admin
/// fixes make it due at once.
#[sqlx::test(migrations = "./migrations")]
async fn a_failing_gap_fill_backs_off_until_the_credentials_are_fixed(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let new_secret = t.sim.rotate_client_secret();
    t.sim.revoke_tokens();
    let gap_fill = || okta_ingest::ingest::gapfill::run_due(&t.app.services);
    // Failures in a row, and the seconds until the next poll.
    let backoff = || async {
        let (failures, retry_at): (i32, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as("SELECT gapfill_failures, gapfill_retry_at FROM integrations")
                .fetch_one(&pool)
                .await
                .unwrap();
        let wait = retry_at.map_or(0.0, |at| (at - chrono::Utc::now()).as_seconds_f64());
        (failures, wait)
    };

    gap_fill().await.unwrap();
    let (failures, wait) = backoff().await;
    assert_eq!(failures, 1);
    assert!((3.0..=5.0).contains(&wait), "{wait}");
    gap_fill().await.unwrap();
    assert_eq!(backoff().await.0, 1, "not polled at the next tick");
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["last_error"]["code"], "invalid_client", "{shown}");

    execute(&pool, "UPDATE integrations SET gapfill_retry_at = now()").await;
    gap_fill().await.unwrap();
    let (failures, wait) = backoff().await;
    assert_eq!(failures, 2);
    assert!((8.0..=10.0).contains(&wait), "doubled: {wait}");

    let (status, body) = t.replace_secret(&id, &new_secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.sim
        .append_log(vec![log_event("user.account.lock", "missed@acme.com")]);
    assert_eq!(gap_fill().await.unwrap().inserted, 1, "due at once");
    assert_eq!(backoff().await.0, 0);
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["last_error"], Value::Null, "{shown}");
    t.wait_processed().await;
}

/// Two replicas polling the same org at once (a round that outlived its claim): each event
/// is stored once, neither poll fails on the other's page locks, and the cursor ends caught up.
#[sqlx::test(migrations = "./migrations")]
async fn two_gap_fills_of_one_org_at_once_store_each_event_once(pool: PgPool) {
    use okta_ingest::ingest::gapfill::fill;
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let missed: Vec<Value> = (0..5_500)
        .map(|i| log_event("user.session.start", &format!("u{i}@acme.com")))
        .collect();
    t.sim.append_log(missed);
    let claimed = okta_ingest::store::gapfill::claim_due(&pool, 0, 1, 60).await;
    let target = claimed.unwrap().pop().unwrap();
    let services = &t.app.services;
    let (first, second) = tokio::join!(fill(services, &target), fill(services, &target));
    let (first, second) = (first.unwrap(), second.unwrap());
    let (tenant_id, id) = (target.org.tenant_id, target.org.id);
    okta_ingest::store::gapfill::succeeded(&pool, tenant_id, id)
        .await
        .unwrap();
    assert_eq!(
        first.inserted + second.inserted,
        5_500,
        "{first:?} {second:?}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        5_500
    );
    let (_, shown) = t.integrations().await;
    assert_eq!(shown["items"][0]["last_error"], Value::Null, "{shown}");
    assert_eq!(shown["items"][0]["events_received"], 5_500, "{shown}");
    t.sim
        .append_log(vec![log_event("user.account.lock", "later@acme.com")]);
    let after = okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    assert_eq!(
        (after.pages, after.inserted),
        (1, 1),
        "caught up: {after:?}"
    );
}

/// Every replica ran every due poll: with two replicas each org's System Log was read twice
/// per round, spending twice the org's rate limit (which its other tools share) for nothing.
#[sqlx::test(migrations = "./migrations")]
async fn replicas_share_gap_fill_each_due_org_is_read_once(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.sim
        .append_log(vec![log_event("user.account.lock", "m@acme.com")]);
    let log_reads = || t.sim.counters().api_calls.get("GET /api/v1/logs").copied();
    let before = log_reads().unwrap_or(0);
    // Long enough that the second round claims while the first still polls.
    t.sim.set_latency(std::time::Duration::from_secs(1));

    let replica = || okta_ingest::ingest::gapfill::run_due(&t.app.services);
    let (first, second) = tokio::join!(replica(), replica());
    let inserted = first.unwrap().inserted + second.unwrap().inserted;

    assert_eq!(inserted, 1);
    assert_eq!(
        log_reads().unwrap_or(0) - before,
        1,
        "one poll for one due org"
    );
    t.sim.set_latency(std::time::Duration::ZERO);
    let next_round = replica().await.unwrap();
    assert_eq!(next_round.pages, 1, "the claim is released after the poll");
}
