//! The System Log API: polling mode, bounded mode, filters, scopes, paging links.

use chrono::{Duration, SecondsFormat, Utc};
use okta_ingest::sim::SimHandle;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// GET `url` (a path or a `next` link); returns the events and the `next` link, if any.
async fn page(okta: &SimClient, url: &str) -> (Vec<Value>, Option<String>) {
    let response = okta.send(Method::GET, url, None).await;
    assert_eq!(response.status(), 200, "{url}");
    // Like Okta: `self` and `next` are separate Link headers.
    assert!(
        response.headers().get_all("link").iter().all(|v| v
            .to_str()
            .unwrap()
            .matches("rel=")
            .count()
            == 1)
    );
    let next = response
        .headers()
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(", "))
        .find(|l| l.ends_with("rel=\"next\""))
        .map(|l| {
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
    (response.json().await.unwrap(), next)
}

fn at(minutes_ago: i64, event_type: &str) -> Value {
    let mut e = event(event_type);
    let t = Utc::now() - Duration::minutes(minutes_ago);
    e["published"] = json!(t.to_rfc3339_opts(SecondsFormat::Millis, true));
    e
}

async fn sim_with_token() -> (SimHandle, SimClient) {
    let sim = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&sim, "okta.logs.read").await;
    (sim, okta)
}

#[tokio::test]
async fn polling_mode_always_has_a_next_link_and_picks_up_new_events() {
    let (sim, okta) = sim_with_token().await;
    sim.append_log(events("user.session.start", 250));
    let mut url = format!("{LOGS}?limit=100");
    let mut sizes = Vec::new();
    for _ in 0..4 {
        let (events, next) = page(&okta, &url).await;
        sizes.push(events.len());
        url = next.expect("polling mode always has a next link");
    }
    assert_eq!(sizes, vec![100, 100, 50, 0]);

    // A late event (old `published`) still shows up: polling follows persistence order.
    sim.append_log(vec![at(60, "user.account.lock")]);
    let (events, next) = page(&okta, &url).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventType"], "user.account.lock");
    assert!(next.unwrap().contains("limit=100"));
}

#[tokio::test]
async fn bounded_mode_pages_by_published_and_ends() {
    let (sim, okta) = sim_with_token().await;
    sim.append_log((0..30).map(|m| at(m, "user.session.start")).collect());
    let since = (Utc::now() - Duration::minutes(20)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let until = (Utc::now() - Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/logs", sim.base_url),
        &[
            ("since", since.as_str()),
            ("until", until.as_str()),
            ("limit", "4"),
        ],
    )
    .unwrap()
    .to_string();
    let mut all = Vec::new();
    loop {
        let (events, next) = page(&okta, &url).await;
        all.extend(events);
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    // Minutes 6..=19 ago (and 5 or 20 depending on the second boundary).
    assert!((14..=16).contains(&all.len()), "{}", all.len());
    let published: Vec<&str> = all
        .iter()
        .map(|e| e["published"].as_str().unwrap())
        .collect();
    let mut sorted = published.clone();
    sorted.sort();
    assert_eq!(published, sorted);
}

#[tokio::test]
async fn descending_and_filter() {
    let (sim, okta) = sim_with_token().await;
    sim.append_log(vec![
        at(3, "user.session.start"),
        at(2, "user.account.lock"),
        at(1, "user.session.start"),
    ]);
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/logs", sim.base_url),
        &[
            ("filter", "eventType eq \"user.session.start\""),
            ("sortOrder", "DESCENDING"),
        ],
    )
    .unwrap();
    let (events, next) = page(&okta, url.as_str()).await;
    assert_eq!(events.len(), 2);
    assert!(events[0]["published"].as_str() > events[1]["published"].as_str());
    assert!(next.is_none());
}

#[tokio::test]
async fn bad_parameters_and_missing_scope() {
    let (sim, okta) = sim_with_token().await;
    for query in [
        "limit=1001",
        "limit=-1",
        "since=yesterday",
        "filter=eventType%20gt%20%22x%22",
    ] {
        let (status, error) = okta.get(&format!("{LOGS}?{query}")).await;
        assert_eq!(status, 400, "{query}");
        // The System Log documents one error for bad parameters, filters included.
        assert_eq!(error["errorCode"], "E0000001", "{query}");
    }
    let old = (Utc::now() - Duration::days(200)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let response = okta
        .request(Method::GET, LOGS)
        .query(&[("since", old)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["errorCode"],
        "E0000053"
    );

    let hooks_only = SimClient::with_scopes(&sim, "okta.eventHooks.manage").await;
    let (status, forbidden) = hooks_only.get(LOGS).await;
    assert_eq!(status, 403);
    assert_eq!(forbidden["errorCode"], "E0000006");
}

#[tokio::test]
async fn filters_okta_refuses_are_400s() {
    let (sim, okta) = sim_with_token().await;
    sim.append_log(vec![at(1, "user.session.start")]);
    // Okta's System Log query guide: `published` belongs to since/until/after, and `co` on
    // the request URLs is refused with E0000031.
    let cases = [
        ("published gt \"2026-01-01T00:00:00Z\"", "E0000001"),
        (
            "eventType eq \"user.session.start\" and published eq \"x\"",
            "E0000001",
        ),
        ("debugContext.debugData.url co \"/oauth/\"", "E0000031"),
        ("debugContext.debugData.requestUri co \"/app/\"", "E0000031"),
    ];
    for (filter, code) in cases {
        let response = okta
            .request(Method::GET, LOGS)
            .query(&[("filter", filter)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{filter}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["errorCode"], code, "{filter}: {error}");
    }
    // The same fields with other operators are fine.
    for filter in [
        "debugContext.debugData.requestUri sw \"/app/\"",
        "debugContext.debugData.url eq \"/x\"",
    ] {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/logs", sim.base_url),
            &[("filter", filter)],
        )
        .unwrap();
        page(&okta, url.as_str()).await;
    }
}

#[tokio::test]
async fn since_defaults_to_seven_days_before_until() {
    let (sim, okta) = sim_with_token().await;
    let days = |n: i64| 24 * 60 * n;
    sim.append_log(vec![
        at(days(20), "user.account.lock"),
        at(days(12), "user.session.start"),
        at(days(9), "user.session.start"),
        at(days(1), "user.account.lock"),
    ]);
    let until = (Utc::now() - Duration::days(8)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/logs", sim.base_url),
        &[("until", until.as_str())],
    )
    .unwrap();
    let (events, next) = page(&okta, url.as_str()).await;
    // The spec: `since` is "7 days prior to until" by default, not 7 days before now.
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["user.session.start", "user.session.start"]);
    assert!(next.is_none());
}

#[tokio::test]
async fn events_past_the_90_day_retention_are_not_returned() {
    let (sim, okta) = sim_with_token().await;
    let days = |n: i64| 24 * 60 * n;
    sim.append_log(vec![
        at(days(120), "user.account.lock"),
        at(days(91), "user.account.lock"),
        at(days(89), "user.session.start"),
        at(days(1), "user.session.start"),
    ]);
    // Okta's System Log query guide ("Data retention"): a query reaching past 90 days
    // succeeds, with only the events published within them.
    let since = (Utc::now() - Duration::days(150)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let until = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    for params in [
        vec![("since", since.as_str()), ("limit", "10")],
        vec![("since", since.as_str()), ("until", until.as_str())],
        vec![
            ("since", since.as_str()),
            ("until", until.as_str()),
            ("sortOrder", "DESCENDING"),
        ],
    ] {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/api/v1/logs", sim.base_url), &params)
                .unwrap();
        let (events, _) = page(&okta, url.as_str()).await;
        let types: Vec<&str> = events
            .iter()
            .map(|e| e["eventType"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["user.session.start"; 2], "{params:?}");
    }
}

#[tokio::test]
async fn the_log_holds_delivered_and_appended_events() {
    let (sim, okta) = sim_with_token().await;
    sim.deliver(events("user.lifecycle.create", 2)).await;
    sim.append_log(events("user.lifecycle.activate", 3));
    let (events, _) = page(&okta, LOGS).await;
    assert_eq!(events.len(), 5);
}

#[tokio::test]
async fn keyword_search_with_q() {
    let (sim, okta) = sim_with_token().await;
    let mut lock = event("user.account.lock");
    lock["actor"]["alternateId"] = json!("Carol@Example.com");
    sim.append_log(vec![lock, event("user.session.start")]);
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/logs", sim.base_url),
        &[("q", "carol@example.com user.account.lock")],
    )
    .unwrap();
    let (events, _) = page(&okta, url.as_str()).await;
    assert_eq!(events.len(), 1);
    // Okta matches whole keywords: a part of a value finds nothing.
    let (status, events) = okta.get(&format!("{LOGS}?q=lock")).await;
    assert_eq!((status, events), (200, json!([])));
    let eleven = ["a"; 11].join(" ");
    let long = "x".repeat(41);
    for q in [eleven.as_str(), long.as_str()] {
        let (status, error) = okta
            .get(&format!("{LOGS}?q={}", q.replace(' ', "%20")))
            .await;
        assert_eq!(
            (status, error["errorCode"].as_str()),
            (400, Some("E0000001")),
            "{q}"
        );
    }
}

#[tokio::test]
async fn weeks_of_history_page_newest_first_in_bounded_mode() {
    let (sim, okta) = sim_with_token().await;
    let response = http()
        .post(format!("{}/sim/history", sim.base_url))
        .json(&json!({ "days": 21 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let appended = response.json::<Value>().await.unwrap()["appended"]
        .as_u64()
        .unwrap();
    assert!(appended > 400, "{appended}");
    let now = Utc::now();
    let since = (now - Duration::days(14)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let until = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut url = format!("{LOGS}?since={since}&until={until}&limit=100&sortOrder=DESCENDING")
        .replace('+', "%2B")
        .replace(':', "%3A");
    let mut published = Vec::new();
    loop {
        let (events, next) = page(&okta, &url).await;
        published.extend(
            events
                .iter()
                .map(|e| e["published"].as_str().unwrap().to_owned()),
        );
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    let mut newest_first = published.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(published, newest_first);
    assert!(
        published.len() < appended as usize,
        "the window holds two weeks of three"
    );
    assert!(published.last().unwrap().as_str() >= since.as_str());
}
