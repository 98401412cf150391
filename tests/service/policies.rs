//! Policies through the API: managed listing and switches, custom policies validated on write
//! and used by the worker from the next event on, without a restart.

use okta_ingest::store::policies::Insert;
use okta_ingest::store::tenants::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{TestApp, count, log_event, okta_policy};

const VIP_RULES: &str = r#"- list: vips
  items: [ceo@acme.com, cfo@acme.com]
- rule: VIP account locked
  desc: a VIP's account was locked
  condition: okta.evt.type = user.account.lock and okta.actor.alternateid in (vips)
  output: "VIP %okta.actor.alternateid locked out (ip %okta.client.ip)"
  priority: CRITICAL
  source: okta
  tags: [T1110]
"#;

async fn vip_detections(t: &TestApp) -> usize {
    t.all_runtime_events("&policy=vip").await.len()
}

#[sqlx::test(migrations = "./migrations")]
async fn managed_policies_are_listed_and_switchable_per_tenant(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (status, listed) = t.policies("?managed=true&type=okta").await;
    assert_eq!(status, StatusCode::OK);
    let items = listed["items"].as_array().unwrap();
    assert!(items.len() >= 5, "at least five managed policies");
    assert!(
        items
            .iter()
            .all(|p| p["managed"] == true && p["type"] == "okta" && p["enabled"] == true)
    );
    let id = items[0]["id"].as_str().unwrap();
    let (status, shown) = t.policy(id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!shown["rules"].as_array().unwrap().is_empty());

    let path = format!("/api/v1/policies/{id}");
    let (status, body) = t.patch_policy(id, json!({ "enabled": false })).await;
    assert_eq!(
        (status, body["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (_, other) = t.other_tenant().await;
    let (_, theirs) = t.call(Method::GET, &path, &other, None).await;
    assert_eq!(theirs["enabled"], true, "a switch is per tenant");
    assert_eq!(t.delete_policy(id).await, StatusCode::CONFLICT);
    let viewer = t.token(Role::Viewer).await;
    assert_eq!(
        t.call(
            Method::PATCH,
            &path,
            &viewer,
            Some(json!({ "enabled": true }))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.policies("?type=aws").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn custom_policies_change_detections_without_a_restart(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let (status, created) = t.create_policy(okta_policy("vip", VIP_RULES)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    t.sim
        .deliver(vec![
            log_event("user.account.lock", "ceo@acme.com"),
            log_event("user.account.lock", "intern@acme.com"),
        ])
        .await;
    t.wait_processed().await;
    assert_eq!(vip_detections(&t).await, 1);
    let found = t.all_runtime_events("&q=VIP").await;
    assert!(
        found[0]["output"]
            .as_str()
            .unwrap()
            .contains("ceo@acme.com locked out")
    );

    assert_eq!(
        t.patch_policy(&id, json!({ "enabled": false })).await.0,
        StatusCode::OK
    );
    t.sim
        .deliver(vec![log_event("user.account.lock", "cfo@acme.com")])
        .await;
    t.wait_processed().await;
    assert_eq!(vip_detections(&t).await, 1, "disabled: no new detection");

    let widened = VIP_RULES.replace(
        "[ceo@acme.com, cfo@acme.com]",
        "[ceo@acme.com, cfo@acme.com, cto@acme.com]",
    );
    let (status, _) = t
        .patch_policy(&id, json!({ "enabled": true, "rules": widened }))
        .await;
    assert_eq!(status, StatusCode::OK);
    t.sim
        .deliver(vec![log_event("user.account.lock", "cto@acme.com")])
        .await;
    t.wait_processed().await;
    assert_eq!(
        vip_detections(&t).await,
        2,
        "changed rules apply from the next event on"
    );

    assert_eq!(t.delete_policy(&id).await, StatusCode::NO_CONTENT);
    assert_eq!(t.policy(&id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(vip_detections(&t).await, 2, "runtime events stay");
}

#[sqlx::test(migrations = "./migrations")]
async fn invalid_rules_are_refused_with_line_and_reason(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let bad = "- rule: Broken\n  desc: x\n  condition: (okta.evt.type = x\n  output: x\n  priority: INFO\n  source: okta\n";
    let (status, body) = t.create_policy(okta_policy("broken", bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_rules");
    assert_eq!(body["line"], 3, "{body}");
    let unknown = "- rule: Unknown field\n  desc: x\n  condition: okta.nope = 1\n  output: x\n  priority: INFO\n  source: okta\n";
    let (status, body) = t.create_policy(okta_policy("unknown", unknown)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("okta.nope"),
        "{body}"
    );
    let (status, _) = t
        .create_policy(json!({ "name": "x", "type": "aws", "rules": VIP_RULES }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        t.create_policy(okta_policy("vip", VIP_RULES)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        t.create_policy(okta_policy("vip", VIP_RULES)).await.0,
        StatusCode::CONFLICT
    );
    let (_, listed) = t.policies("?managed=false").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

/// `count` custom policies named `vip 0`, `vip 1`, …
async fn create_vip_policies(t: &TestApp, count: usize) {
    for i in 0..count {
        let (status, body) = t
            .create_policy(okta_policy(&format!("vip {i}"), VIP_RULES))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {body}");
    }
}

/// Every custom policy of a tenant is compiled again when one changes: a tenant has at most
/// 100, and the 101st is refused with what to do; deleting one makes room again.
#[sqlx::test(migrations = "./migrations")]
async fn a_tenant_has_at_most_a_hundred_custom_policies(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    create_vip_policies(&t, 100).await;
    let (status, body) = t.create_policy(okta_policy("one more", VIP_RULES)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "too_many_policies", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("at most 100"),
        "{body}"
    );

    let (_, listed) = t.policies("?managed=false").await;
    let first = listed["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(t.delete_policy(&first).await, StatusCode::NO_CONTENT);
    let (status, body) = t.create_policy(okta_policy("one more", VIP_RULES)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The limit held only for creates one at a time: concurrent ones each counted below 100
/// before any of them inserted, and the tenant ended with more.
#[sqlx::test(migrations = "./migrations")]
async fn concurrent_creates_stop_at_a_hundred_custom_policies(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    create_vip_policies(&t, 95).await;
    let creates = (0..20).map(|i| t.create_policy(okta_policy(&format!("late {i}"), VIP_RULES)));
    let answers = futures::future::join_all(creates).await;

    let codes: Vec<_> = answers
        .iter()
        .map(|(status, body)| (status.as_u16(), &body["code"]))
        .collect();
    let created = codes.iter().filter(|(status, _)| *status == 201).count();
    let refused = codes
        .iter()
        .filter(|(_, code)| *code == "too_many_policies")
        .count();
    assert_eq!((created, refused), (5, 15), "{codes:?}");
    let (_, listed) = t.policies("?managed=false").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 100, "{listed}");
}

/// Hardening defects 1 and 2: one hostile policy used to overflow the stack or exhaust memory
/// of the whole service. Now each is a 422 naming the line, and the service keeps answering.
#[sqlx::test(migrations = "./migrations")]
async fn hostile_policies_are_refused_and_the_service_stays_up(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let rule = |condition: &str| {
        format!(
            "- rule: r\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n"
        )
    };
    let mut doubling = String::from("- macro: m0\n  condition: okta.evt.type = x\n");
    for i in 1..=26 {
        doubling.push_str(&format!(
            "- macro: m{i}\n  condition: m{p} or m{p}\n",
            p = i - 1
        ));
    }
    doubling.push_str(&rule("m26"));
    let hostile = [
        rule(&format!("{}okta.evt.type = x", "not ".repeat(3_000))),
        rule(&format!(
            "{}okta.evt.type = x{}",
            "(".repeat(2_000),
            ")".repeat(2_000)
        )),
        doubling,
    ];
    for (i, rules) in hostile.into_iter().enumerate() {
        let (status, body) = t
            .create_policy(okta_policy(&format!("hostile {i}"), &rules))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "invalid_rules");
        assert!(body["line"].as_u64().is_some_and(|l| l >= 1), "{body}");
        assert_eq!(t.get("/healthz").await.0, StatusCode::OK);
    }
    let (_, listed) = t.policies("?managed=false").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
}

/// Counts of what a dry run must leave alone.
async fn written(t: &TestApp) -> (i64, i64, i64) {
    (
        count(t.pool(), "SELECT count(*) FROM runtime_events").await,
        count(t.pool(), "SELECT count(*) FROM policies").await,
        count(t.pool(), "SELECT count(*) FROM detect_state").await,
    )
}

#[sqlx::test(migrations = "./migrations")]
async fn rules_under_test_run_over_recent_events_and_write_nothing(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.sim
        .deliver(vec![
            log_event("user.account.lock", "ceo@acme.com"),
            log_event("user.account.lock", "intern@acme.com"),
            log_event("user.session.start", "ceo@acme.com"),
        ])
        .await;
    t.wait_processed().await;
    let before = written(&t).await;

    let (status, run) = t
        .post("/api/v1/policies/test", json!({ "rules": VIP_RULES }))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["events_scanned"], 3);
    assert_eq!(run["truncated"], false);
    let detections = run["detections"].as_array().unwrap();
    assert_eq!(detections.len(), 1, "{run}");
    assert_eq!(detections[0]["rule"], "VIP account locked");
    assert_eq!(detections[0]["severity"], "high");
    assert!(
        detections[0]["output"]
            .as_str()
            .unwrap()
            .contains("VIP ceo@acme.com locked out")
    );
    assert_eq!(written(&t).await, before, "a dry run writes nothing");

    let later = json!({ "rules": VIP_RULES, "since": "2999-01-01T00:00:00Z" });
    let (status, later) = t.post("/api/v1/policies/test", later).await;
    assert_eq!(
        (status, later["events_scanned"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let viewer = t.token(Role::Viewer).await;
    let body = json!({ "rules": VIP_RULES });
    let (status, _) = t
        .call(Method::POST, "/api/v1/policies/test", &viewer, Some(body))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "rules under test are an admin's"
    );
    let (_, other) = t.other_tenant().await;
    let body = json!({ "rules": VIP_RULES });
    let (_, theirs) = t
        .call(Method::POST, "/api/v1/policies/test", &other, Some(body))
        .await;
    assert_eq!(
        theirs["events_scanned"], 0,
        "another tenant's events are not theirs"
    );

    let broken = VIP_RULES.replace("in (vips)", "in (vips");
    let (status, problem) = t
        .post("/api/v1/policies/test", json!({ "rules": broken }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "invalid_rules");
    assert_eq!(problem["line"], 5, "{problem}");
    assert_eq!(written(&t).await, before);
}

/// A YAML escape (`"\0"`, `"\x00"`) put a NUL into a rule's output, tags or name although
/// the rules text itself has none: the policy was accepted, then Postgres refused every
/// runtime event of the rule, and each event it fired on was quarantined with the managed
/// policies' detections on it. Such rules are refused on write; one stored before is skipped
/// by the worker, and the managed detections are written.
#[sqlx::test(migrations = "./migrations")]
async fn a_nul_escaped_into_a_rule_costs_no_event(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let escaped = [
        (
            "output",
            "  output: \"token \\0 %okta.actor.alternateid\"\n  priority: WARNING\n",
        ),
        (
            "tags",
            "  output: token\n  priority: WARNING\n  tags: [\"a\\x00b\"]\n",
        ),
    ];
    for (what, tail) in escaped {
        let rules = format!(
            "- rule: NUL in {what}\n  desc: d\n  condition: okta.evt.type = system.api_token.create\n{tail}"
        );
        let (status, body) = t.create_policy(okta_policy(what, &rules)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(body["code"], "invalid_rules", "{body}");
        assert!(body["line"].as_u64().is_some_and(|l| l >= 4), "{body}");

        // As a policy stored before this was refused.
        let now = chrono::Utc::now();
        let mut stored = okta_ingest::store::policies::CustomPolicy {
            id: okta_ingest::ids::PolicyId::new(),
            tenant_id: t.tenant_id,
            name: format!("stored {what}"),
            description: String::new(),
            rules,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let inserted = okta_ingest::store::policies::insert_custom(t.pool(), &mut stored, 100);
        assert_eq!(inserted.await.unwrap(), Insert::Done);
    }
    t.sim
        .deliver(vec![log_event("system.api_token.create", "admin@acme.com")])
        .await;
    t.wait_processed().await;
    let quarantined: Vec<String> = sqlx::query_scalar("SELECT reason FROM quarantined_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(quarantined, Vec::<String>::new());
    let created = t.all_runtime_events("&q=token").await;
    assert!(
        created
            .iter()
            .any(|e| e["rule_name"] == "Okta API Token Created"),
        "the managed detection is written: {created:?}"
    );
}

/// A custom policy that went over the compile time limit in a busy worker is left out of
/// that engine, but only for a while: it is compiled again (here, once the worker is no
/// longer slow), while a policy that is refused for its text stays out. The time limit is
/// made zero to stand for a slow machine.
#[sqlx::test(migrations = "./migrations")]
async fn a_policy_over_the_compile_time_limit_is_compiled_again_later(pool: PgPool) {
    use okta_ingest::detect::Engine;
    use okta_ingest::ids::TenantId;
    use okta_ingest::service::policies::Engines;
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    let t = TestApp::spawn(&pool).await;
    // Over 1,024 list items: the compiler looks at the clock.
    let big = vip_rules_listing(1_500);
    let (status, created) = t.create_policy(okta_policy("big", &big)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let names = |engines: &HashMap<TenantId, Arc<Engine>>| -> Vec<String> {
        engines[&t.tenant_id]
            .policies()
            .iter()
            .map(|(policy, _)| policy.name.clone())
            .filter(|name| name == "big")
            .collect()
    };

    // A skipped policy is tried again at once (in the worker, after a minute).
    let engines = Engines::new(
        okta_ingest::detect::limits::MAX_COMPILE_TIME,
        Duration::ZERO,
    );
    let busy = engines
        .with_compile_limit(Duration::ZERO)
        .for_tenants(&pool, &[t.tenant_id])
        .await
        .unwrap();
    assert!(names(&busy).is_empty(), "over the limit: left out");
    let later = engines.for_tenants(&pool, &[t.tenant_id]).await.unwrap();
    assert_eq!(
        names(&later),
        ["big"],
        "compiled again, not cached as final"
    );
}

/// A tenant whose policies take long to compile holds up only its own engine: another
/// tenant's engine (another worker's batch) is ready meanwhile, not after it.
#[sqlx::test(migrations = "./migrations")]
async fn one_tenants_slow_compile_does_not_hold_up_another_tenants_engine(pool: PgPool) {
    use okta_ingest::service::policies::Engines;

    let t = TestApp::spawn(&pool).await;
    let big = vip_rules_listing(3_000);
    for i in 0..40 {
        let (status, body) = t
            .create_policy(okta_policy(&format!("big {i}"), &big))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (other, _) = t.other_tenant().await;
    let engines = Engines::default();
    let slow = tokio::spawn({
        let (engines, pool, tenant) = (engines.clone(), pool.clone(), t.tenant_id);
        async move { engines.for_tenants(&pool, &[tenant]).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    engines.for_tenants(&pool, &[other]).await.unwrap();
    assert!(
        !slow.is_finished(),
        "ready while the slow tenant still compiles"
    );
    slow.await.unwrap();
}

/// A dry run's `since` before 4713 BC (which the body's RFC 3339 time allows) reached
/// Postgres and was a 500; it is refused as the feed refuses such times.
#[sqlx::test(migrations = "./migrations")]
async fn a_dry_run_since_postgres_cannot_store_is_a_422(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    for since in ["-9999-01-01T00:00:00Z", "+200000-01-01T00:00:00Z"] {
        let body = json!({ "rules": VIP_RULES, "since": since });
        let (status, problem) = t.post("/api/v1/policies/test", body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
            "{since}: {problem}"
        );
        assert!(problem["detail"].as_str().unwrap().contains("since"));
    }
}

/// A PATCH of a custom policy with nothing to change (`{}`, or only nulls) was a 200 that
/// touched `updated_at` (and so recompiled the tenant's engine); the document promises
/// `invalid_body`, as a managed policy answers.
#[sqlx::test(migrations = "./migrations")]
async fn a_patch_with_nothing_to_change_is_a_422(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (status, created) = t.create_policy(okta_policy("vip", VIP_RULES)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, before) = t.policy(id).await;
    for body in [json!({}), json!({ "enabled": null, "rules": null })] {
        let (status, problem) = t.patch_policy(id, body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
            "{body}: {problem}"
        );
    }
    let (_, shown) = t.policy(id).await;
    assert_eq!(shown["updated_at"], before["updated_at"]);
}

/// The policy a POST or PATCH answers is the one stored: its `created_at` was the service's
/// clock (nanoseconds, not the row's), and a PATCH answered the previous `updated_at`.
#[sqlx::test(migrations = "./migrations")]
async fn a_written_policy_is_answered_with_its_stored_times(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (status, created) = t.create_policy(okta_policy("vip", VIP_RULES)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, stored) = t.policy(id).await;
    for time in ["created_at", "updated_at"] {
        assert_eq!(created[time], stored[time], "{time}");
    }
    for patch in [json!({ "enabled": false }), json!({ "description": "off" })] {
        let (status, patched) = t.patch_policy(id, patch).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let (_, stored) = t.policy(id).await;
        assert_eq!(patched["updated_at"], stored["updated_at"], "{patched}");
        assert_eq!(patched["created_at"], created["created_at"]);
    }
}

/// A body over the API's 1 MiB limit (a big rules file, its JSON escaping included) was
/// refused with "the body is too large": the problem now names the limit to stay under.
#[sqlx::test(migrations = "./migrations")]
async fn a_body_over_the_limit_is_told_the_limit(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let rules = format!("{VIP_RULES}# {}\n", "\"".repeat(600 * 1024));
    let (status, problem) = t.create_policy(okta_policy("big", &rules)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("1 MiB"),
        "{problem}"
    );
}

/// [`VIP_RULES`] with a VIP list of `users` addresses: over 1,024 list items the compiler
/// looks at its clock, and the more items the longer it compiles.
fn vip_rules_listing(users: usize) -> String {
    let items: Vec<String> = (0..users).map(|i| format!("u{i}@acme.com")).collect();
    VIP_RULES.replace("ceo@acme.com, cfo@acme.com", &items.join(", "))
}
