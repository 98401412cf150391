//! Helpers shared by the detection tests.

use std::sync::Arc;

use okta_ingest::detect::{Detection, Engine, MemoryState, PolicyRef, RuleSet};
use okta_ingest::okta::LogEvent;
use serde_json::{Value, json};

/// A LogEvent from a partial JSON object, with a uuid and a published time filled in.
pub fn event(partial: Value) -> LogEvent {
    let mut base = json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "published": "2026-01-01T10:00:00.000Z",
        "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User", "alternateId": "alice@example.com", "displayName": "Alice"},
        "client": {"ipAddress": "198.51.100.7", "geographicalContext": {"country": "United States", "city": "Austin"}},
        "outcome": {"result": "SUCCESS"}
    });
    merge(&mut base, partial);
    serde_json::from_value(base).expect("valid LogEvent")
}

pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if v.is_object() && existing.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

pub fn engine(source: &str) -> Engine {
    let set = RuleSet::compile("test.yaml", source).unwrap_or_else(|e| panic!("{e}"));
    engine_of(set)
}

pub fn engine_of(set: RuleSet) -> Engine {
    let policy = PolicyRef {
        id: uuid::Uuid::nil(),
        name: "test".into(),
    };
    Engine::new(vec![(policy, Arc::new(set))])
}

pub fn run(engine: &Engine, state: &mut MemoryState, ev: &LogEvent) -> Vec<Detection> {
    engine.evaluate_in_memory(ev, "acme", state)
}

/// A one-rule file with this condition.
pub fn rule_with(condition: &str) -> String {
    format!(
        "- rule: r\n  desc: d\n  condition: {}\n  output: \"out %okta.actor.alternateid\"\n  priority: WARNING\n",
        serde_json::to_string(condition).expect("json")
    )
}

pub fn matches(condition: &str, ev: &LogEvent) -> bool {
    let e = engine(&rule_with(condition));
    !run(&e, &mut MemoryState::new(), ev).is_empty()
}
