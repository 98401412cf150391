//! `okta-ingest demo`: the whole product in one command, against the Okta simulator.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Config;
use crate::{app, service, sim, store, telemetry};

pub struct DemoOptions {
    pub config: Option<PathBuf>,
    pub port: Option<u16>,
    pub events: Option<PathBuf>,
    pub exit: bool,
    pub json: bool,
}

const DEMO_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/okta_ingest_demo";

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let config = Config::load(options.config.as_deref())?;
    // The demo's output is the story on stdout; only warnings go to the log unless RUST_LOG says.
    telemetry::init_with_default(config.log_format, "warn");
    let database_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEMO_DATABASE.to_string());
    store::create_database_if_missing(&database_url)
        .await
        .with_context(|| format!("cannot reach Postgres at {database_url} (set DATABASE_URL)"))?;
    let events = match &options.events {
        Some(path) => read_events(path)?,
        None => sim::scenario::demo_scenario(chrono::Utc::now()),
    };

    let listener = bind(options.port).await?;
    let port = listener.local_addr()?.port();
    let config = config.for_simulator(&database_url, port);

    let sim = sim::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        sim::SimOptions::default().with_dev_loopback(config.dev_allow_loopback_okta),
    )
    .await?;
    let app = app::run(config, listener).await?;
    let base = app.base_url();
    let (tenant_id, token) = service::tokens::create_tenant(app.services.pool(), "demo").await?;
    let http = reqwest::Client::new();
    let api = Api {
        http: &http,
        base: &base,
        token: &token,
    };

    let started = Instant::now();
    let integration = run_wizard(&api, &sim).await?;
    let delivery = deliver(&http, &sim.base_url, &events).await?;
    let processed = wait_until_processed(&app, Duration::from_secs(60)).await;
    let feed = api.get("/api/v1/events?limit=500").await?;
    let items = feed["items"].as_array().cloned().unwrap_or_default();

    if options.json {
        for item in &items {
            println!(
                "{}",
                json!({
                    "rule": item["rule_name"], "policy": item["policy_name"], "severity": item["severity"],
                    "okta_event_uuid": item["okta_event_uuid"], "output": item["output"],
                })
            );
        }
    } else {
        print_story(
            &integration,
            &delivery,
            events.len(),
            processed,
            &items,
            started.elapsed(),
        );
        print_next_steps(&base, &token, &tenant_id.to_string(), &integration);
        print_console(&base, &sim);
    }
    if options.exit {
        app.shutdown().await;
        sim.shutdown().await;
        return Ok(());
    }
    eprintln!(
        "\nServing on {base} (console at {base}/, simulator on {}). Ctrl-C to stop.",
        sim.base_url
    );
    app.serve_until_signal().await;
    Ok(())
}

async fn bind(port: Option<u16>) -> anyhow::Result<tokio::net::TcpListener> {
    match port {
        Some(port) => tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("port {port} is taken; pick another with --port")),
        None => match tokio::net::TcpListener::bind("127.0.0.1:8080").await {
            Ok(listener) => Ok(listener),
            Err(_) => Ok(tokio::net::TcpListener::bind("127.0.0.1:0").await?),
        },
    }
}

/// LogEvents from a JSON array or NDJSON file.
pub fn read_events(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON array of LogEvents", path.display()));
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a JSON LogEvent", path.display(), n + 1))
        })
        .collect()
}

struct Api<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Api<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{path} answered {status}: {}",
                body["detail"].as_str().unwrap_or_default()
            );
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

/// "Start from Sysdig": launch → (install in Okta) → validate → complete.
async fn run_wizard(api: &Api<'_>, sim: &sim::SimHandle) -> anyhow::Result<Value> {
    let launched = api
        .post(
            "/api/v1/integrations/okta/launch",
            json!({ "org": sim.base_url }),
        )
        .await?;
    let id = launched["id"]
        .as_str()
        .context("launch returned no id")?
        .to_string();
    api.post(
        &format!("/api/v1/integrations/okta/{id}/validate"),
        json!({ "client_id": sim.client_id, "client_secret": sim.client_secret() }),
    )
    .await?;
    api.post(
        &format!("/api/v1/integrations/okta/{id}/complete"),
        json!({}),
    )
    .await?;
    // Complete starts a baseline from the org's System Log: let it finish before the story is
    // played, as an org's live events come after its history (the story's events carry past
    // timestamps, which a baseline still reading would take for history).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let integration = api.get(&format!("/api/v1/integrations/okta/{id}")).await?;
        if integration["status"] != "learning" || Instant::now() > deadline {
            return Ok(integration);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn deliver(
    http: &reqwest::Client,
    sim_base: &str,
    events: &[Value],
) -> anyhow::Result<Value> {
    let response = http
        .post(format!("{sim_base}/sim/deliver"))
        .json(&json!({ "events": events }))
        .send()
        .await?;
    Ok(response.json().await?)
}

async fn wait_until_processed(app: &app::App, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(stats) = store::inbox::queue_stats(app.services.pool()).await
            && stats.depth == 0
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn print_story(
    integration: &Value,
    delivery: &Value,
    sent: usize,
    processed: bool,
    items: &[Value],
    elapsed: Duration,
) {
    println!("okta-ingest demo\n");
    println!("1. Wizard (start from Sysdig) against the Okta simulator:");
    println!(
        "   org {}  →  status {}  →  Event Hook {} ({})",
        integration["okta_domain"].as_str().unwrap_or("?"),
        integration["status"].as_str().unwrap_or("?"),
        integration["event_hook_id"].as_str().unwrap_or("?"),
        integration["hook_status"].as_str().unwrap_or("?")
    );
    println!(
        "2. Okta delivered {sent} events through the hook: {}",
        summarize_delivery(delivery)
    );
    println!(
        "3. Detection worker: {}",
        if processed {
            "all events processed"
        } else {
            "still processing (timed out waiting)"
        }
    );
    println!("4. Runtime events ({}), newest first:\n", items.len());
    println!(
        "{:>5} {:<9} {:<44} {:<30} OUTPUT",
        "ID", "SEVERITY", "RULE", "ACTOR"
    );
    for item in items {
        let output = item["output"].as_str().unwrap_or_default();
        println!(
            "{:>5} {:<9} {:<44} {:<30} {}",
            item["id"].as_i64().unwrap_or_default(),
            item["severity"].as_str().unwrap_or_default(),
            truncate(item["rule_name"].as_str().unwrap_or_default(), 44),
            truncate(item["actor"].as_str().unwrap_or_default(), 30),
            truncate(output, 110)
        );
    }
    println!("\n(whole run: {:.1} s)", elapsed.as_secs_f64());
}

fn summarize_delivery(delivery: &Value) -> String {
    let mut batches = 0;
    let mut latencies = Vec::new();
    for hook in delivery["hooks"].as_array().into_iter().flatten() {
        for batch in hook["batches"].as_array().into_iter().flatten() {
            batches += 1;
            if let Some(ms) = batch["latency_ms"].as_f64() {
                latencies.push(ms);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0.0);
    let max = latencies.last().copied().unwrap_or(0.0);
    format!("{batches} batches acknowledged, ack latency p50 {p50:.1} ms, max {max:.1} ms")
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let cut: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// The console's URL, and what its wizard needs to connect the simulator again (after the
/// demo's integration is deleted: a tenant connects an org once).
fn print_console(base: &str, sim: &sim::SimHandle) {
    println!("\nWeb console: {base}/  (sign in with the admin token above)");
    println!(
        "  to run its wizard, the simulated Okta org is: Okta domain {}, Client ID {}, Client Secret {}",
        sim.base_url,
        sim.client_id,
        sim.client_secret()
    );
    println!(
        "  (the demo's integration already connects it: delete that one first, or the wizard answers already_connected)"
    );
}

fn print_next_steps(base: &str, token: &str, tenant_id: &str, integration: &Value) {
    let id = integration["id"].as_str().unwrap_or_default();
    println!("\nTenant {tenant_id}, admin token:\n  {token}\n");
    println!("Try it:");
    println!("  export TOKEN={token}");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/events?q=okta&limit=5'");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/events?severity=high'");
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/events/<id>'   # drill down to the raw Okta event"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/integrations/okta/{id}'"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/policies?managed=true&type=okta'"
    );
}
