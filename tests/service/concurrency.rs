//! Wizard steps call Okta for seconds; they must never hold a pooled connection meanwhile, or
//! a few admins clicking "Validate" would starve the hook path of connections (503s to Okta).

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{TestApp, log_event};

const STEPS: usize = 50;

#[sqlx::test(migrations = "./migrations")]
async fn fifty_slow_wizard_steps_leave_the_hook_path_its_connections(pool: PgPool) {
    // The pool has 8 connections (tests' config); 50 steps would have held 50.
    let t = TestApp::spawn(&pool).await;
    t.connect_from_sysdig().await;
    let hook = t.hook().await;
    // A tenant connects an org once, so the 50 pending integrations of the simulator's org
    // belong to 50 tenants (each admin validating at the same time).
    let mut validations = Vec::new();
    for _ in 0..STEPS {
        let (_, admin) = t.other_tenant().await;
        let launch = json!({ "org": t.sim.base_url });
        let path = "/api/v1/integrations/okta/launch";
        let (status, launched) = t.call(Method::POST, path, &admin, Some(launch)).await;
        assert_eq!(status, StatusCode::CREATED, "{launched}");
        let id = launched["id"].as_str().expect("id");
        validations.push((admin, format!("/api/v1/integrations/okta/{id}/validate")));
    }
    t.sim.set_latency(Duration::from_millis(400));
    let creds = t.creds();
    let steps = join_all(
        validations
            .iter()
            .map(|(admin, path)| t.call(Method::POST, path, admin, Some(creds.clone()))),
    );
    let deliveries = async {
        let mut statuses = Vec::new();
        for i in 0..20 {
            let event = log_event("user.session.start", &format!("d{i}@acme.com"));
            statuses.push(t.deliver_events(&hook, &hook.secret, &[event]).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        statuses
    };
    let (steps, deliveries) = tokio::join!(steps, deliveries);
    t.sim.set_latency(Duration::ZERO);
    assert!(
        deliveries.iter().all(|s| *s == StatusCode::OK),
        "every delivery acknowledged while the steps ran: {deliveries:?}"
    );
    for (status, body) in &steps {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
}
