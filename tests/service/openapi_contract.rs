//! `/api/v1/openapi.json` against the service that serves it: every route the routers
//! register is documented with its parameters, bodies, security and error responses, and
//! real answers (successes and problems) match the schemas the document gives them, field
//! for field. So the document cannot silently fall behind the code.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::path::Path;

use crate::support::{JSON, TestApp};
use okta_ingest::service::tokens::MAX_EXPIRES_IN_DAYS;
use okta_ingest::sim;
use okta_ingest::store::tenants::Role;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[sqlx::test(migrations = "./migrations")]
async fn every_route_is_documented_with_its_parameters(pool: PgPool) {
    let t = Service::spawn(&pool).await;
    let doc = &t.doc;
    assert_eq!(doc["openapi"], "3.1.0");

    // utoipa-axum routes each documented handler at its documented path and method; a route
    // registered by hand (`.route(` in src/api, read from the source since axum cannot list
    // its routes) must be documented too. The requests below check that each is served.
    let routed = documented_operations(doc);
    assert!(routed.len() >= 20, "documented: {routed:?}");
    let by_hand = routes_in_source();
    assert!(
        !by_hand.is_empty(),
        "the document's own route is registered by hand"
    );
    let undocumented: Vec<_> = by_hand.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routed, not documented: {undocumented:?}"
    );

    for (path, method) in &routed {
        let operation = &doc["paths"][path.as_str()][method.as_str()];
        let at = format!("{} {path}", method.to_uppercase());
        assert!(operation["operationId"].is_string(), "{at}: operationId");
        check_path_parameters(doc, path, operation, &at);
        check_security(path, method, operation, &at);
        check_responses(path, operation, &at);
    }
    check_query_parameters(doc);
    check_request_bodies(doc, &routed);
    check_refs(doc);

    // The router agrees: each documented operation is routed, any other method is a 405.
    for (path, _) in &routed {
        let concrete = path
            .replace("{hook_key}", "no-such-key")
            .replace("/events/{id}", "/events/1")
            .replace("{id}", NIL)
            .replace("{token_id}", NIL);
        for method in METHODS {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = format!("{}{concrete}", t.base);
            let response = t.http.request(verb, url).bearer_auth(&t.admin).send().await;
            let response = response.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if routed.contains(&(path.clone(), method.to_string())) {
                assert!(
                    status != StatusCode::METHOD_NOT_ALLOWED && body["detail"] != "no such path",
                    "{method} {concrete}: documented but not routed ({status} {body})"
                );
            } else {
                assert_eq!(
                    (status, &body["code"]),
                    (StatusCode::METHOD_NOT_ALLOWED, &json!("method_not_allowed")),
                    "{method} {concrete}: routed but not documented?"
                );
            }
        }
    }
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// Each placeholder of the path is a required parameter of its format.
fn check_path_parameters(doc: &Value, path: &str, operation: &Value, at: &str) {
    let declared = parameters(doc, operation, "path");
    let names: BTreeSet<String> = declared.keys().cloned().collect();
    assert_eq!(names, placeholders(path), "{at}: path parameters");
    for (name, parameter) in &declared {
        assert_eq!(parameter["required"], true, "{at}: {name} required");
        let schema = resolve(doc, &parameter["schema"]);
        let (kind, format) = match (path, name.as_str()) {
            ("/api/v1/events/{id}", "id") => ("integer", json!("int64")),
            ("/hooks/okta/{hook_key}", "hook_key") => ("string", Value::Null),
            _ => ("string", json!("uuid")),
        };
        assert_eq!(
            (&schema["type"], &schema["format"]),
            (&json!(kind), &format),
            "{at}: {name}"
        );
    }
    if !declared.is_empty() {
        assert!(operation["responses"]["400"].is_object(), "{at}: 400");
    }
}

/// A tenant token on /api/v1 (but for this document), an admin's to change things or to see
/// tokens; Okta's own header on the hook; nothing on the probes.
fn check_security(path: &str, method: &str, operation: &Value, at: &str) {
    let security = &operation["security"];
    let responses = &operation["responses"];
    if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
        let admin = method != "get" || path == "/api/v1/tokens";
        let roles = if admin { json!(["admin"]) } else { json!([]) };
        assert_eq!(security, &json!([{ "bearer": roles }]), "{at}: security");
        for status in ["401", "503"] {
            assert!(responses[status].is_object(), "{at}: {status}");
        }
        assert_eq!(responses["403"].is_object(), admin, "{at}: 403");
    } else if path.starts_with("/hooks/") {
        assert_eq!(security, &json!([{ "okta_hook": [] }]), "{at}: security");
    } else {
        assert!(security.is_null(), "{at}: no security");
    }
}

/// A success, a description for each answer, and every error a problem document.
fn check_responses(path: &str, operation: &Value, at: &str) {
    let responses = operation["responses"].as_object().expect("responses");
    assert!(
        responses.keys().any(|s| s.starts_with('2')),
        "{at}: no success"
    );
    for (status, response) in responses {
        let described = response["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty());
        assert!(described, "{at} {status}: description");
        let is_error = status.starts_with('4') || status.starts_with('5');
        let problem = &response["content"]["application/problem+json"]["schema"]["$ref"];
        if is_error && path != "/readyz" {
            assert_eq!(problem, "#/components/schemas/Problem", "{at} {status}");
        }
    }
}

/// The query parameters, with the bounds and values the handlers enforce.
fn check_query_parameters(doc: &Value) {
    let feed = parameters(doc, &doc["paths"]["/api/v1/events"]["get"], "query");
    let schema = |name: &str| resolve(doc, &feed[name]["schema"]).clone();
    let names: Vec<&str> = feed.keys().map(String::as_str).collect();
    let expected = [
        "cursor",
        "integration",
        "limit",
        "policy",
        "q",
        "severity",
        "since",
        "source",
        "until",
    ];
    assert_eq!(names, expected);
    let limit = schema("limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"], &limit["format"]),
        (&json!(1), &json!(500), &json!("int64"))
    );
    assert_eq!(
        schema("severity")["enum"],
        json!(["high", "medium", "low", "info"])
    );
    assert_eq!(schema("integration")["format"], "uuid");
    for time in ["since", "until"] {
        assert_eq!(schema(time)["format"], "date-time", "{time}");
    }
    for text in ["q", "source", "policy"] {
        assert_eq!(schema(text)["maxLength"], 256, "{text}");
    }
    let policies = parameters(doc, &doc["paths"]["/api/v1/policies"]["get"], "query");
    assert_eq!(
        resolve(doc, &policies["managed"]["schema"])["type"],
        "boolean"
    );
    assert_eq!(
        resolve(doc, &policies["type"]["schema"])["enum"],
        json!(["okta"])
    );
}

/// Which operations take a JSON body, its required fields, and (the API's, which refuse
/// unknown fields) `additionalProperties: false` with the extractor's errors.
fn check_request_bodies(doc: &Value, routed: &BTreeSet<(String, String)>) {
    let okta = "/api/v1/integrations/okta";
    let bodies: BTreeMap<(String, &str), &[&str]> = BTreeMap::from([
        ((format!("{okta}/launch"), "post"), &["org"][..]),
        (
            (format!("{okta}/{{id}}/validate"), "post"),
            &["client_id", "client_secret"],
        ),
        (
            (okta.to_string(), "post"),
            &["client_id", "client_secret", "okta_domain"],
        ),
        (
            (format!("{okta}/{{id}}/credentials"), "put"),
            &["client_secret"],
        ),
        ((format!("{okta}/{{id}}/baseline"), "post"), &[]),
        ((format!("{okta}/{{id}}"), "put"), &[]),
        ((format!("{okta}/{{id}}/complete"), "post"), &[]),
        (
            ("/api/v1/policies".into(), "post"),
            &["name", "rules", "type"],
        ),
        (("/api/v1/policies/{id}".into(), "patch"), &[]),
        (("/api/v1/policies/test".into(), "post"), &["rules"]),
        (("/api/v1/tokens".into(), "post"), &["role"]),
        (
            ("/hooks/okta/{hook_key}".into(), "post"),
            &["data", "eventType"],
        ),
    ]);
    for (path, method) in routed {
        let operation = &doc["paths"][path.as_str()][method.as_str()];
        let body = &operation["requestBody"];
        let Some(required) = bodies.get(&(path.clone(), method.as_str())) else {
            assert!(body.is_null(), "{method} {path}: a request body");
            continue;
        };
        // Complete's body is optional: clients that post none keep the integration's coverage.
        let optional = *path == format!("{okta}/{{id}}/complete");
        assert_eq!(
            body["required"] == true,
            !optional,
            "{method} {path}: {body}"
        );
        let mut schema = resolve(doc, &body["content"]["application/json"]["schema"]);
        if optional {
            // `null` or the body's object.
            let object = schema["oneOf"]
                .as_array()
                .and_then(|branches| branches.iter().find(|b| b["type"] != "null"));
            schema = resolve(doc, object.expect("a non-null branch"));
        }
        let mut listed: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        listed.sort_unstable();
        assert_eq!(&listed, required, "{method} {path}: required fields");
        if path.starts_with("/api/") {
            assert_eq!(schema["additionalProperties"], false, "{method} {path}");
            for status in ["400", "413", "415", "422"] {
                let response = &operation["responses"][status];
                assert!(response.is_object(), "{method} {path}: {status}");
            }
        }
    }
    let token = &doc["paths"]["/api/v1/tokens"]["post"]["requestBody"]["content"];
    let token = resolve(doc, &token["application/json"]["schema"]);
    let days = &token["properties"]["expires_in_days"];
    assert_eq!(
        (&days["minimum"], &days["maximum"]),
        (&json!(1), &json!(MAX_EXPIRES_IN_DAYS))
    );
    let role = resolve(doc, &token["properties"]["role"]);
    assert_eq!(role["enum"], json!(["admin", "viewer"]));
}

/// Every `$ref` names a schema the document has.
fn check_refs(doc: &Value) {
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    for reference in refs {
        let name = reference.strip_prefix("#/components/schemas/");
        let name = name.unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{reference}"
        );
    }
}

// The answers below are each checked against the document by `Service::send`: status,
// content type and body, field for field.

#[sqlx::test(migrations = "./migrations")]
async fn wizard_answers_match_the_document(pool: PgPool) {
    let t = Service::spawn(&pool).await;
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        t.send("get", path, None, None, &[]).await;
    }
    let id = t.connect().await;
    let rotation = format!("{OKTA}/{id}/credentials");
    let wrong = json!({ "client_secret": "wrong" });
    t.expect(UNPROCESSABLE, "put", &rotation, wrong).await;
    let secret = json!({ "client_secret": t.sim.client_secret() });
    t.expect(StatusCode::OK, "put", &rotation, secret).await;
    t.expect(StatusCode::OK, "get", OKTA, NO_BODY).await;
    t.expect(StatusCode::OK, "get", &format!("{OKTA}/{id}"), NO_BODY)
        .await;
    let validate = format!("{OKTA}/{id}/validate");
    t.expect(StatusCode::CONFLICT, "post", &validate, t.creds())
        .await;
    let baseline = format!("{OKTA}/{id}/baseline");
    t.expect(UNPROCESSABLE, "post", &baseline, json!({ "days": 91 }))
        .await;
    let started = json!({ "days": 7 });
    t.expect(StatusCode::ACCEPTED, "post", &baseline, started)
        .await;
    let learning = t
        .expect(StatusCode::OK, "get", &format!("{OKTA}/{id}"), NO_BODY)
        .await;
    assert!(learning["baseline"].is_object(), "{learning}");

    // The org again, from either side: refused while it is connected, naming the integration.
    let mut from_okta = t.creds();
    from_okta["okta_domain"] = json!(t.sim.base_url);
    let refused = t
        .expect(StatusCode::CONFLICT, "post", OKTA, from_okta.clone())
        .await;
    assert_eq!(refused["integration_id"], json!(id), "{refused}");
    let again = json!({ "org": t.sim.base_url });
    let launch = format!("{OKTA}/launch");
    t.expect(StatusCode::CONFLICT, "post", &launch, again).await;

    // Deleted, the org is connected from Okta's side, then deleted (twice).
    t.expect(
        StatusCode::NO_CONTENT,
        "delete",
        &format!("{OKTA}/{id}"),
        NO_BODY,
    )
    .await;
    let created = t.expect(StatusCode::CREATED, "post", OKTA, from_okta).await;
    let other = format!("{OKTA}/{}", created["id"].as_str().unwrap());
    t.expect(StatusCode::NO_CONTENT, "delete", &other, NO_BODY)
        .await;
    t.expect(StatusCode::NOT_FOUND, "delete", &other, NO_BODY)
        .await;
    t.expect(
        StatusCode::BAD_REQUEST,
        "get",
        &format!("{OKTA}/x"),
        NO_BODY,
    )
    .await;

    // Bodies the extractors refuse.
    let launch = format!("{OKTA}/launch");
    for (status, content_type, body) in [
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "text/plain", "{}"),
        (StatusCode::BAD_REQUEST, JSON, "{"),
        (UNPROCESSABLE, JSON, r#"{"org": 1}"#),
        (UNPROCESSABLE, JSON, r#"{"org": "acme", "extra": 1}"#),
    ] {
        let sent = Some((content_type, body.to_string()));
        let answer = t.send("post", &launch, Some(&t.admin), sent, &[]).await;
        assert_eq!(answer.0, status, "{content_type} {body}");
    }
    let viewer = t.app.token(Role::Viewer).await;
    let body = Some((JSON, json!({ "org": "acme" }).to_string()));
    let answer = t.send("post", &launch, Some(&viewer), body, &[]).await;
    assert_eq!(answer.0, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "./migrations")]
async fn hook_and_feed_answers_match_the_document(pool: PgPool) {
    let t = Service::spawn(&pool).await;
    t.connect().await;

    // Okta's side: verification and deliveries, with and without the hook's secret.
    let hook = t.sim.hooks().into_iter().next().expect("a hook");
    let hook_path = hook.uri.strip_prefix(&t.base).expect("ours").to_string();
    let secret = t.sim.hook_auth_value(&hook.id).expect("the hook's secret");
    let auth = ("authorization", secret.as_str());
    let challenge = ("x-okta-verification-challenge", "V");
    for headers in [vec![auth, challenge], vec![auth], vec![challenge]] {
        t.send("get", &hook_path, None, None, &headers).await;
    }
    let events = sim::scenario::demo_scenario(chrono::Utc::now());
    let delivery = crate::support::envelope(&events);
    let other = json!({ "eventType": "other" }).to_string();
    for (status, path, content_type, body) in [
        (
            StatusCode::OK,
            hook_path.as_str(),
            JSON,
            delivery.to_string(),
        ),
        (StatusCode::BAD_REQUEST, &hook_path, JSON, other),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &hook_path,
            "text/plain",
            "{}".into(),
        ),
        (
            StatusCode::NOT_FOUND,
            "/hooks/okta/no-such-key",
            JSON,
            "{}".into(),
        ),
    ] {
        let sent = Some((content_type, body));
        let answer = t.send("post", path, None, sent, &[auth]).await;
        assert_eq!(answer.0, status, "{path}");
    }
    t.wait_processed().await;

    // The feed, page by page, and a runtime event.
    let page = t
        .expect(StatusCode::OK, "get", "/api/v1/events?limit=2", NO_BODY)
        .await;
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let next = format!("/api/v1/events?limit=2&cursor={cursor}");
    t.expect(StatusCode::OK, "get", &next, NO_BODY).await;
    let event = page["items"][0]["id"].as_i64().expect("a runtime event");
    let event = format!("/api/v1/events/{event}");
    t.expect(StatusCode::OK, "get", &event, NO_BODY).await;
    t.expect(StatusCode::NOT_FOUND, "get", "/api/v1/events/0", NO_BODY)
        .await;
    t.expect(StatusCode::BAD_REQUEST, "get", "/api/v1/events/x", NO_BODY)
        .await;
    for query in [
        "limit=0",
        "severity=urgent",
        "cursor=x",
        "since=1900-01-01T00:00:00Z",
    ] {
        let path = format!("/api/v1/events?{query}");
        t.expect(StatusCode::BAD_REQUEST, "get", &path, NO_BODY)
            .await;
    }
    let answer = t.send("get", "/api/v1/events", None, None, &[]).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "./migrations")]
async fn policy_and_token_answers_match_the_document(pool: PgPool) {
    let t = Service::spawn(&pool).await;
    let list = t
        .expect(StatusCode::OK, "get", "/api/v1/policies", NO_BODY)
        .await;
    let managed = format!(
        "/api/v1/policies/{}",
        list["items"][0]["id"].as_str().unwrap()
    );
    t.expect(StatusCode::OK, "get", &managed, NO_BODY).await;
    let custom_only = "/api/v1/policies?managed=false&type=okta";
    t.expect(StatusCode::OK, "get", custom_only, NO_BODY).await;
    t.expect(UNPROCESSABLE, "get", "/api/v1/policies?type=k8s", NO_BODY)
        .await;

    // The document's own example is a valid policy.
    let example = example_policy(&t.doc);
    let created = t.expect(
        StatusCode::CREATED,
        "post",
        "/api/v1/policies",
        example.clone(),
    );
    let created = created.await;
    let custom = format!("/api/v1/policies/{}", created["id"].as_str().unwrap());
    t.expect(
        StatusCode::CONFLICT,
        "post",
        "/api/v1/policies",
        example.clone(),
    )
    .await;
    let broken =
        json!({ "name": "broken", "type": "okta", "rules": "- rule: x\n  condition: (\n" });
    let refused = t
        .expect(UNPROCESSABLE, "post", "/api/v1/policies", broken)
        .await;
    assert!(refused["line"].is_number(), "{refused}");
    let dry_run = json!({ "rules": example["rules"], "since": "2026-01-01T00:00:00Z" });
    t.expect(StatusCode::OK, "post", "/api/v1/policies/test", dry_run)
        .await;
    let broken = json!({ "rules": "- rule: x\n  condition: (\n" });
    t.expect(UNPROCESSABLE, "post", "/api/v1/policies/test", broken)
        .await;
    for (status, path, patch) in [
        (
            StatusCode::OK,
            &custom,
            json!({ "enabled": false, "description": "off" }),
        ),
        (StatusCode::OK, &managed, json!({ "enabled": false })),
        (UNPROCESSABLE, &managed, json!({ "name": "mine" })),
        (UNPROCESSABLE, &custom, json!({ "colour": "red" })),
    ] {
        t.expect(status, "patch", path, patch).await;
    }
    t.expect(StatusCode::CONFLICT, "delete", &managed, NO_BODY)
        .await;
    t.expect(StatusCode::NO_CONTENT, "delete", &custom, NO_BODY)
        .await;
    t.expect(StatusCode::NOT_FOUND, "delete", &custom, NO_BODY)
        .await;

    // Tokens: created, listed, refused out of range, revoked (then refused).
    let viewer = json!({ "role": "viewer", "expires_in_days": 1 });
    let viewer = t
        .expect(StatusCode::CREATED, "post", "/api/v1/tokens", viewer)
        .await;
    let forever = json!({ "role": "viewer", "expires_in_days": 0 });
    t.expect(UNPROCESSABLE, "post", "/api/v1/tokens", forever)
        .await;
    t.expect(StatusCode::OK, "get", "/api/v1/tokens", NO_BODY)
        .await;
    let revoke = format!("/api/v1/tokens/{}", viewer["token_id"].as_str().unwrap());
    t.expect(StatusCode::NO_CONTENT, "delete", &revoke, NO_BODY)
        .await;
    t.expect(StatusCode::NOT_FOUND, "delete", &revoke, NO_BODY)
        .await;
    let token = viewer["token"].as_str();
    let answer = t.send("get", "/api/v1/policies", token, None, &[]).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
}

const OKTA: &str = "/api/v1/integrations/okta";
const NO_BODY: Value = Value::Null;
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
/// The service with the OpenAPI document it serves.
struct Service {
    app: TestApp,
    doc: Value,
}

impl Deref for Service {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Service {
    async fn spawn(pool: &PgPool) -> Service {
        let app = TestApp::spawn(pool).await;
        let response = app.http.get(format!("{}/api/v1/openapi.json", app.base));
        let doc = response.send().await.unwrap().json().await;
        Service {
            app,
            doc: doc.expect("the document is JSON"),
        }
    }

    /// As the tenant's admin, with a JSON body unless it is null; the answer has `status`.
    async fn expect(&self, status: StatusCode, method: &str, path: &str, body: Value) -> Value {
        let body = (!body.is_null()).then(|| (JSON, body.to_string()));
        let (answered, value) = self.send(method, path, Some(&self.admin), body, &[]).await;
        assert_eq!(answered, status, "{method} {path}: {value}");
        value
    }

    /// The wizard from our side: launch, a wrong secret, out of order, validate, complete.
    async fn connect(&self) -> String {
        let launch = json!({ "org": self.sim.base_url });
        let path = format!("{OKTA}/launch");
        let launched = self
            .expect(StatusCode::CREATED, "post", &path, launch)
            .await;
        let id = launched["id"].as_str().expect("id").to_string();
        let validate = format!("{OKTA}/{id}/validate");
        let wrong = json!({ "client_id": self.sim.client_id, "client_secret": "wrong" });
        let refused = self.expect(UNPROCESSABLE, "post", &validate, wrong).await;
        assert!(refused["checks"].is_array(), "{refused}");
        let complete = format!("{OKTA}/{id}/complete");
        self.expect(StatusCode::CONFLICT, "post", &complete, NO_BODY)
            .await;
        self.expect(StatusCode::OK, "post", &validate, self.creds())
            .await;
        self.expect(StatusCode::OK, "post", &complete, NO_BODY)
            .await;
        id
    }

    /// Sends the request and checks the answer against the document: its status is
    /// documented for the operation, its content type too, and its body matches.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = self.http.request(verb, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, body)) = body {
            request = request
                .header(header::CONTENT_TYPE, content_type)
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.unwrap();
        let at = format!("{} {path} → {status}", method.to_uppercase());
        let template = template(&self.doc, path);
        let documented =
            &self.doc["paths"][template.as_str()][method]["responses"][status.as_str()];
        assert!(
            documented.is_object(),
            "{at}: status not documented; {text}"
        );
        if text.is_empty() {
            assert!(documented["content"].is_null(), "{at}: empty body");
            return (status, Value::Null);
        }
        let schema = &documented["content"][content_type.as_str()]["schema"];
        assert!(schema.is_object(), "{at}: {content_type:?} not documented");
        if !content_type.contains("json") {
            return (status, Value::String(text));
        }
        let value: Value = serde_json::from_str(&text).expect("a JSON body");
        if let Err(error) = conforms(&self.doc, schema, &value, "$") {
            panic!("{at}: {error}\n{value:#}");
        }
        (status, value)
    }
}

/// The documented path template `path` (without its query) falls under; static segments win
/// over parameters, as in the router.
fn template(doc: &Value, path: &str) -> String {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    let fits = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        (parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || t.starts_with('{')))
        .then(|| parts.iter().filter(|t| !t.starts_with('{')).count())
    };
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|t| fits(t).map(|statics| (statics, t)))
        .max()
        .map(|(_, t)| t.clone())
        .unwrap_or_else(|| panic!("{path} is not documented"))
}

/// `(path, method)` of every `.route("path", get(h).post(h)…)` under `src/api`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let call = &rest[..closing_paren(rest)];
            let (path, handlers) = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|c| c.split_once('"'))
                .expect("a route path literal");
            let methods: Vec<&str> = METHODS.into_iter().filter(|m| calls(handlers, m)).collect();
            assert!(
                !methods.is_empty(),
                "cannot read the methods of {path}: {handlers}"
            );
            for method in methods {
                routes.insert((path.to_string(), method.to_string()));
            }
        }
    }
    routes
}

/// The index of the `)` closing the call whose arguments start `text`.
fn closing_paren(text: &str) -> usize {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return i,
            ')' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced .route(")
}

/// Whether `text` calls the method router `name(…)` (not `…_name(` or `name_…(`).
fn calls(text: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    text.match_indices(&pattern).any(|(i, _)| {
        !text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            operations.insert((path.clone(), method.clone()));
        }
    }
    operations
}

fn placeholders(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_string)
        .collect()
}

fn parameters<'a>(
    doc: &'a Value,
    operation: &'a Value,
    place: &str,
) -> BTreeMap<String, &'a Value> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == place)
        .map(|p| (p["name"].as_str().unwrap().to_string(), p))
        .collect()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                refs.push(reference.clone());
            }
            object.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// The example body of `POST /api/v1/policies`, field by field.
fn example_policy(doc: &Value) -> Value {
    let schema = resolve(
        doc,
        &doc["paths"]["/api/v1/policies"]["post"]["requestBody"]["content"]["application/json"]["schema"],
    );
    let example = |field: &str| schema["properties"][field]["example"].clone();
    assert!(example("rules").is_string() && example("name").is_string());
    json!({ "name": example("name"), "type": "okta", "rules": example("rules") })
}

/// JSON Schema, as much of it as the document uses — and stricter: an object may hold only
/// the properties its schema lists, so a field added to an answer must be documented.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            conforms_lenient(doc, part, value, at)?;
        }
    }
    if let Some(one) = schema["oneOf"].as_array() {
        let matching = one
            .iter()
            .filter(|s| conforms(doc, s, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!("{at}: matches {matching} of oneOf {one:?}"));
        }
    }
    conforms_here(doc, schema, value, at)?;
    if let Value::Object(object) = value
        && schema["additionalProperties"].is_null()
        && let Some(known) = property_names(doc, schema)
        && let Some(extra) = object.keys().find(|k| !known.contains(k.as_str()))
    {
        return Err(format!("{at}: `{extra}` is not documented"));
    }
    Ok(())
}

/// `conforms` without the check for undocumented properties (a part of an `allOf`).
fn conforms_lenient(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            conforms_lenient(doc, part, value, at)?;
        }
    }
    conforms_here(doc, schema, value, at)
}

/// The properties an object schema lists, through `$ref` and `allOf`; `None` if it lists none.
fn property_names<'a>(doc: &'a Value, schema: &'a Value) -> Option<BTreeSet<&'a str>> {
    let schema = resolve(doc, schema);
    let mut names: BTreeSet<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(property_names(doc, part)?);
    }
    (!names.is_empty()).then_some(names)
}

fn conforms_here(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(types) = match &schema["type"] {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    } && !types.iter().any(|t| has_type(value, t))
    {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::String(text) => {
            let valid = match schema["format"].as_str() {
                Some("uuid") => uuid::Uuid::parse_str(text).is_ok(),
                Some("date-time") => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                _ => true,
            };
            if !valid {
                return Err(format!("{at}: {text:?} is not a {}", schema["format"]));
            }
        }
        Value::Number(number) => {
            let n = number.as_f64().unwrap();
            if schema["minimum"].as_f64().is_some_and(|min| n < min)
                || schema["maximum"].as_f64().is_some_and(|max| n > max)
            {
                return Err(format!("{at}: {n} is out of range"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
        Value::Object(object) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !object.contains_key(name) {
                    return Err(format!("{at}: `{name}` is missing"));
                }
            }
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                if let Some(field) = object.get(name) {
                    conforms(doc, property, field, &format!("{at}.{name}"))?;
                }
            }
            if schema["additionalProperties"] == false
                && let Some(extra) = object.keys().find(|k| {
                    !schema["properties"]
                        .as_object()
                        .is_some_and(|p| p.contains_key(*k))
                })
            {
                return Err(format!("{at}: `{extra}` is not allowed"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}
