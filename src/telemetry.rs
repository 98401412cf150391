//! Logging: one tracing subscriber, pretty or JSON lines, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    init_with_default(format, "info,sqlx=warn");
}

/// Like [`init`], with the filter used when `RUST_LOG` is not set.
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let mut invalid = None;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|error| {
        // Unset is the usual case; a value that does not parse is the operator's to know.
        if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() {
            invalid = Some(error);
        }
        EnvFilter::new(default_filter)
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, demo) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Some(error) = invalid {
        tracing::warn!(%error, "RUST_LOG is not a valid filter; logging with {default_filter}");
    }
}

/// Seconds from an event's acknowledgement to the commit of the batch that processed it.
pub const LAG_METRIC: &str = "okta_ingest_processing_lag_seconds_hist";

/// The process-wide Prometheus recorder, installed on first use (tests boot many apps in one
/// process; only the first install can succeed).
pub fn metrics_handle() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?
                // Acknowledgement → processed: the figure a SOC waits on, in finer steps.
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(LAG_METRIC.into()),
                    &[
                        0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
                        10.0, 30.0, 60.0, 120.0, 300.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}
