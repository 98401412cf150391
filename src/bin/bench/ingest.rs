//! `okta-ingest-bench ingest`: the hook path and the worker under load, against the local
//! Postgres, beside a COPY floor (the fastest Postgres can take the same rows) measured in the
//! same run.

use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;

use okta_ingest::config::Config;
use okta_ingest::{app, service, sim, store};

const DATABASE: &str = "postgres://postgres@127.0.0.1:5432/okta_ingest_bench";
const BATCH: usize = 100;
const CONCURRENCY: usize = 8;

pub async fn run(seconds: u64) -> anyhow::Result<Value> {
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DATABASE.into());
    // A fresh database each run: detection state left by earlier runs would slow this one.
    if sqlx::Postgres::database_exists(&url).await? {
        sqlx::Postgres::drop_database(&url)
            .await
            .context("dropping the bench database")?;
    }
    store::create_database_if_missing(&url)
        .await
        .context("bench database")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut config = Config::load(None)?;
    config.database_url = SecretString::from(url.clone());
    config.public_url = format!("http://127.0.0.1:{port}");
    config.dev_allow_loopback_okta = true;
    config.master_key = SecretString::from(okta_ingest::vault::Vault::keygen());
    config.gapfill_interval_secs = 0;
    config.hook_secret_rotation_secs = 0;
    let sim = sim::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        sim::SimOptions::default(),
    )
    .await?;
    let app = app::run(config, listener).await?;
    let pool = app.services.pool().clone();
    let (_, token) = service::tokens::create_tenant(&pool, "bench").await?;
    let http = reqwest::Client::new();
    let (key, secret) = connect(&http, &app.base_url(), &token, &sim).await?;

    // Generate the load first so generation does not count.
    let events = sim::scenario::random_events(200_000, 7);
    let bodies: Vec<String> = events
        .chunks(BATCH)
        .map(|chunk| {
            json!({ "eventType": "com.okta.event_hook", "data": { "events": chunk } }).to_string()
        })
        .collect();

    let hook_url = format!("{}/hooks/okta/{key}", app.base_url());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut sent_batches = 0;
    let mut in_flight = tokio::task::JoinSet::new();
    for body in bodies.iter().cloned() {
        if Instant::now() >= deadline {
            break;
        }
        while in_flight.len() >= CONCURRENCY {
            latencies.push(in_flight.join_next().await.context("task")???);
        }
        let request = http
            .post(&hook_url)
            .header("authorization", &secret)
            .header("content-type", "application/json")
            .body(body);
        in_flight.spawn(async move {
            let t0 = Instant::now();
            let response = request.send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "hook answered {}",
                response.status()
            );
            Ok::<_, anyhow::Error>(t0.elapsed())
        });
        sent_batches += 1;
    }
    while let Some(done) = in_flight.join_next().await {
        latencies.push(done??);
    }
    let ack_elapsed = started.elapsed();
    let events_sent = (sent_batches * BATCH).min(events.len());
    wait_drained(&pool).await?;
    let processed_elapsed = started.elapsed();

    let floor = copy_floor(&pool, &events[..events_sent]).await?;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let acked_per_s = events_sent as f64 / ack_elapsed.as_secs_f64();
    let figures = json!({
        "events": events_sent,
        "batch_size": BATCH,
        "concurrency": CONCURRENCY,
        "acked_events_per_s": acked_per_s.round(),
        "processed_events_per_s": (events_sent as f64 / processed_elapsed.as_secs_f64()).round(),
        "ack_p50_ms": pct(0.5),
        "ack_p99_ms": pct(0.99),
        "ack_max_ms": pct(1.0),
        "copy_floor_events_per_s": floor.round(),
        "ratio": ((acked_per_s / floor) * 1000.0).round() / 1000.0,
    });
    app.shutdown().await;
    Ok(figures)
}

async fn connect(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    sim: &sim::SimHandle,
) -> anyhow::Result<(String, String)> {
    let api = format!("{base}/api/v1/integrations/okta");
    let created: Value = http
        .post(&api)
        .bearer_auth(token)
        .json(&json!({ "okta_domain": sim.base_url, "client_id": sim.client_id, "client_secret": sim.client_secret() }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("integration created")?;
    let completed: Value = http
        .post(format!("{api}/{id}/complete"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let hook_id = completed["event_hook_id"]
        .as_str()
        .context("hook provisioned")?;
    let hook = sim
        .hooks()
        .into_iter()
        .find(|h| h.id == hook_id)
        .context("hook in the simulator")?;
    let key = hook.uri.rsplit('/').next().context("hook key")?.to_string();
    let secret = sim.hook_auth_value(hook_id).context("hook secret")?;
    Ok((key, secret))
}

async fn wait_drained(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    loop {
        if store::inbox::queue_stats(pool).await?.depth == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The same events written by one COPY into an unindexed table: the floor of what one
/// Postgres can absorb, for the ratio.
async fn copy_floor(pool: &sqlx::PgPool, events: &[Value]) -> anyhow::Result<f64> {
    let mut conn = pool.acquire().await?;
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS copy_floor (uuid text, raw jsonb)")
        .execute(&mut *conn)
        .await?;
    let mut data = Vec::with_capacity(events.len() * 1024);
    for event in events {
        let uuid = event["uuid"].as_str().unwrap_or_default();
        let raw = event
            .to_string()
            .replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n");
        data.extend_from_slice(format!("{uuid}\t{raw}\n").as_bytes());
    }
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY copy_floor (uuid, raw) FROM STDIN")
        .await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}
