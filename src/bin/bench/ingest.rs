//! `okta-ingest-bench ingest`: the hook path and the worker under load, against the local
//! Postgres, beside a COPY floor (the fastest Postgres can take the same rows) measured in the
//! same run.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;

use okta_ingest::config::Config;
use okta_ingest::{app, service, sim, store};

const DATABASE: &str = "postgres://postgres@127.0.0.1:5432/okta_ingest_bench";
/// Okta-like deliveries: batches of 50 events.
const BATCH: usize = 50;
/// Closed loop: batches in flight at once.
const CONCURRENCY: usize = 8;
/// Okta allows 25 hooks per org: one simulated org per this many tenants.
const TENANTS_PER_ORG: usize = 20;

/// What to run: how long, over how many tenants, and open-loop at a rate or closed-loop.
pub struct Load {
    pub seconds: u64,
    pub tenants: usize,
    pub rate: Option<f64>,
}

struct Target {
    url: String,
    secret: String,
}

pub async fn run(load: Load) -> anyhow::Result<Value> {
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
    let config = Config::load(None)?.for_simulator(&url, port);
    let app = app::run(config, listener).await?;
    let pool = app.services.pool().clone();
    let http = reqwest::Client::new();
    let mut sims = Vec::new();
    let mut targets = Vec::new();
    for i in 0..load.tenants.max(1) {
        if i % TENANTS_PER_ORG == 0 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            // The wizard's hooks are loopback http: the simulator follows the dev switch.
            let options = sim::SimOptions::default().with_dev_loopback(true);
            sims.push(sim::spawn(listener, options).await?);
        }
        let sim = sims.last().context("a simulated org")?;
        let (_, token) = service::tokens::create_tenant(&pool, &format!("bench {i}")).await?;
        let (key, secret) = connect(&http, &app.base_url(), &token, sim).await?;
        targets.push(Target {
            url: format!("{}/hooks/okta/{key}", app.base_url()),
            secret,
        });
    }

    // Generate the load first so generation does not count; open loop needs rate × seconds.
    let wanted = match load.rate {
        Some(rate) => (rate * load.seconds as f64) as usize + BATCH,
        None => 200_000,
    };
    let events = sim::scenario::random_events(wanted, 7);
    let bodies: Vec<String> = events
        .chunks(BATCH)
        .map(|chunk| {
            json!({ "eventType": "com.okta.event_hook", "data": { "events": chunk } }).to_string()
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(load.seconds);
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0usize;
    let mut sent_batches = 0;
    let mut in_flight = tokio::task::JoinSet::new();
    let interval = load
        .rate
        .map(|rate| Duration::from_secs_f64(BATCH as f64 / rate));
    for (i, body) in bodies.iter().cloned().enumerate() {
        match interval {
            // Open loop, like Okta: the next batch leaves on time whatever the latency.
            Some(every) => {
                let at = started + every * i as u32;
                if at >= deadline {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
            }
            None => {
                if Instant::now() >= deadline {
                    break;
                }
                while in_flight.len() >= CONCURRENCY {
                    record(&mut latencies, &mut errors, in_flight.join_next().await);
                }
            }
        }
        let target = &targets[i % targets.len()];
        let request = http
            .post(&target.url)
            .header("authorization", &target.secret)
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
        record(&mut latencies, &mut errors, Some(done));
    }
    let ack_elapsed = started.elapsed();
    let events_sent = ((sent_batches - errors) * BATCH).min(events.len());
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
    let processed_per_s = events_sent as f64 / processed_elapsed.as_secs_f64();
    let lag = lag_quantiles();
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let figures = json!({
        "tenants": targets.len(),
        "rate": load.rate,
        "events": events_sent,
        "batch_size": BATCH,
        "acked_events_per_s": acked_per_s.round(),
        "processed_events_per_s": processed_per_s.round(),
        "processed_ratio": round3(processed_per_s / acked_per_s),
        "ack_p50_ms": round3(pct(0.5)),
        "ack_p99_ms": round3(pct(0.99)),
        "lag_p50_ms": lag.map(|l| l.0.round()),
        "lag_p99_ms": lag.map(|l| l.1.round()),
        "rss_peak_mib": rss_peak_mib(),
        "errors": errors,
        "copy_floor_events_per_s": floor.round(),
        "ratio": round3(acked_per_s / floor),
    });
    app.shutdown().await;
    Ok(figures)
}

fn record(
    latencies: &mut Vec<Duration>,
    errors: &mut usize,
    done: Option<Result<anyhow::Result<Duration>, tokio::task::JoinError>>,
) {
    match done {
        Some(Ok(Ok(latency))) => latencies.push(latency),
        Some(_) => *errors += 1,
        None => {}
    }
}

/// p50 and p99 of acknowledgement → processed, in ms, interpolated in the worker's histogram.
fn lag_quantiles() -> Option<(f64, f64)> {
    let text = okta_ingest::telemetry::metrics_handle()?.render();
    let prefix = format!("{}_bucket{{le=\"", okta_ingest::telemetry::LAG_METRIC);
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    let quantile = |q: f64| {
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for (le, count) in &buckets {
            if *count >= rank {
                let upper = if le.is_finite() { *le } else { lower * 2.0 };
                let within = if count > &below {
                    (rank - below) / (count - below)
                } else {
                    1.0
                };
                return (lower + (upper - lower) * within) * 1000.0;
            }
            (lower, below) = (*le, *count);
        }
        lower * 1000.0
    };
    (total > 0.0).then(|| (quantile(0.5), quantile(0.99)))
}

/// Peak resident memory of this process (service and load generator), in MiB.
fn rss_peak_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
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
