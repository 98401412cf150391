//! `rules check` and `rules test` as the CLI calls them.

use std::path::PathBuf;

use okta_ingest::detect::LoadError;
use okta_ingest::rules_cli;
use serde_json::{Value, json};

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("detect-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn check_accepts_valid_files_and_reports_position_of_errors() {
    let good = temp_file(
        "good.yaml",
        "- rule: r\n  desc: d\n  condition: okta.evt.type = user.account.lock\n  output: o\n  priority: NOTICE\n",
    );
    let summary = rules_cli::check(std::slice::from_ref(&good)).expect("valid");
    assert_eq!(summary.rules, 1);

    let bad = temp_file(
        "bad.yaml",
        "- rule: r\n  desc: d\n  condition: okta.evt.type = x and (\n  output: o\n  priority: NOTICE\n",
    );
    let err = rules_cli::check(&[good, bad.clone()]).expect_err("invalid");
    let load = err.downcast_ref::<LoadError>().expect("a LoadError");
    assert_eq!(load.file, bad.display().to_string());
    assert_eq!(load.line, 3);
    assert!(
        err.to_string()
            .starts_with(&format!("{}:3:", bad.display())),
        "{err}"
    );
}

#[test]
fn test_prints_one_ndjson_line_per_detection() {
    let rules = temp_file(
        "r.yaml",
        "- rule: lock\n  desc: d\n  condition: okta.evt.type = user.account.lock\n  output: \"locked %okta.actor.alternateid\"\n  priority: NOTICE\n",
    );
    let events = [
        json!({"uuid": "e1", "published": "2026-01-01T00:00:00Z", "eventType": "user.account.lock", "actor": {"alternateId": "a@x"}}),
        json!({"uuid": "e2", "published": "2026-01-01T00:00:01Z", "eventType": "user.session.start"}),
    ];
    let ndjson = events
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for text in [ndjson, Value::Array(events.to_vec()).to_string()] {
        let path = temp_file("events.json", &text);
        let mut out = Vec::new();
        let n = rules_cli::test(&path, std::slice::from_ref(&rules), &mut out).expect("test runs");
        assert_eq!(n, 1);
        let line: Value = serde_json::from_slice(out.trim_ascii_end()).expect("one JSON line");
        assert_eq!(
            line,
            json!({"rule": "lock", "priority": "notice", "okta_event_uuid": "e1", "output": "locked a@x"})
        );
    }
}

#[test]
fn test_defaults_to_the_managed_policies() {
    let events: Vec<Value> = (0..3)
        .map(|i| {
            json!({"uuid": format!("m{i}"), "published": format!("2026-01-01T00:0{i}:00Z"),
            "eventType": "user.authentication.auth_via_mfa",
            "outcome": {"result": "FAILURE", "reason": "User rejected Okta push verify"},
            "debugContext": {"debugData": {"factor": "OKTA_VERIFY_PUSH"}},
            "actor": {"id": "00u1", "alternateId": "victim@example.com"}})
        })
        .collect();
    let path = temp_file("events.json", &Value::Array(events).to_string());
    let mut out = Vec::new();
    rules_cli::test(&path, &[], &mut out).expect("test runs");
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains("\"rule\":\"Okta MFA Push Fatigue\""),
        "{text}"
    );
    assert!(text.contains("\"okta_event_uuid\":\"m2\""), "{text}");
}

/// Hardening defect 1: `rules check` aborted with a stack overflow on 10,000 parentheses.
#[test]
fn check_refuses_deep_nesting_with_an_error_not_a_crash() {
    let depth = 10_000;
    let path = temp_file(
        "deep.yaml",
        &format!(
            "- rule: r\n  desc: d\n  condition: {}okta.evt.type = x{}\n  output: o\n  priority: NOTICE\n",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_okta-ingest"))
        .args(["rules", "check"])
        .arg(&path)
        .output()
        .expect("run okta-ingest");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(":3:") && stderr.contains("nested deeper"),
        "{stderr}"
    );
}
