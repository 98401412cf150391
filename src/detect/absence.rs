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
use super::eval::Expr;
use super::fields::Field;
use super::output::StateOut;
use super::rules::Compiler;
use super::state::{GeoPoint, StateKey, StateStore};
use super::stateful::{Input, Settings};
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

/// One entity's state keys under an absence rule.
struct Keys<'a> {
    starts: StateKey<'a>,
    resolved: StateKey<'a>,
    checks: StateKey<'a>,
}

impl<'a> Keys<'a> {
    fn new(input: &Input<'a>, resolved: &'a str, group: &'a str) -> Keys<'a> {
        let key = |rule| StateKey { rule, group };
        Keys {
            starts: key(input.steps),
            resolved: key(resolved),
            checks: key(input.rule),
        }
    }
}

/// What the event is to the starts and checks its entity already has.
#[derive(Clone, Copy)]
enum Role {
    Start,
    Check,
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
    pub(super) fn run<S: StateStore>(&self, input: &Input<'_>, state: &mut S) -> Option<StateOut> {
        let is_start = self.after.eval(input.ctx);
        let is_resolution = self.missing.eval(input.ctx);
        if !is_start && !is_resolution && !input.matched {
            return None;
        }
        let resolved = format!("{}#missing", input.steps);
        let (at, uuid) = (input.at, input.uuid());
        let keep = self.within_ms.saturating_add(self.horizon_ms);
        let mut fired = None;
        if (is_start || is_resolution)
            && let Some(group) = input.group(&self.group_by)
        {
            let keys = Keys::new(input, &resolved, &group);
            if is_resolution {
                state.observe(keys.resolved, uuid, at, "", keep);
            }
            if is_start {
                state.observe(keys.starts, uuid, at, "", keep);
                fired = self.first_overdue(&keys, Role::Start, input, state);
            }
        }
        if input.matched
            && fired.is_none()
            && let Some(group) = input.group(&self.check_by)
        {
            let keys = Keys::new(input, &resolved, &group);
            state.observe(keys.checks, uuid, at, "", keep);
            fired = self.first_overdue(&keys, Role::Check, input, state);
        }
        fired
    }

    /// Fires for the first overdue start the event pairs with: a check, with the oldest open
    /// start of its entity older than `within`; a start delivered late, with a check of its
    /// entity that was already overdue for it.
    fn first_overdue<S: StateStore>(
        &self,
        keys: &Keys<'_>,
        role: Role,
        input: &Input<'_>,
        state: &mut S,
    ) -> Option<StateOut> {
        let at = input.at;
        let (others, after, until) = match role {
            Role::Check => {
                let due = at.saturating_sub(self.within_ms);
                (keys.starts, due.saturating_sub(self.horizon_ms), due)
            }
            Role::Start => {
                let due = at.saturating_add(self.within_ms);
                (keys.checks, due - 1, due.saturating_add(self.horizon_ms))
            }
        };
        for other in state.times(others, after, until) {
            let (start, check) = match role {
                Role::Check => (other, at),
                Role::Start => (at, other),
            };
            if let Some(out) = self.fire(keys, start, check, input.uuid(), state) {
                return Some(out);
            }
        }
        None
    }

    /// Fires once per start (starts within `within` of each other are one alert) when no
    /// resolving event of the entity was published between the start and the check.
    fn fire<S: StateStore>(
        &self,
        keys: &Keys<'_>,
        start: i64,
        check: i64,
        uuid: &str,
        state: &mut S,
    ) -> Option<StateOut> {
        if state.window(keys.resolved, start, check).count > 0
            || !state.claim_alert(keys.starts, start, self.within_ms, uuid)
        {
            return None;
        }
        Some(StateOut {
            count: 1,
            prev: Some(GeoPoint {
                at_ms: start,
                ..GeoPoint::default()
            }),
            ..StateOut::default()
        })
    }
}
