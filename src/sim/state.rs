//! The simulated org's state: credentials, tokens, hooks, the System Log, faults, counters.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SimOptions;

/// Everything the server tasks and the handle share.
pub(crate) struct Shared {
    pub base_url: String,
    pub options: SimOptions,
    pub http: reqwest::Client,
    /// Read by the listener before the mutex exists in its path (see `DownMode`).
    pub down: AtomicU8,
    /// API requests being answered right now (Okta's concurrency limit).
    pub in_flight: AtomicU32,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(base_url: String, options: SimOptions) -> std::io::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let inner = Inner {
            client_secret: options.client_secret.clone(),
            granted_scopes: options.granted_scopes.clone(),
            ..Inner::default()
        };
        Ok(Self {
            base_url,
            options,
            http,
            down: AtomicU8::new(DownMode::Up as u8),
            in_flight: AtomicU32::new(0),
            inner: Mutex::new(inner),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("simulator state mutex poisoned")
    }

    pub fn down_mode(&self) -> DownMode {
        DownMode::from_u8(self.down.load(Ordering::Relaxed))
    }

    pub fn set_down_mode(&self, mode: DownMode) {
        self.down.store(mode as u8, Ordering::Relaxed);
    }
}

/// How the org answers while "down".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownMode {
    /// Normal operation.
    Up = 0,
    /// Every API call answers 503 Service Unavailable.
    Unavailable = 1,
    /// New connections are accepted and closed at once (the client sees a connection
    /// error); requests on already open keep-alive connections get a 503 with
    /// `Connection: close`.
    Refuse = 2,
}

impl DownMode {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Unavailable,
            2 => Self::Refuse,
            _ => Self::Up,
        }
    }
}

#[derive(Default)]
pub(crate) struct Inner {
    pub client_secret: String,
    pub granted_scopes: Vec<String>,
    pub tokens: HashMap<String, IssuedToken>,
    pub hooks: Vec<Hook>,
    pub log: Vec<LogEntry>,
    /// The uuids in `log`.
    pub logged: HashSet<String>,
    pub faults: Faults,
    pub counters: Counters,
    pub rate_windows: HashMap<&'static str, RateWindow>,
    /// Events delivered in the current 24 h (Okta's daily cap).
    pub delivered_today: DailyCount,
    /// Picks the next error body shape when shapes vary.
    pub error_shape_seq: u64,
}

/// Events delivered since `since`; a new count starts 24 h later.
#[derive(Default)]
pub(crate) struct DailyCount {
    pub since: Option<Instant>,
    pub events: u64,
}

impl DailyCount {
    /// Takes up to `wanted` events of the day's `cap`; returns how many may be delivered.
    pub fn take(&mut self, wanted: u64, cap: u64) -> u64 {
        let now = Instant::now();
        let fresh = self
            .since
            .is_none_or(|since| now.duration_since(since) >= Duration::from_secs(24 * 3600));
        if fresh {
            *self = Self {
                since: Some(now),
                events: 0,
            };
        }
        let granted = wanted.min(cap.saturating_sub(self.events));
        self.events += granted;
        granted
    }
}

impl Inner {
    pub fn hook(&self, id: &str) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.id == id)
    }

    pub fn hook_mut(&mut self, id: &str) -> Option<&mut Hook> {
        self.hooks.iter_mut().find(|h| h.id == id)
    }

    /// Appends events in persistence order, once per `uuid` (a redelivered event is not
    /// logged twice); returns how many were new.
    pub fn append_log(&mut self, events: impl IntoIterator<Item = Value>) -> usize {
        let before = self.log.len();
        for event in events {
            let (event, published) = normalize(event);
            let uuid = event
                .get("uuid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if self.logged.insert(uuid.to_owned()) {
                let seq = self.log.len() as u64 + 1;
                self.log.push(LogEntry::new(seq, published, event));
            }
        }
        self.counters.log_events = self.log.len() as u64;
        self.log.len() - before
    }
}

pub(crate) struct IssuedToken {
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationStatus {
    Unverified,
    Verified,
}

#[derive(Clone, PartialEq)]
pub(crate) struct AuthScheme {
    pub key: String,
    pub value: String,
}

/// A stored hook, with its write-only auth secret.
#[derive(Clone)]
pub(crate) struct Hook {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: HookStatus,
    pub verification: VerificationStatus,
    pub events: Vec<String>,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub auth: Option<AuthScheme>,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub created_by: String,
    pub foreign: bool,
    /// When Okta last verified the hook: deliveries start a while after.
    pub verified_at: Option<Instant>,
}

impl Hook {
    /// ACTIVE and VERIFIED. Foreign hooks only fill the org's hook quota: never delivered to.
    pub fn receives(&self) -> bool {
        self.is_live() && !self.foreign
    }

    /// ACTIVE and VERIFIED: what Okta's hook quota counts.
    pub fn is_live(&self) -> bool {
        self.status == HookStatus::Active && self.verification == VerificationStatus::Verified
    }

    pub fn view(&self) -> HookView {
        HookView {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            verification_status: self.verification,
            events: self.events.clone(),
            uri: self.uri.clone(),
            header_keys: self.headers.iter().map(|(k, _)| k.clone()).collect(),
            auth_key: self.auth.as_ref().map(|a| a.key.clone()),
            foreign: self.foreign,
            created: self.created,
            last_updated: self.last_updated,
        }
    }
}

/// A hook as the state inspection shows it: never its auth secret or header values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookView {
    pub id: String,
    pub name: String,
    pub status: HookStatus,
    pub verification_status: VerificationStatus,
    pub events: Vec<String>,
    pub uri: String,
    pub header_keys: Vec<String>,
    pub auth_key: Option<String>,
    /// Pre-created by the simulator (`create_foreign_hooks`), not by the service.
    pub foreign: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

pub(crate) struct LogEntry {
    pub seq: u64,
    pub published: DateTime<Utc>,
    pub event: Value,
}

impl LogEntry {
    fn new(seq: u64, published: DateTime<Utc>, event: Value) -> Self {
        Self {
            seq,
            published,
            event,
        }
    }
}

/// Fills `uuid` and `published` when the caller left them out (Okta always sets both);
/// returns the event and its `published` time.
pub(crate) fn normalize(mut event: Value) -> (Value, DateTime<Utc>) {
    let parsed = event
        .get("published")
        .and_then(Value::as_str)
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map(|p| p.with_timezone(&Utc));
    let published = parsed.unwrap_or_else(Utc::now);
    if let Some(obj) = event.as_object_mut() {
        if parsed.is_none() {
            obj.insert("published".into(), Value::String(okta_time(published)));
        }
        if !obj.get("uuid").is_some_and(Value::is_string) {
            obj.insert(
                "uuid".into(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
        }
    }
    (event, published)
}

/// Pending faults: each API call consumes one, hang first, then 429, then 500.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    pub latency_ms: u64,
    pub fail_429: u32,
    pub fail_500: u32,
    pub hang: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Hang,
    RateLimited,
    ServerError,
}

impl Faults {
    pub(crate) fn take(&mut self) -> Option<Fault> {
        if self.hang > 0 {
            self.hang -= 1;
            Some(Fault::Hang)
        } else if self.fail_429 > 0 {
            self.fail_429 -= 1;
            Some(Fault::RateLimited)
        } else if self.fail_500 > 0 {
            self.fail_500 -= 1;
            Some(Fault::ServerError)
        } else {
            None
        }
    }
}

/// What the simulator has seen, for assertions like "no second hook was created".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Every request to `/oauth2/v1/token`, successful or not.
    pub token_requests: u64,
    pub tokens_issued: u64,
    /// API calls (token endpoint included) by `"METHOD /route/{template}"`, e.g.
    /// `"POST /api/v1/eventHooks"`, `"POST /api/v1/eventHooks/{id}/lifecycle/verify"`.
    pub api_calls: BTreeMap<String, u64>,
    pub hooks_created: u64,
    pub hooks_deleted: u64,
    pub verifications: u64,
    pub verifications_failed: u64,
    /// HTTP POSTs made to hook endpoints, retries included.
    pub delivery_requests: u64,
    pub batches_delivered: u64,
    pub batches_dropped: u64,
    pub events_delivered: u64,
    pub events_dropped: u64,
    /// Events delivered a second time (at least once).
    #[serde(default)]
    pub events_redelivered: u64,
    /// Events not delivered because the org's daily cap was reached.
    #[serde(default)]
    pub events_over_daily_cap: u64,
    pub log_events: u64,
    /// 429s answered: rate limit, concurrency limit or an injected fault.
    #[serde(default)]
    pub rate_limited: u64,
    /// Of those, concurrency 429s (`X-Rate-Limit-Limit: 0`).
    #[serde(default)]
    pub concurrency_limited: u64,
}

/// A fixed rate-limit window for one endpoint group.
pub(crate) struct RateWindow {
    pub reset_epoch: i64,
    pub used: u32,
}

/// Okta's ids: a three-letter prefix and 17 alphanumerics (`who…` hooks, `0oa…` apps).
pub(crate) fn okta_id(prefix: &str) -> String {
    format!("{prefix}{}", random_string(17))
}

pub(crate) fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Okta's timestamp format: RFC 3339 with milliseconds and `Z`.
pub(crate) fn okta_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
