//! The System Log API, `GET /api/v1/logs`: polling mode and bounded mode, Link paging.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::error::{ApiError, okta_error};
use super::filter::Filter;
use super::state::{LogEntry, Shared};
use super::token::authorize;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Okta's `q`: at most 10 keywords, each at most 40 characters.
const MAX_KEYWORDS: usize = 10;
const MAX_KEYWORD_CHARS: usize = 40;
/// Okta returns no event published more than 90 days ago (its data retention policy); the
/// query still succeeds.
const RETENTION_DAYS: i64 = 90;

/// A parsed `GET /api/v1/logs` query.
struct LogQuery {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    after: Option<Cursor>,
    limit: usize,
    descending: bool,
    filter: Option<Filter>,
    keywords: Vec<String>,
    /// Older events are past Okta's retention: never returned.
    retained_since: DateTime<Utc>,
    /// The raw parameters, carried into the `next` link.
    raw: HashMap<String, String>,
}

impl LogQuery {
    fn polling(&self) -> bool {
        self.until.is_none() && !self.descending
    }

    fn matches(&self, entry: &LogEntry) -> bool {
        entry.published >= self.retained_since
            && self.filter.as_ref().is_none_or(|f| f.matches(&entry.event))
            && self.has_keywords(entry)
    }

    /// Okta matches whole keywords, case-insensitively: `lock` does not find
    /// `user.account.lock`, and every keyword must be found.
    fn has_keywords(&self, entry: &LogEntry) -> bool {
        if self.keywords.is_empty() {
            return true;
        }
        let mut words = std::collections::HashSet::new();
        collect_words(&entry.event, &mut words);
        self.keywords.iter().all(|k| words.contains(k))
    }
}

/// Every string value of the event, whole and split at whitespace, lower-cased.
fn collect_words(value: &Value, words: &mut std::collections::HashSet<String>) {
    match value {
        Value::String(text) => {
            let text = text.to_lowercase();
            words.extend(text.split_whitespace().map(str::to_owned));
            words.insert(text);
        }
        Value::Array(items) => items.iter().for_each(|v| collect_words(v, words)),
        Value::Object(fields) => fields.values().for_each(|v| collect_words(v, words)),
        _ => {}
    }
}

fn parse_keywords(raw: &HashMap<String, String>) -> Result<Vec<String>, ApiError> {
    let Some(q) = raw.get("q") else {
        return Ok(Vec::new());
    };
    let keywords: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    if keywords.len() > MAX_KEYWORDS {
        return Err(bad_param(&format!(
            "q: at most {MAX_KEYWORDS} keywords are allowed"
        )));
    }
    if keywords
        .iter()
        .any(|k| k.chars().count() > MAX_KEYWORD_CHARS)
    {
        return Err(bad_param(&format!(
            "q: a keyword may have at most {MAX_KEYWORD_CHARS} characters"
        )));
    }
    Ok(keywords)
}

/// The opaque `after` value: a persistence sequence (polling) or a `published` key (bounded).
#[derive(Clone, Copy)]
enum Cursor {
    Seq(u64),
    Key(i64, u64),
}

impl Cursor {
    fn encode(self) -> String {
        let plain = match self {
            Self::Seq(seq) => format!("s{seq}"),
            Self::Key(millis, seq) => format!("k{millis}_{seq}"),
        };
        URL_SAFE_NO_PAD.encode(plain)
    }

    fn decode(value: &str) -> Option<Self> {
        let plain = String::from_utf8(URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
        if let Some(seq) = plain.strip_prefix('s') {
            return seq.parse().ok().map(Self::Seq);
        }
        let (millis, seq) = plain.strip_prefix('k')?.split_once('_')?;
        Some(Self::Key(millis.parse().ok()?, seq.parse().ok()?))
    }
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers, &["okta.logs.read"])?;
    let query = parse_query(raw)?;
    let cursor_fits = match query.after {
        None => true,
        Some(Cursor::Seq(_)) => query.polling(),
        Some(Cursor::Key(..)) => !query.polling(),
    };
    if !cursor_fits {
        return Err(bad_param(
            "after: the cursor belongs to another kind of query",
        ));
    }
    let inner = shared.lock();
    let (events, next) = if query.polling() {
        polling_page(&inner.log, &query)
    } else {
        bounded_page(&inner.log, &query)
    };
    drop(inner);
    let mut response = Json(events).into_response();
    // Okta sends `self` and `next` as two separate Link headers.
    for link in page_links(&shared.base_url, &query, next) {
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().append(header::LINK, value);
        }
    }
    Ok(response)
}

/// Persistence order; always a `next` link, pointing past everything examined.
fn polling_page(log: &[LogEntry], query: &LogQuery) -> (Vec<Value>, Option<Cursor>) {
    let after = match query.after {
        Some(Cursor::Seq(seq)) => Some(seq),
        _ => None,
    };
    let since = query.since.unwrap_or_else(default_since);
    let start = after.map_or(0, |seq| usize::try_from(seq).unwrap_or(usize::MAX));
    let candidates = log
        .iter()
        .skip(start)
        .filter(|e| after.is_some() || e.published >= since);
    let mut events = Vec::new();
    let mut last_seq = after.unwrap_or(0);
    for entry in candidates {
        if events.len() == query.limit {
            return (events, Some(Cursor::Seq(last_seq)));
        }
        last_seq = entry.seq;
        if query.matches(entry) {
            events.push(entry.event.clone());
        }
    }
    // The page is not full: every persisted event was examined.
    let examined_all = if query.limit == 0 {
        last_seq
    } else {
        log.last().map_or(last_seq, |e| e.seq.max(last_seq))
    };
    (events, Some(Cursor::Seq(examined_all)))
}

/// `published` order between `since` and `until`; a `next` link only while more remain.
fn bounded_page(log: &[LogEntry], query: &LogQuery) -> (Vec<Value>, Option<Cursor>) {
    // Okta: `since` defaults to 7 days before `until`.
    let until = query.until.unwrap_or_else(Utc::now);
    let since = query.since.unwrap_or(until - Duration::days(7));
    let mut matching: Vec<&LogEntry> = log
        .iter()
        .filter(|e| e.published >= since && e.published < until && query.matches(e))
        .collect();
    matching.sort_by_key(|e| (e.published.timestamp_millis(), e.seq));
    if query.descending {
        matching.reverse();
    }
    let after = match query.after {
        Some(Cursor::Key(millis, seq)) => Some((millis, seq)),
        _ => None,
    };
    let remaining = matching.into_iter().filter(|e| {
        let key = (e.published.timestamp_millis(), e.seq);
        match after {
            None => true,
            Some(cursor) if query.descending => key < cursor,
            Some(cursor) => key > cursor,
        }
    });
    let page: Vec<&LogEntry> = remaining.take(query.limit + 1).collect();
    let has_more = page.len() > query.limit;
    let page = &page[..page.len().min(query.limit)];
    let next = match page.last() {
        Some(last) if has_more => Some(Cursor::Key(last.published.timestamp_millis(), last.seq)),
        _ => None,
    };
    (page.iter().map(|e| e.event.clone()).collect(), next)
}

fn default_since() -> DateTime<Utc> {
    Utc::now() - Duration::days(7)
}

fn parse_query(raw: HashMap<String, String>) -> Result<LogQuery, ApiError> {
    let since = parse_time(&raw, "since")?;
    if since.is_some_and(|s| s < Utc::now() - Duration::days(180)) {
        return Err(okta_error(
            StatusCode::BAD_REQUEST,
            "E0000053",
            "Invalid date. 'since' must be a date within the last 180 days.",
            Vec::new(),
        ));
    }
    let limit = match raw.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n <= MAX_LIMIT => n,
            _ => return Err(bad_param("limit: must be an integer between 0 and 1000")),
        },
    };
    let descending = match raw.get("sortOrder").map(String::as_str) {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(_) => return Err(bad_param("sortOrder: must be ASCENDING or DESCENDING")),
    };
    let after = match raw.get("after") {
        None => None,
        Some(text) => Some(Cursor::decode(text).ok_or_else(|| bad_param("after: invalid cursor"))?),
    };
    let filter = match raw.get("filter") {
        None => None,
        Some(text) => Some(parse_filter(text)?),
    };
    let keywords = parse_keywords(&raw)?;
    Ok(LogQuery {
        since,
        until: parse_time(&raw, "until")?,
        after,
        limit,
        descending,
        filter,
        keywords,
        retained_since: Utc::now() - Duration::days(RETENTION_DAYS),
        raw,
    })
}

/// Okta's System Log query guide: a filter may not use `published` (400), nor `co` on
/// `debugContext.debugData.url` or `.requestUri` (400 `E0000031`).
fn parse_filter(text: &str) -> Result<Filter, ApiError> {
    let filter =
        Filter::parse(text).ok_or_else(|| bad_param("filter: Invalid filter expression"))?;
    if filter.uses_published() {
        return Err(bad_param(
            "filter: published cannot be filtered on; use since and until",
        ));
    }
    if let Some(field) = filter.unsupported_contains() {
        return Err(okta_error(
            StatusCode::BAD_REQUEST,
            "E0000031",
            &format!(
                "The supplied combination of operator and field is not currently supported. Operator: co, Field: {field}"
            ),
            Vec::new(),
        ));
    }
    Ok(filter)
}

fn parse_time(
    raw: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = raw.get(name) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| bad_param(&format!("{name}: must be an ISO 8601 / RFC 3339 timestamp")))
}

fn bad_param(cause: &str) -> ApiError {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: logs",
        vec![cause.to_owned()],
    )
}

/// `<…>; rel="self"` and, if any, `<…>; rel="next"`; the next link keeps every parameter
/// but `after`.
fn page_links(base_url: &str, query: &LogQuery, next: Option<Cursor>) -> Vec<String> {
    let url_with = |after: Option<String>| {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<&String> = query.raw.keys().filter(|k| *k != "after").collect();
        keys.sort();
        for key in keys {
            params.append_pair(key, &query.raw[key]);
        }
        if let Some(after) = after {
            params.append_pair("after", &after);
        }
        format!("{base_url}/api/v1/logs?{}", params.finish())
    };
    let this = url_with(query.raw.get("after").cloned());
    let mut links = vec![format!("<{this}>; rel=\"self\"")];
    if let Some(cursor) = next {
        links.push(format!(
            "<{}>; rel=\"next\"",
            url_with(Some(cursor.encode()))
        ));
    }
    links
}
