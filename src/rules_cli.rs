//! The offline tools behind `okta-ingest rules check` and `okta-ingest rules test`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::detect::{Engine, MemoryState, PolicyRef, RuleSet, managed_engine};
use crate::okta::LogEvent;

/// What `rules check` found in valid files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSummary {
    pub files: usize,
    pub rules: usize,
}

impl std::fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} file(s) OK, {} rule(s)", self.files, self.rules)
    }
}

/// Loads the files together (a later file may append to an earlier one, as in Falco).
/// The error is a [`crate::detect::LoadError`] (`file:line:column: reason`) or an I/O error.
pub fn check(paths: &[PathBuf]) -> anyhow::Result<CheckSummary> {
    let set = load(paths)?;
    Ok(CheckSummary {
        files: paths.len(),
        rules: set.rules().len(),
    })
}

/// Evaluates every event (a JSON array or NDJSON of LogEvents, in file order) against the
/// given rule files, or the managed policies when none are given; writes one NDJSON line
/// per detection and returns how many.
pub fn test(events: &Path, rules: &[PathBuf], out: &mut impl Write) -> anyhow::Result<usize> {
    let engine = if rules.is_empty() {
        managed_engine()
    } else {
        custom_engine(rules)?
    };
    let text =
        std::fs::read_to_string(events).with_context(|| format!("reading {}", events.display()))?;
    let events = parse_events(&text).with_context(|| format!("parsing {}", events.display()))?;
    let mut state = MemoryState::new();
    let mut count = 0;
    for event in &events {
        let detections = engine.evaluate_in_memory(event, "", &mut state);
        for d in detections {
            let line = serde_json::json!({
                "rule": d.rule,
                "priority": d.priority.as_str(),
                "okta_event_uuid": event.uuid,
                "output": d.output,
            });
            writeln!(out, "{line}")?;
            count += 1;
        }
    }
    Ok(count)
}

/// A JSON array of LogEvents, or one LogEvent per line.
pub fn parse_events(text: &str) -> anyhow::Result<Vec<LogEvent>> {
    if text.trim_start().starts_with('[') {
        return Ok(serde_json::from_str(text)?);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("line {}", i + 1)))
        .collect()
}

fn custom_engine(rules: &[PathBuf]) -> anyhow::Result<Engine> {
    let set = load(rules)?;
    let policy = PolicyRef {
        id: uuid::Uuid::nil(),
        name: "custom".to_owned(),
    };
    Ok(Engine::new(vec![(policy, Arc::new(set))]))
}

fn load(paths: &[PathBuf]) -> anyhow::Result<RuleSet> {
    let mut files = Vec::new();
    for p in paths {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        files.push((p.display().to_string(), text));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    Ok(RuleSet::compile_files(&refs)?)
}
