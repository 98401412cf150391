//! Policies of a tenant: the managed ones shipped in the binary (switchable per tenant) and
//! custom ones stored in the database; both compile into the tenant's detection engine, which
//! the worker keeps per tenant until the policy set changes.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::detect::{self, Engine, LoadError, ManagedPolicy, PolicyRef, RuleSet};
use crate::ids::{PolicyId, TenantId};
use crate::store::policies::{self as store, CustomPolicy};
use crate::store::{self as stores, StoreError};

/// Policy texts above this are refused before compiling.
pub const MAX_RULES_BYTES: usize = 1024 * 1024;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy not found")]
    NotFound,
    #[error("{detail}")]
    InvalidInput { code: &'static str, detail: String },
    #[error("{0}")]
    InvalidRules(LoadError),
    #[error("a policy named {0:?} already exists")]
    NameTaken(String),
    #[error("{0}")]
    Managed(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A custom policy as the admin sends it.
pub struct PolicyInput {
    pub name: String,
    pub description: String,
    pub rules: String,
    pub enabled: bool,
}

/// Changes to a policy; managed policies accept only `enabled`.
#[derive(Default)]
pub struct PolicyPatch {
    pub enabled: Option<bool>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub rules: Option<String>,
}

pub fn find_managed(id: PolicyId) -> Option<&'static ManagedPolicy> {
    detect::managed_policies().iter().find(|p| p.id == id.0)
}

/// The tenant's switch for a managed policy (on unless turned off).
pub async fn managed_enabled(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<HashMap<PolicyId, bool>, PolicyError> {
    Ok(store::managed_settings(pool, tenant_id).await?)
}

pub async fn list_custom(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Vec<CustomPolicy>, PolicyError> {
    Ok(store::list_custom(pool, tenant_id).await?)
}

pub async fn get_custom(
    pool: &PgPool,
    tenant_id: TenantId,
    id: PolicyId,
) -> Result<CustomPolicy, PolicyError> {
    store::get_custom(pool, tenant_id, id)
        .await?
        .ok_or(PolicyError::NotFound)
}

pub async fn create(
    pool: &PgPool,
    tenant_id: TenantId,
    input: PolicyInput,
) -> Result<CustomPolicy, PolicyError> {
    let name = check_name(&input.name)?;
    check_description(&input.description)?;
    compile_checked(&name, &input.rules).await?;
    let now = chrono::Utc::now();
    let policy = CustomPolicy {
        id: PolicyId::new(),
        tenant_id,
        name,
        description: input.description,
        rules: input.rules,
        enabled: input.enabled,
        created_at: now,
        updated_at: now,
    };
    if is_managed_name(&policy.name) || !store::insert_custom(pool, &policy).await? {
        return Err(PolicyError::NameTaken(policy.name));
    }
    Ok(policy)
}

/// What an update leaves: a managed policy's new switch, or the custom policy.
pub enum Updated {
    Managed(&'static ManagedPolicy, bool),
    Custom(CustomPolicy),
}

pub async fn update(
    pool: &PgPool,
    tenant_id: TenantId,
    id: PolicyId,
    patch: PolicyPatch,
) -> Result<Updated, PolicyError> {
    if let Some(policy) = find_managed(id) {
        if patch.name.is_some() || patch.description.is_some() || patch.rules.is_some() {
            return Err(invalid(
                "managed_policy",
                "managed policies can only be enabled or disabled; copy its rules into a custom policy to change them",
            ));
        }
        let enabled = patch
            .enabled
            .ok_or_else(|| invalid("invalid_body", "send {\"enabled\": true|false}"))?;
        store::set_managed_enabled(pool, tenant_id, id, enabled).await?;
        return Ok(Updated::Managed(policy, enabled));
    }
    let mut policy = store::get_custom(pool, tenant_id, id)
        .await?
        .ok_or(PolicyError::NotFound)?;
    if let Some(name) = patch.name {
        policy.name = check_name(&name)?;
        if is_managed_name(&policy.name) {
            return Err(PolicyError::NameTaken(policy.name));
        }
    }
    if let Some(description) = patch.description {
        check_description(&description)?;
        policy.description = description;
    }
    if let Some(rules) = patch.rules {
        compile_checked(&policy.name, &rules).await?;
        policy.rules = rules;
    }
    if let Some(enabled) = patch.enabled {
        policy.enabled = enabled;
    }
    match store::update_custom(pool, &policy).await {
        Err(StoreError::Conflict { .. }) => Err(PolicyError::NameTaken(policy.name)),
        other => other.map(|()| Updated::Custom(policy)).map_err(Into::into),
    }
}

pub async fn delete(pool: &PgPool, tenant_id: TenantId, id: PolicyId) -> Result<(), PolicyError> {
    if find_managed(id).is_some() {
        return Err(PolicyError::Managed(
            "managed policies cannot be deleted; disable it with PATCH {\"enabled\": false}",
        ));
    }
    match store::delete_custom(pool, tenant_id, id).await? {
        true => Ok(()),
        false => Err(PolicyError::NotFound),
    }
}

fn invalid(code: &'static str, detail: impl Into<String>) -> PolicyError {
    PolicyError::InvalidInput {
        code,
        detail: detail.into(),
    }
}

fn is_managed_name(name: &str) -> bool {
    detect::managed_policies().iter().any(|m| m.name == name)
}

fn check_name(name: &str) -> Result<String, PolicyError> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    Ok(name.to_string())
}

fn check_description(description: &str) -> Result<(), PolicyError> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS || description.contains('\0') {
        return Err(invalid(
            "invalid_description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters without NUL"),
        ));
    }
    Ok(())
}

async fn compile_checked(name: &str, rules: &str) -> Result<RuleSet, PolicyError> {
    if rules.len() > MAX_RULES_BYTES {
        return Err(invalid("invalid_rules", "rules are limited to 1 MiB"));
    }
    if rules.contains('\0') {
        return Err(invalid(
            "invalid_rules",
            "rules must not contain NUL characters",
        ));
    }
    compile_custom(name, rules)
        .await
        .map_err(PolicyError::InvalidRules)
}

/// The engine with every enabled policy of the tenant.
pub async fn engine_for_tenant(pool: &PgPool, tenant_id: TenantId) -> stores::Result<Engine> {
    let settings = store::managed_settings(pool, tenant_id).await?;
    let mut compiled = Vec::new();
    for policy in detect::managed_policies() {
        if !settings.get(&PolicyId(policy.id)).copied().unwrap_or(true) {
            continue;
        }
        if let Some(rules) = detect::managed_rule_set(policy.id) {
            compiled.push((
                PolicyRef {
                    id: policy.id,
                    name: policy.name.to_string(),
                },
                rules,
            ));
        }
    }
    for policy in store::list_custom(pool, tenant_id).await? {
        if !policy.enabled {
            continue;
        }
        match compile_custom(&policy.name, &policy.rules).await {
            Ok(rules) => compiled.push((
                PolicyRef {
                    id: policy.id.0,
                    name: policy.name,
                },
                Arc::new(rules),
            )),
            // Validated on write; a rule language change could still refuse an old policy.
            Err(error) => {
                tracing::warn!(policy_id = %policy.id, %error, "custom policy does not compile; skipped")
            }
        }
    }
    Ok(Engine::new(compiled))
}

/// Compiles a tenant's policy on a blocking thread: compiling may take up to
/// [`detect::limits::MAX_COMPILE_TIME`], and a compiler panic must cost one request, not a
/// runtime worker.
pub async fn compile_custom(name: &str, rules: &str) -> Result<RuleSet, LoadError> {
    let file = format!("{name}.yaml");
    let rules = rules.to_owned();
    let compiled = tokio::task::spawn_blocking({
        let file = file.clone();
        move || RuleSet::compile(&file, &rules)
    })
    .await;
    compiled.unwrap_or_else(|panic| {
        tracing::error!(%panic, "the rule compiler panicked");
        Err(LoadError {
            file,
            line: 0,
            column: 0,
            reason: "the rule compiler failed on this policy; it was not accepted".into(),
        })
    })
}

/// Compiled engines per tenant, refreshed when the tenant's policy set changes.
#[derive(Default, Clone)]
pub struct Engines(Arc<Mutex<HashMap<TenantId, CachedEngine>>>);

/// The policy-set version an engine was compiled from, and the engine.
type CachedEngine = (String, Arc<Engine>);

impl Engines {
    /// The engine of each tenant, compiled again only for those whose policies changed.
    pub async fn for_tenants(
        &self,
        pool: &PgPool,
        tenants: &[TenantId],
    ) -> stores::Result<HashMap<TenantId, Arc<Engine>>> {
        let versions = store::versions(pool, tenants).await?;
        let mut engines = HashMap::with_capacity(tenants.len());
        let mut cache = self.0.lock().await;
        for (tenant_id, version) in versions {
            let engine = match cache.get(&tenant_id) {
                Some((cached, engine)) if *cached == version => engine.clone(),
                _ => {
                    let engine = Arc::new(engine_for_tenant(pool, tenant_id).await?);
                    cache.insert(tenant_id, (version, engine.clone()));
                    engine
                }
            };
            engines.insert(tenant_id, engine);
        }
        Ok(engines)
    }
}
