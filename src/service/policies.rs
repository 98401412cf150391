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
        match compile_custom(&policy.name, &policy.rules) {
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

pub fn compile_custom(name: &str, rules: &str) -> Result<RuleSet, LoadError> {
    RuleSet::compile(&format!("{name}.yaml"), rules)
}
