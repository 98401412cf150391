//! `okta-ingest-bench ingest`: the hook path and the worker under load, against the local
//! Postgres, beside a COPY floor (the fastest Postgres can take the same rows) measured in the
//! same run.
//!
//! The service runs as real `okta-ingest serve` processes (one or more, on one database), so
//! their memory is theirs alone and several replicas can be measured; this process plays
//! Okta: the simulated orgs for the wizard, and the deliveries.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;
use tokio::process::Child;

use okta_ingest::{service, sim, store};

use crate::at_least_one;

const DATABASE: &str = "postgres://postgres@127.0.0.1:5432/okta_ingest_bench";
/// Okta-like deliveries: batches of 50 events.
const BATCH: usize = 50;
/// Closed loop: batches in flight at once.
const CONCURRENCY: usize = 8;
/// Okta allows 25 hooks per org: one simulated org per this many tenants.
const TENANTS_PER_ORG: usize = 20;

/// What to run: how long, over how many tenants and service processes, open-loop at a rate
/// or closed-loop.
#[derive(clap::Args)]
pub struct Load {
    /// Seconds of load.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Tenants, one integration each; the load is spread over their hooks.
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub tenants: usize,
    /// Open loop: events per second, in batches of 50, whatever the latency (like Okta).
    /// Without it, closed loop at the maximum.
    #[arg(long, value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// `okta-ingest serve` processes on the one database; tenants spread over them.
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub processes: usize,
    /// Distinct users per tenant (each with detection state; the events' actors are
    /// rewritten); the generator's own users otherwise.
    #[arg(long, value_parser = at_least_one)]
    pub users: Option<usize>,
    /// The `okta-ingest` binary to measure (e.g. a build of another commit, for a
    /// before/after in one session); the one beside this bench by default.
    #[arg(long)]
    pub service: Option<PathBuf>,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err("a number of events per second above 0".into()),
    }
}

struct Target {
    url: String,
    secret: String,
}

/// One `okta-ingest serve` process.
struct Replica {
    child: Child,
    base: String,
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
    let binary = match &load.service {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("okta-ingest"),
    };
    let master_key = okta_ingest::vault::Vault::keygen();
    let mut replicas = Vec::new();
    for _ in 0..load.processes {
        let public = replicas.first().map(|r: &Replica| r.base.clone());
        replicas.push(start_replica(&binary, &url, &master_key, public).await?);
    }
    let pool = store::connect(&url, 4).await?;
    let http = reqwest::Client::new();
    let mut sims = Vec::new();
    let mut targets = Vec::new();
    for i in 0..load.tenants {
        if i % TENANTS_PER_ORG == 0 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            // The wizard's hooks are loopback http: the simulator follows the dev switch.
            let options = sim::SimOptions::default().with_dev_loopback(true);
            sims.push(sim::spawn(listener, options).await?);
        }
        let sim = sims.last().context("a simulated org")?;
        let (_, token) = service::tokens::create_tenant(&pool, &format!("bench {i}")).await?;
        let (key, secret) = connect(&http, &replicas[0].base, &token, sim).await?;
        // Tenants are spread over the replicas' hooks, as a load balancer would.
        let base = &replicas[i % replicas.len()].base;
        targets.push(Target {
            url: format!("{base}/hooks/okta/{key}"),
            secret,
        });
    }

    // Generate the load first so generation does not count; open loop needs rate × seconds.
    let wanted = match load.rate {
        Some(rate) => (rate * load.seconds as f64) as usize + BATCH,
        None => 200_000,
    };
    let mut events = sim::scenario::random_events(wanted, 7);
    if let Some(users) = load.users {
        spread_users(&mut events, targets.len(), users.max(1));
    }
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

    let mut metrics = String::new();
    for replica in &replicas {
        metrics.push_str(
            &http
                .get(format!("{}/metrics", replica.base))
                .send()
                .await?
                .text()
                .await?,
        );
    }
    let rss: Vec<u64> = replicas
        .iter()
        .filter_map(|r| {
            super::proc_status_kib(&r.child.id()?.to_string(), "VmHWM").map(|kib| kib / 1024)
        })
        .collect();
    let floor = copy_floor(&pool, &events[..events_sent]).await?;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let acked_per_s = events_sent as f64 / ack_elapsed.as_secs_f64();
    let processed_per_s = events_sent as f64 / processed_elapsed.as_secs_f64();
    let lag = lag_quantiles(&metrics);
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let figures = json!({
        "tenants": targets.len(),
        "processes": replicas.len(),
        "users_per_tenant": load.users,
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
        "rss_peak_mib": rss.iter().max(),
        "rss_peak_mib_each": rss,
        "errors": errors,
        "copy_floor_events_per_s": floor.round(),
        "ratio": round3(acked_per_s / floor),
    });
    for mut replica in replicas {
        replica.child.kill().await.ok();
    }
    Ok(figures)
}

/// Starts `okta-ingest serve` on a free port against `database` and waits until it is ready.
/// Replicas after the first give the first's URL as the public one (the hooks Okta calls).
async fn start_replica(
    binary: &PathBuf,
    database: &str,
    master_key: &str,
    public: Option<String>,
) -> anyhow::Result<Replica> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(binary)
        .arg("serve")
        .env("DATABASE_URL", database)
        .env("OKTA_INGEST_LISTEN", format!("127.0.0.1:{port}"))
        .env("OKTA_INGEST_PUBLIC_URL", public.as_deref().unwrap_or(&base))
        .env("OKTA_INGEST_MASTER_KEY", master_key)
        .env("OKTA_INGEST_DEV_ALLOW_LOOPBACK_OKTA", "true")
        .env("OKTA_INGEST_GAPFILL_INTERVAL_SECS", "0")
        .env("OKTA_INGEST_HOOK_SECRET_ROTATION_SECS", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    loop {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(Replica { child, base });
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} never became ready",
            binary.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Gives each tenant's deliveries `users` distinct actors: batch `b` goes to tenant
/// `b % tenants`, and its events' actors cycle through that tenant's users.
fn spread_users(events: &mut [Value], tenants: usize, users: usize) {
    let mut next_user = vec![0usize; tenants];
    for (b, batch) in events.chunks_mut(BATCH).enumerate() {
        let tenant = b % tenants;
        for event in batch {
            let user = next_user[tenant] % users;
            next_user[tenant] += 1;
            event["actor"]["alternateId"] = json!(format!("user{user}@tenant{tenant}.example"));
            event["actor"]["id"] = json!(format!("00u{tenant}x{user}"));
        }
    }
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

/// p50 and p99 of acknowledgement → processed, in ms, interpolated in the workers'
/// histograms (`text` holds every replica's /metrics; their buckets add up).
fn lag_quantiles(text: &str) -> Option<(f64, f64)> {
    let prefix = format!("{}_bucket{{le=\"", okta_ingest::telemetry::LAG_METRIC);
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (le, count) in text
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse::<f64>().ok()?
            };
            Some((le, count.trim().parse::<f64>().ok()?))
        })
    {
        match buckets.iter_mut().find(|(at, _)| *at == le) {
            Some((_, sum)) => *sum += count,
            None => buckets.push((le, count)),
        }
    }
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

/// Connects an integration "from Okta" and completes it; returns its hook key and secret.
pub async fn connect(
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
