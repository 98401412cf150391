//! Bounds on what one policy may cost. A tenant writes policies, so a policy must never be
//! able to exhaust the service's stack (deep nesting), memory (macros or lists that double at
//! each level) or CPU. Past a bound, compilation fails with a load error naming the place.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Parentheses and `not`s around any point of one condition, as written.
pub const MAX_NESTING: usize = 100;
/// Depth of a compiled condition once macros are inlined (each macro adds its own nesting).
pub const MAX_TREE_DEPTH: usize = 200;
/// Condition nodes and list items of a whole policy after macros and lists are expanded.
pub const MAX_EXPANDED: usize = 100_000;
/// `- rule`, `- macro` and `- list` items of a policy (appends and overrides included).
pub const MAX_ITEMS: usize = 2_000;
/// Length of a rule, macro or list name.
pub const MAX_NAME_LEN: usize = 200;
/// Length of one `regex` pattern, and the size it may compile to: with the regex crate's
/// linear-time matching, this bounds both the compile time and the cost per event.
pub const MAX_REGEX_LEN: usize = 1_000;
pub const MAX_REGEX_SIZE: usize = 64 * 1024;
/// `regex` comparisons compiled for one policy (macros count each time they are inlined), so
/// that compiled patterns stay within MAX_REGEXES × MAX_REGEX_SIZE (8 MiB) per policy.
pub const MAX_REGEXES: usize = 128;
/// Wall-clock time to compile one policy (on write; the worker may give another limit).
pub const MAX_COMPILE_TIME: Duration = Duration::from_secs(2);

/// What compiling a policy has spent so far: expanded nodes and time.
pub(super) struct Budget {
    spent: Cell<usize>,
    regexes: Cell<usize>,
    time_limit: Duration,
    deadline: Instant,
    /// The time limit refused the policy: on a less busy machine it may compile.
    timed_out: Cell<bool>,
}

impl Budget {
    pub(super) fn new(time_limit: Duration) -> Self {
        Budget {
            spent: Cell::new(0),
            regexes: Cell::new(0),
            time_limit,
            deadline: Instant::now() + time_limit,
            timed_out: Cell::new(false),
        }
    }

    /// Whether the time limit, not the policy's text, is what refused it.
    pub(super) fn timed_out(&self) -> bool {
        self.timed_out.get()
    }

    /// Counts one more compiled `regex`; refuses past [`MAX_REGEXES`].
    pub(super) fn spend_regex(&self) -> Result<(), String> {
        let compiled = self.regexes.get() + 1;
        self.regexes.set(compiled);
        if compiled > MAX_REGEXES {
            return Err(format!(
                "the policy compiles more than {MAX_REGEXES} regex comparisons"
            ));
        }
        Ok(())
    }

    /// Counts `n` more expanded nodes or list items; refuses past a bound.
    pub(super) fn spend(&self, n: usize) -> Result<(), String> {
        let before = self.spent.get();
        let spent = before.saturating_add(n);
        self.spent.set(spent);
        if spent > MAX_EXPANDED {
            return Err(format!(
                "the policy expands to more than {MAX_EXPANDED} conditions and list items \
                 once macros and lists are substituted"
            ));
        }
        if spent / 1024 != before / 1024 && Instant::now() > self.deadline {
            self.timed_out.set(true);
            return Err(format!(
                "the policy takes longer than {} s to compile",
                self.time_limit.as_secs_f64()
            ));
        }
        Ok(())
    }
}
