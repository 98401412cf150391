//! One entry point: `run(config, listener)` boots the API and the background tasks. `serve`,
//! `demo`, the tests and the benchmark all start the service through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::okta::OktaClient;
use crate::state::Services;
use crate::vault::Vault;
use crate::{api, ingest, store};

pub struct App {
    pub local_addr: SocketAddr,
    pub services: Services,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("cannot reach the database: {0}")]
    Database(#[from] store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Okta(#[from] crate::okta::OktaError),
}

/// Connects, migrates, and starts serving on `listener` plus the worker and maintenance tasks.
pub async fn run(config: Config, listener: TcpListener) -> Result<App, StartError> {
    if !config.public_url.starts_with("https://") && !config.dev_allow_loopback_okta {
        tracing::warn!(
            public_url = %config.public_url,
            "OKTA_INGEST_PUBLIC_URL is not https: Okta only delivers to https hook URLs, so Complete will fail"
        );
    }
    let services = services(config).await?;
    crate::telemetry::metrics_handle();
    let cancel = CancellationToken::new();
    let mut tasks = ingest::worker::spawn(services.clone(), cancel.clone());
    tasks.extend(ingest::background::spawn(services.clone(), cancel.clone()));
    let local_addr = listener.local_addr()?;
    let router = api::router(services.clone());
    let limits = Limits {
        max_connections: services.config().http_max_connections.max(1),
        header_read_timeout: Duration::from_secs(services.config().http_header_read_timeout_secs),
    };
    let server = tokio::spawn(serve(listener, router, limits, cancel.clone()));
    tracing::info!(%local_addr, "okta-ingest listening");
    Ok(App {
        local_addr,
        services,
        cancel,
        tasks,
        server,
    })
}

/// The shared state, connected and migrated, without serving: for commands that act once
/// (`tenant delete`) and for `run`.
pub async fn services(config: Config) -> Result<Services, StartError> {
    let vault = Vault::from_config_strings(
        config.master_key.expose_secret(),
        config.master_keys.expose_secret(),
        &config.primary_key_id,
    )?;
    let pool = store::connect(
        config.database_url.expose_secret(),
        config.database_max_connections,
    )
    .await?;
    store::migrate(&pool).await?;
    store::retention::ensure_partitions(&pool, 3).await?;
    let okta = OktaClient::new(config.okta_timeout())?;
    Ok(Services::new(pool, config, vault, okta))
}

impl App {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting requests, lets in-flight ones and the current worker batches finish.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.server.await;
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn serve_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

struct Limits {
    max_connections: usize,
    header_read_timeout: Duration,
}

/// Serves HTTP with the limits a public endpoint needs: at most `max_connections` at once
/// (more wait in the kernel's backlog, so held-open connections cannot grow memory without
/// bound), and headers within `header_read_timeout` (slow-header clients are cut off). On
/// shutdown, in-flight requests finish.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    http.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = http
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = connection.await;
        });
    }
    graceful.shutdown().await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
