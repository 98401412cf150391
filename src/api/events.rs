//! The event feed: search and drill-down over runtime events.

use crate::detect::Severity;
use crate::ids::IntegrationId;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Json, Path, Query};
use super::schemas;
use crate::state::Services;
use crate::store::runtime_events::{self, FeedQuery, RuntimeEvent};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail))
}

/// Text filters: at most 256 characters, without control characters; empty means no filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FeedParams {
    /// Full-text search over rule name, policy, output, event type, actor, target and source
    /// (`okta` finds every Okta event), by whole words; a login's parts count as words (`zoe`,
    /// `acme.com`).
    #[param(max_length = 256)]
    q: Option<String>,
    /// Case-insensitive.
    #[param(value_type = Option<schemas::Severity>)]
    severity: Option<String>,
    /// The event source, e.g. `okta`.
    #[param(max_length = 256)]
    source: Option<String>,
    /// A policy id or name.
    #[param(max_length = 256)]
    policy: Option<String>,
    /// An integration id.
    #[param(value_type = Option<uuid::Uuid>)]
    integration: Option<IntegrationId>,
    /// Okta `published` at or after this time (years 1970 to 9999).
    since: Option<DateTime<Utc>>,
    /// Okta `published` before this time (years 1970 to 9999).
    until: Option<DateTime<Utc>>,
    /// Page size.
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Search text: bounded, and without control characters (Postgres refuses NUL).
fn text_param(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    let Some(text) = non_empty(value) else {
        return Ok(None);
    };
    if text.chars().count() > 256 || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} must be at most 256 characters without control characters"),
        ));
    }
    Ok(Some(text))
}

/// A time Postgres can compare: years 1970 to 9999.
pub(super) fn in_range(time: &DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1970..=9999).contains(&time.year())
}

fn time_param(name: &str, value: Option<DateTime<Utc>>) -> ApiResult<Option<DateTime<Utc>>> {
    match value {
        Some(time) if !in_range(&time) => Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} must be between 1970 and 9999"),
        )),
        other => Ok(other),
    }
}

/// Search the event feed
///
/// Runtime events newest first by Okta's `published` time, with full-text search, filters
/// and keyset pagination (stable while new events arrive).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "listEvents",
    params(FeedParams),
    responses(
        (status = 200, description = "A page of runtime events", body = schemas::EventPage),
        (status = 400, description = "`invalid_query`: a parameter is out of range or not one listed; `invalid_cursor`: not a cursor this API returned"),
    )
)]
async fn list(
    State(services): State<Services>,
    caller: Caller,
    Query(params): Query<FeedParams>,
) -> ApiResult<Json<Value>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 500",
        ));
    }
    let severity = non_empty(params.severity)
        .map(|s| {
            Severity::parse(&s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    "severity must be one of high, medium, low, info",
                )
            })
        })
        .transpose()?;
    let after = non_empty(params.cursor)
        .map(|c| decode_cursor(&c))
        .transpose()?;
    let query = FeedQuery {
        q: text_param("q", params.q)?,
        severity,
        source: text_param("source", params.source)?,
        policy: text_param("policy", params.policy)?,
        integration: params.integration,
        since: time_param("since", params.since)?,
        until: time_param("until", params.until)?,
        after,
        // One more than the page: whether another page follows (none after the last one).
        limit: limit + 1,
    };
    let mut items = runtime_events::feed(services.pool(), caller.tenant_id, &query).await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = more.then(|| items.last().map(encode_cursor)).flatten();
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}

/// A runtime event with its normalized fields and the raw Okta event.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    operation_id = "getEvent",
    params(("id" = i64, Path, description = "The runtime event")),
    responses(
        (status = 200, description = "The runtime event", body = schemas::RuntimeEventDetail),
        (status = 404, description = "`not_found`: no such runtime event of this tenant"),
    )
)]
async fn detail(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let event = runtime_events::get(services.pool(), caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("runtime event"))?;
    let mut body = serde_json::to_value(&event.summary).map_err(|e| ApiError::internal(&e))?;
    if let Some(object) = body.as_object_mut() {
        object.insert("normalized".into(), event.normalized);
        object.insert("raw".into(), event.raw);
    }
    Ok(Json(body))
}

fn encode_cursor(item: &RuntimeEvent) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", item.published.timestamp_micros(), item.id))
}

fn decode_cursor(cursor: &str) -> ApiResult<(DateTime<Utc>, i64)> {
    let invalid = || ApiError::bad_request("invalid_cursor", "cursor is not one this API returned");
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    // A forged cursor may hold any time; one Postgres cannot store would be a 500.
    let published = DateTime::from_timestamp_micros(micros)
        .filter(in_range)
        .ok_or_else(invalid)?;
    Ok((published, id))
}
