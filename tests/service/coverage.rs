//! Coverage beyond the 18 types: chosen at complete or with `PUT`, provisioned in Okta,
//! delivered, gap-filled and detected, and nothing outside the integration's set stored.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use okta_ingest::okta::Coverage;
use okta_ingest::sim::scenario::{PROXY_ADMIN, UNENROLLED_USER, extended_scenario};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, count, execute, log_event};

/// The event types of our hook in the simulated Okta org, sorted.
fn subscribed(t: &TestApp) -> Vec<String> {
    let hooks = t.sim.hooks();
    assert_eq!(hooks.len(), 1, "one hook, re-provisioned in place");
    let mut events = hooks[0].events.clone();
    events.sort();
    events
}

fn sorted(coverage: Coverage) -> Vec<String> {
    let mut types: Vec<String> = coverage
        .event_types()
        .iter()
        .map(|t| t.to_string())
        .collect();
    types.sort();
    types
}

#[sqlx::test(migrations = "./migrations")]
async fn coverage_is_chosen_at_complete_and_changed_with_put(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    assert_eq!(t.integration(&id).await.1["coverage"], "standard");
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Before complete, PUT only records the choice.
    let (status, body) = t
        .update_integration(&id, json!({ "coverage": "extended" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["coverage"], "extended");
    assert!(t.sim.hooks().is_empty(), "nothing in Okta before complete");
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["coverage"], "extended");
    assert_eq!(subscribed(&t), sorted(Coverage::Extended));

    // Back to standard on the live integration: the same hook, resubscribed and verified.
    let hook_id = t.sim.hooks()[0].id.clone();
    let verifications = t.sim.counters().verifications;
    let before = t.hook().await;
    let (status, body) = t
        .update_integration(&id, json!({ "coverage": "standard" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["coverage"], "standard");
    assert_eq!(body["status"], "active");
    assert_eq!(subscribed(&t), sorted(Coverage::Standard));
    assert_eq!(t.sim.hooks()[0].id, hook_id);
    assert_eq!(
        t.sim.counters().verifications,
        verifications + 1,
        "Okta verified the new channel"
    );
    let view = t.integration(&id).await.1;
    assert_eq!(view["coverage"], "standard");
    assert_eq!(view["hook_status"], "ACTIVE/VERIFIED");
    // Okta signs with the new secret at once; the old one stays accepted for the overlap.
    let report = t
        .sim
        .deliver(vec![log_event("user.session.start", "a@acme.com")])
        .await;
    assert_eq!(report.delivered(), 1);
    let events = [log_event("user.session.start", "b@acme.com")];
    assert_eq!(
        t.deliver_events(&before, &before.secret, &events).await,
        StatusCode::OK
    );

    // The same value again changes nothing in Okta; complete with it too.
    let (status, _) = t
        .update_integration(&id, json!({ "coverage": "standard" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = t
        .complete_with(&id, json!({ "coverage": "standard" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.sim.counters().verifications, verifications + 1);
    // Complete with another coverage on an active integration re-provisions as PUT does.
    let (status, body) = t
        .complete_with(&id, json!({ "coverage": "extended" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(subscribed(&t), sorted(Coverage::Extended));

    for bad in [
        json!({ "coverage": "everything" }),
        json!({ "coverage": 1 }),
        json!({ "colour": "x" }),
    ] {
        let (status, body) = t.update_integration(&id, bad.clone()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {body}"
        );
        assert!(body["code"].is_string(), "{body}");
    }
    let (status, body) = t.complete_with(&id, json!({ "coverage": "all" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        subscribed(&t),
        sorted(Coverage::Extended),
        "a refused change changes nothing"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_failed_resubscription_keeps_the_coverage_and_says_why(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_with_coverage("standard").await;
    t.sim.fail_next_with_500(4);
    let (status, body) = t
        .update_integration(&id, json!({ "coverage": "extended" }))
        .await;
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{status} {body}"
    );
    assert!(body["code"].is_string(), "{body}");
    let view = t.integration(&id).await.1;
    assert_eq!(
        view["coverage"], "standard",
        "the store follows only a verified hook"
    );
    assert!(
        view["last_error"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("coverage"),
        "{view}"
    );
    t.sim.clear_faults();
    let (status, body) = t
        .update_integration(&id, json!({ "coverage": "extended" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(subscribed(&t), sorted(Coverage::Extended));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_extended_set_is_provisioned_delivered_gap_filled_and_detected(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_with_coverage("extended").await;
    assert_eq!(subscribed(&t), sorted(Coverage::Extended), "provisioned");
    // The hook has been live for hours; Okta failed to deliver part of the last 45 minutes.
    execute(
        &pool,
        "UPDATE integrations SET activated_at = now() - interval '1 day'",
    )
    .await;
    let now = Utc::now();
    let events = extended_scenario(now);
    let recent = |e: &Value| {
        e["published"]
            .as_str()
            .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok())
            .is_some_and(|p| p > now - Duration::minutes(45))
    };
    // Every other event of the last 45 minutes is missed by the hook.
    let mut delivered = Vec::new();
    let mut missed = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match recent(e) && i % 2 == 1 {
            true => missed.push(e.clone()),
            false => delivered.push(e.clone()),
        }
    }
    assert!(missed.len() >= 4, "{}", missed.len());

    let report = t.sim.deliver(delivered.clone()).await;
    assert_eq!(report.dropped(), 0);
    let never_deliverable =
        |e: &&Value| !Coverage::Extended.includes(e["eventType"].as_str().unwrap_or(""));
    let ineligible = delivered.iter().filter(never_deliverable).count();
    let ineligible_missed = missed.iter().filter(never_deliverable).count();
    assert_eq!(
        ineligible + ineligible_missed,
        2,
        "the deny_push events: in the System Log only"
    );
    assert_eq!(
        report.delivered(),
        delivered.len() - ineligible,
        "delivered"
    );
    t.sim.append_log(missed.clone());
    let filled = okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    assert_eq!(
        filled.inserted as usize,
        missed.len() - ineligible_missed,
        "gap-filled"
    );
    t.wait_processed().await;
    let stored = count(&pool, "SELECT count(*) FROM okta_event_keys").await as usize;
    assert_eq!(
        stored,
        events.len() - 2,
        "every subscribed event once, no deny_push"
    );

    let detections = t.all_runtime_events("").await;
    let rules: HashSet<&str> = detections
        .iter()
        .filter_map(|d| d["rule_name"].as_str())
        .collect();
    for rule in [
        "Okta Identity Provider Created",
        "Okta Org2Org Application Created or Changed",
        "Okta Policy Rule Deactivated or Deleted",
        "Okta Super Administrator Role Granted to a Group",
        "Okta Sensitive Change After a Proxy Sign-In",
        "Okta User Reported Suspicious Activity",
        "Okta MFA Factor Suspended",
        "Okta MFA Deactivated and Not Re-Enrolled",
    ] {
        assert!(rules.contains(rule), "{rule} not in {rules:?}");
    }
    let output_of = |rule: &str| -> Vec<String> {
        detections
            .iter()
            .filter(|d| d["rule_name"] == rule)
            .filter_map(|d| d["output"].as_str().map(str::to_owned))
            .collect()
    };
    let unenrolled = output_of("Okta MFA Deactivated and Not Re-Enrolled");
    assert_eq!(
        unenrolled.len(),
        1,
        "Grace re-enrolled at once: {unenrolled:?}"
    );
    assert!(unenrolled[0].contains(UNENROLLED_USER), "{unenrolled:?}");
    assert!(
        output_of("Okta Sensitive Change After a Proxy Sign-In")
            .iter()
            .all(|o| o.contains(PROXY_ADMIN))
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_standard_integration_neither_receives_nor_gap_fills_extended_types(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    assert_eq!(subscribed(&t), sorted(Coverage::Standard));
    let extended = log_event("group.privilege.grant", "frank@acme.com");
    let standard = log_event("user.session.start", "frank@acme.com");
    let report = t
        .sim
        .deliver(vec![extended.clone(), standard.clone()])
        .await;
    assert_eq!(report.delivered(), 1, "only the subscribed type");
    t.sim
        .append_log(vec![log_event("policy.rule.delete", "frank@acme.com")]);
    execute(&pool, "UPDATE integrations SET gapfill_needed = true").await;
    let filled = okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    assert_eq!(
        filled.inserted, 0,
        "the System Log's extended types are not the hook's"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM okta_event_keys").await,
        1
    );
}
