//! The state every request handler and background task shares: the pool, the config, the
//! vault and the Okta client. `api`, `service` and `ingest` all take it; none owns it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::config::Config;
use crate::okta::{DomainPolicy, OktaClient};
use crate::vault::Vault;

/// Everything a request handler or background task needs; cheap to clone.
#[derive(Clone)]
pub struct Services(Arc<Inner>);

struct Inner {
    pool: PgPool,
    config: Config,
    vault: Vault,
    okta: OktaClient,
    worker_heartbeat: AtomicI64,
    events_queued: Notify,
    baseline_requested: Notify,
}

impl Services {
    pub fn new(pool: PgPool, config: Config, vault: Vault, okta: OktaClient) -> Self {
        Services(Arc::new(Inner {
            pool,
            config,
            vault,
            okta,
            worker_heartbeat: AtomicI64::new(0),
            events_queued: Notify::new(),
            baseline_requested: Notify::new(),
        }))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn vault(&self) -> &Vault {
        &self.0.vault
    }

    pub fn okta(&self) -> &OktaClient {
        &self.0.okta
    }

    pub fn domain_policy(&self) -> DomainPolicy {
        DomainPolicy {
            allow_loopback: self.0.config.dev_allow_loopback_okta,
            custom_domains: self.0.config.custom_okta_domains.clone(),
        }
    }

    /// Called by the worker loop each round; `/readyz` checks it is recent.
    pub fn worker_beat(&self) {
        self.0
            .worker_heartbeat
            .store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }

    pub fn worker_last_beat(&self) -> i64 {
        self.0.worker_heartbeat.load(Ordering::Relaxed)
    }

    /// Says new events were committed to the inbox. The workers of every replica are told
    /// by one NOTIFY per burst (see `ingest::worker`), never from inside the delivery's
    /// transaction: a NOTIFY there would serialize the commits of all deliveries.
    pub fn events_queued(&self) {
        self.0.events_queued.notify_one();
    }

    /// Resolves after [`Services::events_queued`] (at once if it was called meanwhile).
    pub async fn wait_events_queued(&self) {
        self.0.events_queued.notified().await;
    }

    /// Says a baseline was started: this replica's baseline task looks at once instead of at
    /// its next tick (another replica's finds it at its tick).
    pub fn baseline_requested(&self) {
        self.0.baseline_requested.notify_one();
    }

    /// Resolves after [`Services::baseline_requested`] (at once if it was called meanwhile).
    pub async fn wait_baseline_requested(&self) {
        self.0.baseline_requested.notified().await;
    }
}
