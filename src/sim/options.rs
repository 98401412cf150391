//! The simulator's settings. The defaults are as strict as a small real Okta org; each
//! realism switch says what Okta does and how to get the old, kinder behaviour back.

use std::time::Duration;

use super::{ops, state, token};

/// The scopes the service asks for; granted by default.
pub const DEFAULT_SCOPES: [&str; 2] = ["okta.eventHooks.manage", "okta.logs.read"];

/// Okta's documented ceiling: 25 active and verified event hooks per org.
pub const MAX_ACTIVE_HOOKS: usize = 25;

/// Okta's daily delivery cap per org (events per 24 h; beyond it, not delivered, not replayed).
pub const DAILY_DELIVERY_CAP: u64 = 400_000;

#[derive(Clone)]
pub struct SimOptions {
    pub client_id: String,
    pub client_secret: String,
    pub granted_scopes: Vec<String>,
    /// At most this many events per delivery request.
    pub batch_size: usize,
    /// How long a hook endpoint has to answer a delivery (Okta: 3 s).
    pub delivery_timeout: Duration,
    /// How long a hook endpoint has to answer the verification GET (Okta: 3 s).
    pub verification_timeout: Duration,
    /// Batches in flight per hook.
    pub delivery_concurrency: usize,
    /// Active and verified hooks per org (Okta: 25).
    pub max_hooks: usize,
    /// Where the hook quota is enforced (Okta does not document it; default: on verify and
    /// activate, when a hook would become active and verified).
    pub hook_limit_at: HookLimitAt,
    pub token_ttl: Duration,
    /// Per-endpoint rate limits, the app's share of them, and the concurrency limit.
    pub rate_limits: RateLimits,
    /// How long a "hang" fault holds the request (longer than any client timeout).
    pub hang_duration: Duration,
    /// Accept `http://` hook URIs on loopback hosts. Okta accepts https only: this is the
    /// simulator's side of the service's dev switch (`OKTA_INGEST_DEV_ALLOW_LOOPBACK_OKTA`),
    /// off by default; see [`SimOptions::with_dev_loopback`].
    pub allow_loopback_http_hooks: bool,
    /// Log a dropped delivery as an `event_hook.delivery` FAILURE event, as Okta does.
    pub log_delivery_failures: bool,
    /// Delay, redelivery, reordering and the daily cap of hook deliveries.
    pub delivery: DeliveryOptions,
    /// Vary the shape of error bodies' `errorCauses` (array, object, strings, null, absent)
    /// as Okta's own spec examples do. Off: always an array of `{"errorSummary"}` objects.
    pub vary_error_shapes: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            client_id: state::okta_id("0oa"),
            client_secret: ops::new_client_secret(),
            granted_scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            batch_size: 50,
            delivery_timeout: Duration::from_secs(3),
            verification_timeout: Duration::from_secs(3),
            delivery_concurrency: 4,
            max_hooks: MAX_ACTIVE_HOOKS,
            hook_limit_at: HookLimitAt::Verify,
            token_ttl: token::DEFAULT_TOKEN_TTL,
            rate_limits: RateLimits::default(),
            hang_duration: Duration::from_secs(30),
            allow_loopback_http_hooks: false,
            log_delivery_failures: true,
            delivery: DeliveryOptions::default(),
            vary_error_shapes: true,
        }
    }
}

impl SimOptions {
    /// Follows the service's dev switch: with it, hooks may be `http://` on loopback (the
    /// tests', the demo's and the bench's receivers); without it, https only, as in Okta.
    pub fn with_dev_loopback(mut self, allowed: bool) -> Self {
        self.allow_loopback_http_hooks = allowed;
        self
    }

    /// The old deterministic delivery: at once, exactly once, in order.
    pub fn with_deterministic_delivery(mut self) -> Self {
        self.delivery = DeliveryOptions::deterministic();
        self
    }
}

impl std::fmt::Debug for SimOptions {
    // Hand-written so the client secret never shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("granted_scopes", &self.granted_scopes)
            .field("batch_size", &self.batch_size)
            .field("max_hooks", &self.max_hooks)
            .field("rate_limits", &self.rate_limits)
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

/// Where the org's hook quota (active and verified hooks) refuses a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookLimitAt {
    /// Also at create, when the org already has `max_hooks` active and verified hooks.
    Create,
    /// When a hook would become active and verified: `verify` of an ACTIVE hook, `activate`
    /// (or a PUT with `status: ACTIVE`) of a VERIFIED one.
    Verify,
}

/// Okta's per-endpoint, per-minute rate limits, as published for a small org (the One App
/// edition's column of Okta's "Management rate limits"), and the share one OAuth app gets.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// `/api/v1/logs`: 50 a minute org-wide.
    pub logs_per_window: u32,
    /// `/api/v1/eventHooks*` falls under "most other API actions" (`/api/v1`): 600.
    pub api_per_window: u32,
    /// The org authorization server's `/oauth2/v1/token`.
    pub token_per_window: u32,
    /// The share of each bucket one OAuth app may use: Okta's default is 50 %.
    pub app_share_percent: u32,
    /// Okta's windows are one minute; tests shorten them to keep waits short.
    pub window: Duration,
    /// Requests of the org in flight at once; one more gets a concurrency 429, whose
    /// `X-Rate-Limit-Limit` is 0.
    pub max_concurrent: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            logs_per_window: 50,
            api_per_window: 600,
            token_per_window: 600,
            app_share_percent: 50,
            window: Duration::from_secs(60),
            max_concurrent: 15,
        }
    }
}

impl RateLimits {
    /// The old, kind limits: 600 a minute on every endpoint for the app, no concurrency limit.
    pub fn generous() -> Self {
        Self {
            logs_per_window: 600,
            api_per_window: 600,
            token_per_window: 600,
            app_share_percent: 100,
            window: Duration::from_secs(60),
            max_concurrent: u32::MAX,
        }
    }

    /// What the app may spend of `org_limit` in one window (at least 1).
    pub(crate) fn app_share(&self, org_limit: u32) -> u32 {
        let share = u64::from(org_limit) * u64::from(self.app_share_percent.min(100)) / 100;
        u32::try_from(share).unwrap_or(u32::MAX).max(1)
    }
}

/// How the org delivers events to its hooks. Okta delivers asynchronously, minutes after
/// verification at first, at least once, unordered, and at most 400,000 events a day.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// A hook receives nothing until this long after it was verified.
    pub start_delay: Duration,
    /// The fraction of batches (0.0–1.0) delivered a second time, in a new envelope.
    pub redelivery_fraction: f64,
    /// Events are shuffled within windows of this many events before batching (0 or 1:
    /// in order).
    pub reorder_window: usize,
    /// Events delivered per org per 24 h; the rest are dropped, and only the System Log
    /// has them.
    pub daily_cap: u64,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            start_delay: Duration::from_secs(5),
            redelivery_fraction: 0.05,
            reorder_window: 100,
            daily_cap: DAILY_DELIVERY_CAP,
        }
    }
}

impl DeliveryOptions {
    /// At once after verification, exactly once, in order (the daily cap stays).
    pub fn deterministic() -> Self {
        Self {
            start_delay: Duration::ZERO,
            redelivery_fraction: 0.0,
            reorder_window: 0,
            daily_cap: DAILY_DELIVERY_CAP,
        }
    }
}
