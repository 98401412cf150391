//! System Log API (`GET /api/v1/logs`, scope `okta.logs.read`) for gap fill and baselines.
//!
//! Paging follows Okta's `Link: <…>; rel="next"` header only (the `after` cursor is opaque);
//! a next link is followed only if it stays on the org's origin and the logs path.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use reqwest::header::{HeaderMap, LINK};
use serde_json::value::RawValue;
use url::Url;

use super::client::{Credentials, OktaClient, join};
use super::domain::OktaDomain;
use super::error::{OktaError, Result};

const LOGS: &str = "/api/v1/logs";
/// Okta's maximum page size.
pub const MAX_LIMIT: u32 = 1000;

/// Where a page starts: a first request from a time, or a stored `next` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogsStart {
    Since(DateTime<Utc>),
    /// Bounded mode: pages by `published` in `[since, until)` and ends (no `next` at the end).
    Between(DateTime<Utc>, DateTime<Utc>),
    /// Bounded mode, newest first (`sortOrder=DESCENDING`): a baseline that stops at its
    /// bound keeps the most recent history.
    NewestFirst(DateTime<Utc>, DateTime<Utc>),
    Next(String),
}

/// One page of LogEvents, raw as Okta sent them, and the link to the next page.
#[derive(Debug)]
pub struct LogsPage {
    pub events: Vec<Box<RawValue>>,
    /// In polling mode Okta always sends one, even on an empty page: store it as the cursor.
    pub next: Option<String>,
}

impl OktaClient {
    /// Fetches one page of the System Log: polling mode (ascending, no `until`) from
    /// `Since`, bounded mode from `Between`, or the page a stored `next` link names.
    pub async fn logs_page(
        &self,
        creds: &Credentials,
        start: LogsStart,
        limit: u32,
    ) -> Result<LogsPage> {
        let url = start.url(&creds.domain, limit)?;
        // Gap fill runs in the background: it may wait out a whole rate-limit window.
        let patience = super::client::BACKGROUND_MAX_RATE_LIMIT_WAIT;
        let response = self
            .send_paced(creds, Method::GET, url, None, patience)
            .await?;
        let next = next_link(response.headers())
            .map(|n| checked_next(&creds.domain, &n).map(|u| u.to_string()))
            .transpose()?;
        let body = response.bytes().await.map_err(|e| OktaError::Unreachable {
            reason: super::client::transport_reason(&e),
        })?;
        let events = serde_json::from_slice(&body).map_err(|e| {
            OktaError::Unexpected(format!("System Log page is not a JSON array: {e}"))
        })?;
        Ok(LogsPage { events, next })
    }
}

impl LogsStart {
    /// The link of this start's first page, to keep as a cursor the way a `next` link is.
    pub fn link(&self, domain: &OktaDomain, limit: u32) -> Result<String> {
        Ok(self.url(domain, limit)?.to_string())
    }

    fn url(&self, domain: &OktaDomain, limit: u32) -> Result<Url> {
        match self {
            LogsStart::Since(since) => first_page_url(domain, *since, None, limit, ASC),
            LogsStart::Between(since, until) => {
                first_page_url(domain, *since, Some(*until), limit, ASC)
            }
            LogsStart::NewestFirst(since, until) => {
                first_page_url(domain, *since, Some(*until), limit, DESC)
            }
            LogsStart::Next(next) => checked_next(domain, next),
        }
    }
}

const ASC: &str = "ASCENDING";
const DESC: &str = "DESCENDING";

fn first_page_url(
    domain: &OktaDomain,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    limit: u32,
    sort_order: &str,
) -> Result<Url> {
    let mut url = join(domain, LOGS)?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
        if let Some(until) = until {
            query.append_pair("until", &until.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        query
            .append_pair("limit", &limit.clamp(1, MAX_LIMIT).to_string())
            .append_pair("sortOrder", sort_order);
    }
    Ok(url)
}

/// A `next` link is followed only on the org's own origin and the logs path (SSRF guard).
fn checked_next(domain: &OktaDomain, next: &str) -> Result<Url> {
    let url = Url::parse(next).map_err(|_| OktaError::ForeignNextLink)?;
    let safe = domain.same_origin(&url)
        && url.path() == LOGS
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none();
    if safe {
        Ok(url)
    } else {
        Err(OktaError::ForeignNextLink)
    }
}

/// The target of `rel="next"` among the `Link` headers (one header or several, comma-joined).
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(parse_link_value)
}

/// `<url>; rel="next"` → `url`.
fn parse_link_value(value: &str) -> Option<String> {
    let (target, params) = value.trim().split_once(';')?;
    let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    let is_next = params.split(';').any(|p| {
        let p = p.trim();
        p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
    });
    is_next.then(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;
    use crate::okta::DomainPolicy;

    fn acme() -> OktaDomain {
        OktaDomain::parse("acme", &DomainPolicy::default()).unwrap()
    }

    #[test]
    fn finds_next_among_link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static("<https://acme.okta.com/api/v1/logs?limit=2>; rel=\"self\""),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://acme.okta.com/api/v1/logs?limit=2&after=1700000000_1>; rel=\"next\"",
            ),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://acme.okta.com/api/v1/logs?limit=2&after=1700000000_1")
        );
        let mut joined = HeaderMap::new();
        joined.insert(LINK, HeaderValue::from_static("<https://acme.okta.com/api/v1/logs?a=1>; rel=\"self\", <https://acme.okta.com/api/v1/logs?after=2>; rel=\"next\""));
        assert_eq!(
            next_link(&joined).as_deref(),
            Some("https://acme.okta.com/api/v1/logs?after=2")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn refuses_foreign_next_links() {
        let d = acme();
        assert!(checked_next(&d, "https://acme.okta.com/api/v1/logs?after=x").is_ok());
        for bad in [
            "https://evil.com/api/v1/logs?after=x",
            "http://acme.okta.com/api/v1/logs?after=x",
            "https://acme.okta.com:8443/api/v1/logs",
            "https://acme.okta.com.evil.com/api/v1/logs",
            "https://user@acme.okta.com/api/v1/logs",
            "https://acme.okta.com/api/v1/users",
            "https://169.254.169.254/latest/meta-data",
            "/api/v1/logs?after=x",
            "not a url",
        ] {
            assert!(
                matches!(checked_next(&d, bad), Err(OktaError::ForeignNextLink)),
                "{bad}"
            );
        }
    }

    #[test]
    fn first_page_url_shape() {
        let since = DateTime::parse_from_rfc3339("2026-11-25T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let url = first_page_url(&acme(), since, None, 5000, ASC).unwrap();
        assert_eq!(
            url.as_str(),
            "https://acme.okta.com/api/v1/logs?since=2026-11-25T09%3A00%3A00.000Z&limit=1000&sortOrder=ASCENDING"
        );
    }
}
