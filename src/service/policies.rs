//! Policies of a tenant: the managed ones shipped in the binary (switchable per tenant) and
//! custom ones stored in the database; both compile into the tenant's detection engine, which
//! the worker keeps per tenant until the policy set changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use sqlx::PgPool;

use crate::detect::{
    self, CompileError, Engine, LoadError, ManagedPolicy, MemoryState, PolicyRef, Priority,
    RuleSet, Severity,
};
use crate::ids::{PolicyId, TenantId};
use crate::okta::LogEvent;
use crate::store::inbox::RecentEvent;
use crate::store::policies::{self as store, CustomPolicy, Insert};
use crate::store::{self as stores, StoreError};

/// Policy texts above this are refused before compiling.
pub const MAX_RULES_BYTES: usize = 1024 * 1024;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Custom policies of one tenant: every one is compiled again when any of them changes, on
/// the worker that processes the tenant's events.
pub const MAX_CUSTOM_POLICIES: i64 = 100;

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
    let mut policy = CustomPolicy {
        id: PolicyId::new(),
        tenant_id,
        name,
        description: input.description,
        rules: input.rules,
        enabled: input.enabled,
        created_at: now,
        updated_at: now,
    };
    if is_managed_name(&policy.name) {
        return Err(PolicyError::NameTaken(policy.name));
    }
    match store::insert_custom(pool, &mut policy, MAX_CUSTOM_POLICIES).await? {
        Insert::Done => Ok(policy),
        Insert::NameTaken => Err(PolicyError::NameTaken(policy.name)),
        Insert::AtLimit => Err(invalid(
            "too_many_policies",
            format!(
                "a tenant has at most {MAX_CUSTOM_POLICIES} custom policies: delete one, or put more rules in one policy"
            ),
        )),
    }
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
    if patch.enabled.is_none()
        && patch.name.is_none()
        && patch.description.is_none()
        && patch.rules.is_none()
    {
        return Err(invalid(
            "invalid_body",
            "nothing to change: send at least one of enabled, name, description, rules",
        ));
    }
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
    match store::update_custom(pool, &mut policy).await {
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

/// A tenant's engine with every enabled policy that compiled.
pub struct TenantEngine {
    pub engine: Engine,
    /// A custom policy was left out for the compile time limit (a busy moment, perhaps), not
    /// for its text: the engine is worth compiling again later.
    pub incomplete: bool,
}

/// The engine with every enabled policy of the tenant; a custom policy that does not compile
/// within `compile_limit` is left out, with a warning and
/// `okta_ingest_policies_skipped_total{reason}`.
pub async fn engine_for_tenant(
    pool: &PgPool,
    tenant_id: TenantId,
    compile_limit: Duration,
) -> stores::Result<TenantEngine> {
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
    let mut incomplete = false;
    for policy in store::list_custom(pool, tenant_id).await? {
        if !policy.enabled {
            continue;
        }
        match compile_custom_within(&policy.name, &policy.rules, compile_limit).await {
            Ok(rules) => compiled.push((
                PolicyRef {
                    id: policy.id.0,
                    name: policy.name,
                },
                Arc::new(rules),
            )),
            Err(CompileError::TimeLimit(error)) => {
                incomplete = true;
                metrics::counter!("okta_ingest_policies_skipped_total", "reason" => "time_limit")
                    .increment(1);
                tracing::warn!(%tenant_id, policy_id = %policy.id, %error, "custom policy went over the compile time limit; skipped for now, compiled again later");
            }
            // Validated on write; a rule language change could still refuse an old policy.
            Err(CompileError::Invalid(error)) => {
                metrics::counter!("okta_ingest_policies_skipped_total", "reason" => "invalid")
                    .increment(1);
                tracing::warn!(%tenant_id, policy_id = %policy.id, %error, "custom policy does not compile; skipped until it changes");
            }
        }
    }
    Ok(TenantEngine {
        engine: Engine::new(compiled),
        incomplete,
    })
}

/// Compiles a tenant's policy on a blocking thread: compiling may take up to
/// [`detect::limits::MAX_COMPILE_TIME`], and a compiler panic must cost one request, not a
/// runtime worker.
pub async fn compile_custom(name: &str, rules: &str) -> Result<RuleSet, LoadError> {
    compile_custom_within(name, rules, detect::limits::MAX_COMPILE_TIME)
        .await
        .map_err(CompileError::into_load_error)
}

/// [`compile_custom`] giving up past `time_limit`.
pub async fn compile_custom_within(
    name: &str,
    rules: &str,
    time_limit: Duration,
) -> Result<RuleSet, CompileError> {
    let file = format!("{name}.yaml");
    let rules = rules.to_owned();
    let compiled = tokio::task::spawn_blocking({
        let file = file.clone();
        move || RuleSet::compile_within(&file, &rules, time_limit)
    })
    .await;
    compiled.unwrap_or_else(|panic| {
        tracing::error!(%panic, "the rule compiler panicked");
        Err(CompileError::Invalid(LoadError {
            file,
            line: 0,
            column: 0,
            reason: "the rule compiler failed on this policy; it was not accepted".into(),
        }))
    })
}

/// A dry run looks at most this far back, at this many of the newest events, and evaluates
/// for at most this long: it answers an admin's click, so it stays a quick sample.
pub const DRY_RUN_DEFAULT_LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::hours(24);
pub const DRY_RUN_MAX_EVENTS: i64 = 5_000;
pub const DRY_RUN_MAX_DETECTIONS: usize = 1_000;
pub const DRY_RUN_MAX_TIME: Duration = Duration::from_secs(2);

/// `POST /api/v1/policies/test`: what rules would raise on the tenant's recent events.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
#[schema(as = PolicyTestResult)]
pub struct DryRun {
    /// Events received since then were considered.
    pub since: DateTime<Utc>,
    /// Events the rules ran on.
    pub events_scanned: u64,
    /// A bound (5,000 events, 2 s, 1,000 detections) stopped the run early.
    pub truncated: bool,
    pub detections: Vec<DryRunDetection>,
}

/// A detection the rules under test would raise.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = PolicyTestDetection)]
pub struct DryRunDetection {
    pub rule: String,
    pub priority: Priority,
    pub severity: Severity,
    pub output: String,
    pub tags: Vec<String>,
    pub okta_event_uuid: String,
    pub event_type: String,
    /// Okta's `published` time of the event, as Okta wrote it.
    pub published: Option<String>,
}

/// Runs `rules` over the tenant's raw events received since `since` (default: the last
/// [`DRY_RUN_DEFAULT_LOOKBACK`]), with fresh in-memory state: nothing is written, and the
/// worker's state is untouched. Invalid rules are refused exactly as on create.
pub async fn dry_run(
    pool: &PgPool,
    tenant_id: TenantId,
    rules: &str,
    since: Option<DateTime<Utc>>,
) -> Result<DryRun, PolicyError> {
    let rules = compile_checked("test", rules).await?;
    let since = since.unwrap_or_else(|| Utc::now() - DRY_RUN_DEFAULT_LOOKBACK);
    let events = stores::inbox::recent_events(pool, tenant_id, since, DRY_RUN_MAX_EVENTS).await?;
    // A full sample may have left older events in range out.
    let full_sample = events.len() as i64 == DRY_RUN_MAX_EVENTS;
    let policy = PolicyRef {
        id: uuid::Uuid::nil(),
        name: "test".into(),
    };
    let engine = Engine::new(vec![(policy, Arc::new(rules))]);
    let run = tokio::task::spawn_blocking(move || evaluate_recent(&engine, &events)).await;
    let mut run = run.map_err(|_| {
        invalid(
            "invalid_rules",
            "evaluating these rules failed on a recent event; they were not run",
        )
    })?;
    run.since = since;
    run.truncated |= full_sample;
    Ok(run)
}

fn evaluate_recent(engine: &Engine, events: &[RecentEvent]) -> DryRun {
    let started = Instant::now();
    let mut state = MemoryState::new();
    let mut run = DryRun::default();
    for recent in events {
        if started.elapsed() > DRY_RUN_MAX_TIME || run.detections.len() >= DRY_RUN_MAX_DETECTIONS {
            run.truncated = true;
            break;
        }
        run.events_scanned += 1;
        // Stored events passed the hook's checks; one that no longer parses is skipped here
        // as the worker quarantines it.
        let Ok(event) = serde_json::from_str::<LogEvent>(&recent.raw) else {
            continue;
        };
        for detection in engine.evaluate_in_memory(&event, &recent.okta_domain, &mut state) {
            run.detections.push(DryRunDetection {
                rule: detection.rule,
                priority: detection.priority,
                severity: detection.priority.severity(),
                output: detection.output,
                tags: detection.tags,
                okta_event_uuid: event.uuid.clone(),
                event_type: event.event_type.clone(),
                published: event.published.clone(),
            });
        }
    }
    run
}

/// Compiled engines per tenant, refreshed when the tenant's policy set changes.
#[derive(Clone)]
pub struct Engines {
    cache: Arc<Mutex<HashMap<TenantId, CachedEngine>>>,
    /// How long one custom policy may take to compile.
    compile_limit: Duration,
    /// When an engine that left a policy out for the time limit is compiled again.
    recompile_incomplete_after: Duration,
}

/// A policy left out for the time limit is tried again this much later: soon enough that
/// a busy moment costs little detection, seldom enough that a policy that always takes too
/// long costs one compile a minute, not one per batch.
pub const RECOMPILE_INCOMPLETE_AFTER: Duration = Duration::from_secs(60);

impl Default for Engines {
    fn default() -> Self {
        Engines::new(detect::limits::MAX_COMPILE_TIME, RECOMPILE_INCOMPLETE_AFTER)
    }
}

/// An engine and the policy-set version it was compiled from.
struct CachedEngine {
    version: String,
    engine: Arc<Engine>,
    /// When an engine that left a policy out for the time limit is compiled again; `None`
    /// for a complete engine, kept until the version changes.
    recompile_at: Option<Instant>,
}

impl CachedEngine {
    fn is_current(&self, version: &str, now: Instant) -> bool {
        self.version == version && self.recompile_at.is_none_or(|at| now < at)
    }
}

impl Engines {
    pub fn new(compile_limit: Duration, recompile_incomplete_after: Duration) -> Engines {
        Engines {
            cache: Arc::default(),
            compile_limit,
            recompile_incomplete_after,
        }
    }

    /// Engines sharing this cache that compile a custom policy for at most `limit`.
    pub fn with_compile_limit(&self, limit: Duration) -> Engines {
        Engines {
            compile_limit: limit,
            ..self.clone()
        }
    }

    /// The engine of each tenant, compiled again only for those whose policies changed.
    /// Compiling happens outside the cache's lock: one tenant's slow policies hold up only
    /// the batch that needs them, not every worker.
    pub async fn for_tenants(
        &self,
        pool: &PgPool,
        tenants: &[TenantId],
    ) -> stores::Result<HashMap<TenantId, Arc<Engine>>> {
        let versions = store::versions(pool, tenants).await?;
        let mut engines = HashMap::with_capacity(tenants.len());
        let mut stale = Vec::new();
        {
            let cache = self.cache();
            let now = Instant::now();
            for (tenant_id, version) in versions {
                match cache.get(&tenant_id) {
                    Some(cached) if cached.is_current(&version, now) => {
                        engines.insert(tenant_id, cached.engine.clone());
                    }
                    _ => stale.push((tenant_id, version)),
                }
            }
        }
        for (tenant_id, version) in stale {
            let compiled = engine_for_tenant(pool, tenant_id, self.compile_limit).await?;
            let engine = Arc::new(compiled.engine);
            let recompile_at = compiled
                .incomplete
                .then(|| Instant::now() + self.recompile_incomplete_after);
            let cached = CachedEngine {
                version,
                engine: engine.clone(),
                recompile_at,
            };
            self.cache().insert(tenant_id, cached);
            engines.insert(tenant_id, engine);
        }
        Ok(engines)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, CachedEngine>> {
        // A poisoned cache only means a panic elsewhere; its engines are still whole.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_engine_stays_until_its_version_changes_an_incomplete_one_until_its_time() {
        let now = Instant::now();
        let cached = |recompile_at| CachedEngine {
            version: "v1".into(),
            engine: Arc::new(Engine::new(Vec::new())),
            recompile_at,
        };
        let complete = cached(None);
        assert!(complete.is_current("v1", now + Duration::from_secs(86_400)));
        assert!(!complete.is_current("v2", now));
        let incomplete = cached(Some(now + RECOMPILE_INCOMPLETE_AFTER));
        assert!(incomplete.is_current("v1", now));
        assert!(!incomplete.is_current("v1", now + RECOMPILE_INCOMPLETE_AFTER));
        assert!(!incomplete.is_current("v2", now));
    }
}
