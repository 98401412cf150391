//! Evaluates a tenant's enabled policies on one event.

use std::sync::Arc;

use uuid::Uuid;

use super::Priority;
use super::eval::Ctx;
use super::fields::{self, Extras, MfaKind};
use super::output::StateOut;
use super::rules::{Rule, RuleSet};
use super::state::{MemoryState, StateKey, StateStore};
use super::stateful::Input;
use crate::okta::LogEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Detection {
    pub policy_id: Uuid,
    pub policy_name: String,
    pub rule: String,
    pub priority: Priority,
    pub output: String,
    pub tags: Vec<String>,
}

/// The policies one tenant runs. Cheap to build; rule sets are shared.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    policies: Vec<(PolicyRef, Arc<RuleSet>)>,
    /// State keys of each rule, per policy, built once.
    state_keys: Vec<Vec<RuleKeys>>,
    mfa_windows: Vec<(bool, u64)>,
}

impl Engine {
    /// Policies run in id order, so every worker takes state locks in the same order
    /// (no lock-order deadlocks between replicas).
    pub fn new(mut policies: Vec<(PolicyRef, Arc<RuleSet>)>) -> Engine {
        policies.sort_by_key(|(p, _)| p.id);
        let mut mfa_windows: Vec<(bool, u64)> = policies
            .iter()
            .flat_map(|(_, set)| set.mfa_windows().iter().copied())
            .collect();
        mfa_windows.sort_unstable();
        mfa_windows.dedup();
        let state_keys = policies
            .iter()
            .map(|(p, set)| {
                set.rules()
                    .iter()
                    .map(|r| RuleKeys {
                        rule: format!("{}/{}", p.id, r.name),
                        steps: format!("{}/{}#after", p.id, r.name),
                        dedup: format!("{}/{}#dedup", p.id, r.name),
                    })
                    .collect()
            })
            .collect();
        Engine {
            policies,
            state_keys,
            mfa_windows,
        }
    }

    pub fn policies(&self) -> &[(PolicyRef, Arc<RuleSet>)] {
        &self.policies
    }

    /// The detections of `event` (of the Okta org `org`), updating the tenant's `state`.
    pub fn evaluate_in_memory(
        &self,
        event: &LogEvent,
        org: &str,
        state: &mut MemoryState,
    ) -> Vec<Detection> {
        self.evaluate(event, org, state)
    }

    /// [`Engine::evaluate_in_memory`] over any store (history learns through its own).
    pub(super) fn evaluate<S: StateStore>(
        &self,
        event: &LogEvent,
        org: &str,
        state: &mut S,
    ) -> Vec<Detection> {
        let at_ms = published_ms(event);
        let extras = self.mfa_counts(event, at_ms, state);
        let ctx = Ctx {
            event,
            org,
            extras: &extras,
        };
        let mut detections = Vec::new();
        for ((policy, set), keys) in self.policies.iter().zip(&self.state_keys) {
            for &i in set.candidates(&event.event_type) {
                let rule = &set.rules()[i as usize];
                if !rule.enabled {
                    continue;
                }
                let keys = &keys[i as usize];
                let Some(out) = run_rule(keys, rule, &ctx, at_ms, state) else {
                    continue;
                };
                if let Some(dedup) = &rule.dedup
                    && !dedup.admit(&keys.dedup, &ctx, at_ms, state)
                {
                    continue;
                }
                detections.push(detection(policy, rule, &ctx, out.as_ref()));
            }
        }
        detections
    }

    /// The Falco plugin's `okta.mfa.*.countlast[N]`: recorded per actor for MFA failures and
    /// denied pushes, counted over the N seconds up to and including this event.
    fn mfa_counts<S: StateStore>(
        &self,
        event: &LogEvent,
        at_ms: Option<i64>,
        state: &mut S,
    ) -> Extras {
        let mut extras = Extras::default();
        let (Some(kind), Some(at)) = (fields::mfa_kind(event), at_ms) else {
            return extras;
        };
        let deny = kind == MfaKind::Deny;
        let windows: Vec<u64> = self
            .mfa_windows
            .iter()
            .filter(|(d, _)| *d == deny)
            .map(|(_, n)| *n)
            .collect();
        let Some(longest) = windows.iter().max() else {
            return extras;
        };
        let actor = event
            .actor
            .as_ref()
            .and_then(|a| a.id.as_deref())
            .unwrap_or("");
        let key = StateKey {
            rule: kind.state_key(),
            group: actor,
        };
        let longest_ms = i64::try_from(*longest)
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(1000);
        state.observe(key, &event.uuid, at, "", longest_ms);
        for secs in windows {
            let span = i64::try_from(secs)
                .unwrap_or(i64::MAX / 4)
                .saturating_mul(1000);
            let seen = state.window(key, at.saturating_sub(span), at);
            extras.mfa_counts.push((deny, secs, seen.count));
        }
        extras
    }
}

/// "policy id/rule name", and the keys of a sequence's steps and of the rule's dedup claims.
#[derive(Debug, Clone)]
struct RuleKeys {
    rule: String,
    steps: String,
    dedup: String,
}

/// `Some(state)` when the rule fires (`None` inside for a stateless rule).
fn run_rule<S: StateStore>(
    key: &RuleKeys,
    rule: &Rule,
    ctx: &Ctx<'_>,
    at_ms: Option<i64>,
    state: &mut S,
) -> Option<Option<StateOut>> {
    let matched = rule.expr.eval(ctx);
    let Some(stateful) = &rule.stateful else {
        return matched.then_some(None);
    };
    let at = at_ms?;
    let input = Input {
        rule: &key.rule,
        steps: &key.steps,
        ctx,
        at,
        matched,
    };
    stateful.run(&input, state).map(Some)
}

fn detection(
    policy: &PolicyRef,
    rule: &Rule,
    ctx: &Ctx<'_>,
    state: Option<&StateOut>,
) -> Detection {
    Detection {
        policy_id: policy.id,
        policy_name: policy.name.clone(),
        rule: rule.name.clone(),
        priority: rule.priority,
        output: rule.output.render(ctx, state),
        tags: rule.tags.clone(),
    }
}

/// Stateful rules run on `published`; an event without one is evaluated statelessly only.
pub fn published_ms(event: &LogEvent) -> Option<i64> {
    let text = event.published.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}
