//! Learning from history (a baseline): an event goes through the rules as usual so the
//! stateful ones record what they observe — first-seen values, sign-in locations, the counts
//! of thresholds and sequences — and whatever it raises is thrown away.
//!
//! Alerts are not claimed while learning: a claim is the memory of an alert that was sent (it
//! quiets a threshold's window and a rule's dedup period), and nothing is sent for history.
//! A brute force still under way when the integration goes live thus alerts on its next live
//! attempt, counted with the history, instead of being hushed by an alert nobody saw.

use super::engine::Engine;
use super::state::{FirstSeen, GeoPoint, MemoryState, StateKey, StateStore, WindowCount};
use crate::okta::LogEvent;

impl Engine {
    /// Applies `event` to `state` as history: the state learns, no detection comes out.
    pub fn learn_in_memory(&self, event: &LogEvent, org: &str, state: &mut MemoryState) {
        self.evaluate(event, org, &mut Learning(state));
    }
}

/// The tenant's state, seen through the eyes of history: everything is recorded except the
/// claims of alerts.
struct Learning<'a>(&'a mut MemoryState);

impl StateStore for Learning<'_> {
    fn observe(&mut self, key: StateKey<'_>, uuid: &str, at_ms: i64, value: &str, keep_ms: i64) {
        self.0.observe(key, uuid, at_ms, value, keep_ms)
    }

    fn window(&self, key: StateKey<'_>, after_ms: i64, until_ms: i64) -> WindowCount {
        self.0.window(key, after_ms, until_ms)
    }

    fn times(&self, key: StateKey<'_>, after_ms: i64, until_ms: i64) -> Vec<i64> {
        self.0.times(key, after_ms, until_ms)
    }

    fn windows_containing(
        &self,
        key: StateKey<'_>,
        at_ms: i64,
        window_ms: i64,
    ) -> Vec<WindowCount> {
        self.0.windows_containing(key, at_ms, window_ms)
    }

    /// "Fire" without remembering it: the detection is discarded anyway.
    fn claim_alert(&mut self, _key: StateKey<'_>, _at: i64, _quiet: i64, _uuid: &str) -> bool {
        true
    }

    fn first_seen(
        &mut self,
        key: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> FirstSeen {
        self.0.first_seen(key, value, at_ms, history_ms)
    }

    fn previous_location(
        &mut self,
        key: StateKey<'_>,
        point: &GeoPoint,
        uuid: &str,
    ) -> Option<GeoPoint> {
        self.0.previous_location(key, point, uuid)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::detect::{PolicyRef, RuleSet};

    const RULES: &str = r#"
- rule: New device
  desc: d
  condition: okta.evt.type = user.session.start
  first_seen:
    entity: [okta.actor.alternateid]
    value: okta.useragent.browser
    history: 14d
  output: "new device %okta.useragent.browser"
  priority: NOTICE
  source: okta
- rule: Three failures
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = FAILURE
  threshold: {window: 1h, group_by: [okta.actor.alternateid], count: 3}
  output: "failures %state.count"
  priority: WARNING
  source: okta
"#;

    fn engine() -> Engine {
        let set = RuleSet::compile("learn.yaml", RULES).expect("rules compile");
        let policy = PolicyRef {
            id: uuid::Uuid::nil(),
            name: "p".into(),
        };
        Engine::new(vec![(policy, Arc::new(set))])
    }

    fn sign_in(uuid: &str, minute: u32, browser: &str, result: &str) -> LogEvent {
        serde_json::from_value(serde_json::json!({
            "uuid": uuid,
            "published": format!("2026-03-02T10:{minute:02}:00.000Z"),
            "eventType": "user.session.start",
            "actor": { "alternateId": "ana@acme.example" },
            "client": { "userAgent": { "browser": browser } },
            "outcome": { "result": result },
        }))
        .expect("a LogEvent")
    }

    #[test]
    fn history_trains_first_seen_and_counts_without_claiming_alerts() {
        let engine = engine();
        let mut state = MemoryState::new();
        engine.learn_in_memory(&sign_in("h1", 0, "CHROME", "SUCCESS"), "acme", &mut state);
        engine.learn_in_memory(&sign_in("h2", 1, "FIREFOX", "SUCCESS"), "acme", &mut state);
        for (i, uuid) in ["f1", "f2", "f3"].into_iter().enumerate() {
            let event = sign_in(uuid, 2 + i as u32, "CHROME", "FAILURE");
            engine.learn_in_memory(&event, "acme", &mut state);
        }
        let known =
            engine.evaluate_in_memory(&sign_in("l1", 6, "FIREFOX", "SUCCESS"), "acme", &mut state);
        assert!(
            known.is_empty(),
            "a device from history is not new: {known:?}"
        );
        let new =
            engine.evaluate_in_memory(&sign_in("l2", 7, "SAFARI", "SUCCESS"), "acme", &mut state);
        assert_eq!(new.len(), 1, "{new:?}");
        // The threshold was crossed in history without an alert: the next failure alerts.
        let failure = sign_in("l3", 8, "CHROME", "FAILURE");
        let alerts = engine.evaluate_in_memory(&failure, "acme", &mut state);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].output.contains("failures 4"), "{alerts:?}");
    }
}
