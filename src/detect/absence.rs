//! `absence`: an event that should have been followed by another within a time, and was
//! not — "MFA deactivated and not re-enrolled within 12 h". Syntax: `src/detect/README.md`.
//!
//! The engine has no timers (time is each event's `published`, so the service, replays and
//! `rules test` agree), so an absence is observed by an event: the rule's own `condition`
//! selects the *check* events — typically the entity acting again — and one fires when its
//! entity has a start older than `within` with no resolving event since. A start that
//! arrives after such a check (a late delivery) fires on the start itself. The state is
//! three observation lists and the alert claims, the primitives every stateful rule uses,
//! so it is checkpointed and replayed like them.

use super::LoadError;
use super::eval::{Ctx, Expr};
use super::fields::Field;
use super::output::StateOut;
use super::rules::Compiler;
use super::state::{GeoPoint, StateKey, StateStore};
use super::stateful::{Settings, group_key};
use super::yaml::Node;

/// How long a start stays open for checks after its `within` ran out, unless `horizon` says.
const DEFAULT_HORIZON_MS: i64 = 7 * 86_400_000;

#[derive(Debug, Clone)]
pub struct Absence {
    within_ms: i64,
    horizon_ms: i64,
    /// Groups the start and resolving events.
    group_by: Vec<Field>,
    /// Groups the check events (the same entity, often read from another field).
    check_by: Vec<Field>,
    pub(super) after: Expr,
    pub(super) missing: Expr,
}

/// The state keys of one absence rule.
struct Keys<'a> {
    starts: &'a str,
    resolved: &'a str,
    checks: &'a str,
}

impl Absence {
    pub(super) fn compile(
        cx: &Compiler<'_>,
        node: &Node,
        file: usize,
    ) -> Result<Absence, LoadError> {
        let s = Settings::new(
            cx,
            node,
            file,
            "absence",
            &[
                "after", "missing", "within", "group_by", "check_by", "horizon",
            ],
        )?;
        let group_by = s.fields("group_by")?;
        let check_by = match node.get("check_by") {
            Some(_) => s.fields("check_by")?,
            None => group_by.clone(),
        };
        if check_by.len() != group_by.len() {
            return Err(s.err(
                node,
                "'check_by' names as many fields as 'group_by' (the same entity)".into(),
            ));
        }
        let horizon_ms = match node.get("horizon") {
            Some(_) => s.duration("horizon")?,
            None => DEFAULT_HORIZON_MS,
        };
        Ok(Absence {
            within_ms: s.duration("within")?,
            horizon_ms,
            group_by,
            check_by,
            after: cx.condition(file, s.required("after")?)?,
            missing: cx.condition(file, s.required("missing")?)?,
        })
    }

    /// Records starts, resolutions and checks; fires on a check (or a late start) that finds
    /// a start of its entity more than `within` old and unresolved since.
    pub(super) async fn run<S: StateStore>(
        &self,
        (rule_key, steps_key): (&str, &str),
        ctx: &Ctx<'_>,
        at: i64,
        uuid: &str,
        state: &mut S,
        matched: bool,
    ) -> Result<Option<StateOut>, S::Error> {
        let is_start = self.after.eval(ctx);
        let is_resolution = self.missing.eval(ctx);
        if !is_start && !is_resolution && !matched {
            return Ok(None);
        }
        let resolved = format!("{steps_key}#missing");
        let keys = Keys {
            starts: steps_key,
            resolved: &resolved,
            checks: rule_key,
        };
        let keep = self.within_ms.saturating_add(self.horizon_ms);
        let mut fired = None;
        if (is_start || is_resolution)
            && let Some(group) = group_key(&self.group_by, ctx)
        {
            let key = |rule| StateKey {
                rule,
                group: &group,
            };
            if is_resolution {
                state
                    .observe(key(keys.resolved), uuid, at, "", keep)
                    .await?;
            }
            if is_start {
                state.observe(key(keys.starts), uuid, at, "", keep).await?;
                fired = self.late_start(&keys, &group, at, uuid, state).await?;
            }
        }
        if matched
            && fired.is_none()
            && let Some(group) = group_key(&self.check_by, ctx)
        {
            let checks = StateKey {
                rule: keys.checks,
                group: &group,
            };
            state.observe(checks, uuid, at, "", keep).await?;
            fired = self.check(&keys, &group, at, uuid, state).await?;
        }
        Ok(fired)
    }

    /// A check at `at`: the oldest open start of the entity that is overdue and unresolved.
    async fn check<S: StateStore>(
        &self,
        keys: &Keys<'_>,
        group: &str,
        at: i64,
        uuid: &str,
        state: &mut S,
    ) -> Result<Option<StateOut>, S::Error> {
        let key = |rule| StateKey { rule, group };
        let due = at.saturating_sub(self.within_ms);
        let oldest = due.saturating_sub(self.horizon_ms);
        for start in state.times(key(keys.starts), oldest, due).await? {
            if let Some(out) = self.fire(keys, group, start, at, uuid, state).await? {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// A start delivered after a check of its entity that was already overdue for it.
    async fn late_start<S: StateStore>(
        &self,
        keys: &Keys<'_>,
        group: &str,
        start: i64,
        uuid: &str,
        state: &mut S,
    ) -> Result<Option<StateOut>, S::Error> {
        let key = |rule| StateKey { rule, group };
        let due = start.saturating_add(self.within_ms);
        let last = due.saturating_add(self.horizon_ms);
        for check in state.times(key(keys.checks), due - 1, last).await? {
            if let Some(out) = self.fire(keys, group, start, check, uuid, state).await? {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// Fires once per start (starts within `within` of each other are one alert) when no
    /// resolving event of the entity was published between the start and the check.
    async fn fire<S: StateStore>(
        &self,
        keys: &Keys<'_>,
        group: &str,
        start: i64,
        check: i64,
        uuid: &str,
        state: &mut S,
    ) -> Result<Option<StateOut>, S::Error> {
        let key = |rule| StateKey { rule, group };
        if state.window(key(keys.resolved), start, check).await?.count > 0
            || !state
                .claim_alert(key(keys.starts), start, self.within_ms, uuid)
                .await?
        {
            return Ok(None);
        }
        Ok(Some(StateOut {
            count: 1,
            prev: Some(GeoPoint {
                at_ms: start,
                ..GeoPoint::default()
            }),
            ..StateOut::default()
        }))
    }
}
