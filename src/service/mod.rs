//! Domain services between the HTTP edge and the store/Okta/vault layers.

pub mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::PgPool;

use crate::config::Config;

/// Everything a request handler or background task needs; cheap to clone.
#[derive(Clone)]
pub struct Services(Arc<Inner>);

struct Inner {
    pool: PgPool,
    config: Config,
    worker_heartbeat: AtomicI64,
}

impl Services {
    pub fn new(pool: PgPool, config: Config) -> Self {
        Services(Arc::new(Inner {
            pool,
            config,
            worker_heartbeat: AtomicI64::new(0),
        }))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn config(&self) -> &Config {
        &self.0.config
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
}
