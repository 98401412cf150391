//! Every managed rule against its positive and negative cases (rules/tests/*.yaml), run
//! through all managed policies together as the service runs them.

use std::collections::{BTreeSet, HashSet};

use okta_ingest::detect::{self, MemoryState, managed_engine};
use okta_ingest::okta::{Coverage, LogEvent};
use serde_json::{Value, json};

use crate::support;

const START_MS: i64 = 1_767_261_600_000; // 2026-01-01T10:00:00Z

fn duration_ms(v: Option<&Value>, default: i64) -> i64 {
    let Some(text) = v.and_then(Value::as_str) else {
        return default;
    };
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = num.parse().expect("duration number");
    n * match unit {
        "s" | "" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => panic!("unit {other}"),
    }
}

fn base_event() -> Value {
    json!({
        "eventType": "user.session.start",
        "severity": "INFO",
        "actor": {"id": "00u1", "type": "User", "alternateId": "alice@example.com", "displayName": "Alice"},
        "client": {
            "ipAddress": "198.51.100.7",
            "userAgent": {"os": "Mac OS X", "browser": "CHROME", "rawUserAgent": "Mozilla/5.0"},
            "geographicalContext": {"country": "United States", "city": "Austin", "geolocation": {"lat": 30.27, "lon": -97.74}}
        },
        "securityContext": {"asNumber": 7922, "asOrg": "Comcast", "isProxy": false},
        "authenticationContext": {"externalSessionId": "sess-1"},
        "outcome": {"result": "SUCCESS"}
    })
}

fn vary(event: &mut Value, what: &str, i: usize) {
    match what {
        "actor" => event["actor"]["alternateId"] = json!(format!("user{i}@example.com")),
        "ip" => event["client"]["ipAddress"] = json!(format!("203.0.113.{}", i + 1)),
        "actor_and_ip" => {
            vary(event, "actor", i);
            vary(event, "ip", i);
        }
        "country" => {
            event["client"]["geographicalContext"]["country"] = json!(format!("Country {i}"))
        }
        "target_user" => {
            let mut targets = event["target"].as_array().cloned().unwrap_or_default();
            targets.retain(|t| t["type"] != "User");
            targets.push(json!({"type": "User", "id": format!("00u{i}x"), "alternateId": format!("user{i}@example.com")}));
            event["target"] = Value::Array(targets);
        }
        "app" => {
            event["target"] = json!([{"type": "AppInstance", "alternateId": format!("App {i}"), "displayName": format!("App {i}")}]);
        }
        other => panic!("unknown vary {other}"),
    }
}

/// Expands a case's steps into events with uuids and published times.
fn expand(label: &str, steps: &[Value]) -> Vec<LogEvent> {
    let mut clock = START_MS;
    let mut events = Vec::new();
    for step in steps {
        let mut step = step.clone();
        let obj = step.as_object_mut().expect("step is a mapping");
        let repeat = obj.remove("repeat").and_then(|v| v.as_u64()).unwrap_or(1) as usize;
        let every = duration_ms(obj.remove("every").as_ref(), 30_000);
        clock += duration_ms(obj.remove("gap").as_ref(), 0);
        let vary_what = obj
            .remove("vary")
            .and_then(|v| v.as_str().map(str::to_owned));
        for i in 0..repeat {
            let mut ev = base_event();
            support::merge(&mut ev, step.clone());
            if let Some(w) = &vary_what {
                vary(&mut ev, w, i);
            }
            let n = events.len();
            ev["uuid"] = json!(
                uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_OID,
                    format!("{label}/{n}").as_bytes()
                )
                .to_string()
            );
            ev["published"] = json!(
                chrono::DateTime::from_timestamp_millis(clock)
                    .expect("time")
                    .to_rfc3339()
            );
            events.push(serde_json::from_value(ev).expect("LogEvent"));
            clock += every;
        }
    }
    events
}

struct Outcome {
    fired: bool,
    fired_types: BTreeSet<String>,
    outputs: Vec<String>,
}

fn run_case(rule: &str, label: &str, steps: &[Value]) -> Outcome {
    let engine = managed_engine();
    let mut state = MemoryState::new();
    let mut out = Outcome {
        fired: false,
        fired_types: BTreeSet::new(),
        outputs: Vec::new(),
    };
    for ev in expand(label, steps) {
        for d in support::run(&engine, &mut state, &ev) {
            if d.rule == rule {
                out.fired = true;
                out.fired_types.insert(ev.event_type.clone());
                out.outputs.push(d.output);
            }
        }
    }
    out
}

fn cases() -> Vec<(String, Value)> {
    detect::managed_policies()
        .iter()
        .map(|p| {
            let path = format!("{}/rules/tests/{}", env!("CARGO_MANIFEST_DIR"), p.file);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            (
                p.file.to_owned(),
                detect::yaml_to_json(&path, &text).expect("test yaml"),
            )
        })
        .collect()
}

#[test]
fn managed_policies_compile_and_are_substantial() {
    let policies = detect::managed_policies();
    assert!(policies.len() >= 5);
    let mut total = 0;
    for p in policies {
        let set =
            detect::managed_rule_set(p.id).unwrap_or_else(|| panic!("{} does not compile", p.file));
        for r in set.rules() {
            assert!(!r.desc.trim().is_empty(), "{}: no desc", r.name);
            assert!(
                r.tags.iter().any(|t| t.starts_with('T')),
                "{}: no MITRE technique tag",
                r.name
            );
            assert!(
                r.tags.iter().any(|t| t.starts_with("mitre_")),
                "{}: no MITRE tactic tag",
                r.name
            );
        }
        total += set.rules().len();
    }
    assert!(total >= 30, "{total} managed rules");
    let ids: HashSet<_> = policies.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), policies.len());
}

#[test]
fn every_managed_rule_has_positive_and_negative_cases_that_hold() {
    let mut failures = Vec::new();
    let mut fired_types = BTreeSet::new();
    let mut checked = 0;
    for (file, cases) in cases() {
        let policy = detect::managed_policies()
            .iter()
            .find(|p| p.file == file)
            .expect("policy");
        let set = detect::managed_rule_set(policy.id).expect("compiles");
        let cases = cases.as_array().expect("list of cases").clone();
        for rule in set.rules() {
            let Some(case) = cases.iter().find(|c| c["rule"] == rule.name.as_str()) else {
                failures.push(format!("{file}: no cases for '{}'", rule.name));
                continue;
            };
            for (kind, expected) in [("positive", true), ("negative", false)] {
                let steps = case[kind].as_array().cloned().unwrap_or_default();
                if steps.is_empty() {
                    failures.push(format!("'{}': no {kind} case", rule.name));
                    continue;
                }
                let out = run_case(&rule.name, &format!("{}/{kind}", rule.name), &steps);
                checked += 1;
                if out.fired != expected {
                    failures.push(format!(
                        "'{}': {kind} case {} (outputs {:?})",
                        rule.name,
                        if out.fired { "fired" } else { "did not fire" },
                        out.outputs
                    ));
                }
                if expected {
                    assert!(
                        out.outputs
                            .iter()
                            .all(|o| !o.contains("<NA>") || rule.name.contains("Rate Limit")),
                        "'{}' output has <NA>: {:?}",
                        rule.name,
                        out.outputs
                    );
                    fired_types.extend(out.fired_types);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 60, "only {checked} cases ran");
    // Every type an integration can subscribe to, the extended set included.
    let missing: Vec<_> = Coverage::Extended
        .event_types()
        .iter()
        .filter(|t| !fired_types.contains(**t))
        .collect();
    assert!(
        missing.is_empty(),
        "event types no managed rule fires on: {missing:?}"
    );
}

#[test]
fn a_window_alert_fires_once_per_window_and_group() {
    let steps = vec![
        json!({"eventType": "user.session.start", "outcome": {"result": "FAILURE"}, "repeat": 30, "every": "30s"}),
    ];
    let out = run_case("Okta Brute Force Against a User", "once", &steps);
    assert_eq!(out.outputs.len(), 1, "{:?}", out.outputs);
    assert!(
        out.outputs[0].contains("10 failed Okta sign-ins"),
        "{}",
        out.outputs[0]
    );
}
