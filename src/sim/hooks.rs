//! The Event Hooks management API (`/api/v1/eventHooks`) and the verification GET.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, malformed_body, not_found, validation_failed};
use super::event_types::is_event_hook_eligible;
use super::options::HookLimitAt;
use super::state::{
    AuthScheme, Hook, HookStatus, Shared, VerificationStatus, okta_id, okta_time, random_string,
};
use super::token::authorize;

const MANAGE: &str = "okta.eventHooks.manage";
const READ: &str = "okta.eventHooks.read";
const MAX_EVENT_TYPES: usize = 300;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct HookBody {
    name: Option<String>,
    status: Option<String>,
    description: Option<String>,
    events: Option<EventsBody>,
    channel: Option<ChannelBody>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EventsBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    items: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChannelBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    version: Option<String>,
    config: Option<ConfigBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ConfigBody {
    uri: Option<String>,
    headers: Option<Vec<HeaderBody>>,
    auth_scheme: Option<AuthBody>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HeaderBody {
    key: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

/// A validated hook definition from a create or replace body.
struct HookSpec {
    name: String,
    description: Option<String>,
    events: Vec<String>,
    uri: String,
    headers: Vec<(String, String)>,
    /// `None` key: no auth scheme; `Some` with `None` value: keep the stored secret.
    auth: Option<(String, Option<String>)>,
    /// `status` of a PUT body (create ignores it: a new hook is ACTIVE).
    status: Option<HookStatus>,
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers, &[MANAGE, READ])?;
    let inner = shared.lock();
    let hooks: Vec<Value> = inner.hooks.iter().map(|h| render(&shared, h)).collect();
    Ok(Json(hooks).into_response())
}

pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers, &[MANAGE, READ])?;
    let inner = shared.lock();
    match inner.hook(&id) {
        Some(hook) => Ok(Json(render(&shared, hook)).into_response()),
        None => Err(not_found(&id)),
    }
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = authorized_spec(&shared, &headers, &body)?;
    let mut inner = shared.lock();
    if shared.options.hook_limit_at == HookLimitAt::Create {
        check_quota(&shared, &inner, None)?;
    }
    let now = Utc::now();
    let hook = Hook {
        id: okta_id("who"),
        name: spec.name,
        description: spec.description,
        status: HookStatus::Active,
        verification: VerificationStatus::Unverified,
        events: spec.events,
        uri: spec.uri,
        headers: spec.headers,
        auth: spec.auth.map(|(key, value)| AuthScheme {
            key,
            value: value.unwrap_or_default(),
        }),
        created: now,
        last_updated: now,
        created_by: shared.options.client_id.clone(),
        foreign: false,
        verified_at: None,
    };
    let rendered = render(&shared, &hook);
    inner.hooks.push(hook);
    inner.counters.hooks_created += 1;
    Ok((StatusCode::OK, Json(rendered)).into_response())
}

pub(crate) async fn replace(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = authorized_spec(&shared, &headers, &body)?;
    let mut inner = shared.lock();
    let Some(current) = inner.hook(&id) else {
        return Err(not_found(&id));
    };
    let activating =
        spec.status == Some(HookStatus::Active) && current.status != HookStatus::Active;
    if activating && current.verification == VerificationStatus::Verified {
        check_quota(&shared, &inner, Some(&id))?;
    }
    let Some(hook) = inner.hook_mut(&id) else {
        return Err(not_found(&id));
    };
    let auth = spec.auth.map(|(key, value)| {
        let kept = hook.auth.as_ref().map(|a| a.value.clone());
        AuthScheme {
            key,
            value: value.or(kept).unwrap_or_default(),
        }
    });
    // A new channel (URI, headers or secret) must prove itself again before it receives.
    if hook.uri != spec.uri || hook.headers != spec.headers || hook.auth != auth {
        hook.verification = VerificationStatus::Unverified;
    }
    hook.name = spec.name;
    hook.description = spec.description;
    hook.events = spec.events;
    hook.uri = spec.uri;
    hook.headers = spec.headers;
    hook.auth = auth;
    hook.status = spec.status.unwrap_or(hook.status);
    hook.last_updated = Utc::now();
    Ok(Json(render(&shared, hook)).into_response())
}

pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers, &[MANAGE])?;
    let mut inner = shared.lock();
    let Some(hook) = inner.hook(&id) else {
        return Err(not_found(&id));
    };
    if hook.status == HookStatus::Active {
        return Err(validation_failed(vec![
            "Cannot delete an ACTIVE event hook. Deactivate the event hook first.".into(),
        ]));
    }
    inner.hooks.retain(|h| h.id != id);
    inner.counters.hooks_deleted += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn lifecycle(
    State(shared): State<Arc<Shared>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers, &[MANAGE])?;
    match action.as_str() {
        "activate" => set_status(&shared, &id, HookStatus::Active),
        "deactivate" => set_status(&shared, &id, HookStatus::Inactive),
        "verify" => verify(&shared, &id).await,
        _ => Err(not_found(&id)),
    }
}

fn set_status(shared: &Shared, id: &str, status: HookStatus) -> Result<Response, ApiError> {
    let mut inner = shared.lock();
    let Some(current) = inner.hook(id) else {
        return Err(not_found(id));
    };
    let goes_live = status == HookStatus::Active
        && current.status != HookStatus::Active
        && current.verification == VerificationStatus::Verified;
    if goes_live {
        check_quota(shared, &inner, Some(id))?;
    }
    let Some(hook) = inner.hook_mut(id) else {
        return Err(not_found(id));
    };
    if hook.status != status {
        hook.status = status;
        hook.last_updated = Utc::now();
    }
    Ok(Json(render(shared, hook)).into_response())
}

async fn verify(shared: &Shared, id: &str) -> Result<Response, ApiError> {
    let hook = {
        let inner = shared.lock();
        let Some(hook) = inner.hook(id).cloned() else {
            return Err(not_found(id));
        };
        if hook.status == HookStatus::Active && hook.verification != VerificationStatus::Verified {
            check_quota(shared, &inner, Some(id))?;
        }
        hook
    };
    let verified = verify_endpoint(shared, &hook).await;
    let mut inner = shared.lock();
    inner.counters.verifications += 1;
    if !verified {
        inner.counters.verifications_failed += 1;
        return Err(verification_failed(&hook));
    }
    let Some(stored) = inner.hook_mut(id) else {
        return Err(not_found(id));
    };
    // A PUT during the GET replaced the channel: what was verified is no longer there.
    let same_channel =
        stored.uri == hook.uri && stored.headers == hook.headers && stored.auth == hook.auth;
    if !same_channel {
        return Err(verification_failed(&hook));
    }
    stored.verification = VerificationStatus::Verified;
    stored.verified_at = Some(std::time::Instant::now());
    stored.last_updated = Utc::now();
    Ok(Json(render(shared, stored)).into_response())
}

fn verification_failed(hook: &Hook) -> ApiError {
    validation_failed(vec![format!(
        "Unable to verify event hook. Hook {} execution failed",
        hook.name
    )])
}

/// Okta's one-time verification: a GET with a challenge, answered within the timeout, one retry.
async fn verify_endpoint(shared: &Shared, hook: &Hook) -> bool {
    let challenge = random_string(40);
    for _ in 0..2 {
        if verify_once(shared, hook, &challenge).await {
            return true;
        }
    }
    false
}

async fn verify_once(shared: &Shared, hook: &Hook, challenge: &str) -> bool {
    let mut request = shared
        .http
        .get(&hook.uri)
        .timeout(shared.options.verification_timeout)
        .header("X-Okta-Verification-Challenge", challenge)
        .header("User-Agent", "Okta-Integrations")
        .header("Accept", "application/json");
    request = with_hook_headers(request, hook);
    let Ok(response) = request.send().await else {
        return false;
    };
    if response.status() != StatusCode::OK {
        return false;
    }
    match response.json::<Value>().await {
        Ok(body) => body.get("verification").and_then(Value::as_str) == Some(challenge),
        Err(_) => false,
    }
}

/// Adds the hook's custom headers and its auth header (last, so it wins).
pub(crate) fn with_hook_headers(
    mut request: reqwest::RequestBuilder,
    hook: &Hook,
) -> reqwest::RequestBuilder {
    for (key, value) in &hook.headers {
        request = request.header(key, value);
    }
    if let Some(auth) = &hook.auth {
        request = request.header(&auth.key, &auth.value);
    }
    request
}

/// The body of a create or replace, validated only once the caller may manage hooks.
fn authorized_spec(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HookSpec, ApiError> {
    authorize(shared, headers, &[MANAGE])?;
    parse_spec(shared, body)
}

fn parse_spec(shared: &Shared, body: &[u8]) -> Result<HookSpec, ApiError> {
    let body: HookBody = serde_json::from_slice(body).map_err(|_| malformed_body())?;
    let mut causes = Vec::new();
    let name = body.name.unwrap_or_default().trim().to_owned();
    if name.is_empty() {
        causes.push("name: The field cannot be left blank".to_owned());
    }
    let events = body.events.unwrap_or_default();
    if events.kind.as_deref() != Some("EVENT_TYPE") {
        causes.push("events.type: The field must be EVENT_TYPE".to_owned());
    }
    check_event_types(&events.items, &mut causes);
    let channel = body.channel.unwrap_or_default();
    if channel.kind.as_deref() != Some("HTTP") {
        causes.push("channel.type: The field must be HTTP".to_owned());
    }
    if channel.version.as_deref() != Some("1.0.0") {
        causes.push("channel.version: The field must be 1.0.0".to_owned());
    }
    let config = channel.config.unwrap_or_default();
    let uri = config.uri.unwrap_or_default();
    check_uri(&uri, shared.options.allow_loopback_http_hooks, &mut causes);
    let auth = parse_auth(config.auth_scheme, &mut causes);
    let status = match body.status.as_deref() {
        None => None,
        Some("ACTIVE") => Some(HookStatus::Active),
        Some("INACTIVE") => Some(HookStatus::Inactive),
        Some(_) => {
            causes.push("status: The field must be ACTIVE or INACTIVE".to_owned());
            None
        }
    };
    if !causes.is_empty() {
        return Err(validation_failed(causes));
    }
    Ok(HookSpec {
        name,
        description: body.description,
        events: events.items,
        uri,
        headers: config
            .headers
            .unwrap_or_default()
            .into_iter()
            .map(|h| (h.key, h.value))
            .collect(),
        auth,
        status,
    })
}

/// Okta's quota counts active and verified hooks; `except` is the hook about to go live.
fn check_quota(
    shared: &Shared,
    inner: &super::state::Inner,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let max = shared.options.max_hooks;
    let live = inner
        .hooks
        .iter()
        .filter(|h| h.is_live() && Some(h.id.as_str()) != except)
        .count();
    if live < max {
        return Ok(());
    }
    Err(validation_failed(vec![format!(
        "eventHook: This org already has the maximum of {max} active and verified event hooks."
    )]))
}

fn check_event_types(items: &[String], causes: &mut Vec<String>) {
    if items.is_empty() {
        causes.push("events.items: The field cannot be left blank".to_owned());
    }
    if items.len() > MAX_EVENT_TYPES {
        causes.push(format!(
            "events.items: An event hook can subscribe to at most {MAX_EVENT_TYPES} event types"
        ));
    }
    for item in items {
        let plausible = item.contains('.')
            && item
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
        if !plausible {
            causes.push(format!("events.items: Invalid event type: {item}"));
        } else if !is_event_hook_eligible(item) {
            causes.push(format!(
                "events.items: The event type {item} is not eligible for event hooks"
            ));
        }
    }
}

/// https only, as in Okta; `http://` on a loopback host only with the dev switch.
fn check_uri(uri: &str, allow_loopback_http: bool, causes: &mut Vec<String>) {
    let loopback = |url: &url::Url| match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url::Url::parse(uri) {
        Ok(url) if url.scheme() == "https" => {}
        Ok(url) if url.scheme() == "http" && allow_loopback_http && loopback(&url) => {}
        Ok(_) => causes.push("channel.config.uri: The URI must use HTTPS".to_owned()),
        Err(_) => causes.push("channel.config.uri: The URI is not valid".to_owned()),
    }
}

fn parse_auth(
    auth: Option<AuthBody>,
    causes: &mut Vec<String>,
) -> Option<(String, Option<String>)> {
    let auth = auth?;
    if auth.kind.as_deref().is_some_and(|k| k != "HEADER") {
        causes.push("channel.config.authScheme.type: The field must be HEADER".to_owned());
    }
    let key = auth.key.unwrap_or_default();
    if key.is_empty() || axum::http::HeaderName::from_bytes(key.as_bytes()).is_err() {
        causes.push("channel.config.authScheme.key: The field must be a header name".to_owned());
    }
    Some((key, auth.value))
}

/// The hook as Okta shows it: the auth secret never appears; the links follow the status.
pub(crate) fn render(shared: &Shared, hook: &Hook) -> Value {
    let href = format!("{}/api/v1/eventHooks/{}", shared.base_url, hook.id);
    let headers: Vec<Value> = hook
        .headers
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect();
    let auth = hook
        .auth
        .as_ref()
        .map(|a| json!({ "type": "HEADER", "key": a.key }));
    // Only an INACTIVE hook may be deleted; only the opposite lifecycle step is offered.
    let (toggle, self_allows) = match hook.status {
        HookStatus::Active => ("deactivate", json!(["GET", "PUT"])),
        HookStatus::Inactive => ("activate", json!(["GET", "PUT", "DELETE"])),
    };
    json!({
        "id": hook.id,
        "status": hook.status,
        "verificationStatus": hook.verification,
        "name": hook.name,
        "description": hook.description,
        "created": okta_time(hook.created),
        "createdBy": hook.created_by,
        "lastUpdated": okta_time(hook.last_updated),
        "events": { "type": "EVENT_TYPE", "items": hook.events, "filter": null },
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": { "uri": hook.uri, "headers": headers, "authScheme": auth, "method": "POST" }
        },
        "_links": {
            "self": { "href": href, "hints": { "allow": self_allows } },
            "verify": { "href": format!("{href}/lifecycle/verify"), "hints": { "allow": ["POST"] } },
            toggle: { "href": format!("{href}/lifecycle/{toggle}"), "hints": { "allow": ["POST"] } }
        }
    })
}
