//! Stateful rule semantics with the in-memory store: event time, late and duplicate
//! deliveries, missing group values, and load errors in the stateful settings.

use okta_ingest::detect::{MemoryState, RuleSet};
use serde_json::json;

use crate::support::{engine, event, run};

const THRESHOLD: &str = r#"
- rule: t
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = FAILURE
  threshold: {window: 10m, group_by: [okta.actor.alternateid], count: 3}
  output: "%state.count"
  priority: WARNING
"#;

fn failure(uuid: &str, minute: u32) -> okta_ingest::okta::LogEvent {
    event(
        json!({"uuid": uuid, "outcome": {"result": "FAILURE"}, "published": format!("2026-01-01T10:{minute:02}:00Z")}),
    )
}

#[test]
fn windows_use_published_time_not_arrival_order() {
    let e = engine(THRESHOLD);
    let mut state = MemoryState::new();
    // Delivered out of order; all three within 10 minutes of the latest.
    assert!(run(&e, &mut state, &failure("c", 9)).is_empty());
    assert!(run(&e, &mut state, &failure("a", 1)).is_empty());
    let d = run(&e, &mut state, &failure("b", 5));
    assert_eq!(d.len(), 1, "the third event of the window fires");
    // A duplicate delivery is not counted again and does not fire again.
    assert!(run(&e, &mut state, &failure("b", 5)).is_empty());
    // Outside the window of the earlier ones: not enough.
    let e2 = engine(THRESHOLD);
    let mut s2 = MemoryState::new();
    for (u, m) in [("x", 0), ("y", 11), ("z", 22)] {
        assert!(run(&e2, &mut s2, &failure(u, m)).is_empty());
    }
}

#[test]
fn events_without_time_or_group_are_skipped_by_stateful_rules() {
    let e = engine(THRESHOLD);
    let mut state = MemoryState::new();
    for i in 0..5 {
        let no_time = event(
            json!({"uuid": format!("n{i}"), "outcome": {"result": "FAILURE"}, "published": null}),
        );
        assert!(run(&e, &mut state, &no_time).is_empty());
        let no_actor = event(
            json!({"uuid": format!("m{i}"), "outcome": {"result": "FAILURE"}, "actor": null}),
        );
        assert!(run(&e, &mut state, &no_actor).is_empty());
    }
}

#[test]
fn stateful_settings_are_validated() {
    let cases = [
        (
            "threshold: {window: 10m, group_by: [okta.actor.alternateid], count: 3, every: 2}",
            "unknown setting 'every'",
        ),
        (
            "threshold: {window: soon, group_by: [okta.actor.alternateid], count: 3}",
            "duration",
        ),
        (
            "threshold: {window: 10m, group_by: [okta.nope], count: 3}",
            "unknown field",
        ),
        (
            "threshold: {window: 10m, group_by: [okta.actor.alternateid]}",
            "needs 'count'",
        ),
        (
            "threshold: {window: 10m, group_by: [okta.actor.alternateid], distinct: okta.client.ip}",
            "goes with 'distinct_count'",
        ),
        (
            "threshold: {window: 10m, group_by: [okta.org], distinct: [{field: okta.client.ip, count: 2}, {field: okta.client.ip, count: 3}]}",
            "listed twice",
        ),
        (
            "threshold: {window: 10m, group_by: [okta.org], distinct: [{field: okta.client.ip}]}",
            "needs a 'count'",
        ),
        (
            "threshold: {window: 10m, group_by: [okta.org], distinct: [{field: okta.client.ip, count: 2}], distinct_count: 2}",
            "goes with 'distinct_count'",
        ),
        (
            "first_seen: {entity: [okta.actor.alternateid], value: okta.client.ip}",
            "missing 'history'",
        ),
        (
            "sequence: {window: 5m, group_by: [okta.actor.alternateid], after: okta.bogus = 1}",
            "unknown field",
        ),
        (
            "geo_velocity: {entity: [okta.actor.alternateid], max_kmh: fast}",
            "number",
        ),
    ];
    for (setting, reason) in cases {
        let src = format!(
            "- rule: r\n  desc: d\n  condition: okta.org = a\n  output: o\n  priority: INFO\n  {setting}\n"
        );
        let err = RuleSet::compile("s.yaml", &src).expect_err(setting);
        assert!(err.reason.contains(reason), "{setting}: {err}");
        assert_eq!(err.line, 6, "{setting}: {err}");
    }
    let two = "- rule: r\n  desc: d\n  condition: okta.org = a\n  output: o\n  priority: INFO\n  threshold: {window: 1m, group_by: [okta.org], count: 2}\n  first_seen: {entity: [okta.org], value: okta.client.ip, history: 1d}\n";
    assert!(
        RuleSet::compile("s.yaml", two)
            .unwrap_err()
            .reason
            .contains("only one")
    );
}

#[test]
fn rules_list_their_metadata_for_the_policies_api() {
    let set = RuleSet::compile("m.yaml", THRESHOLD).unwrap();
    assert_eq!(set.rule_names(), ["t"]);
    let rule = &set.rules()[0];
    assert_eq!(
        (rule.priority.as_str(), rule.priority.severity().as_str()),
        ("warning", "medium")
    );
    assert_eq!(rule.stateful_kind(), Some("threshold"));
    assert!(rule.enabled);
}

#[test]
fn a_late_step_completes_a_sequence_whose_final_event_came_first() {
    let src = r#"
- rule: s
  desc: d
  condition: okta.evt.type = user.authentication.auth_via_mfa and okta.result = SUCCESS
  sequence: {window: 10m, group_by: [okta.actor.alternateid], after: okta.result = DENY, count: 2}
  output: "%state.count"
  priority: CRITICAL
"#;
    let e = engine(src);
    let mut state = MemoryState::new();
    let mfa = |uuid: &str, result: &str, minute: u32| {
        event(
            json!({"uuid": uuid, "eventType": "user.authentication.auth_via_mfa", "outcome": {"result": result},
            "published": format!("2026-01-01T10:{minute:02}:00Z")}),
        )
    };
    assert!(run(&e, &mut state, &mfa("ok", "SUCCESS", 5)).is_empty());
    assert!(run(&e, &mut state, &mfa("d1", "DENY", 1)).is_empty());
    let d = run(&e, &mut state, &mfa("d2", "DENY", 2));
    assert_eq!(d.len(), 1, "the second late denial completes the sequence");
    assert_eq!(d[0].output, "2");
    assert!(
        run(&e, &mut state, &mfa("d3", "DENY", 3)).is_empty(),
        "once per window"
    );
    // Steps published after the final event do not count.
    let mut s2 = MemoryState::new();
    for (u, r, m) in [("ok", "SUCCESS", 5), ("d1", "DENY", 6), ("d2", "DENY", 7)] {
        assert!(run(&e, &mut s2, &mfa(u, r, m)).is_empty());
    }
}

const ABSENCE: &str = r#"
- rule: a
  desc: d
  condition: okta.evt.type = user.session.start
  absence:
    after: okta.evt.type = user.mfa.factor.deactivate
    missing: okta.evt.type = user.mfa.factor.activate
    within: 12h
    group_by: [okta.target.user.id]
    check_by: [okta.actor.id]
  output: "since %state.prev_published"
  priority: WARNING
"#;

fn factor(uuid: &str, kind: &str, at: &str) -> okta_ingest::okta::LogEvent {
    event(
        json!({"uuid": uuid, "eventType": format!("user.mfa.factor.{kind}"), "published": at,
                 "actor": {"id": "00uadmin", "alternateId": "admin@example.com"},
                 "target": [{"type": "User", "id": "00u1", "alternateId": "alice@example.com"}]}),
    )
}

fn sign_in(uuid: &str, at: &str) -> okta_ingest::okta::LogEvent {
    event(
        json!({"uuid": uuid, "published": at, "actor": {"id": "00u1", "alternateId": "alice@example.com"}}),
    )
}

#[test]
fn absence_fires_on_the_entitys_next_act_after_the_deadline_once() {
    let e = engine(ABSENCE);
    let mut state = MemoryState::new();
    assert!(
        run(
            &e,
            &mut state,
            &factor("d", "deactivate", "2026-01-01T08:00:00Z")
        )
        .is_empty()
    );
    assert!(
        run(&e, &mut state, &sign_in("s1", "2026-01-01T19:00:00Z")).is_empty(),
        "before the deadline"
    );
    let d = run(&e, &mut state, &sign_in("s2", "2026-01-01T21:00:00Z"));
    assert_eq!(d.len(), 1, "overdue and unresolved");
    assert!(
        d[0].output.contains("2026-01-01T08:00:00"),
        "{}",
        d[0].output
    );
    assert!(
        run(&e, &mut state, &sign_in("s3", "2026-01-01T22:00:00Z")).is_empty(),
        "once per start"
    );
    assert!(
        run(&e, &mut state, &sign_in("s2", "2026-01-01T21:00:00Z")).is_empty(),
        "a redelivery"
    );

    // Re-enrolled within the 12 h: nothing, however late the user signs in.
    let e = engine(ABSENCE);
    let mut state = MemoryState::new();
    run(
        &e,
        &mut state,
        &factor("d", "deactivate", "2026-01-01T08:00:00Z"),
    );
    run(
        &e,
        &mut state,
        &factor("a", "activate", "2026-01-01T09:00:00Z"),
    );
    assert!(run(&e, &mut state, &sign_in("s", "2026-01-02T09:00:00Z")).is_empty());
}

#[test]
fn a_late_start_fires_on_itself_and_a_late_resolution_before_the_check_prevents_it() {
    let e = engine(ABSENCE);
    let mut state = MemoryState::new();
    assert!(run(&e, &mut state, &sign_in("s", "2026-01-01T21:00:00Z")).is_empty());
    let d = run(
        &e,
        &mut state,
        &factor("d", "deactivate", "2026-01-01T08:00:00Z"),
    );
    assert_eq!(d.len(), 1, "the start arrived after an overdue check");

    let e = engine(ABSENCE);
    let mut state = MemoryState::new();
    run(
        &e,
        &mut state,
        &factor("a", "activate", "2026-01-01T09:00:00Z"),
    );
    run(&e, &mut state, &sign_in("s", "2026-01-01T21:00:00Z"));
    assert!(
        run(
            &e,
            &mut state,
            &factor("d", "deactivate", "2026-01-01T08:00:00Z")
        )
        .is_empty()
    );
}

#[test]
fn absence_settings_are_validated() {
    for (bad, reason) in [
        (
            "    within: 12h\n    group_by: [okta.target.user.id]\n    missing: okta.evt.type = x.y\n",
            "missing 'after'",
        ),
        (
            "    after: okta.evt.type = x.y\n    missing: okta.evt.type = x.z\n    within: 12h\n    group_by: [okta.target.user.id]\n    check_by: [okta.actor.id, okta.client.ip]\n",
            "as many fields",
        ),
        (
            "    after: okta.evt.type = x.y\n    missing: okta.evt.type = x.z\n    within: soon\n    group_by: [okta.target.user.id]\n",
            "duration",
        ),
    ] {
        let text = format!(
            "- rule: a\n  desc: d\n  condition: okta.evt.type = user.session.start\n  absence:\n{bad}  output: o\n  priority: WARNING\n"
        );
        let err = RuleSet::compile("r.yaml", &text).unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[test]
fn every_distinct_minimum_must_hold_in_one_window() {
    let rules = r#"
- rule: spray
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = FAILURE
  threshold:
    window: 15m
    group_by: [okta.evt.type]
    count: 10
    distinct:
      - {field: okta.actor.alternateid, count: 4}
      - {field: okta.client.ip, count: 3}
  output: "%state.count %state.distinct"
  priority: WARNING
"#;
    let attempt = |i: u32, ips: u32| {
        event(json!({
            "uuid": format!("a{i}-{ips}"), "outcome": {"result": "FAILURE"},
            "published": format!("2026-01-01T10:{i:02}:00Z"),
            "actor": {"alternateId": format!("user{}@acme.com", i % 5)},
            "client": {"ipAddress": format!("203.0.113.{}", i % ips)},
        }))
    };
    // Ten attempts on five users, but from two addresses: not a many-IP spray.
    let e = engine(rules);
    let mut state = MemoryState::new();
    let fired: usize = (0..12)
        .map(|i| run(&e, &mut state, &attempt(i, 2)).len())
        .sum();
    assert_eq!(fired, 0);
    // From three addresses, the tenth attempt fires once, with the users' count.
    let mut state = MemoryState::new();
    let fired: Vec<_> = (0..12)
        .flat_map(|i| run(&e, &mut state, &attempt(i, 3)))
        .collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].output, "10 5");
}
