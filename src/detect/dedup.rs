//! Per-rule suppression (`dedup: {window: 6h, by: [fields]}`), as Panther's dedup periods:
//! after a rule fires for a group, it stays quiet for that group for events published within
//! `window` of the alert. The claim is state like a threshold's alert, so it is checkpointed,
//! survives restarts and is shared by replicas.

use super::LoadError;
use super::eval::Ctx;
use super::fields::Field;
use super::rules::Compiler;
use super::state::{StateKey, StateStore};
use super::stateful::Settings;
use super::yaml::Node;

#[derive(Debug, Clone)]
pub struct Dedup {
    window_ms: i64,
    /// Empty: one group for the whole rule.
    by: Vec<Field>,
}

impl Dedup {
    pub(super) fn compile(cx: &Compiler<'_>, node: &Node, file: usize) -> Result<Dedup, LoadError> {
        let s = Settings::new(cx, node, file, "dedup", &["window", "by"])?;
        let by = match node.get("by") {
            Some(_) => s.fields("by")?,
            None => Vec::new(),
        };
        Ok(Dedup {
            window_ms: s.duration("window")?,
            by,
        })
    }

    /// Whether a detection of this event may be reported (and, if so, starts the quiet
    /// period). An event without a `published` time is never suppressed.
    pub(super) fn admit<S: StateStore>(
        &self,
        key: &str,
        ctx: &Ctx<'_>,
        at_ms: Option<i64>,
        state: &mut S,
    ) -> bool {
        let Some(at) = at_ms else {
            return true;
        };
        let group = self.group(ctx);
        let key = StateKey {
            rule: key,
            group: &group,
        };
        state.claim_alert(key, at, self.window_ms, &ctx.event.uuid)
    }

    /// The `by` values joined; a missing value counts as empty, so an event lacking one is
    /// still suppressed with the others that lack it.
    fn group(&self, ctx: &Ctx<'_>) -> String {
        let mut group = String::new();
        for (i, field) in self.by.iter().enumerate() {
            if i > 0 {
                group.push('\u{1f}');
            }
            if let Some(text) = ctx.value(field).as_text() {
                group.push_str(&text);
            }
        }
        group
    }
}
