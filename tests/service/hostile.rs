//! The hostile-input corpora, sent to a separate `okta-ingest serve` process so that its
//! peak memory can be read from `/proc`: every input gets its documented 4xx or is
//! quarantined, the process stays up, and its peak RSS stays under a bound far below what
//! the same inputs once cost (1.43 GB for one delivery of 5,000,000 items).

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, count, envelope, free_port, log_event, okta_policy};

/// The documented bound (README, "Reliability and security"), for a debug build: the
/// release build peaks lower.
const PEAK_RSS_MIB: u64 = 256;
const ROUNDS: usize = 3;
/// Hostile events per delivery: about 8 MB, under the 10 MB body limit.
const EVENTS: usize = 1_000;

#[sqlx::test(migrations = "./migrations")]
async fn hostile_inputs_get_their_4xx_and_peak_memory_stays_bounded(pool: PgPool) {
    let t = TestApp::spawn_with(&pool, Default::default(), |c| c.worker_tasks = 0).await;
    t.connect_from_sysdig().await;
    let hook = t.hook().await;
    let port = free_port();
    let mut child = t.start_serve_process(port).await;
    let pid = child.id().expect("the serve process runs");
    let base = format!("http://127.0.0.1:{port}");
    let post = |path: String, body: String| {
        t.http
            .post(format!("{base}{path}"))
            .header("authorization", &hook.secret)
            .header("content-type", "application/json")
            .body(body)
    };
    let hook_path = format!("/hooks/okta/{}", hook.key);

    for round in 0..ROUNDS {
        // 5,000,000 items of `0`: refused before anything is allocated per item.
        let zeros = format!(
            r#"{{"eventType":"com.okta.event_hook","data":{{"events":[{}0]}}}}"#,
            "0,".repeat(4_999_999)
        );
        let response = post(hook_path.clone(), zeros).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_problem(response, "too_many_events").await;

        // One event nested 100,000 deep: quarantined, not a stack overflow.
        let deep = format!(
            r#"{{"eventType":"com.okta.event_hook","data":{{"events":[{}{}]}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let response = post(hook_path.clone(), deep).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        // 1,000 hostile events (8 MB): each is stored or quarantined, none loses the batch.
        let response = post(hook_path.clone(), hostile_events(EVENTS))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        for (name, rules) in hostile_policies() {
            let response = t
                .http
                .post(format!("{base}/api/v1/policies"))
                .bearer_auth(&t.admin)
                .json(&okta_policy(&format!("{name} {round}"), &rules))
                .send()
                .await
                .unwrap();
            if name == "yaml aliases" {
                // Aliases load as empty values, so nothing multiplies: refused or harmless.
                let status = response.status();
                assert!(
                    status.is_success() || status == 422,
                    "{name}: {status} {}",
                    response.text().await.unwrap_or_default()
                );
                continue;
            }
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}"
            );
            assert_problem(response, "invalid_rules").await;
        }

        let long_q = "a".repeat(10_000);
        for query in [
            "q=%00",
            "since=-9999-01-01T00:00:00Z",
            "limit=-1",
            &format!("q={long_q}"),
        ] {
            let response = t
                .http
                .get(format!("{base}/api/v1/events?{query}"))
                .bearer_auth(&t.admin)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_client_error(),
                "{}: {}",
                &query[..query.len().min(40)],
                response.status()
            );
        }
    }

    let health = t.http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the process is still up");
    let peak = peak_rss_mib(pid);
    eprintln!("serve process peak RSS: {peak} MiB");
    assert!(
        peak <= PEAK_RSS_MIB,
        "peak RSS {peak} MiB > {PEAK_RSS_MIB} MiB"
    );
    child.kill().await.expect("the serve process stops");

    let stored = count(&pool, "SELECT count(*) FROM okta_event_keys").await;
    let quarantined = count(&pool, "SELECT count(*) FROM quarantined_events").await;
    // Per round: half the events (their dates out of range) and the deep one quarantined, a
    // quarter stored; the last quarter shares EVENTS / 40 uuids across all rounds.
    eprintln!("stored {stored}, quarantined {quarantined}");
    assert_eq!(stored, (ROUNDS * EVENTS / 4 + EVENTS / 40) as i64);
    assert_eq!(quarantined, (ROUNDS * (EVENTS / 2 + 1)) as i64);
}

async fn assert_problem(response: reqwest::Response, code: &str) {
    let problem: Value = response.json().await.expect("problem+json");
    assert_eq!(problem["code"], code, "{problem}");
}

/// Events with a 3,000-character username, NUL and lone surrogates, dates outside any sane
/// range, deep (but parseable) nesting and 4 KB of text each, with duplicate uuids.
fn hostile_events(n: usize) -> String {
    let nested = (0..100).fold(json!("leaf"), |inner, _| json!({ "n": inner }));
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut event = log_event("user.session.start", &"x".repeat(3_000));
            event["displayMessage"] = json!(format!("nul \u{0} {}", "m".repeat(1_000)));
            event["debugContext"]["debugData"]["deep"] = nested.clone();
            event["outcome"] = json!({ "result": "FAILURE", "reason": "r".repeat(100) });
            match i % 4 {
                0 => event["published"] = json!("+10000-01-01T00:00:00Z"),
                1 => event["published"] = json!("-9999-01-01T00:00:00Z"),
                2 => event["uuid"] = json!(format!("dup-{}", i / 40)),
                _ => {}
            }
            event
        })
        .collect();
    // serde_json cannot make a lone surrogate; put the escape into the text itself.
    envelope(&events)
        .to_string()
        .replacen("nul \\u0000", "\\ud800 \\u0000", n / 2)
}

fn hostile_policies() -> Vec<(&'static str, String)> {
    let rule = |condition: &str| {
        format!(
            "- rule: r\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n"
        )
    };
    let mut macros = String::from("- macro: m0\n  condition: okta.evt.type = x\n");
    let mut lists = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..=26 {
        let p = i - 1;
        macros.push_str(&format!("- macro: m{i}\n  condition: m{p} or m{p}\n"));
        lists.push_str(&format!("- list: l{i}\n  items: [l{p}, l{p}]\n"));
    }
    macros.push_str(&rule("m26"));
    lists.push_str(&rule("okta.evt.type in (l26)"));
    let laughs = "- list: a\n  items: &a [x, x, x, x, x, x, x, x, x, x]\n".to_string()
        + &(1..=9)
            .map(|i| format!("- list: l{i}\n  items: &l{i} [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"))
            .collect::<String>()
        + &rule("okta.evt.type in (l9)");
    vec![
        (
            "not x3000",
            rule(&format!("{}okta.evt.type = x", "not ".repeat(3_000))),
        ),
        (
            "parens x10000",
            rule(&format!(
                "{}okta.evt.type = x{}",
                "(".repeat(10_000),
                ")".repeat(10_000)
            )),
        ),
        ("macro doubling", macros),
        ("list doubling", lists),
        ("yaml aliases", laughs),
        (
            "300,000 items",
            rule(&format!("okta.evt.type in ({}b)", "a, ".repeat(300_000))),
        ),
    ]
}

/// The process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .expect("VmHWM in /proc status")
}
