//! okta-ingest's additions to Falco's language: the `regex` operator, `<NA>` in outputs,
//! per-rule `dedup`, first_seen's `all_new`, and Okta's risk signals as fields.

use okta_ingest::detect::{MemoryState, RuleSet};
use serde_json::json;

use crate::support::{engine, event, matches, run};

#[test]
fn regex_is_a_full_match_and_bad_patterns_are_load_errors() {
    let scripted =
        event(json!({"client": {"userAgent": {"rawUserAgent": "python-requests/2.31.0"}}}));
    assert!(matches(
        r#"okta.useragent.raw regex "(python-requests|curl|Go-http-client)/[0-9.]+""#,
        &scripted
    ));
    assert!(!matches(
        r#"okta.useragent.raw regex "requests""#,
        &scripted
    ));
    assert!(matches(
        r#"not okta.useragent.raw regex "requests""#,
        &scripted
    ));
    let absent = event(json!({}));
    assert!(
        !matches(r#"okta.dthash regex ".*""#, &absent),
        "absent: false"
    );

    let rule = |cond: &str| {
        format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n")
    };
    let bad = RuleSet::compile("p.yaml", &rule(r#"okta.useragent.raw regex "(unclosed""#))
        .expect_err("invalid regex");
    assert!(bad.to_string().starts_with("p.yaml:3:"), "{bad}");
    assert!(bad.reason.contains("invalid regex"), "{bad}");
    let huge = RuleSet::compile(
        "p.yaml",
        &rule(r#"okta.message regex "\\w{500}\\w{500}\\w{500}""#),
    )
    .expect_err("too big");
    assert!(huge.reason.contains("KiB"), "{huge}");
    let numeric = RuleSet::compile("p.yaml", &rule(r#"okta.security.asnumber regex "1.*""#))
        .expect_err("numeric");
    assert!(numeric.reason.contains("numeric"), "{numeric}");
}

#[test]
fn absent_fields_print_na_in_outputs() {
    let e = engine(
        "- rule: r\n  desc: d\n  condition: okta.evt.type = user.session.start\n  output: \"reason=%okta.reason ua=%okta.useragent.raw dt=%okta.dthash ip=%okta.client.ip\"\n  priority: INFO\n",
    );
    let d = run(&e, &mut MemoryState::new(), &event(json!({})));
    assert_eq!(d[0].output, "reason=<NA> ua=<NA> dt=<NA> ip=198.51.100.7");
    // Conditions keep the plugin's meaning: an absent plugin string reads as "".
    assert!(matches("okta.reason = \"\"", &event(json!({}))));
}

const DEDUP: &str = r#"
- rule: proxy
  desc: d
  condition: okta.evt.type = user.session.start and okta.security.isproxy = true
  dedup: {window: 6h, by: [okta.actor.alternateid]}
  output: "%okta.actor.alternateid"
  priority: WARNING
- rule: spray
  desc: d
  condition: okta.evt.type = user.session.start and okta.result = FAILURE
  threshold: {window: 10m, group_by: [okta.client.ip], count: 2}
  dedup: {window: 1d}
  output: "%okta.client.ip"
  priority: WARNING
"#;

fn at(uuid: &str, hour: u32, extra: serde_json::Value) -> okta_ingest::okta::LogEvent {
    let mut partial = json!({"uuid": uuid, "published": format!("2026-01-01T{hour:02}:00:00Z")});
    crate::support::merge(&mut partial, extra);
    event(partial)
}

#[test]
fn dedup_suppresses_per_group_within_the_window() {
    let e = engine(DEDUP);
    let mut state = MemoryState::new();
    let proxy = |uuid: &str, hour: u32, user: &str| {
        at(
            uuid,
            hour,
            json!({"securityContext": {"isProxy": true}, "actor": {"alternateId": user}}),
        )
    };
    assert_eq!(run(&e, &mut state, &proxy("p1", 1, "alice")).len(), 1);
    assert!(
        run(&e, &mut state, &proxy("p2", 3, "alice")).is_empty(),
        "within 6 h"
    );
    assert_eq!(
        run(&e, &mut state, &proxy("p3", 3, "bob")).len(),
        1,
        "another group"
    );
    assert_eq!(
        run(&e, &mut state, &proxy("p4", 8, "alice")).len(),
        1,
        "after 6 h"
    );
    assert!(
        run(&e, &mut state, &proxy("p4", 8, "alice")).is_empty(),
        "redelivery"
    );

    // On a stateful rule, dedup (no `by`: the whole rule) applies after the rule fires.
    let fail = |uuid: &str, hour: u32, ip: &str| {
        at(
            uuid,
            hour,
            json!({"outcome": {"result": "FAILURE"}, "client": {"ipAddress": ip}}),
        )
    };
    let mut fired = 0;
    for (i, ip) in ["192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2"]
        .iter()
        .enumerate()
    {
        fired += run(&e, &mut state, &fail(&format!("f{i}"), 12, ip)).len();
    }
    assert_eq!(fired, 1, "two IPs' bursts within a day: one alert");
}

#[test]
fn dedup_settings_are_checked() {
    let rule = |dedup: &str| {
        format!(
            "- rule: r\n  desc: d\n  condition: okta.evt.type = x\n  output: o\n  priority: INFO\n  dedup: {dedup}\n"
        )
    };
    for (dedup, reason) in [
        ("{by: [okta.client.ip]}", "missing 'window'"),
        ("{window: 6x}", "duration"),
        ("{window: 6h, by: [okta.nope]}", "unknown field"),
        ("{window: 6h, per: x}", "unknown setting 'per'"),
    ] {
        let err = RuleSet::compile("p.yaml", &rule(dedup)).expect_err(dedup);
        assert!(err.reason.contains(reason), "{dedup}: {err}");
    }
}

const NEW_IP_AND_UA: &str = r#"
- rule: session moved
  desc: d
  condition: okta.evt.type = user.authentication.sso
  first_seen:
    entity: [okta.authentication.sessionid]
    all_new: [okta.client.ip, [okta.useragent.os, okta.useragent.browser]]
    history: 1d
  output: "%state.value"
  priority: ERROR
"#;

#[test]
fn first_seen_all_new_needs_every_item_new() {
    let e = engine(NEW_IP_AND_UA);
    let mut state = MemoryState::new();
    let sso = |uuid: &str, minute: u32, ip: &str, os: &str| {
        event(json!({"uuid": uuid, "eventType": "user.authentication.sso",
            "published": format!("2026-01-01T10:{minute:02}:00Z"),
            "authenticationContext": {"externalSessionId": "idx1"},
            "client": {"ipAddress": ip, "userAgent": {"os": os, "browser": "CHROME"}}}))
    };
    assert!(run(&e, &mut state, &sso("a", 0, "198.51.100.7", "Mac OS X")).is_empty());
    assert!(
        run(&e, &mut state, &sso("b", 5, "198.51.100.99", "Mac OS X")).is_empty(),
        "new IP, same device: a hotspot"
    );
    assert!(
        run(&e, &mut state, &sso("c", 6, "198.51.100.7", "Windows 10")).is_empty(),
        "known IP, new device"
    );
    let d = run(&e, &mut state, &sso("d", 9, "203.0.113.66", "Linux"));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].output, "203.0.113.66, Linux CHROME");

    let both = NEW_IP_AND_UA.replace("    all_new:", "    value: okta.client.ip\n    all_new:");
    let err = RuleSet::compile("p.yaml", &both).expect_err("value and all_new");
    assert!(err.reason.contains("either 'value' or 'all_new'"), "{err}");
}

#[test]
fn risk_signals_are_fields_whatever_their_form() {
    let text = event(json!({"debugContext": {"debugData": {
        "dtHash": "6e3f0c9b2a",
        "threatSuspected": "true",
        "behaviors": "{New Geo-Location=POSITIVE, New Device=NEGATIVE, New IP=POSITIVE}",
        "risk": "{reasons=Anomalous Location, level=HIGH}"}}}));
    for cond in [
        "okta.dthash = 6e3f0c9b2a",
        "okta.threatsuspected = true",
        "okta.behaviors.positive intersects (\"New IP\")",
        "not okta.behaviors.positive intersects (\"New Device\")",
        "okta.behavior[New Geo-Location] = POSITIVE",
        "okta.security.risk.level = HIGH",
        "okta.security.risk.reasons = \"Anomalous Location\"",
    ] {
        assert!(matches(cond, &text), "{cond}");
    }
    let log_only = event(json!({"debugContext": {"debugData": {"logOnlySecurityData":
        "{\"risk\":{\"level\":\"MEDIUM\"},\"behaviors\":{\"New Device\":\"POSITIVE\"}}"}}}));
    assert!(matches("okta.security.risk.level = MEDIUM", &log_only));
    assert!(matches("okta.behavior[New Device] = POSITIVE", &log_only));
    assert!(!matches("okta.threatsuspected exists", &log_only));
}

#[test]
fn geo_comes_from_the_ip_chain_when_the_client_has_none() {
    let ev = event(json!({"client": {"geographicalContext": null},
        "request": {"ipChain": [{"ip": "203.0.113.5", "geographicalContext":
            {"country": "Romania", "city": "Bucharest", "geolocation": {"lat": 44.43, "lon": 26.1}}}]}}));
    assert!(matches("okta.client.geo.country = Romania", &ev));
    assert!(matches("okta.client.geo.lat > 44", &ev));

    let travel = engine(
        "- rule: t\n  desc: d\n  condition: okta.evt.type = user.session.start\n  geo_velocity: {entity: [okta.actor.alternateid]}\n  output: \"%state.prev_city\"\n  priority: ERROR\n",
    );
    let mut state = MemoryState::new();
    let austin = event(json!({"uuid": "a", "published": "2026-01-01T10:00:00Z",
        "client": {"geographicalContext": {"country": "United States", "city": "Austin", "geolocation": {"lat": 30.27, "lon": -97.74}}}}));
    let mut far = ev.clone();
    far.uuid = "b".into();
    far.published = Some("2026-01-01T11:00:00Z".into());
    assert!(run(&travel, &mut state, &austin).is_empty());
    assert_eq!(run(&travel, &mut state, &far)[0].output, "Austin");
}
