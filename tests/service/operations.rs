//! What operators rely on: probes, metrics, OpenAPI, retention, vault key rotation, start-up
//! refusals with a fix in the message.

use okta_ingest::vault::Vault;
use reqwest::StatusCode;
use secrecy::SecretString;
use sqlx::PgPool;

use crate::support::{TestApp, count, database_url, execute, log_event, test_config};

#[sqlx::test(migrations = "./migrations")]
async fn probes_metrics_and_openapi(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    t.sim
        .deliver(vec![log_event("user.session.start", "a@acme.com")])
        .await;
    t.wait_processed().await;
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(t.get_without_token(probe).await, StatusCode::OK, "{probe}");
    }
    let metrics = t.metrics().await;
    for name in [
        "okta_ingest_hook_requests_total",
        "okta_ingest_events_total",
        "okta_ingest_inbox_depth",
        "okta_ingest_processing_lag_seconds",
        "okta_ingest_worker_batch_seconds",
        "okta_ingest_okta_api_calls_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let (status, spec) = t.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/integrations/okta/{id}/validate"));
    assert!(
        paths["/hooks/okta/{hook_key}"].get("get").is_some()
            && paths["/hooks/okta/{hook_key}"].get("post").is_some()
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn old_inbox_partitions_and_runtime_events_are_dropped(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    execute(&pool, "CREATE TABLE okta_events_20200101 PARTITION OF okta_events FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')").await;
    let dropped = okta_ingest::store::retention::drop_raw_older_than(&pool, 30)
        .await
        .unwrap();
    assert_eq!(dropped, 1);
    let today = count(
        &pool,
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'okta_events_2%'",
    )
    .await;
    assert!(today >= 1, "current partitions stay");
    t.connect_from_sysdig().await;
    t.sim
        .deliver(okta_ingest::sim::scenario::demo_scenario(chrono::Utc::now()))
        .await;
    t.wait_processed().await;
    execute(&pool, "UPDATE runtime_events SET created_at = now() - interval '400 days' WHERE id = (SELECT min(id) FROM runtime_events)").await;
    let deleted = okta_ingest::store::retention::delete_runtime_events_older_than(&pool, 365)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn vault_rotation_reencrypts_every_credential_under_the_new_key(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.connect_from_sysdig().await;
    let new_key = Vault::keygen();
    let both =
        Vault::from_config_strings("", &format!("old={},new={new_key}", t.master_key), "new")
            .unwrap();
    // The rows were sealed under the key id "env" by the running service. As the README
    // says: the current key stays, the new one is added and made primary.
    let renamed =
        Vault::from_config_strings(&t.master_key, &format!("new={new_key}"), "new").unwrap();
    assert!(
        okta_ingest::service::rotate_vault(&pool, &both)
            .await
            .is_err(),
        "an unknown key id is refused"
    );
    let report = okta_ingest::service::rotate_vault(&pool, &renamed)
        .await
        .unwrap();
    assert_eq!((report.reencrypted, report.current), (1, 0));
    let key_ids: Vec<String> = sqlx::query_scalar("SELECT key_id FROM credentials")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(key_ids, vec!["new".to_string()]);
    let again = okta_ingest::service::rotate_vault(&pool, &renamed)
        .await
        .unwrap();
    assert_eq!((again.reencrypted, again.current), (0, 1));

    // A service with only the new key still reads the credentials (complete re-checks Okta).
    t.app.shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = test_config(&pool, listener.local_addr().unwrap().port(), "");
    config.master_key = SecretString::from(String::new());
    config.master_keys = SecretString::from(format!("new={new_key}"));
    let app = okta_ingest::app::run(config, listener).await.unwrap();
    let services = app.services.clone();
    let integration = services
        .get_integration(t.tenant_id, id.parse().unwrap())
        .await
        .unwrap();
    let creds = services.credentials(&integration.org).await.unwrap();
    assert_eq!(creds.client_id, t.sim.client_id);
    app.shutdown().await;
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_master_key_and_says_how() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-ingest"))
        .arg("serve")
        .env_remove("OKTA_INGEST_MASTER_KEY")
        .env_remove("OKTA_INGEST_MASTER_KEYS")
        .env("OKTA_INGEST_LISTEN", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("vault keygen") && stderr.contains("OKTA_INGEST_MASTER_KEY"),
        "{stderr}"
    );
}

/// `okta-ingest ARGS` with `env` on top of the test's environment: whether it succeeded, its
/// stdout and its stderr.
async fn cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-ingest"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// `okta-ingest rules check <path>`.
async fn rules_check(path: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-ingest"))
        .args(["rules", "check"])
        .arg(path)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn rules_check_names_file_line_and_reason() {
    let dir = std::env::temp_dir().join(format!("okta-ingest-rules-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "- rule: Broken\n  desc: x\n  condition: (okta.evt.type = x\n  output: x\n  priority: INFO\n  source: okta\n").unwrap();
    let output = rules_check(&bad).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.yaml:3:"), "{stderr}");
    let good = dir.join("good.yaml");
    std::fs::write(&good, "- rule: Lock\n  desc: x\n  condition: okta.evt.type = user.account.lock\n  output: locked %okta.actor.alternateid\n  priority: INFO\n  source: okta\n").unwrap();
    let output = rules_check(&good).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn tenant_list_prints_every_live_tenant(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let (other, _) = t.other_tenant().await;
    t.app.services.offboard_tenant(other).await.unwrap();
    let database = database_url(&pool);
    let (listed, stdout, stderr) = cli(&["tenant", "list"], &[("DATABASE_URL", &database)]).await;
    assert!(listed, "{stderr}");
    let tenants: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(tenants.len(), 1, "{stdout}");
    assert_eq!(tenants[0]["tenant_id"], t.tenant_id.to_string());
    assert_eq!(tenants[0]["name"], "acme");
}

/// A value that would make the service spin, refuse every request, delete every runtime event
/// (a huge retention wraps negative) or panic later is refused at start-up, naming the setting.
#[tokio::test]
async fn out_of_range_settings_are_refused_at_start_naming_the_setting() {
    let dir = std::env::temp_dir().join(format!("okta-ingest-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for (setting, value) in [
        // Hooks are {public_url}/hooks/okta/{key}: a query or fragment would swallow the path.
        ("public_url", "\"https://ingest.example.com/x?a=b\""),
        ("public_url", "\"https://ingest.example.com/#x\""),
        ("public_url", "\"ftp://ingest.example.com\""),
        ("public_url", "\"mailto:ops@example.com\""),
        // Okta refuses an Event Hook without a name, at Complete.
        ("event_hook_name", "\"  \""),
        ("worker_poll_interval_ms", "0"),
        ("database_max_connections", "0"),
        // The LISTEN connection and 2 worker tasks hold all 3: the API would get none.
        ("database_max_connections", "3"),
        ("http_max_connections", "0"),
        ("http_header_read_timeout_secs", "0"),
        ("hook_body_limit_bytes", "0"),
        ("okta_timeout_ms", "0"),
        ("detect_state_idle_secs", "0"),
        ("detect_state_max_entries", "0"),
        ("raw_event_retention_days", "0"),
        ("runtime_event_retention_days", "0"),
        ("runtime_event_retention_days", "4294967295"),
        ("detection_state_retention_days", "0"),
        ("no_events_warning_secs", "100000000000000000"),
        ("hook_secret_overlap_secs", "18446744073709551615"),
        ("gapfill_initial_lookback_secs", "18446744073709551615"),
        ("baseline_max_events", "18446744073709551615"),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, format!("{setting} = {value}\n")).unwrap();
        let (migrated, stderr) = migrate_with_config(&file).await;
        assert!(!migrated, "{setting} = {value}: {stderr}");
        assert!(
            stderr.contains(setting) && stderr.contains("configuration"),
            "{setting} = {value}: {stderr}"
        );
    }
}

/// Thousands of tenants with up to 100 custom policies each: a label per custom rule name would
/// grow Prometheus's series without bound (and copy tenant-written text into it). Custom rules
/// share one label value; managed rules keep their names.
#[sqlx::test(migrations = "./migrations")]
async fn custom_rule_names_are_not_metric_labels(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let rule = format!("tenant rule {}", uuid::Uuid::new_v4().simple());
    let rules = format!(
        "- rule: {rule}\n  desc: d\n  condition: okta.evt.type = user.account.lock\n  output: \"locked %okta.actor.alternateid\"\n  priority: NOTICE\n  source: okta\n"
    );
    let (status, created) = t
        .create_policy(crate::support::okta_policy("mine", &rules))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    t.sim
        .deliver(vec![log_event("user.account.lock", "a@acme.com")])
        .await;
    t.wait_processed().await;
    assert_eq!(t.all_runtime_events("&policy=mine").await.len(), 1);
    let metrics = t.metrics().await;
    assert!(!metrics.contains(&rule), "{metrics}");
    assert!(
        metrics.contains("okta_ingest_detections_total{rule=\"custom\"}"),
        "{metrics}"
    );
}

/// An operator's mistyped tenant id is named as such, and is an error, not an empty answer.
#[sqlx::test(migrations = "./migrations")]
async fn cli_names_an_unknown_tenant(pool: PgPool) {
    let unknown = uuid::Uuid::new_v4().to_string();
    let (database, key) = (database_url(&pool), Vault::keygen());
    for args in [
        vec!["tenant", "delete", unknown.as_str()],
        vec!["token", "list", "--tenant", unknown.as_str()],
    ] {
        let env = [
            ("DATABASE_URL", database.as_str()),
            ("OKTA_INGEST_MASTER_KEY", &key),
        ];
        let (succeeded, _, stderr) = cli(&args, &env).await;
        assert!(!succeeded, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("no tenant {unknown}")),
            "{args:?}: {stderr}"
        );
    }
}

/// A mistyped variable (`OKTA_INGEST_WORKER_TASK`) used to be ignored without a word. It is
/// named in a warning (not refused: Kubernetes sets `OKTA_INGEST_SERVICE_HOST` and the like
/// for a Service named okta-ingest).
#[sqlx::test(migrations = "./migrations")]
async fn unknown_okta_ingest_variables_are_named_in_a_warning(pool: PgPool) {
    let database = database_url(&pool);
    let env = [
        ("DATABASE_URL", database.as_str()),
        ("OKTA_INGEST_WORKER_TASK", "8"),
        ("OKTA_INGEST_WORKER_TASKS", "3"),
        ("RUST_LOG", "warn"),
    ];
    let (migrated, _, stderr) = cli(&["migrate"], &env).await;
    assert!(migrated, "{stderr}");
    assert!(stderr.contains("OKTA_INGEST_WORKER_TASK"), "{stderr}");
    assert!(!stderr.contains("OKTA_INGEST_WORKER_TASKS"), "{stderr}");
}

/// An error is printed once with its causes, not the same sentence two or three times (each
/// error's text already holds its source's).
#[tokio::test]
async fn cli_errors_say_each_cause_once() {
    for (args, key) in [
        (vec!["tenant", "list"], Vault::keygen()),
        (
            vec!["tenant", "delete", "0b0c0e5e-1111-4222-8333-444455556666"],
            Vault::keygen(),
        ),
        (vec!["vault", "rotate"], "not base64!".to_string()),
    ] {
        let env = [
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("OKTA_INGEST_MASTER_KEY", key.as_str()),
        ];
        let (succeeded, _, stderr) = cli(&args, &env).await;
        assert!(!succeeded, "{args:?}: {stderr}");
        for phrase in ["pool timed out", "is not valid base64"] {
            assert!(stderr.matches(phrase).count() <= 1, "{args:?}: {stderr}");
        }
    }
}

/// `okta-ingest --config FILE migrate` against a database where nothing listens, so a setting
/// must be refused before any connection: whether it succeeded, and its stderr.
async fn migrate_with_config(file: &std::path::Path) -> (bool, String) {
    let file = file.to_str().unwrap();
    let env = [("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")];
    let (migrated, _, stderr) = cli(&["--config", file, "migrate"], &env).await;
    (migrated, stderr)
}

/// A misspelt key in the operator's file (`worker_taskz = 4`) used to be ignored without a word.
#[tokio::test]
async fn an_unknown_key_in_the_config_file_is_refused() {
    let file = std::env::temp_dir().join(format!("okta-ingest-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, "worker_tasks = 2\nworker_taskz = 4\n").unwrap();
    let (migrated, stderr) = migrate_with_config(&file).await;
    assert!(!migrated, "{stderr}");
    assert!(
        stderr.contains("configuration") && stderr.contains("worker_taskz"),
        "{stderr}"
    );
}

/// A blank tenant name (an unset shell variable: `tenant create "$NAME"`) is refused.
#[sqlx::test(migrations = "./migrations")]
async fn tenant_create_refuses_a_blank_name(pool: PgPool) {
    let database = database_url(&pool);
    let env = [("DATABASE_URL", database.as_str())];
    let (created, _, stderr) = cli(&["tenant", "create", "  "], &env).await;
    assert!(!created, "{stderr}");
    assert!(stderr.contains("name"), "{stderr}");
    assert_eq!(count(&pool, "SELECT count(*) FROM tenants").await, 0);
}

/// A RUST_LOG that does not parse used to fall back to the default filter without a word: the
/// operator who asked for debug logs got info and no reason.
#[sqlx::test(migrations = "./migrations")]
async fn an_invalid_rust_log_is_named_in_a_warning(pool: PgPool) {
    let database = database_url(&pool);
    let env = [
        ("DATABASE_URL", database.as_str()),
        ("RUST_LOG", "okta_ingest=debg"),
    ];
    let (migrated, _, stderr) = cli(&["migrate"], &env).await;
    assert!(migrated, "{stderr}");
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
}
