//! Loading a Falco rules file: `list`, `macro` and `rule` items with `append`/`override`,
//! `exceptions`, and the stateful extensions; then compiling every rule once.
//!
//! [`RuleSet::compile_files`] runs `load` (items across files, in order) then `compile`
//! (macros and lists resolved, one tree per rule); `source` maps condition text back to
//! file:line:column for errors.

mod compile;
mod load;
mod source;

use std::collections::HashMap;
use std::time::Duration;

use super::dedup::Dedup;
use super::eval::Expr;
use super::fields::Field;
use super::limits;
use super::output::Template;
use super::stateful::Stateful;
use super::{LoadError, Priority};

pub(super) use compile::Compiler;
use load::Loader;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub(crate) expr: Expr,
    pub(crate) output: Template,
    pub(crate) stateful: Option<Stateful>,
    pub(crate) dedup: Option<Dedup>,
}

impl Rule {
    /// `threshold`, `first_seen`, `geo_velocity`, `sequence`, or `None` for a plain rule.
    pub fn stateful_kind(&self) -> Option<&'static str> {
        self.stateful.as_ref().map(Stateful::kind)
    }
}

/// The compiled rules of one policy (one or more files loaded in order).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    by_type: HashMap<Box<str>, Box<[u32]>, super::fxhash::FxBuild>,
    untyped: Box<[u32]>,
    mfa_windows: Vec<(bool, u64)>,
}

/// Why a policy was not compiled within a time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The policy's text is refused, however long compiling may take.
    Invalid(LoadError),
    /// Compiling took longer than the limit: on a less busy machine it may not.
    TimeLimit(LoadError),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Invalid(error) | CompileError::TimeLimit(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for CompileError {}

impl CompileError {
    pub fn into_load_error(self) -> LoadError {
        match self {
            CompileError::Invalid(error) | CompileError::TimeLimit(error) => error,
        }
    }
}

impl RuleSet {
    pub fn compile(file_name: &str, source: &str) -> Result<RuleSet, LoadError> {
        Self::compile_files(&[(file_name, source)])
    }

    /// Loads several files as Falco does: later files may append to or override earlier ones.
    pub fn compile_files(files: &[(&str, &str)]) -> Result<RuleSet, LoadError> {
        Self::compile_files_within(files, limits::MAX_COMPILE_TIME)
            .map_err(CompileError::into_load_error)
    }

    /// Compiles one file, giving up past `time_limit`.
    pub fn compile_within(
        file_name: &str,
        source: &str,
        time_limit: Duration,
    ) -> Result<RuleSet, CompileError> {
        Self::compile_files_within(&[(file_name, source)], time_limit)
    }

    fn compile_files_within(
        files: &[(&str, &str)],
        time_limit: Duration,
    ) -> Result<RuleSet, CompileError> {
        let mut loader = Loader {
            files,
            lists: HashMap::new(),
            macros: Vec::new(),
            rules: Vec::new(),
            items: 0,
        };
        for (idx, (_, text)) in files.iter().enumerate() {
            loader.load_file(idx, text).map_err(CompileError::Invalid)?;
        }
        let mut compiler = Compiler::new(&loader, time_limit);
        let rules = compiler
            .compile_macros(&loader)
            .and_then(|()| compiler.compile_rules());
        rules
            .map(Self::index)
            .map_err(|error| match compiler.timed_out() {
                true => CompileError::TimeLimit(error),
                false => CompileError::Invalid(error),
            })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name.as_str()).collect()
    }

    /// Indices of the rules that can match an event of this type, in file order.
    pub(crate) fn candidates(&self, event_type: &str) -> &[u32] {
        self.by_type.get(event_type).unwrap_or(&self.untyped)
    }

    pub(crate) fn mfa_windows(&self) -> &[(bool, u64)] {
        &self.mfa_windows
    }

    fn index(rules: Vec<Rule>) -> RuleSet {
        let mut typed: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        let mut untyped = Vec::new();
        let mut mfa_windows = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            let mut note = |f: &Field| {
                if let Some(w) = f.mfa_window().filter(|w| !mfa_windows.contains(w)) {
                    mfa_windows.push(w);
                }
            };
            rule.expr.visit_fields(&mut note);
            rule.output.fields().for_each(&mut note);
            match rule_event_types(rule) {
                Some(types) => types
                    .into_iter()
                    .for_each(|t| typed.entry(t).or_default().push(i)),
                None => untyped.push(i),
            }
        }
        let by_type = typed
            .into_iter()
            .map(|(t, mut idx)| {
                idx.extend(&untyped);
                idx.sort_unstable();
                idx.dedup();
                (t, idx.into_boxed_slice())
            })
            .collect();
        RuleSet {
            rules,
            by_type,
            untyped: untyped.into_boxed_slice(),
            mfa_windows,
        }
    }
}

fn rule_event_types(rule: &Rule) -> Option<Vec<Box<str>>> {
    let mut types = rule.expr.event_types()?;
    match &rule.stateful {
        Some(Stateful::Sequence(seq)) => types.extend(seq.after.event_types()?),
        Some(Stateful::Absence(absence)) => {
            types.extend(absence.after.event_types()?);
            types.extend(absence.missing.event_types()?);
        }
        _ => {}
    }
    Some(types)
}
