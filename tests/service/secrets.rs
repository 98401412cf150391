//! The client secret and the hook secret appear nowhere in plaintext: not in any table, not
//! in the logs written meanwhile, not in any API response.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{TestApp, log_event};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn secrets_never_appear_in_plaintext(pool: PgPool) {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test binary's only subscriber");

    let t = TestApp::spawn(&pool).await;
    let mut responses = String::new();
    let mut record = |body: serde_json::Value| responses.push_str(&body.to_string());

    let (_, launched) = t.launch(&t.sim.base_url).await;
    let id = launched["id"].as_str().unwrap().to_string();
    record(launched);
    // A wrong secret's error must not echo it either.
    let wrong = json!({ "client_id": t.sim.client_id, "client_secret": "wrong-secret-value-123" });
    record(t.validate(&id, wrong).await.1);
    record(t.validate(&id, t.creds()).await.1);
    record(t.complete(&id).await.1);
    record(t.integration(&id).await.1);
    let first_secret = t.sim.client_secret();
    let second_secret = t.sim.rotate_client_secret();
    record(t.replace_secret(&id, &second_secret).await.1);
    record(t.integrations().await.1);
    // From Okta's side too, in a second tenant: a tenant connects an org once.
    let (_, other) = t.other_tenant().await;
    let from_okta = t.connect_from_okta_as(&other).await;
    let path = format!("/api/v1/integrations/okta/{from_okta}");
    record(t.call(Method::GET, &path, &other, None).await.1);
    t.sim
        .deliver(vec![log_event("user.session.start", "a@acme.com")])
        .await;
    t.wait_processed().await;
    let hook_secrets: Vec<String> = t
        .sim
        .hooks()
        .iter()
        .filter_map(|h| t.sim.hook_auth_value(&h.id))
        .collect();
    assert!(!hook_secrets.is_empty());

    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut dump = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM \"{table}\" t"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        dump.push_str(&rows.join("\n"));
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("integration active"), "logs were captured");

    let mut secrets = vec![
        first_secret,
        second_secret,
        "wrong-secret-value-123".to_string(),
    ];
    secrets.extend(hook_secrets);
    for secret in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "a secret is stored in plaintext"
        );
        assert!(!logs.contains(secret.as_str()), "a secret was logged");
        assert!(
            !responses.contains(secret.as_str()),
            "a secret was returned by the API"
        );
    }
}
