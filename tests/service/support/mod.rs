//! Test helpers: the real service on port 0 against a fresh database (`#[sqlx::test]`) and
//! the project's Okta simulator on port 0, so each test reads as a story.
//!
//! `TestApp` is here; its typed endpoint methods are in `api.rs`, and what Okta's side of
//! an event hook needs (the hook's key and secret, envelopes, deliveries) is in `hooks.rs`.

mod api;
mod hooks;

use std::time::{Duration, Instant};

use okta_ingest::app::{self, App};
use okta_ingest::config::Config;
use okta_ingest::ids::TenantId;
use okta_ingest::service::tokens;
use okta_ingest::sim::{self, SimHandle, SimOptions};
use okta_ingest::store::tenants::Role;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub use api::okta_policy;
pub use hooks::{JSON, envelope};

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub http: reqwest::Client,
    pub sim: SimHandle,
    pub tenant_id: TenantId,
    pub admin: String,
    pub master_key: String,
}

/// The database URL of the pool `#[sqlx::test]` made for this test.
pub fn database_url(pool: &PgPool) -> String {
    let options = pool.connect_options();
    let database = options.get_database().unwrap_or("postgres");
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(database);
    url.to_string()
}

pub fn test_config(pool: &PgPool, port: u16, master_key: &str) -> Config {
    let mut config = Config::load(None).expect("default config loads");
    config.master_key = SecretString::from(master_key.to_string());
    config.master_keys = SecretString::from(String::new());
    config.primary_key_id = String::new();
    let mut config = config.for_simulator(&database_url(pool), port);
    config.database_max_connections = 8;
    config.worker_poll_interval_ms = 200;
    // Complete's baseline shows the status `learning` for a moment; the tests about
    // baselines turn it on (`tests/service/baseline.rs`).
    config.baseline_on_complete = false;
    config
}

/// `SELECT count(*) …` on the test's database.
pub async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// One statement on the test's database, e.g. to move a timestamp into the past.
pub async fn execute(pool: &PgPool, sql: &'static str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

impl TestApp {
    /// The service against a strict simulator, except for delivery: most tests assert on
    /// what one delivery left behind right after it, so they opt into the deterministic
    /// delivery (at once, once, in order). The delivery tests use [`TestApp::spawn_realistic`].
    pub async fn spawn(pool: &PgPool) -> TestApp {
        let options = SimOptions::default().with_deterministic_delivery();
        Self::spawn_with(pool, options, |_| {}).await
    }

    /// Okta's delivery model: every batch may come twice and events out of order (the
    /// start delay after verification is shortened so the test stays quick).
    pub async fn spawn_realistic(pool: &PgPool) -> TestApp {
        let mut options = SimOptions::default();
        options.delivery.start_delay = Duration::from_millis(200);
        options.delivery.redelivery_fraction = 0.5;
        Self::spawn_with(pool, options, |_| {}).await
    }

    pub async fn spawn_with(
        pool: &PgPool,
        sim_options: SimOptions,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let master_key = okta_ingest::vault::Vault::keygen();
        let mut config = test_config(pool, port, &master_key);
        tweak(&mut config);
        let sim = sim::spawn(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind sim"),
            sim_options.with_dev_loopback(config.dev_allow_loopback_okta),
        )
        .await
        .expect("simulator starts");
        let app = app::run(config, listener).await.expect("service starts");
        let (tenant_id, admin) = tokens::create_tenant(pool, "acme").await.expect("tenant");
        TestApp {
            base: app.base_url(),
            app,
            http: reqwest::Client::new(),
            sim,
            tenant_id,
            admin,
            master_key,
        }
    }

    pub fn pool(&self) -> &PgPool {
        self.app.services.pool()
    }

    pub async fn token(&self, role: Role) -> String {
        tokens::create_token(self.pool(), self.tenant_id, role, None)
            .await
            .expect("token")
            .token
    }

    /// Another tenant with its own admin token.
    pub async fn other_tenant(&self) -> (TenantId, String) {
        tokens::create_tenant(self.pool(), "other")
            .await
            .expect("tenant")
    }

    /// One API call as the holder of `token`: the status and the JSON body (null if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, &self.admin, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, &self.admin, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, &self.admin, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, &self.admin, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.call(Method::DELETE, path, &self.admin, None).await.0
    }

    /// A POST as the admin with this exact body and Content-Type (for malformed requests).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// The simulator's client credentials, as the wizard's validate step takes them.
    pub fn creds(&self) -> Value {
        json!({ "client_id": self.sim.client_id, "client_secret": self.sim.client_secret() })
    }

    /// Waits until the worker has emptied the queue.
    pub async fn wait_processed(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stats = okta_ingest::store::inbox::queue_stats(self.pool())
                .await
                .expect("stats");
            if stats.depth == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "worker did not drain the queue ({} left)",
                stats.depth
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl TestApp {
    /// Another `okta-ingest serve` process on the same database and vault, on `port`; ready
    /// when this returns. Killed when the handle drops.
    pub async fn start_serve_process(&self, port: u16) -> tokio::process::Child {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-ingest"))
            .arg("serve")
            .env("DATABASE_URL", database_url(self.pool()))
            .env("OKTA_INGEST_LISTEN", format!("127.0.0.1:{port}"))
            .env("OKTA_INGEST_PUBLIC_URL", &self.base)
            .env("OKTA_INGEST_MASTER_KEY", &self.master_key)
            .env("OKTA_INGEST_DEV_ALLOW_LOOPBACK_OKTA", "true")
            .env("OKTA_INGEST_WORKER_TASKS", "2")
            .env("OKTA_INGEST_WORKER_BATCH_SIZE", "50")
            .env("OKTA_INGEST_GAPFILL_INTERVAL_SECS", "0")
            .env("OKTA_INGEST_HOOK_SECRET_ROTATION_SECS", "0")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .expect("serve process starts");
        let ready = format!("http://127.0.0.1:{port}/readyz");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(&ready).send().await
                && r.status() == StatusCode::OK
            {
                return child;
            }
            assert!(
                Instant::now() < deadline,
                "serve process never became ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A minimal valid LogEvent.
pub fn log_event(event_type: &str, actor: &str) -> Value {
    json!({
        "uuid": Uuid::new_v4().to_string(),
        "published": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": event_type,
        "actor": { "id": "00u1", "type": "User", "alternateId": actor, "displayName": actor },
        "client": { "ipAddress": "198.51.100.7", "userAgent": { "rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME" },
                    "geographicalContext": { "city": "Lisbon", "country": "Portugal", "geolocation": { "lat": 38.7, "lon": -9.1 } } },
        "outcome": { "result": "SUCCESS" },
        "target": [],
        "debugContext": { "debugData": {} }
    })
}
