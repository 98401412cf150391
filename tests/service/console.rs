//! The web console in headless Chromium: `tests/browser/console.mjs` (playwright-core driving
//! Debian's chromium, axe-core on every page) walks the whole journey against the real service
//! and two simulated Okta orgs. Needs `/usr/bin/chromium` and `npm ci` in `tests/browser`
//! (`.ci/run` does both).

use std::path::Path;

use okta_ingest::sim::{self, SimOptions};
use okta_ingest::store::tenants::Role;
use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrations = "./migrations")]
async fn the_console_connects_searches_and_manages_policies_in_chromium(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let org_b = sim::spawn(listener, SimOptions::default()).await.unwrap();
    let viewer = t.token(Role::Viewer).await;
    let work = tempfile_dir();
    let scenario = work.join("scenario.json");
    let events = sim::scenario::demo_scenario(chrono::Utc::now());
    std::fs::write(&scenario, serde_json::to_vec(&events).unwrap()).unwrap();

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/console.mjs"))
        .env("BASE_URL", &t.base)
        .env("ADMIN_TOKEN", &t.admin)
        .env("VIEWER_TOKEN", &viewer)
        .env("SCENARIO_FILE", &scenario)
        .env("ORG_A_URL", &t.sim.base_url)
        .env("ORG_A_CLIENT_ID", &t.sim.client_id)
        .env("ORG_A_CLIENT_SECRET", t.sim.client_secret())
        .env("ORG_B_URL", &org_b.base_url)
        .env("ORG_B_CLIENT_ID", &org_b.client_id)
        .env("ORG_B_CLIENT_SECRET", org_b.client_secret())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs (install Node.js; then `npm ci` in tests/browser)");
    std::fs::remove_dir_all(&work).ok();
    assert!(
        output.status.success(),
        "the browser journey failed (needs /usr/bin/chromium and `npm ci` in tests/browser):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("okta-ingest-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[sqlx::test(migrations = "./migrations")]
async fn the_console_is_served_with_a_strict_csp_and_cacheable_assets(pool: PgPool) {
    let t = TestApp::spawn(&pool).await;
    let page = t.http.get(format!("{}/", t.base)).send().await.unwrap();
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self';"));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    let html = page.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads a script");
    assert!(script.starts_with("/assets/") && script.ends_with("/app.js"));

    let asset = t
        .http
        .get(format!("{}{script}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert!(header(&asset, "content-type").starts_with("text/javascript"));
    assert!(header(&asset, "cache-control").contains("immutable"));
    let stale = format!("{}/assets/000000000000/app.js", t.base);
    assert_eq!(t.http.get(stale).send().await.unwrap().status(), 404);
}
