//! Policies: managed (shipped, switchable per tenant) and custom (the tenant's own rules).

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, Json, Path, Query};
use super::schemas::{self, Policy, PolicyList, PolicyType, Rule};
use crate::detect::{self, RuleSet};
use crate::ids::PolicyId;
use crate::service::policies::{self, PolicyInput, PolicyPatch, Updated};
use crate::state::Services;
use crate::store::policies::CustomPolicy;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(dry_run))
        .routes(routes!(show, update, remove))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only managed (`true`) or only custom (`false`) policies; both without it.
    managed: Option<bool>,
    /// The policy type; `okta` is the only one.
    #[serde(rename = "type")]
    #[param(value_type = Option<schemas::PolicyType>)]
    policy_type: Option<String>,
}

const UNSUPPORTED_TYPE: &str = "`unsupported_policy_type`: `type` is not `okta`";

fn check_type(policy_type: Option<&str>) -> ApiResult<()> {
    match policy_type {
        None | Some("okta") => Ok(()),
        Some(other) => Err(ApiError::unprocessable(
            "unsupported_policy_type",
            format!("policy type {other:?} is not supported; use \"okta\""),
        )),
    }
}

/// The `{id}` of a policy that may be managed or custom, as the document states it; the
/// handlers take `Path<PolicyId>`. Documentation only, never constructed.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct PolicyPath {
    /// The policy (managed or custom)
    #[param(value_type = uuid::Uuid)]
    id: PolicyId,
}

/// Managed and custom policies, with the tenant's switches.
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    operation_id = "listPolicies",
    params(ListParams),
    responses(
        (status = 200, description = "The policies (without their rules)", body = schemas::PolicyList),
        (status = 422, description = UNSUPPORTED_TYPE),
    )
)]
async fn list(
    State(services): State<Services>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<PolicyList>> {
    check_type(params.policy_type.as_deref())?;
    let mut items = Vec::new();
    if params.managed != Some(false) {
        let settings = policies::managed_enabled(services.pool(), caller.tenant_id).await?;
        for policy in detect::managed_policies() {
            let enabled = settings.get(&PolicyId(policy.id)).copied().unwrap_or(true);
            items.push(managed(policy, enabled, false));
        }
    }
    if params.managed != Some(true) {
        for policy in policies::list_custom(services.pool(), caller.tenant_id).await? {
            items.push(custom(&policy));
        }
    }
    Ok(Json(PolicyList { items }))
}

/// A policy with its rules and source.
#[utoipa::path(
    get,
    path = "/api/v1/policies/{id}",
    operation_id = "getPolicy",
    params(PolicyPath),
    responses(
        (status = 200, description = "The policy", body = schemas::Policy),
        (status = 404, description = "`not_found`: no such policy"),
    )
)]
async fn show(
    State(services): State<Services>,
    caller: Caller,
    Path(id): Path<PolicyId>,
) -> ApiResult<Json<Policy>> {
    if let Some(policy) = policies::find_managed(id) {
        let settings = policies::managed_enabled(services.pool(), caller.tenant_id).await?;
        let enabled = settings.get(&id).copied().unwrap_or(true);
        return Ok(Json(managed(policy, enabled, true)));
    }
    let policy = policies::get_custom(services.pool(), caller.tenant_id, id).await?;
    Ok(Json(custom_detail(&policy).await))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPolicyRequest)]
struct NewPolicy {
    /// 1 to 200 characters without control characters; unique per tenant.
    #[schema(example = "VIP sign-ins")]
    name: String,
    /// At most 4096 characters.
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    #[schema(value_type = schemas::PolicyType)]
    policy_type: String,
    /// A rules file in the rule language (Falco's format, `source: okta`), at most 1 MiB.
    #[schema(example = json!(RULES_EXAMPLE))]
    rules: String,
    #[serde(default = "default_true")]
    #[schema(default = true)]
    enabled: bool,
}

const RULES_EXAMPLE: &str = "- rule: VIP sign-in
  desc: a VIP signed in
  condition: okta.evt.type = user.session.start and okta.actor.alternateid = ceo@acme.com
  output: \"VIP sign-in from %okta.client.ip\"
  priority: NOTICE
  source: okta
";

fn default_true() -> bool {
    true
}

/// A custom `okta` policy; its rules are validated on write and used from the next event on.
#[utoipa::path(
    post,
    path = "/api/v1/policies",
    operation_id = "createPolicy",
    request_body = NewPolicy,
    responses(
        (status = 201, description = "Created", body = schemas::Policy),
        (status = 409, description = "`policy_name_taken`"),
        (status = 422, description = "`invalid_rules` (with `line`, `column` and `reason` when the text does not compile), `invalid_name`, `invalid_description`, `unsupported_policy_type`, `too_many_policies` (100 custom policies at most)"),
    )
)]
async fn create(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<NewPolicy>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
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

/// Managed policies accept only `enabled`; custom policies any of these.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PolicyPatchRequest)]
struct PatchBody {
    enabled: Option<bool>,
    name: Option<String>,
    description: Option<String>,
    rules: Option<String>,
}

/// Switches a policy on or off (managed ones per tenant), or changes a custom policy.
#[utoipa::path(
    patch,
    path = "/api/v1/policies/{id}",
    operation_id = "updatePolicy",
    params(PolicyPath),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The policy as it is now", body = schemas::Policy),
        (status = 404, description = "`not_found`: no such policy"),
        (status = 409, description = "`policy_name_taken`"),
        (status = 422, description = "`managed_policy` (a managed policy takes only `enabled`), `invalid_body` (nothing to change), `invalid_rules` (with `line`, `column` and `reason` when the text does not compile), `invalid_name`, `invalid_description`"),
    )
)]
async fn update(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<PolicyId>,
    Json(body): Json<PatchBody>,
) -> ApiResult<Json<Policy>> {
    let patch = PolicyPatch {
        enabled: body.enabled,
        name: body.name,
        description: body.description,
        rules: body.rules,
    };
    Ok(Json(
        match policies::update(services.pool(), admin.tenant_id, id, patch).await? {
            Updated::Managed(policy, enabled) => managed(policy, enabled, true),
            Updated::Custom(policy) => custom_detail(&policy).await,
        },
    ))
}

/// Deletes a custom policy.
#[utoipa::path(
    delete,
    path = "/api/v1/policies/{id}",
    operation_id = "deletePolicy",
    params(("id" = uuid::Uuid, Path, description = "The custom policy")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such policy"),
        (status = 409, description = "`managed_policy`: managed policies are disabled, not deleted"),
    )
)]
async fn remove(
    State(services): State<Services>,
    admin: Admin,
    Path(id): Path<PolicyId>,
) -> ApiResult<StatusCode> {
    policies::delete(services.pool(), admin.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PolicyTestRequest)]
struct DryRunBody {
    /// A rules file in the rule language, as `rules` of a new policy.
    #[schema(example = json!(RULES_EXAMPLE))]
    rules: String,
    /// Only events received since then (years 1970 to 9999); the last 24 hours without it.
    since: Option<DateTime<Utc>>,
}

/// Runs rules over the tenant's recent raw events and answers what they would raise.
///
/// For admins, who write the rules under test. A dry run: nothing is written and no
/// detection state changes. Bounded: the newest 5,000
/// events received since `since`, 2 s of evaluation, 1,000 detections (`truncated` says a
/// bound was hit). Invalid rules are refused as `POST /api/v1/policies` refuses them.
#[utoipa::path(
    post,
    path = "/api/v1/policies/test",
    operation_id = "testPolicy",
    request_body = DryRunBody,
    responses(
        (status = 200, description = "What the rules would raise, oldest event first", body = schemas::PolicyTestResult),
        (status = 422, description = "`invalid_rules` (with `line`, `column` and `reason` when the text does not compile), `invalid_body` (`since` not between 1970 and 9999)"),
    )
)]
async fn dry_run(
    State(services): State<Services>,
    admin: Admin,
    Json(body): Json<DryRunBody>,
) -> ApiResult<Json<policies::DryRun>> {
    // One Postgres cannot store would be a 500.
    if body
        .since
        .is_some_and(|since| !super::events::in_range(&since))
    {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "since must be between 1970 and 9999",
        ));
    }
    let run = policies::dry_run(services.pool(), admin.tenant_id, &body.rules, body.since).await?;
    Ok(Json(run))
}

fn managed(policy: &detect::ManagedPolicy, enabled: bool, with_rules: bool) -> Policy {
    let rules = with_rules
        .then(|| detect::managed_rule_set(policy.id))
        .flatten();
    Policy {
        id: PolicyId(policy.id),
        name: policy.name.to_string(),
        description: policy.description.to_string(),
        policy_type: PolicyType::Okta,
        managed: true,
        enabled,
        created_at: None,
        updated_at: None,
        source: rules.is_some().then(|| policy.source.to_string()),
        rules: rules.map(|rules| rules_of(&rules, policy.source)),
    }
}

fn custom(policy: &CustomPolicy) -> Policy {
    Policy {
        id: policy.id,
        name: policy.name.clone(),
        description: policy.description.clone(),
        policy_type: PolicyType::Okta,
        managed: false,
        enabled: policy.enabled,
        created_at: Some(policy.created_at),
        updated_at: Some(policy.updated_at),
        rules: None,
        source: None,
    }
}

/// The policy with its source and, when it compiles, its rules.
async fn custom_detail(policy: &CustomPolicy) -> Policy {
    let rules = policies::compile_custom(&policy.name, &policy.rules).await;
    Policy {
        rules: rules.ok().map(|rules| rules_of(&rules, &policy.rules)),
        source: Some(policy.rules.clone()),
        ..custom(policy)
    }
}

fn rules_of(rules: &RuleSet, source: &str) -> Vec<Rule> {
    let texts = rule_texts(source);
    rules
        .rules()
        .iter()
        .map(|rule| {
            let (condition, output) = texts.get(rule.name.as_str()).cloned().unwrap_or_default();
            Rule {
                name: rule.name.clone(),
                description: rule.desc.clone(),
                priority: rule.priority,
                tags: rule.tags.clone(),
                enabled: rule.enabled,
                condition,
                output,
            }
        })
        .collect()
}

/// Each rule's condition (appended parts joined on) and output as the rules file writes them:
/// the compiled rule keeps neither text.
fn rule_texts(source: &str) -> HashMap<String, (Option<String>, Option<String>)> {
    let mut texts: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    let Ok(Value::Array(items)) = detect::yaml_to_json("policy.yaml", source) else {
        return texts;
    };
    for item in items {
        let Some(name) = item["rule"].as_str() else {
            continue;
        };
        let (condition, output) = texts.entry(name.to_string()).or_default();
        if let Some(more) = item["condition"].as_str() {
            *condition = Some(match (condition.take(), item["append"] == true) {
                (Some(first), true) => format!("{first} {more}"),
                _ => more.to_string(),
            });
        }
        if let Some(text) = item["output"].as_str() {
            *output = Some(text.to_string());
        }
    }
    texts
}
