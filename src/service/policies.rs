//! Policies of a tenant: the managed ones shipped in the binary (switchable per tenant) and
//! custom ones stored in the database; both compile into the tenant's detection engine.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use crate::detect::{self, Engine, LoadError, PolicyRef, RuleSet};
use crate::store;

/// The engine with every enabled policy of the tenant.
pub async fn engine_for_tenant(pool: &PgPool, tenant_id: Uuid) -> store::Result<Engine> {
    let settings = store::policies::managed_settings(pool, tenant_id).await?;
    let mut compiled = Vec::new();
    for policy in detect::managed_policies() {
        if !settings.get(&policy.id).copied().unwrap_or(true) {
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
    for policy in store::policies::list_custom(pool, tenant_id).await? {
        if !policy.enabled {
            continue;
        }
        match compile_custom(&policy.name, &policy.rules).await {
            Ok(rules) => compiled.push((
                PolicyRef {
                    id: policy.id,
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
