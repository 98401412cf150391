//! Fairness across tenants: one tenant's backlog must not keep another tenant's events
//! waiting (the worker visits tenants with queued work round-robin, a fair share each).

use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::support::{TestApp, log_event};

const BACKLOG: i64 = 20_000;

#[sqlx::test(migrations = "./migrations")]
async fn a_small_tenants_event_is_served_while_a_big_backlog_drains(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.alert_on_every_lock().await;

    // Another tenant's backlog, queued ahead of everything (as after a burst or an outage).
    let (big_tenant, _) = t.other_tenant().await;
    sqlx::query(
        "WITH backlog AS (
             INSERT INTO okta_events (tenant_id, integration_id, event_uuid, received_at, published, event_type, raw)
             SELECT $1, $2, 'b' || i, now(), now(), 'user.session.start',
                    jsonb_build_object('uuid', 'b' || i, 'eventType', 'user.session.start',
                        'published', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        'actor', jsonb_build_object('alternateId', 'user' || (i % 500) || '@big.example'),
                        'outcome', jsonb_build_object('result', 'SUCCESS'))::text
             FROM generate_series(1, $3) AS i
             RETURNING tenant_id, integration_id, event_uuid, received_at
         )
         INSERT INTO event_queue (tenant_id, integration_id, event_uuid, received_at)
         SELECT * FROM backlog",
    )
    .bind(big_tenant)
    .bind(uuid::Uuid::new_v4())
    .bind(BACKLOG)
    .execute(&pool)
    .await
    .unwrap();

    let started = Instant::now();
    t.sim
        .deliver(vec![log_event("user.account.lock", "small@acme.com")])
        .await;
    let deadline = started + Duration::from_secs(60);
    loop {
        let found = t.all_runtime_events("&q=locked").await;
        if !found.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let queued: Vec<(uuid::Uuid, i64)> =
                sqlx::query_as("SELECT tenant_id, count(*) FROM event_queue GROUP BY tenant_id")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            panic!("the small tenant's event waited; queued: {queued:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = started.elapsed();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM event_queue WHERE tenant_id = $1")
        .bind(big_tenant)
        .fetch_one(&pool)
        .await
        .unwrap();
    // Served after a fair share of batches, not after the backlog: most of it is still queued.
    assert!(
        left > BACKLOG / 2,
        "served after {waited:?} with only {left} of {BACKLOG} backlog events left"
    );
}
