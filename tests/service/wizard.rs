//! The wizard against the Okta simulator: both directions, every error code, state machine,
//! tenant isolation, roles, bad input, delete.

use okta_ingest::sim::{DownMode, HookLimitAt, SimOptions};
use okta_ingest::store::tenants::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{JSON, TestApp, count, execute};

#[sqlx::test(migrations = "./migrations")]
async fn start_from_sysdig_ends_active_with_a_verified_hook(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (status, launched) = t.launch(&t.sim.base_url).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(launched["status"], "pending");
    assert!(
        launched["install_url"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let id = launched["id"].as_str().unwrap();

    let (status, validated) = t.validate(id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "{validated}");
    assert_eq!(validated["status"], "validated");
    assert!(
        validated["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );

    let (status, completed) = t.complete(id).await;
    assert_eq!(status, StatusCode::OK, "{completed}");
    assert_eq!(completed["status"], "active");
    let hooks = t.our_hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(completed["event_hook_id"], json!(hooks[0].id));
    assert_eq!(hooks[0].status, okta_ingest::sim::HookStatus::Active);
    assert_eq!(
        hooks[0].verification_status,
        okta_ingest::sim::VerificationStatus::Verified
    );
    assert_eq!(hooks[0].events.len(), 18);

    let (_, shown) = t.integration(id).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["events_received"], 0);
}

/// A Complete whose caller hangs up (a closed tab, a proxy's timeout) used to stop between two
/// Okta calls: the hook created in the org but never verified, the integration not active.
#[sqlx::test(migrations = "./migrations")]
async fn a_complete_whose_caller_hangs_up_still_finishes(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.sim.set_latency(std::time::Duration::from_millis(300));

    let caller = tokio::spawn({
        let (http, url) = (
            t.http.clone(),
            format!("{}/api/v1/integrations/okta/{id}/complete", t.base),
        );
        let auth = format!("Bearer {}", t.admin);
        async move { http.post(url).header("authorization", auth).send().await }
    });
    while t.sim.counters().hooks_created == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    caller.abort();

    let mut status = Value::Null;
    for _ in 0..200 {
        status = t.integration(&id).await.1["status"].clone();
        if status == "active" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "active");
    let hooks = t.our_hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].status, okta_ingest::sim::HookStatus::Active);
}

#[sqlx::test(migrations = "./migrations")]
async fn start_from_okta_ends_active(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_okta().await;
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["created_from"], "okta");
    assert_eq!(t.our_hooks().len(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn rerunning_validate_and_complete_never_makes_a_second_hook(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    for _ in 0..2 {
        let (status, body) = t.complete(&id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(t.our_hooks().len(), 1);
    // A hook left unverified by an earlier attempt is adopted, not duplicated.
    t.sim.clear_faults();
    execute(&pool, "UPDATE integrations SET status = 'validated'").await;
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.our_hooks().len(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn wrong_secret_is_invalid_client_and_changes_nothing(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    let (status, body) = t
        .validate(
            &id,
            json!({ "client_id": t.sim.client_id, "client_secret": "not-the-secret" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_client");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Sysdig") && detail.to_lowercase().contains("reinstall"),
        "{detail}"
    );
    assert!(
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["ok"] == false)
    );
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "pending");
    assert_eq!(count(&pool, "SELECT count(*) FROM credentials").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn missing_scope_is_reported(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.sim.set_granted_scopes(&["okta.eventHooks.manage"]);
    let id = t.launch_pending().await;
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "missing_scopes", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("okta.logs.read"));
}

#[sqlx::test(migrations = "./migrations")]
async fn org_at_the_hook_limit_is_reported(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.sim.create_foreign_hooks(25);
    let id = t.launch_pending().await;
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "event_hook_limit_reached", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("25"));
}

#[sqlx::test(migrations = "./migrations")]
async fn hook_limit_reached_at_creation_surfaces_oktas_error(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    // Another app takes the last slots between validate and complete.
    t.sim.create_foreign_hooks(25);
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "event_hook_limit_reached", "{body}");
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "validated");
}

#[sqlx::test(migrations = "./migrations")]
async fn hook_limit_enforced_at_create_is_reported_too(pool: PgPool) {
    let options = SimOptions {
        hook_limit_at: HookLimitAt::Create,
        ..SimOptions::default().with_deterministic_delivery()
    };
    let t = TestApp::spawn_with(&pool, options, |_| {}).await;
    let id = t.launch_pending().await;
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    t.sim.create_foreign_hooks(25);
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "event_hook_limit_reached", "{body}");
    assert!(t.our_hooks().is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn an_http_public_url_is_refused_with_its_own_code(pool: PgPool) {
    let options = SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| {
        c.public_url = "http://okta-ingest.example.com".into();
    })
    .await;
    let id = t.launch_pending().await;
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "public_url_not_https", "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("OKTA_INGEST_PUBLIC_URL") && detail.contains("https"),
        "{detail}"
    );
    assert!(t.our_hooks().is_empty(), "nothing was created in Okta");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_unreachable_hook_url_is_hook_verification_failed(pool: PgPool) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let options = SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| {
        c.public_url = format!("http://{closed}");
    })
    .await;
    let id = t.launch_pending().await;
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "hook_verification_failed", "{body}");
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "validated");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_okta_server_error_is_okta_error(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    t.sim.fail_next_with_500(1);
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "okta_error", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("500"), "{body}");
}

#[sqlx::test(migrations = "./migrations")]
async fn org_down_is_unreachable(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    t.sim.set_down(DownMode::Unavailable);
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "org_unreachable", "{body}");
}

#[sqlx::test(migrations = "./migrations")]
async fn rate_limit_is_waited_out_then_reported(pool: PgPool) {
    // Windows of 2 s instead of Okta's minute: the one 429 is waited out quickly.
    let mut options = SimOptions::default().with_deterministic_delivery();
    options.rate_limits.window = std::time::Duration::from_secs(2);
    let t = TestApp::spawn_with(&pool, options, |_| {}).await;
    let id = t.launch_pending().await;
    t.sim.fail_next_with_429(1);
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "one 429 is waited out: {body}");
    t.sim.fail_next_with_429(20);
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "okta_rate_limited", "{body}");
}

#[sqlx::test(migrations = "./migrations")]
async fn rotated_secret_shows_on_status_and_is_fixed_by_rotation(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let old_secret = t.sim.client_secret();
    let new_secret = t.sim.rotate_client_secret();
    assert_ne!(old_secret, new_secret);
    // Tokens issued before the rotation stay valid until they expire; expire them now.
    t.sim.revoke_tokens();

    okta_ingest::ingest::gapfill::run_due(&t.app.services)
        .await
        .unwrap();
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["last_error"]["code"], "invalid_client", "{shown}");
    assert!(!shown["warnings"].as_array().unwrap().is_empty());

    let (status, body) = t.replace_secret(&id, &old_secret).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_client");
    let (status, body) = t.replace_secret(&id, &new_secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, shown) = t.integration(&id).await;
    assert_eq!(shown["status"], "active");
    assert!(shown["last_error"].is_null(), "{shown}");
}

/// Okta honours a token issued before the rotation; a check must not take it as proof.
#[sqlx::test(migrations = "./migrations")]
async fn a_secret_deactivated_in_okta_fails_the_checks_despite_a_cached_token(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let old_secret = t.sim.client_secret();
    t.sim.rotate_client_secret();
    let stored = "SELECT nonce, ciphertext FROM credentials";
    let before: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(stored).fetch_all(&pool).await.unwrap();
    let (_, shown_before) = t.integration(&id).await;

    let (status, body) = t.replace_secret(&id, &old_secret).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_client", "{body}");
    let failed: Vec<&Value> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{body}");
    assert_eq!(failed[0]["name"], "client_credentials", "{body}");
    let after: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(stored).fetch_all(&pool).await.unwrap();
    assert_eq!(before, after, "the stored secret was not re-sealed");
    assert_eq!(t.integration(&id).await.1, shown_before);

    // Create-from-Okta and validate check the same way (in another tenant: a tenant
    // connects an org once; the token cache is shared).
    let (_, other) = t.other_tenant().await;
    let old = json!({ "client_id": t.sim.client_id, "client_secret": old_secret });
    let mut from_okta = old.clone();
    from_okta["okta_domain"] = json!(t.sim.base_url);
    let integrations = "/api/v1/integrations/okta";
    let (status, body) = t
        .call(Method::POST, integrations, &other, Some(from_okta))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_client", "{body}");
    let launch = json!({ "org": t.sim.base_url });
    let launch_path = format!("{integrations}/launch");
    let (status, launched) = t
        .call(Method::POST, &launch_path, &other, Some(launch))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{launched}");
    let validate = format!(
        "{integrations}/{}/validate",
        launched["id"].as_str().unwrap()
    );
    let (status, body) = t.call(Method::POST, &validate, &other, Some(old)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_client", "{body}");
}

#[sqlx::test(migrations = "./migrations")]
async fn steps_out_of_order_answer_409_naming_the_missing_step(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "validation_required");
    assert_eq!(t.validate(&id, t.creds()).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "already_active");
}

#[sqlx::test(migrations = "./migrations")]
async fn another_tenant_gets_404_and_a_viewer_403(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let (_, other) = t.other_tenant().await;
    let viewer = t.token(Role::Viewer).await;
    let base = format!("/api/v1/integrations/okta/{id}");
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, format!("{base}/validate"), Some(t.creds())),
        (Method::POST, format!("{base}/complete"), Some(json!({}))),
        (
            Method::PUT,
            format!("{base}/credentials"),
            Some(json!({ "client_secret": "x" })),
        ),
        (Method::DELETE, base.clone(), None),
    ];
    for (method, path, body) in &writes {
        let (status, _) = t.call(method.clone(), path, &other, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {path} as another tenant"
        );
        let (status, problem) = t.call(method.clone(), path, &viewer, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as viewer");
        assert_eq!(problem["code"], "forbidden");
    }
    assert_eq!(
        t.call(Method::GET, &base, &other, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.call(Method::GET, &base, &viewer, None).await.0,
        StatusCode::OK
    );
    let (_, listed) = t
        .call(Method::GET, "/api/v1/integrations/okta", &other, None)
        .await;
    assert_eq!(listed["items"], json!([]));
    let (status, _) = t
        .call(
            Method::POST,
            "/api/v1/integrations/okta/launch",
            &viewer,
            Some(json!({ "org": "acme" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Still intact for its owner.
    assert_eq!(t.integration(&id).await.1["status"], "active");
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_input_gets_precise_problems(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    let validate = format!("/api/v1/integrations/okta/{id}/validate");
    let launch = "/api/v1/integrations/okta/launch";
    let creds = r#"{"client_id":"a","client_secret":"x"}"#;
    // (path, body, content type, status, code)
    let cases: [(&str, &'static str, &str, StatusCode, &str); 9] = [
        (
            &validate,
            "{",
            JSON,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            &validate,
            r#"{"client_id":1,"client_secret":"x"}"#,
            JSON,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            &validate,
            r#"{"client_id":"a","client_secret":"x","extra":1}"#,
            JSON,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            &validate,
            r#"{"client_id":"a","client_secret":"   "}"#,
            JSON,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_client_secret",
        ),
        (
            &validate,
            r#"{"client_id":"","client_secret":"x"}"#,
            JSON,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_client_id",
        ),
        (
            &validate,
            creds,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "/api/v1/integrations/okta/not-a-uuid/validate",
            creds,
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            launch,
            r#"{"org":"https://127.0.0.1.nip.io@evil.com/"}"#,
            JSON,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_domain",
        ),
        (
            launch,
            r#"{"org":"http://169.254.169.254/latest"}"#,
            JSON,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_domain",
        ),
    ];
    for (path, body, content_type, expected_status, expected_code) in cases {
        let case = format!("{body} as {content_type} to {path}");
        let response = t.post_raw(path, content_type, body).await;
        assert_eq!(response.status(), expected_status, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{case}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], expected_code, "{case}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = t.post_raw(&validate, JSON, huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        t.get_without_token("/api/v1/integrations/okta").await,
        StatusCode::UNAUTHORIZED
    );
    // Nothing was half-written, and the service still answers.
    assert_eq!(t.integration(&id).await.1["status"], "pending");
    assert_eq!(t.get_without_token("/healthz").await, StatusCode::OK);
}

#[sqlx::test(migrations = "./migrations")]
async fn delete_removes_the_hook_and_credentials_and_the_key_answers_410(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let hook_key = t.hook().await.key;
    assert_eq!(t.delete_integration(&id).await, StatusCode::NO_CONTENT);
    assert!(t.our_hooks().is_empty());
    assert_eq!(count(&pool, "SELECT count(*) FROM credentials").await, 0);
    let (status, _) = t
        .deliver_hook(&hook_key, Some("anything"), JSON, json!({}).to_string())
        .await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(t.integration(&id).await.0, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "./migrations")]
async fn delete_while_okta_is_down_retries_in_the_background(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    t.sim.set_down(DownMode::Unavailable);
    assert_eq!(t.delete_integration(&id).await, StatusCode::NO_CONTENT);
    assert_eq!(t.integration(&id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        t.our_hooks().len(),
        1,
        "Okta was down: the hook is still there"
    );
    okta_ingest::ingest::background::run_jobs(&t.app.services).await;
    assert_eq!(t.our_hooks().len(), 1);

    t.sim.clear_faults();
    execute(&pool, "UPDATE okta_jobs SET run_after = now()").await;
    okta_ingest::ingest::background::run_jobs(&t.app.services).await;
    assert!(t.our_hooks().is_empty());
    let jobs = count(&pool, "SELECT count(*) FROM okta_jobs").await;
    let stored = count(&pool, "SELECT count(*) FROM credentials").await;
    assert_eq!((jobs, stored), (0, 0));
}

/// A worker batch in flight when its tenant is offboarded: the offboarding waits for it (the
/// queue rows it holds are deleted first) and then deletes what it wrote, so no detection of
/// the tenant is left behind. The batch is played by hand; the app runs no worker.
#[sqlx::test(migrations = "./migrations")]
async fn offboarding_waits_for_a_batch_in_flight_and_leaves_none_of_its_detections(pool: PgPool) {
    let options = SimOptions::default().with_deterministic_delivery();
    let t = TestApp::spawn_with(&pool, options, |c| c.worker_tasks = 0).await;
    t.connect_from_sysdig().await;
    let hook = t.hook().await;
    let events = [crate::support::log_event(
        "user.session.start",
        "a@acme.com",
    )];
    let delivered = t.deliver_events(&hook, &hook.secret, &events).await;
    assert_eq!(delivered, StatusCode::OK);

    let mut batch = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM event_queue WHERE tenant_id = $1 FOR UPDATE")
        .bind(t.tenant_id)
        .fetch_all(&mut *batch)
        .await
        .unwrap();
    let offboarding = tokio::spawn({
        let (services, tenant_id) = (t.app.services.clone(), t.tenant_id);
        async move { services.offboard_tenant(tenant_id).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    sqlx::query(
        "INSERT INTO runtime_events (tenant_id, integration_id, policy_id, policy_name,
             rule_name, severity, priority, output, okta_event_uuid, event_type, published,
             normalized, raw)
         VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'p', 'r', 'low', 'NOTICE', 'o',
             'u', 'user.session.start', now(), '{}', '{}')",
    )
    .bind(t.tenant_id)
    .execute(&mut *batch)
    .await
    .unwrap();
    sqlx::query("DELETE FROM event_queue WHERE tenant_id = $1")
        .bind(t.tenant_id)
        .execute(&mut *batch)
        .await
        .unwrap();
    batch.commit().await.unwrap();
    offboarding.await.unwrap().unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM runtime_events").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn offboarding_while_okta_is_down_leaves_no_row_once_the_hook_is_removed(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.sim.set_down(DownMode::Unavailable);
    let report = t.app.services.offboard_tenant(t.tenant_id).await.unwrap();
    assert_eq!(report.hook_removals_queued, 1);
    assert_eq!(
        t.our_hooks().len(),
        1,
        "Okta was down: the hook is still there"
    );

    t.sim.clear_faults();
    execute(&pool, "UPDATE okta_jobs SET run_after = now()").await;
    okta_ingest::ingest::background::run_jobs(&t.app.services).await;
    assert!(t.our_hooks().is_empty());
    let left = [
        count(&pool, "SELECT count(*) FROM okta_jobs").await,
        count(&pool, "SELECT count(*) FROM credentials").await,
        count(&pool, "SELECT count(*) FROM integrations").await,
        count(&pool, "SELECT count(*) FROM tenants").await,
    ];
    assert_eq!(
        left,
        [0, 0, 0, 0],
        "jobs, credentials, integrations, tenants"
    );
    // The offboarded tenant is gone: no operator can give it a new token.
    let token =
        okta_ingest::service::tokens::create_token_for(&pool, t.tenant_id, Role::Admin, None)
            .await
            .unwrap();
    assert!(token.is_none());
}
