//! Pacing by Okta's `X-Rate-Limit-*` headers, shared by every caller of one `OktaClient`.
//!
//! Okta limits each endpoint group per minute (and gives one OAuth app 50 % of that by
//! default); the headers of every answer say what is left of the bucket and when it resets.
//! Before a call, the client checks the bucket: while more than [`RESERVE_PERCENT`] of the
//! limit remains it goes ahead (and counts the call against its copy), otherwise it waits
//! for the reset — so okta-ingest never spends a whole bucket, and the org's other
//! integrations, its admins and our own wizard keep room. A wait longer than the caller's
//! patience becomes `OktaError::RateLimited` without spending a call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::HeaderMap;

/// The share of each bucket okta-ingest leaves untouched.
pub const RESERVE_PERCENT: u32 = 20;
const JITTER_MS: u64 = 500;

/// One endpoint group of one org, as Okta's rate limits divide them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BucketKey {
    origin: String,
    group: &'static str,
}

impl BucketKey {
    pub fn of(url: &url::Url) -> Self {
        BucketKey {
            origin: url.origin().ascii_serialization(),
            group: group_of(url.path()),
        }
    }
}

/// Okta's buckets for the endpoints okta-ingest calls.
fn group_of(path: &str) -> &'static str {
    if path.starts_with("/api/v1/logs") {
        "/api/v1/logs"
    } else if path.starts_with("/oauth2/") {
        "/oauth2/v1/token"
    } else {
        "/api/v1"
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u32,
    remaining: u32,
    reset: DateTime<Utc>,
}

impl Bucket {
    fn reserve(&self) -> u32 {
        (self.limit * RESERVE_PERCENT).div_ceil(100).max(1)
    }
}

/// What the headers of one answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observed {
    /// No rate-limit headers.
    Nothing,
    /// A bucket's state.
    Bucket,
    /// A concurrency 429: `X-Rate-Limit-Limit: 0`, not a bucket.
    Concurrency,
}

#[derive(Default)]
pub(crate) struct RateBudgets {
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl RateBudgets {
    fn buckets(&self) -> std::sync::MutexGuard<'_, HashMap<BucketKey, Bucket>> {
        // A poisoned map only means a panic elsewhere; its figures are still usable.
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a call to `key` keeps the reserve, then counts the call. `Err(retry_at)`
    /// when that wait would be longer than `patience`.
    pub async fn acquire(&self, key: &BucketKey, patience: Duration) -> Result<(), DateTime<Utc>> {
        loop {
            let wait_until = {
                let mut buckets = self.buckets();
                let now = Utc::now();
                match buckets.get_mut(key) {
                    Some(bucket) if bucket.reset <= now => {
                        buckets.remove(key);
                        None
                    }
                    Some(bucket) if bucket.remaining > bucket.reserve() => {
                        bucket.remaining -= 1;
                        None
                    }
                    Some(bucket) => Some(bucket.reset),
                    None => None,
                }
            };
            let Some(reset) = wait_until else {
                return Ok(());
            };
            let delay = until(reset) + jitter();
            if delay > patience {
                return Err(reset);
            }
            tracing::info!(
                bucket = key.group,
                delay_ms = delay.as_millis() as u64,
                "okta rate limit budget low: waiting for the reset"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Records the bucket state an answer reported.
    pub fn observe(&self, key: &BucketKey, headers: &HeaderMap) -> Observed {
        let number =
            |name: &str| -> Option<i64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let (Some(limit), Some(remaining)) = (
            number("x-rate-limit-limit"),
            number("x-rate-limit-remaining"),
        ) else {
            return Observed::Nothing;
        };
        if limit == 0 {
            return Observed::Concurrency;
        }
        let reset = number("x-rate-limit-reset")
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .unwrap_or_else(|| Utc::now() + chrono::Duration::seconds(60));
        let bucket = Bucket {
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            reset,
        };
        self.buckets().insert(key.clone(), bucket);
        Observed::Bucket
    }
}

fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or_default()
}

pub(crate) fn jitter() -> Duration {
    Duration::from_millis(rand::random_range(0..JITTER_MS))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(limit: i64, remaining: i64, reset: i64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-limit", HeaderValue::from(limit));
        headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
        headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
        headers
    }

    fn key(path: &str) -> BucketKey {
        BucketKey::of(&url::Url::parse(&format!("https://acme.okta.com{path}")).unwrap())
    }

    #[tokio::test]
    async fn keeps_the_reserve_and_reports_a_far_reset() {
        let budgets = RateBudgets::default();
        let logs = key("/api/v1/logs?limit=1000");
        let far = Utc::now().timestamp() + 60;
        // 25 a minute, 6 left: one more call keeps 5 (20 %), the next must wait.
        assert_eq!(
            budgets.observe(&logs, &headers(25, 6, far)),
            Observed::Bucket
        );
        assert!(budgets.acquire(&logs, Duration::ZERO).await.is_ok());
        let refused = budgets.acquire(&logs, Duration::from_secs(10)).await;
        assert_eq!(refused.map_err(|at| at.timestamp()), Err(far));
        // Another group has its own bucket.
        assert!(
            budgets
                .acquire(&key("/api/v1/eventHooks"), Duration::ZERO)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn waits_for_a_near_reset() {
        let budgets = RateBudgets::default();
        let logs = key("/api/v1/logs");
        let soon = Utc::now().timestamp() + 1;
        budgets.observe(&logs, &headers(25, 0, soon));
        let started = std::time::Instant::now();
        assert!(budgets.acquire(&logs, Duration::from_secs(5)).await.is_ok());
        assert!(started.elapsed() > Duration::from_millis(10));
    }

    #[test]
    fn a_zero_limit_is_the_concurrency_limit() {
        let budgets = RateBudgets::default();
        let observed = budgets.observe(&key("/api/v1/logs"), &headers(0, 0, 0));
        assert_eq!(observed, Observed::Concurrency);
        assert_eq!(
            budgets.observe(&key("/x"), &HeaderMap::new()),
            Observed::Nothing
        );
    }
}
