//! Policies: managed (shipped, switchable per tenant) and custom (the tenant's own rules).

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, Json, Path, Query};
use crate::detect::{self, RuleSet};
use crate::ids::PolicyId;
use crate::service::policies::{self, PolicyInput, PolicyPatch, Updated};
use crate::state::Services;
use crate::store::policies::CustomPolicy;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/api/v1/policies", get(list).post(create))
        .route(
            "/api/v1/policies/{id}",
            get(show).patch(update).delete(remove),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    managed: Option<bool>,
    #[serde(rename = "type")]
    policy_type: Option<String>,
}

fn check_type(policy_type: Option<&str>) -> ApiResult<()> {
    match policy_type {
        None | Some("okta") => Ok(()),
        Some(other) => Err(ApiError::unprocessable(
            "unsupported_policy_type",
            format!("policy type {other:?} is not supported; use \"okta\""),
        )),
    }
}

async fn list(
    State(services): State<Services>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    check_type(params.policy_type.as_deref())?;
    let mut items = Vec::new();
    if params.managed != Some(false) {
        let settings = policies::managed_enabled(services.pool(), caller.tenant_id).await?;
        for policy in detect::managed_policies() {
            let enabled = settings.get(&PolicyId(policy.id)).copied().unwrap_or(true);
            items.push(managed_json(policy, enabled, false));
        }
    }
    if params.managed != Some(true) {
        for policy in policies::list_custom(services.pool(), caller.tenant_id).await? {
            items.push(custom_json(&policy));
        }
    }
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<PolicyId>,
) -> ApiResult<Json<Value>> {
    if let Some(policy) = policies::find_managed(id) {
        let settings = policies::managed_enabled(services.pool(), caller.tenant_id).await?;
        let enabled = settings.get(&id).copied().unwrap_or(true);
        return Ok(Json(managed_json(policy, enabled, true)));
    }
    let policy = policies::get_custom(services.pool(), caller.tenant_id, id).await?;
    Ok(Json(custom_detail(&policy).await))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPolicy {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    policy_type: String,
    rules: String,
    #[serde(default = "default_true")]
    enabled: bool,
}

fn default_true() -> bool {
    true
}

async fn create(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<NewPolicy>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_type(Some(&body.policy_type))?;
    let input = PolicyInput {
        name: body.name,
        description: body.description,
        rules: body.rules,
        enabled: body.enabled,
    };
    let policy = policies::create(services.pool(), admin.tenant_id, input).await?;
    Ok((StatusCode::CREATED, Json(custom_detail(&policy).await)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    enabled: Option<bool>,
    name: Option<String>,
    description: Option<String>,
    rules: Option<String>,
}

async fn update(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<PolicyId>,
    Json(body): Json<PatchBody>,
) -> ApiResult<Json<Value>> {
    let patch = PolicyPatch {
        enabled: body.enabled,
        name: body.name,
        description: body.description,
        rules: body.rules,
    };
    Ok(Json(
        match policies::update(services.pool(), admin.tenant_id, id, patch).await? {
            Updated::Managed(policy, enabled) => managed_json(policy, enabled, true),
            Updated::Custom(policy) => custom_detail(&policy).await,
        },
    ))
}

async fn remove(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<PolicyId>,
) -> ApiResult<StatusCode> {
    policies::delete(services.pool(), admin.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn managed_json(policy: &detect::ManagedPolicy, enabled: bool, with_rules: bool) -> Value {
    let mut body = json!({
        "id": policy.id, "name": policy.name, "description": policy.description,
        "type": "okta", "managed": true, "enabled": enabled,
    });
    if with_rules
        && let (Some(object), Some(rules)) =
            (body.as_object_mut(), detect::managed_rule_set(policy.id))
    {
        object.insert("rules".into(), rules_json(&rules));
        object.insert("source".into(), Value::from(policy.source));
    }
    body
}

fn custom_json(policy: &CustomPolicy) -> Value {
    json!({
        "id": policy.id, "name": policy.name, "description": policy.description,
        "type": "okta", "managed": false, "enabled": policy.enabled,
        "created_at": policy.created_at, "updated_at": policy.updated_at,
    })
}

/// The policy with its source and, when it compiles, its rules.
async fn custom_detail(policy: &CustomPolicy) -> Value {
    let mut body = custom_json(policy);
    if let Some(object) = body.as_object_mut() {
        if let Ok(rules) = policies::compile_custom(&policy.name, &policy.rules).await {
            object.insert("rules".into(), rules_json(&rules));
        }
        object.insert("source".into(), Value::from(policy.rules.clone()));
    }
    body
}

fn rules_json(rules: &RuleSet) -> Value {
    Value::Array(
        rules
            .rules()
            .iter()
            .map(|rule| {
                json!({
                    "name": rule.name, "description": rule.desc, "priority": rule.priority.as_str(),
                    "tags": rule.tags, "enabled": rule.enabled,
                })
            })
            .collect(),
    )
}
