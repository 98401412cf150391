//! `okta-ingest-bench gapfill`: how long gap fill takes to poll every org once, beside the
//! one-at-a-time loop it replaced, measured in the same run against the same simulated orgs.
//!
//! The service runs in this process, on a fresh database, with one simulated org per tenant;
//! every org answers each API call after `--okta-latency-ms`, as a real org far away would.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;

use okta_ingest::config::Config;
use okta_ingest::ingest::gapfill;
use okta_ingest::{app, service, sim, store};

use crate::at_least_one;

const DATABASE: &str = "postgres://postgres@127.0.0.1:5432/okta_ingest_bench_gapfill";

#[derive(clap::Args)]
pub struct Load {
    /// Orgs, each connected by a tenant of its own.
    #[arg(long, default_value_t = 256, value_parser = at_least_one)]
    pub orgs: usize,
    /// What every simulated Okta API call waits before it answers.
    #[arg(long, default_value_t = 50)]
    pub okta_latency_ms: u64,
}

pub async fn run(load: Load) -> anyhow::Result<Value> {
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DATABASE.into());
    if sqlx::Postgres::database_exists(&url).await? {
        sqlx::Postgres::drop_database(&url).await?;
    }
    store::create_database_if_missing(&url).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let config = Config::load(None)?.for_simulator(&url, port);
    let service = app::run(config, listener).await?;
    let services = service.services.clone();
    let http = reqwest::Client::new();
    let mut orgs = Vec::new();
    for i in 0..load.orgs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let org = sim::spawn(listener, sim::SimOptions::default().with_dev_loopback(true)).await?;
        let (_, token) =
            service::tokens::create_tenant(services.pool(), &format!("org {i}")).await?;
        crate::ingest::connect(&http, &service.base_url(), &token, &org).await?;
        orgs.push(org);
    }
    // Every integration's token is fetched (once an hour in a running service) before timing.
    one_at_a_time(&services, load.orgs).await?;
    for org in &orgs {
        org.set_latency(Duration::from_millis(load.okta_latency_ms));
    }
    let reads = || -> u64 {
        orgs.iter()
            .map(|o| {
                o.counters()
                    .api_calls
                    .get("GET /api/v1/logs")
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    };

    let (before, started) = (reads(), Instant::now());
    one_at_a_time(&services, load.orgs).await?;
    let baseline = started.elapsed().as_secs_f64();
    let baseline_reads = reads() - before;

    // Two replicas' rounds at once, until every org has been polled once.
    let (before, started) = (reads(), Instant::now());
    let mut rounds = 0;
    while reads() - before < load.orgs as u64 {
        let (first, second) =
            tokio::join!(gapfill::run_due(&services), gapfill::run_due(&services));
        first?;
        second?;
        rounds += 1;
    }
    let claimed = started.elapsed().as_secs_f64();
    let claimed_reads = reads() - before;

    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let figures = json!({
        "orgs": load.orgs,
        "okta_latency_ms": load.okta_latency_ms,
        "one_at_a_time_secs": round3(baseline),
        "one_at_a_time_log_reads": baseline_reads,
        "claimed_two_replicas_secs": round3(claimed),
        "claimed_two_replicas_log_reads": claimed_reads,
        "claimed_two_replicas_rounds": rounds,
        "orgs_per_s": round3(load.orgs as f64 / claimed),
        "speedup": round3(baseline / claimed),
    });
    service.shutdown().await;
    Ok(figures)
}

/// The loop gap fill used to run in each replica: every due org, one after the other.
async fn one_at_a_time(services: &okta_ingest::state::Services, orgs: usize) -> anyhow::Result<()> {
    let targets = store::gapfill::claim_due(services.pool(), 0, orgs as i64, 60).await?;
    anyhow::ensure!(
        targets.len() == orgs,
        "{} of {orgs} orgs due",
        targets.len()
    );
    for target in targets {
        gapfill::fill(services, &target)
            .await
            .with_context(|| format!("polling {}", target.org.id))?;
        let (tenant_id, id) = (target.org.tenant_id, target.org.id);
        store::gapfill::succeeded(services.pool(), tenant_id, id).await?;
    }
    Ok(())
}
