//! The simulator's Okta APIs over real HTTP: token endpoint, Event Hooks API, verification.

use okta_ingest::sim::{HookLimitAt, HookStatus, SimOptions, VerificationStatus};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn token_endpoint_issues_tokens_with_basic_or_post_credentials() {
    let sim = start_sim(sim_options()).await;
    let secret = sim.client_secret();

    let (status, body) =
        token_request(&sim, &grant(ALL_SCOPES), Some((&sim.client_id, &secret))).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], ALL_SCOPES);
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));

    let post = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.logs.read"),
        ("client_id", sim.client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, body) = token_request(&sim, &post, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "okta.logs.read");
    assert_eq!(sim.counters().token_requests, 2);
    assert_eq!(sim.counters().tokens_issued, 2);
}

#[tokio::test]
async fn basic_credentials_are_form_decoded_as_rfc_6749_says() {
    let sim = start_sim(SimOptions {
        client_secret: "with+plus/and%percent".to_owned(),
        ..sim_options()
    })
    .await;
    let encoded = "with%2Bplus%2Fand%25percent";
    let (status, _) =
        token_request(&sim, &grant(ALL_SCOPES), Some((&sim.client_id, encoded))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_endpoint_errors_like_okta() {
    let sim = start_sim(sim_options()).await;
    let id = sim.client_id.clone();
    let secret = sim.client_secret();
    let both = [
        ("grant_type", "client_credentials"),
        ("scope", ALL_SCOPES),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    // (what is wrong, form, client_secret_basic, status, error)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        Option<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: [Case; 5] = [
        (
            "credentials twice",
            &both,
            Some((&id, &secret)),
            400,
            "invalid_request",
        ),
        (
            "wrong secret",
            &grant(ALL_SCOPES),
            Some((&id, "wrong")),
            401,
            "invalid_client",
        ),
        (
            "unknown client",
            &grant(ALL_SCOPES),
            Some(("0oaunknown", &secret)),
            401,
            "invalid_client",
        ),
        (
            "no credentials",
            &grant(ALL_SCOPES),
            None,
            401,
            "invalid_client",
        ),
        (
            "empty scope",
            &grant(""),
            Some((&id, &secret)),
            400,
            "invalid_scope",
        ),
    ];
    for (case, form, basic, expected_status, expected_error) in cases {
        let (status, body) = token_request(&sim, form, basic).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (expected_status, Some(expected_error)),
            "{case}: {body}"
        );
    }

    sim.set_granted_scopes(&["okta.logs.read"]);
    let (status, body) = token_request(&sim, &grant(ALL_SCOPES), Some((&id, &secret))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert_eq!(
        body["error_description"],
        "The following scopes are not allowed: okta.eventHooks.manage"
    );

    let password = [("grant_type", "password"), ("scope", "okta.logs.read")];
    let (status, body) = token_request(&sim, &password, Some((&id, &secret))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn rotated_secret_makes_the_old_one_invalid_client() {
    let sim = start_sim(sim_options()).await;
    let old = sim.client_secret();

    // Over HTTP, like the CLI's users would.
    let (_, rotated) = SimClient::new(&sim)
        .call(reqwest::Method::POST, "/sim/credentials/rotate", None)
        .await;
    let new = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(sim.client_secret(), new);

    let (status, body) =
        token_request(&sim, &grant(ALL_SCOPES), Some((&sim.client_id, &old))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _) = token_request(&sim, &grant(ALL_SCOPES), Some((&sim.client_id, &new))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn event_hook_crud_follows_okta_shapes() {
    let sim = start_sim(sim_options()).await;
    let receiver = Receiver::start().await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;

    let created = okta.create_hook(&receiver.url, "s3cret-value").await;
    let id = created["id"].as_str().unwrap().to_owned();
    let hook = format!("{HOOKS}/{id}");
    assert!(id.starts_with("who") && id.len() == 20, "{id}");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["verificationStatus"], "UNVERIFIED");
    assert_eq!(created["events"]["type"], "EVENT_TYPE");
    assert_eq!(created["events"]["items"].as_array().unwrap().len(), 18);
    let config = &created["channel"]["config"];
    assert_eq!(config["uri"], receiver.url.as_str());
    assert_eq!(
        config["authScheme"],
        json!({ "type": "HEADER", "key": "Authorization" }),
        "the key keeps the case it was given"
    );
    assert!(created["created"].is_string() && created["lastUpdated"].is_string());
    assert!(
        created["_links"]["verify"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/lifecycle/verify")
    );
    assert!(!created.to_string().contains("s3cret-value"));
    // An ACTIVE hook offers deactivate and may not be deleted.
    assert!(created["_links"]["deactivate"].is_object() && created["_links"]["activate"].is_null());
    assert_eq!(
        created["_links"]["self"]["hints"]["allow"],
        json!(["GET", "PUT"])
    );

    let (_, listed) = okta.get(HOOKS).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("s3cret-value"));

    // Verify, then replace the secret: the hook must be verified again.
    assert_eq!(okta.lifecycle(&id, "verify").await.0, 200);
    let mut body = hook_body("okta-ingest", &receiver.url, "rotated-secret");
    body["name"] = json!("okta-ingest renamed");
    let (_, replaced) = okta.put(&hook, &body).await;
    assert_eq!(replaced["name"], "okta-ingest renamed");
    assert_eq!(replaced["verificationStatus"], "UNVERIFIED");
    assert_eq!(sim.hook_auth_value(&id).as_deref(), Some("rotated-secret"));

    // DELETE only works on an INACTIVE hook.
    let (status, error) = okta.delete(&hook).await;
    assert_eq!(status, 400);
    assert_eq!(error["errorCode"], "E0000001");
    let (_, deactivated) = okta.lifecycle(&id, "deactivate").await;
    assert_eq!(deactivated["status"], "INACTIVE");
    assert!(deactivated["_links"]["activate"].is_object());
    assert_eq!(
        deactivated["_links"]["self"]["hints"]["allow"],
        json!(["GET", "PUT", "DELETE"])
    );
    // PUT honours `status`.
    let mut active = hook_body("okta-ingest renamed", &receiver.url, "rotated-secret");
    active["status"] = json!("ACTIVE");
    let (status, reactivated) = okta.put(&hook, &active).await;
    assert_eq!(
        (status, reactivated["status"].as_str()),
        (200, Some("ACTIVE"))
    );
    active["status"] = json!("INACTIVE");
    let (_, inactive) = okta.put(&hook, &active).await;
    assert_eq!(inactive["status"], "INACTIVE");
    assert_eq!(okta.delete(&hook).await.0, 204);

    let (status, error) = okta.get(&hook).await;
    assert_eq!(status, 404);
    assert_eq!(error["errorCode"], "E0000007");
    for key in ["errorSummary", "errorLink", "errorId", "errorCauses"] {
        assert!(error.get(key).is_some(), "{key} missing in {error}");
    }
    let (_, state) = SimClient::new(&sim).get("/sim/state").await;
    let state = state.to_string();
    assert!(!state.contains("rotated-secret") && !state.contains(&sim.client_secret()));
    let counters = sim.counters();
    assert_eq!((counters.hooks_created, counters.hooks_deleted), (1, 1));
    assert_eq!(counters.api_calls["POST /api/v1/eventHooks"], 1);
    assert_eq!(
        counters.api_calls["POST /api/v1/eventHooks/{id}/lifecycle/verify"],
        1
    );
    assert_eq!(
        counters.api_calls["POST /api/v1/eventHooks/{id}/lifecycle/deactivate"],
        1
    );
    assert_eq!(counters.api_calls["DELETE /api/v1/eventHooks/{id}"], 2);
    assert_eq!(counters.api_calls["PUT /api/v1/eventHooks/{id}"], 3);
}

#[tokio::test]
async fn event_hooks_api_checks_token_and_scope() {
    let sim = start_sim(sim_options()).await;

    let (status, anonymous) = SimClient::new(&sim).get(HOOKS).await;
    assert_eq!(status, 401);
    assert_eq!(anonymous["errorCode"], "E0000011");

    let logs_only = SimClient::with_scopes(&sim, "okta.logs.read").await;
    let (status, forbidden) = logs_only
        .post(HOOKS, &hook_body("x", "https://example.com/hook", "s"))
        .await;
    assert_eq!(status, 403);
    assert_eq!(forbidden["errorCode"], "E0000006");

    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    assert_eq!(okta.get(HOOKS).await.0, 200);
    sim.revoke_tokens();
    assert_eq!(okta.get(HOOKS).await.0, 401);
}

#[tokio::test]
async fn invalid_hook_bodies_list_their_causes() {
    let sim = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let (status, error) = okta
        .post(HOOKS, &json!({ "name": "", "events": { "type": "EVENT_TYPE", "items": [] }, "channel": { "type": "HTTP", "version": "1.0.0", "config": { "uri": "not a uri" } } }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["errorCode"], "E0000001");
    assert_eq!(error["errorCauses"].as_array().unwrap().len(), 3, "{error}");
}

/// Only types Okta's catalog marks event-hook-eligible may be subscribed, on create and PUT:
/// `user.mfa.okta_verify.deny_push` is a System Log type, not a hook type.
#[tokio::test]
async fn ineligible_event_types_are_refused() {
    let sim = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let mut body = hook_body("Sysdig", "https://ingest.example.com/hooks/okta/k", "s");
    body["events"]["items"] = json!(okta_ingest::okta::Coverage::Extended.event_types());
    let (status, created) = okta.post(HOOKS, &body).await;
    assert_eq!(status, 200, "{created}");
    body["events"]["items"] = json!([
        "user.session.start",
        "user.mfa.okta_verify.deny_push",
        "zone.update"
    ]);
    let (status, error) = okta.post(HOOKS, &body).await;
    assert_eq!(status, 400);
    assert_eq!(error["errorCode"], "E0000001");
    let causes = error["errorCauses"].to_string();
    assert!(
        causes.contains("deny_push") && causes.contains("zone.update"),
        "{error}"
    );
    let id = created["id"].as_str().unwrap();
    let (status, _) = okta.put(&format!("{HOOKS}/{id}"), &body).await;
    assert_eq!(status, 400, "PUT validates the same way");
}

/// Okta's quota counts active and verified hooks: by default a hook is refused when it
/// would become one too many (verify), not when it is created.
#[tokio::test]
async fn the_26th_live_hook_is_refused_at_verify() {
    let sim = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let receiver = Receiver::start().await;
    assert_eq!(sim.create_foreign_hooks(24).len(), 24);
    verified_hook(&sim, &receiver, "s").await;

    let extra = okta.create_hook(&receiver.url, "s").await;
    let extra = extra["id"].as_str().unwrap();
    let (status, error) = okta.lifecycle(extra, "verify").await;
    assert_eq!(status, 400);
    assert_eq!(error["errorCode"], "E0000001");
    assert_eq!(error["errorSummary"], "Api validation failed: eventHook");
    assert_eq!(receiver.requests().len(), 1, "refused before Okta's GET");

    // An inactive verified hook may not come back while the quota is full.
    let live = sim.hooks().into_iter().find(|h| !h.foreign).unwrap().id;
    okta.lifecycle(&live, "deactivate").await;
    assert_eq!(
        okta.lifecycle(extra, "verify").await.0,
        200,
        "a slot is free"
    );
    let (status, _) = okta.lifecycle(&live, "activate").await;
    assert_eq!(status, 400, "activate would make 26");

    let state = sim.state();
    assert_eq!(state.hooks.len(), 26);
    assert_eq!(state.counters.hooks_created, 2);
}

#[tokio::test]
async fn with_the_quota_at_create_the_26th_hook_is_refused_at_create() {
    let sim = start_sim(SimOptions {
        hook_limit_at: HookLimitAt::Create,
        ..sim_options()
    })
    .await;
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    sim.create_foreign_hooks(25);
    let (status, error) = okta
        .post(
            HOOKS,
            &hook_body("one too many", "https://example.com/hook", "s"),
        )
        .await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    assert_eq!(sim.state().counters.hooks_created, 0);
}

#[tokio::test]
async fn hook_uris_must_be_https_unless_the_dev_switch_allows_loopback() {
    let okta_like = start_sim(SimOptions {
        allow_loopback_http_hooks: false,
        ..sim_options()
    })
    .await;
    let okta = SimClient::with_scopes(&okta_like, ALL_SCOPES).await;
    for uri in ["http://127.0.0.1:9/hooks/okta/k", "http://example.com/hook"] {
        let (status, error) = okta.post(HOOKS, &hook_body("x", uri, "s")).await;
        assert_eq!(status, 400, "{uri}");
        let causes = error["errorCauses"].to_string();
        assert!(causes.contains("HTTPS"), "{causes}");
    }
    okta.create_hook("https://example.com/hook", "s").await;

    let dev = start_sim(sim_options()).await;
    let okta = SimClient::with_scopes(&dev, ALL_SCOPES).await;
    okta.create_hook("http://127.0.0.1:9/hooks/okta/k", "s")
        .await;
    let (status, _) = okta
        .post(HOOKS, &hook_body("x", "http://example.com/hook", "s"))
        .await;
    assert_eq!(
        status, 400,
        "only loopback may be http, even with the dev switch"
    );
}

#[tokio::test]
async fn verification_sends_the_challenge_with_auth_and_custom_headers() {
    let sim = start_sim(sim_options()).await;
    let receiver = Receiver::start().await;
    let id = verified_hook(&sim, &receiver, "hook-secret").await;

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let get = &requests[0];
    assert_eq!(get.method, "GET");
    assert!(
        get.header("x-okta-verification-challenge")
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(get.header("authorization"), Some("hook-secret"));
    assert_eq!(get.header("x-custom"), Some("custom-value"));
    assert_eq!(get.header("user-agent"), Some("Okta-Integrations"));
    let hook = sim.hooks().into_iter().find(|h| h.id == id).unwrap();
    assert_eq!(hook.verification_status, VerificationStatus::Verified);
    assert_eq!(hook.status, HookStatus::Active);
}

#[tokio::test]
async fn verification_failure_retries_once_then_answers_e0000001() {
    let sim = start_sim(SimOptions {
        verification_timeout: std::time::Duration::from_millis(300),
        ..sim_options()
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.script([
        Reply::WrongChallenge,
        Reply::Slow(std::time::Duration::from_secs(2), 200),
    ]);
    let okta = SimClient::with_scopes(&sim, ALL_SCOPES).await;
    let hook = okta.create_hook(&receiver.url, "s").await;
    let id = hook["id"].as_str().unwrap();

    let (status, error) = okta.lifecycle(id, "verify").await;
    assert_eq!(status, 400);
    assert_eq!(error["errorCode"], "E0000001");
    assert_eq!(
        error["errorCauses"][0]["errorSummary"],
        "Unable to verify event hook. Hook okta-ingest execution failed"
    );
    assert_eq!(receiver.requests().len(), 2);
    assert_eq!(
        sim.hooks()[0].verification_status,
        VerificationStatus::Unverified
    );

    // The endpoint now answers correctly.
    assert_eq!(okta.lifecycle(id, "verify").await.0, 200);
    assert_eq!(sim.counters().verifications_failed, 1);
}
