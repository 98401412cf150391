//! The wizard against the Okta simulator: both directions, every error code, state machine,
//! tenant isolation, roles, bad input, delete.

mod common;

use common::TestApp;
use okta_ingest::sim::DownMode;
use okta_ingest::store::tenants::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

async fn launch(t: &TestApp) -> String {
    let (status, body) = t
        .post(
            "/api/v1/integrations/okta/launch",
            json!({ "org": t.sim.base_url }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn validate(t: &TestApp, id: &str, creds: Value) -> (StatusCode, Value) {
    t.post(&format!("/api/v1/integrations/okta/{id}/validate"), creds)
        .await
}

fn our_hooks(t: &TestApp) -> Vec<okta_ingest::sim::HookView> {
    t.sim
        .hooks()
        .into_iter()
        .filter(|h| h.uri.starts_with(&t.base))
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn start_from_sysdig_ends_active_with_a_verified_hook(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (status, launched) = t
        .post(
            "/api/v1/integrations/okta/launch",
            json!({ "org": t.sim.base_url }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(launched["status"], "pending");
    assert!(
        launched["install_url"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let id = launched["id"].as_str().unwrap();

    let (status, validated) = validate(&t, id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "{validated}");
    assert_eq!(validated["status"], "validated");
    assert!(
        validated["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );

    let (status, completed) = t
        .post(
            &format!("/api/v1/integrations/okta/{id}/complete"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{completed}");
    assert_eq!(completed["status"], "active");
    let hooks = our_hooks(&t);
    assert_eq!(hooks.len(), 1);
    assert_eq!(completed["event_hook_id"], json!(hooks[0].id));
    assert_eq!(hooks[0].status, okta_ingest::sim::HookStatus::Active);
    assert_eq!(
        hooks[0].verification_status,
        okta_ingest::sim::VerificationStatus::Verified
    );
    assert_eq!(hooks[0].events.len(), 18);

    let (_, shown) = t.get(&format!("/api/v1/integrations/okta/{id}")).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["events_received"], 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn start_from_okta_ends_active(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_okta().await;
    let (_, shown) = t.get(&format!("/api/v1/integrations/okta/{id}")).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["created_from"], "okta");
    assert_eq!(our_hooks(&t).len(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn rerunning_validate_and_complete_never_makes_a_second_hook(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    assert_eq!(validate(&t, &id, t.creds()).await.0, StatusCode::OK);
    assert_eq!(validate(&t, &id, t.creds()).await.0, StatusCode::OK);
    for _ in 0..2 {
        let (status, body) = t
            .post(
                &format!("/api/v1/integrations/okta/{id}/complete"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(our_hooks(&t).len(), 1);
    // A hook left unverified by an earlier attempt is adopted, not duplicated.
    t.sim.clear_faults();
    sqlx::query("UPDATE integrations SET status = 'validated'")
        .execute(&pool)
        .await
        .unwrap();
    let (status, body) = t
        .post(
            &format!("/api/v1/integrations/okta/{id}/complete"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(our_hooks(&t).len(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn wrong_secret_is_invalid_client_and_changes_nothing(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    let (status, body) = validate(
        &t,
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
    let (_, shown) = t.get(&format!("/api/v1/integrations/okta/{id}")).await;
    assert_eq!(shown["status"], "pending");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM credentials")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn missing_scope_is_reported(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.sim.set_granted_scopes(&["okta.eventHooks.manage"]);
    let id = launch(&t).await;
    let (status, body) = validate(&t, &id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "missing_scopes", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("okta.logs.read"));
}

#[sqlx::test(migrations = "./migrations")]
async fn org_at_the_hook_limit_is_reported(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.sim.create_foreign_hooks(25);
    let id = launch(&t).await;
    let (status, body) = validate(&t, &id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "event_hook_limit_reached", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("25"));
}

#[sqlx::test(migrations = "./migrations")]
async fn hook_limit_reached_at_creation_surfaces_oktas_error(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    assert_eq!(validate(&t, &id, t.creds()).await.0, StatusCode::OK);
    // Another app takes the last slots between validate and complete.
    t.sim.create_foreign_hooks(25);
    let (status, body) = t
        .post(
            &format!("/api/v1/integrations/okta/{id}/complete"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "event_hook_limit_reached", "{body}");
    let (_, shown) = t.get(&format!("/api/v1/integrations/okta/{id}")).await;
    assert_eq!(shown["status"], "validated");
}

#[sqlx::test(migrations = "./migrations")]
async fn org_down_is_unreachable(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    t.sim.set_down(DownMode::Unavailable);
    let (status, body) = validate(&t, &id, t.creds()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "org_unreachable", "{body}");
}

#[sqlx::test(migrations = "./migrations")]
async fn rate_limit_is_waited_out_then_reported(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    t.sim.fail_next_with_429(1);
    let (status, body) = validate(&t, &id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "one 429 is waited out: {body}");
    t.sim.fail_next_with_429(20);
    let (status, body) = validate(&t, &id, t.creds()).await;
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
    let (_, shown) = t.get(&format!("/api/v1/integrations/okta/{id}")).await;
    assert_eq!(shown["last_error"]["code"], "invalid_client", "{shown}");
    assert!(!shown["warnings"].as_array().unwrap().is_empty());

    let path = format!("/api/v1/integrations/okta/{id}/credentials");
    let (status, body) = t
        .call(
            Method::PUT,
            &path,
            &t.admin,
            Some(json!({ "client_secret": old_secret })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_client");
    let (status, body) = t
        .call(
            Method::PUT,
            &path,
            &t.admin,
            Some(json!({ "client_secret": new_secret })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, shown) = t.get(&format!("/api/v1/integrations/okta/{id}")).await;
    assert_eq!(shown["status"], "active");
    assert!(shown["last_error"].is_null(), "{shown}");
}

#[sqlx::test(migrations = "./migrations")]
async fn steps_out_of_order_answer_409_naming_the_missing_step(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    let (status, body) = t
        .post(
            &format!("/api/v1/integrations/okta/{id}/complete"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "validation_required");
    assert_eq!(validate(&t, &id, t.creds()).await.0, StatusCode::OK);
    assert_eq!(
        t.post(
            &format!("/api/v1/integrations/okta/{id}/complete"),
            json!({})
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, body) = validate(&t, &id, t.creds()).await;
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
    assert_eq!(t.get(&base).await.1["status"], "active");
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_input_gets_precise_problems(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = launch(&t).await;
    let url = |path: &str| format!("{}{path}", t.base);
    let validate_path = format!("/api/v1/integrations/okta/{id}/validate");

    let raw = |path: String, body: &'static str, content_type: &'static str| {
        t.http
            .post(url(&path))
            .bearer_auth(&t.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(reqwest::Response, StatusCode, &str)> = vec![
        (
            raw(validate_path.clone(), "{", "application/json")
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(
                validate_path.clone(),
                r#"{"client_id":1,"client_secret":"x"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            raw(
                validate_path.clone(),
                r#"{"client_id":"a","client_secret":"x","extra":1}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            raw(
                validate_path.clone(),
                r#"{"client_id":"a","client_secret":"   "}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_client_secret",
        ),
        (
            raw(
                validate_path.clone(),
                r#"{"client_id":"","client_secret":"x"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_client_id",
        ),
        (
            raw(
                validate_path.clone(),
                r#"{"client_id":"a","client_secret":"x"}"#,
                "text/plain",
            )
            .await
            .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(
                "/api/v1/integrations/okta/not-a-uuid/validate".into(),
                r#"{"client_id":"a","client_secret":"x"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            raw(
                "/api/v1/integrations/okta/launch".into(),
                r#"{"org":"https://127.0.0.1.nip.io@evil.com/"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_domain",
        ),
        (
            raw(
                "/api/v1/integrations/okta/launch".into(),
                r#"{"org":"http://169.254.169.254/latest"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_domain",
        ),
    ];
    for (response, expected_status, expected_code) in cases {
        assert_eq!(response.status(), expected_status);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], expected_code, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = t
        .http
        .post(url(&validate_path))
        .bearer_auth(&t.admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = t
        .http
        .get(url("/api/v1/integrations/okta"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Nothing was half-written, and the service still answers.
    assert_eq!(
        t.get(&format!("/api/v1/integrations/okta/{id}")).await.1["status"],
        "pending"
    );
    assert_eq!(
        t.http.get(url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn delete_removes_the_hook_and_credentials_and_the_key_answers_410(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let hook_key: String = sqlx::query_scalar("SELECT hook_key FROM integrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (status, _) = t
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/okta/{id}"),
            &t.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(our_hooks(&t).is_empty());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM credentials")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let response = t
        .http
        .post(format!("{}/hooks/okta/{hook_key}", t.base))
        .header("authorization", "anything")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(
        t.get(&format!("/api/v1/integrations/okta/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn delete_while_okta_is_down_retries_in_the_background(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    t.sim.set_down(DownMode::Unavailable);
    let (status, _) = t
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/okta/{id}"),
            &t.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.get(&format!("/api/v1/integrations/okta/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        our_hooks(&t).len(),
        1,
        "Okta was down: the hook is still there"
    );
    okta_ingest::ingest::background::run_jobs(&t.app.services).await;
    assert_eq!(our_hooks(&t).len(), 1);

    t.sim.clear_faults();
    sqlx::query("UPDATE okta_jobs SET run_after = now()")
        .execute(&pool)
        .await
        .unwrap();
    okta_ingest::ingest::background::run_jobs(&t.app.services).await;
    assert!(our_hooks(&t).is_empty());
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM okta_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM credentials")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((jobs, stored), (0, 0));
}
