//! A tenant connects an Okta org once: a second live integration of the same org (pending
//! ones included) is a 409 `already_connected` naming the first, by every path and under
//! concurrent submits; a deleted one does not count, and other tenants are not affected.

use futures::future::join_all;
use okta_ingest::store::MIGRATOR;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, count};

const OKTA: &str = "/api/v1/integrations/okta";

/// The 409 of a second connection: its code, the id it names, and a detail that names it too
/// and says what to do next (`hint`), and how to start over.
fn assert_already_connected(status: StatusCode, problem: &Value, existing: &str, hint: &str) {
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "already_connected", "{problem}");
    assert_eq!(problem["type"], "/problems/already-connected", "{problem}");
    assert_eq!(problem["integration_id"], existing, "{problem}");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains(existing), "names the integration: {detail}");
    assert!(detail.contains(hint), "says {hint:?}: {detail}");
    assert!(
        detail.contains(&format!("DELETE {OKTA}/{existing}")),
        "says how to start over: {detail}"
    );
}

fn from_okta_body(t: &TestApp) -> Value {
    let mut body = t.creds();
    body["okta_domain"] = json!(t.sim.base_url);
    body
}

#[sqlx::test(migrations = "./migrations")]
async fn launching_a_connected_org_again_names_the_integration_to_continue(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let id = t.launch_pending().await;
    // The same org however it is written: the normalized domain is compared.
    let (status, problem) = t.launch(&format!("{}/", t.sim.base_url)).await;
    assert_already_connected(status, &problem, &id, &format!("POST {OKTA}/{id}/validate"));

    let (status, body) = t.validate(&id, t.creds()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = t.launch(&t.sim.base_url).await;
    assert_already_connected(status, &problem, &id, &format!("POST {OKTA}/{id}/complete"));

    let (status, body) = t.complete(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = t.launch(&t.sim.base_url).await;
    let rotate = format!("PUT {OKTA}/{id}/credentials");
    assert_already_connected(status, &problem, &id, &rotate);

    // A real Okta org, by name and by URL.
    let (status, acme) = t.launch("acme").await;
    assert_eq!(status, StatusCode::CREATED, "{acme}");
    let acme = acme["id"].as_str().unwrap();
    let (status, problem) = t.launch("https://ACME.okta.com/").await;
    assert_already_connected(status, &problem, acme, "/validate");

    let (_, listed) = t.integrations().await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(t.our_hooks().len(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn starting_from_okta_on_a_connected_org_names_the_first(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    // A launch from our side still pending: the form from Okta's side points at it.
    let pending = t.launch_pending().await;
    let (status, problem) = t.create_from_okta(from_okta_body(&t)).await;
    assert_already_connected(status, &problem, &pending, "/validate");
    assert_eq!(t.delete_integration(&pending).await, StatusCode::NO_CONTENT);

    let id = t.connect_from_okta().await;
    // The form submitted twice.
    let (status, problem) = t.create_from_okta(from_okta_body(&t)).await;
    assert_already_connected(status, &problem, &id, "/credentials");
    let live = count(
        &pool,
        "SELECT count(*) FROM integrations WHERE status <> 'deleted'",
    )
    .await;
    assert_eq!(live, 1);
    assert_eq!(t.our_hooks().len(), 1, "one hook slot taken in Okta");
}

#[sqlx::test(migrations = "./migrations")]
async fn validate_cannot_move_an_integration_onto_a_connected_org(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let connected = t.connect_from_sysdig().await;
    let (status, launched) = t.launch("acme").await;
    assert_eq!(status, StatusCode::CREATED, "{launched}");
    let acme = launched["id"].as_str().unwrap();

    let mut creds = t.creds();
    creds["okta_domain"] = json!(t.sim.base_url);
    let (status, problem) = t.validate(acme, creds.clone()).await;
    assert_already_connected(status, &problem, &connected, "/credentials");
    let (_, shown) = t.integration(acme).await;
    assert_eq!(shown["status"], "pending", "{shown}");
    assert_eq!(shown["okta_domain"], "acme.okta.com", "{shown}");

    // Naming its own org again is no second connection.
    assert_eq!(
        t.delete_integration(&connected).await,
        StatusCode::NO_CONTENT
    );
    let own = t.launch_pending().await;
    let (status, body) = t.validate(&own, creds.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The org is now the pending `own`'s, whose validate moved onto it first.
    let (status, problem) = t.validate(acme, creds).await;
    assert_already_connected(status, &problem, &own, "/complete");
}

/// Of simultaneous submits, exactly one created the integration; the others were refused
/// naming it and its next step.
fn assert_one_created(answers: &[(StatusCode, Value)], next_step: &str) {
    let created: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let winner = created[0].1["id"].as_str().unwrap();
    for (status, problem) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_already_connected(*status, problem, winner, next_step);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn simultaneous_submits_connect_the_org_once(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    // A double-clicked launch, eight times over.
    let launches = join_all((0..8).map(|_| t.launch(&t.sim.base_url))).await;
    assert_one_created(&launches, "/validate");

    // A double-submitted "start from Okta" form, in a second tenant.
    let (_, other) = t.other_tenant().await;
    let body = from_okta_body(&t);
    let submits =
        join_all((0..4).map(|_| t.call(Method::POST, OKTA, &other, Some(body.clone())))).await;
    assert_one_created(&submits, "/complete");
    let live = count(
        &pool,
        "SELECT count(*) FROM integrations WHERE status <> 'deleted'",
    )
    .await;
    assert_eq!(live, 2, "one per tenant");

    // The index, not the timing, decides: a second live row of the org cannot be written.
    let refused = sqlx::query(
        "INSERT INTO integrations (id, tenant_id, status, created_from, okta_domain, hook_key)
         SELECT gen_random_uuid(), tenant_id, 'pending', 'sysdig', okta_domain, 'k-race'
         FROM integrations WHERE status <> 'deleted' LIMIT 1",
    )
    .execute(&pool)
    .await
    .expect_err("a second live integration of the org");
    let constraint = refused.as_database_error().and_then(|e| e.constraint());
    assert_eq!(constraint, Some("integrations_one_live_per_org"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_deleted_integration_does_not_block_connecting_the_org_again(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let pending = t.launch_pending().await;
    assert_eq!(t.delete_integration(&pending).await, StatusCode::NO_CONTENT);
    let first = t.connect_from_sysdig().await;
    assert_eq!(t.delete_integration(&first).await, StatusCode::NO_CONTENT);
    let second = t.connect_from_okta().await;
    assert_ne!(first, second);
    let (_, shown) = t.integration(&second).await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(t.our_hooks().len(), 1, "the deleted one's hook is gone");
}

#[sqlx::test(migrations = "./migrations")]
async fn another_tenant_connects_the_same_org_and_learns_nothing(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let ours = t.connect_from_sysdig().await;
    let (_, other) = t.other_tenant().await;
    let as_other = async |method: Method, path: &str, body: Option<Value>| {
        t.call(method, path, &other, body).await
    };
    let launch = json!({ "org": t.sim.base_url });
    let (status, launched) = as_other(
        Method::POST,
        &format!("{OKTA}/launch"),
        Some(launch.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{launched}");
    let theirs = launched["id"].as_str().unwrap().to_string();
    let validate = format!("{OKTA}/{theirs}/validate");
    let (status, body) = as_other(Method::POST, &validate, Some(t.creds())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let complete = format!("{OKTA}/{theirs}/complete");
    let (status, body) = as_other(Method::POST, &complete, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Each tenant's refusal names its own integration only.
    let (status, problem) = as_other(Method::POST, &format!("{OKTA}/launch"), Some(launch)).await;
    assert_already_connected(status, &problem, &theirs, "/credentials");
    assert!(!problem.to_string().contains(&ours), "{problem}");
    let (status, problem) = t.launch(&t.sim.base_url).await;
    assert_already_connected(status, &problem, &ours, "/credentials");
    assert!(!problem.to_string().contains(&theirs), "{problem}");
}

/// Migration 0012 on a database that already holds duplicates: it applies, keeps them all
/// live, and indexes the most advanced of each group.
#[sqlx::test(migrations = false)]
async fn the_index_migration_applies_over_existing_duplicates(pool: PgPool) {
    let (before, index): (Vec<_>, Vec<_>) = MIGRATOR.iter().partition(|m| m.version < 12);
    for migration in before {
        sqlx::raw_sql(migration.sql.clone())
            .execute(&pool)
            .await
            .expect("earlier migration");
    }
    sqlx::raw_sql(
        "INSERT INTO tenants (id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'a');
         INSERT INTO integrations (id, tenant_id, status, created_from, okta_domain, hook_key, created_at)
         VALUES
           ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a', 'pending', 'sysdig', 'acme.okta.com', 'k1', now() - interval '3 days'),
           ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-00000000000a', 'active', 'okta', 'acme.okta.com', 'k2', now() - interval '2 days'),
           ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-00000000000a', 'active', 'sysdig', 'acme.okta.com', 'k3', now() - interval '1 day'),
           ('00000000-0000-0000-0000-000000000004', '00000000-0000-0000-0000-00000000000a', 'deleted', 'sysdig', 'acme.okta.com', 'k4', now()),
           ('00000000-0000-0000-0000-000000000005', '00000000-0000-0000-0000-00000000000a', 'pending', 'sysdig', 'beta.okta.com', 'k5', now());",
    )
    .execute(&pool)
    .await
    .expect("duplicates from before the index");
    for migration in index {
        sqlx::raw_sql(migration.sql.clone())
            .execute(&pool)
            .await
            .expect("the migration applies over duplicates");
    }
    let indexed: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT right(id::text, 1), status, org_duplicate FROM integrations ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("1", "pending", true),
        ("2", "active", false),
        ("3", "active", true),
        ("4", "deleted", false),
        ("5", "pending", false),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(id, status, flagged)| (id.to_string(), status.to_string(), *flagged))
        .collect();
    assert_eq!(
        indexed, expected,
        "nothing deleted, the oldest active indexed"
    );
    let refused = sqlx::query(
        "INSERT INTO integrations (id, tenant_id, status, created_from, okta_domain, hook_key)
         VALUES (gen_random_uuid(), '00000000-0000-0000-0000-00000000000a', 'pending', 'sysdig', 'acme.okta.com', 'k6')",
    )
    .execute(&pool)
    .await;
    assert!(refused.is_err(), "a new duplicate is refused");
}
