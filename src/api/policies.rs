//! Policies: managed (shipped, switchable per tenant) and custom (the tenant's own rules).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, Json, Path, Query};
use crate::detect::{self, RuleSet};
use crate::service::{Services, policies};
use crate::store::policies::{self as store, CustomPolicy};

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
        let settings = store::managed_settings(services.pool(), caller.tenant_id).await?;
        for policy in detect::managed_policies() {
            let enabled = settings.get(&policy.id).copied().unwrap_or(true);
            items.push(managed_json(policy, enabled, false));
        }
    }
    if params.managed != Some(true) {
        for policy in store::list_custom(services.pool(), caller.tenant_id).await? {
            items.push(custom_json(&policy));
        }
    }
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    if let Some(policy) = find_managed(id) {
        let settings = store::managed_settings(services.pool(), caller.tenant_id).await?;
        return Ok(Json(managed_json(
            policy,
            settings.get(&id).copied().unwrap_or(true),
            true,
        )));
    }
    let policy = store::get_custom(services.pool(), caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("policy"))?;
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

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "name must be 1 to 200 characters",
        ));
    }
    Ok(name.to_string())
}

async fn validate_rules(name: &str, rules: &str) -> ApiResult<RuleSet> {
    if rules.len() > 1024 * 1024 {
        return Err(ApiError::unprocessable(
            "invalid_rules",
            "rules are limited to 1 MiB",
        ));
    }
    policies::compile_custom(name, rules).await.map_err(|e| {
        ApiError::unprocessable("invalid_rules", e.to_string())
            .with_extra(json!({ "line": e.line, "column": e.column, "reason": e.reason }))
    })
}

async fn create(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<NewPolicy>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_type(Some(&body.policy_type))?;
    let name = check_name(&body.name)?;
    validate_rules(&name, &body.rules).await?;
    let now = chrono::Utc::now();
    let policy = CustomPolicy {
        id: Uuid::new_v4(),
        tenant_id: admin.tenant_id,
        name,
        description: body.description,
        rules: body.rules,
        enabled: body.enabled,
        created_at: now,
        updated_at: now,
    };
    if detect::managed_policies()
        .iter()
        .any(|m| m.name == policy.name)
        || !store::insert_custom(services.pool(), &policy).await?
    {
        return Err(ApiError::conflict(
            "policy_name_taken",
            format!("a policy named {:?} already exists", policy.name),
        ));
    }
    Ok((StatusCode::CREATED, Json(custom_detail(&policy).await)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyPatch {
    enabled: Option<bool>,
    name: Option<String>,
    description: Option<String>,
    rules: Option<String>,
}

async fn update(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(patch): Json<PolicyPatch>,
) -> ApiResult<Json<Value>> {
    if let Some(policy) = find_managed(id) {
        if patch.name.is_some() || patch.description.is_some() || patch.rules.is_some() {
            return Err(ApiError::unprocessable(
                "managed_policy",
                "managed policies can only be enabled or disabled; copy its rules into a custom policy to change them",
            ));
        }
        let enabled = patch.enabled.ok_or_else(|| {
            ApiError::unprocessable("invalid_body", "send {\"enabled\": true|false}")
        })?;
        store::set_managed_enabled(services.pool(), admin.tenant_id, id, enabled).await?;
        return Ok(Json(managed_json(policy, enabled, true)));
    }
    let mut policy = store::get_custom(services.pool(), admin.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("policy"))?;
    if let Some(name) = patch.name {
        policy.name = check_name(&name)?;
    }
    if let Some(description) = patch.description {
        policy.description = description;
    }
    if let Some(rules) = patch.rules {
        validate_rules(&policy.name, &rules).await?;
        policy.rules = rules;
    }
    if let Some(enabled) = patch.enabled {
        policy.enabled = enabled;
    }
    store::update_custom(services.pool(), &policy)
        .await
        .map_err(|e| match &e {
            crate::store::StoreError::Database(sqlx::Error::Database(db))
                if db.is_unique_violation() =>
            {
                ApiError::conflict("policy_name_taken", "another policy has that name")
            }
            _ => ApiError::from(e),
        })?;
    Ok(Json(custom_detail(&policy).await))
}

async fn remove(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if find_managed(id).is_some() {
        return Err(ApiError::conflict(
            "managed_policy",
            "managed policies cannot be deleted; disable it with PATCH {\"enabled\": false}",
        ));
    }
    if store::delete_custom(services.pool(), admin.tenant_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("policy"))
    }
}

fn find_managed(id: Uuid) -> Option<&'static detect::ManagedPolicy> {
    detect::managed_policies().iter().find(|p| p.id == id)
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
