//! The detection engine: Falco's rules-file language over Okta System Log events, with
//! stateful extensions (thresholds, first-seen values, geo-velocity, sequences) whose state
//! is a [`MemoryState`] (checkpointed to Postgres by the service's worker).
//!
//! Parse → compile once ([`RuleSet::compile`]) → evaluate a compiled tree per event
//! ([`Engine::evaluate_in_memory`]). The rule language is documented in `src/detect/README.md`.

mod absence;
mod condition;
mod dedup;
mod engine;
mod eval;
pub mod fields;
mod fxhash;
mod learn;
pub mod limits;
mod managed;
mod output;
mod rules;
mod state;
mod stateful;
mod yaml;

use std::fmt;

pub use engine::{Detection, Engine, PolicyRef};
pub use managed::{ManagedPolicy, managed_engine, managed_policies, managed_rule_set};
pub use rules::{CompileError, Rule, RuleSet};
pub use state::{
    FirstSeen, GeoPoint, MAX_KEYS, MemoryState, StateKey, StateKind, StateRow, StateStore,
    WindowCount,
};

/// A rules file was refused: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// Converts a YAML document to JSON (for test-case files written in YAML).
pub fn yaml_to_json(file: &str, text: &str) -> Result<serde_json::Value, LoadError> {
    yaml::parse(text)
        .map(|n| n.to_json())
        .map_err(|e| LoadError {
            file: file.to_owned(),
            line: e.mark.line,
            column: e.mark.column,
            reason: e.reason,
        })
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

impl std::error::Error for LoadError {}

/// Falco's eight priorities, most severe first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    /// Falco accepts priorities case-insensitively, and `info` for informational.
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" | "warn" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "emergency",
            Priority::Alert => "alert",
            Priority::Critical => "critical",
            Priority::Error => "error",
            Priority::Warning => "warning",
            Priority::Notice => "notice",
            Priority::Informational => "informational",
            Priority::Debug => "debug",
        }
    }

    /// The feed's four-level severity.
    pub fn severity(self) -> Severity {
        match self {
            Priority::Emergency | Priority::Alert | Priority::Critical | Priority::Error => {
                Severity::High
            }
            Priority::Warning => Severity::Medium,
            Priority::Notice => Severity::Low,
            Priority::Informational | Priority::Debug => Severity::Info,
        }
    }
}

/// The event feed's severity: Falco's eight priorities folded into four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Case-insensitive.
    pub fn parse(text: &str) -> Option<Severity> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
