//! Typed configuration: `config/default.toml` (embedded) → `--config FILE` → environment.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::{Figment, Provider};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");

/// Okta keeps 90 days of System Log: a baseline cannot look further back.
pub const MAX_BASELINE_DAYS: u32 = 90;

#[derive(Clone, Deserialize)]
pub struct Config {
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub listen: SocketAddr,
    pub public_url: String,
    pub master_key: SecretString,
    pub master_keys: SecretString,
    pub primary_key_id: String,
    pub dev_allow_loopback_okta: bool,
    pub custom_okta_domains: Vec<String>,
    pub log_format: LogFormat,
    pub http_max_connections: usize,
    pub http_header_read_timeout_secs: u64,
    pub hook_body_limit_bytes: usize,
    pub okta_timeout_ms: u64,
    pub event_hook_name: String,
    pub worker_tasks: usize,
    pub worker_batch_size: i64,
    pub worker_poll_interval_ms: u64,
    pub gapfill_interval_secs: u64,
    pub gapfill_initial_lookback_secs: u64,
    pub baseline_days: u32,
    pub baseline_on_complete: bool,
    pub baseline_max_events: u64,
    pub hook_secret_rotation_secs: u64,
    pub hook_secret_overlap_secs: u64,
    pub raw_event_retention_days: u32,
    pub runtime_event_retention_days: u32,
    pub detection_state_retention_days: u32,
    pub detect_state_idle_secs: u64,
    pub detect_state_max_entries: usize,
    pub no_events_warning_secs: u64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// The settings of a service beside the Okta simulator on loopback: the demo, the bench
    /// and the tests boot this way. The simulator's orgs live only as long as the process, so
    /// background calls to them (gap fill, secret rotation) are off; without a configured
    /// vault key, a throwaway one (the simulator's credentials die with it too).
    pub fn for_simulator(mut self, database_url: &str, port: u16) -> Config {
        self.database_url = SecretString::from(database_url.to_owned());
        self.public_url = format!("http://127.0.0.1:{port}");
        self.dev_allow_loopback_okta = true;
        if self.master_key.expose_secret().is_empty() && self.master_keys.expose_secret().is_empty()
        {
            self.master_key = SecretString::from(crate::vault::Vault::keygen());
        }
        self.gapfill_interval_secs = 0;
        self.hook_secret_rotation_secs = 0;
        self
    }

    /// Loads the embedded defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "file {} does not exist",
                    file.display()
                )));
            }
            // A misspelt key would otherwise be ignored without a word.
            let given = Figment::from(Toml::file(file))
                .data()
                .map_err(|e| ConfigError(e.to_string()))?;
            if let Some(key) = given
                .values()
                .flat_map(|dict| dict.keys())
                .find(|key| !is_setting(key))
            {
                return Err(ConfigError(format!(
                    "{} sets {key}, which is no setting (see config/default.toml)",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Env::prefixed("OKTA_INGEST_").ignore(&["CUSTOM_OKTA_DOMAINS"]));
        let mut config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        if let Ok(domains) = std::env::var("OKTA_INGEST_CUSTOM_OKTA_DOMAINS") {
            config.custom_okta_domains = domains
                .split(',')
                .map(|d| d.trim().to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
        }
        config.public_url = config.public_url.trim_end_matches('/').to_string();
        let public_url = url::Url::parse(&config.public_url).map_err(|e| {
            ConfigError(format!(
                "public_url (OKTA_INGEST_PUBLIC_URL) is not a URL: {e}"
            ))
        })?;
        // Hooks are {public_url}/hooks/okta/{key}: a query or fragment would swallow the path.
        if !matches!(public_url.scheme(), "http" | "https")
            || public_url.host().is_none()
            || public_url.query().is_some()
            || public_url.fragment().is_some()
        {
            return Err(ConfigError(format!(
                "public_url (OKTA_INGEST_PUBLIC_URL) must be an https:// (or http://) URL with a host and no query or fragment, not {}",
                config.public_url
            )));
        }
        if config.event_hook_name.trim().is_empty() {
            return Err(ConfigError(
                "event_hook_name (OKTA_INGEST_EVENT_HOOK_NAME) must not be empty: it names the Event Hook in Okta".into(),
            ));
        }
        if !(1..=MAX_BASELINE_DAYS).contains(&config.baseline_days) {
            return Err(ConfigError(format!(
                "baseline_days (OKTA_INGEST_BASELINE_DAYS) must be between 1 and {MAX_BASELINE_DAYS}: Okta keeps 90 days of System Log"
            )));
        }
        if config.worker_tasks == 0 || config.worker_batch_size <= 0 {
            return Err(ConfigError(
                "worker_tasks and worker_batch_size must be at least 1".into(),
            ));
        }
        config.check_ranges()?;
        Ok(config)
    }

    /// Zero where zero does not mean "off" makes a loop spin, refuses every request or deletes
    /// every row; a huge value wraps negative or overflows a date later. Both are refused here.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        const TEN_YEARS_SECS: u64 = 10 * 366 * 86_400;
        const MAX_RETENTION_DAYS: u64 = 36_500;
        let ranges: [(&str, u64, u64, u64); 17] = [
            (
                "database_max_connections",
                self.database_max_connections.into(),
                1,
                10_000,
            ),
            (
                "http_max_connections",
                self.http_max_connections as u64,
                1,
                1_000_000,
            ),
            (
                "http_header_read_timeout_secs",
                self.http_header_read_timeout_secs,
                1,
                3_600,
            ),
            (
                "hook_body_limit_bytes",
                self.hook_body_limit_bytes as u64,
                1,
                1 << 30,
            ),
            ("okta_timeout_ms", self.okta_timeout_ms, 1, 3_600_000),
            (
                "worker_poll_interval_ms",
                self.worker_poll_interval_ms,
                1,
                3_600_000,
            ),
            (
                "gapfill_interval_secs",
                self.gapfill_interval_secs,
                0,
                TEN_YEARS_SECS,
            ),
            (
                "gapfill_initial_lookback_secs",
                self.gapfill_initial_lookback_secs,
                0,
                TEN_YEARS_SECS,
            ),
            (
                "baseline_max_events",
                self.baseline_max_events,
                1,
                i64::MAX as u64,
            ),
            (
                "hook_secret_rotation_secs",
                self.hook_secret_rotation_secs,
                0,
                TEN_YEARS_SECS,
            ),
            (
                "hook_secret_overlap_secs",
                self.hook_secret_overlap_secs,
                0,
                TEN_YEARS_SECS,
            ),
            (
                "raw_event_retention_days",
                self.raw_event_retention_days.into(),
                1,
                MAX_RETENTION_DAYS,
            ),
            (
                "runtime_event_retention_days",
                self.runtime_event_retention_days.into(),
                1,
                MAX_RETENTION_DAYS,
            ),
            (
                "detection_state_retention_days",
                self.detection_state_retention_days.into(),
                1,
                MAX_RETENTION_DAYS,
            ),
            (
                "detect_state_idle_secs",
                self.detect_state_idle_secs,
                1,
                TEN_YEARS_SECS,
            ),
            (
                "detect_state_max_entries",
                self.detect_state_max_entries as u64,
                1,
                u64::MAX,
            ),
            (
                "no_events_warning_secs",
                self.no_events_warning_secs,
                0,
                TEN_YEARS_SECS,
            ),
        ];
        for (setting, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ConfigError(format!(
                    "{setting} (OKTA_INGEST_{}) must be between {min} and {max}, not {value}",
                    setting.to_ascii_uppercase()
                )));
            }
        }
        // The workers' LISTEN holds a connection for good and each worker task one per batch:
        // with no connection left, every API call and hook delivery times out (503).
        let needed = self.worker_tasks as u64 + 2;
        if u64::from(self.database_max_connections) < needed {
            return Err(ConfigError(format!(
                "database_max_connections (OKTA_INGEST_DATABASE_MAX_CONNECTIONS) must be at least worker_tasks + 2 = {needed}: the workers' LISTEN and each worker task hold one, the API needs the rest"
            )));
        }
        Ok(())
    }

    /// `OKTA_INGEST_*` variables that name no setting (a typo is otherwise ignored without a
    /// word). Only warned about: Kubernetes sets `OKTA_INGEST_SERVICE_HOST` and the like for a
    /// Service named okta-ingest.
    pub fn unknown_env_vars() -> Vec<String> {
        let mut unknown: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| {
                name.strip_prefix("OKTA_INGEST_")
                    .is_some_and(|key| !is_setting(&key.to_ascii_lowercase()))
            })
            .collect();
        unknown.sort();
        unknown
    }

    pub fn okta_timeout(&self) -> Duration {
        Duration::from_millis(self.okta_timeout_ms)
    }
}

/// Whether `key` names a setting: every setting has its default in config/default.toml.
fn is_setting(key: &str) -> bool {
    Figment::from(Toml::string(DEFAULTS)).contains(key)
}
