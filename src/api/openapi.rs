//! `/api/v1/openapi.json`: the HTTP contract as OpenAPI 3.1, built with utoipa.

use std::sync::LazyLock;

use axum::Router;
use axum::routing::get;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, ResponseBuilder,
};

use crate::state::Services;

pub fn router() -> Router<Services> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { axum::Json(SPEC.clone()) }),
    )
}

/// (path, method, tag, summary, success status, needs a tenant token)
const OPERATIONS: &[(&str, HttpMethod, &str, &str, &str, bool)] = &[
    (
        "/api/v1/integrations/okta/launch",
        HttpMethod::Post,
        "wizard",
        "Start from Sysdig: org name → Okta domain and install URL",
        "201",
        true,
    ),
    (
        "/api/v1/integrations/okta/{id}/validate",
        HttpMethod::Post,
        "wizard",
        "Validate Client ID and Client Secret against Okta",
        "200",
        true,
    ),
    (
        "/api/v1/integrations/okta",
        HttpMethod::Post,
        "wizard",
        "Start from Okta: domain and credentials, validated in one step",
        "201",
        true,
    ),
    (
        "/api/v1/integrations/okta/{id}/complete",
        HttpMethod::Post,
        "wizard",
        "Provision (or adopt) and verify the Event Hook",
        "200",
        true,
    ),
    (
        "/api/v1/integrations/okta",
        HttpMethod::Get,
        "wizard",
        "List integrations with status and health",
        "200",
        true,
    ),
    (
        "/api/v1/integrations/okta/{id}",
        HttpMethod::Get,
        "wizard",
        "Integration status and health",
        "200",
        true,
    ),
    (
        "/api/v1/integrations/okta/{id}/credentials",
        HttpMethod::Put,
        "wizard",
        "Rotate credentials (validated before replacing)",
        "200",
        true,
    ),
    (
        "/api/v1/integrations/okta/{id}",
        HttpMethod::Delete,
        "wizard",
        "Delete: remove the hook in Okta, destroy credentials",
        "204",
        true,
    ),
    (
        "/hooks/okta/{hook_key}",
        HttpMethod::Get,
        "hooks",
        "Okta's one-time verification challenge",
        "200",
        false,
    ),
    (
        "/hooks/okta/{hook_key}",
        HttpMethod::Post,
        "hooks",
        "Okta event delivery; 200 once committed",
        "200",
        false,
    ),
    (
        "/api/v1/events",
        HttpMethod::Get,
        "events",
        "Event feed: search, filters, keyset pagination",
        "200",
        true,
    ),
    (
        "/api/v1/events/{id}",
        HttpMethod::Get,
        "events",
        "A runtime event with normalized fields and the raw Okta event",
        "200",
        true,
    ),
    (
        "/api/v1/policies",
        HttpMethod::Get,
        "policies",
        "List managed and custom policies",
        "200",
        true,
    ),
    (
        "/api/v1/policies",
        HttpMethod::Post,
        "policies",
        "Create a custom okta policy (rules validated: 422 with line)",
        "201",
        true,
    ),
    (
        "/api/v1/policies/{id}",
        HttpMethod::Get,
        "policies",
        "A policy with its rules",
        "200",
        true,
    ),
    (
        "/api/v1/policies/{id}",
        HttpMethod::Patch,
        "policies",
        "Enable/disable (managed) or change (custom)",
        "200",
        true,
    ),
    (
        "/api/v1/policies/{id}",
        HttpMethod::Delete,
        "policies",
        "Delete a custom policy",
        "204",
        true,
    ),
    (
        "/healthz",
        HttpMethod::Get,
        "operations",
        "Process alive",
        "200",
        false,
    ),
    (
        "/readyz",
        HttpMethod::Get,
        "operations",
        "Database reachable, migrations applied, worker alive",
        "200",
        false,
    ),
    (
        "/metrics",
        HttpMethod::Get,
        "operations",
        "Prometheus metrics",
        "200",
        false,
    ),
];

static SPEC: LazyLock<OpenApi> = LazyLock::new(build);

fn build() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (path, method, tag, summary, status, authenticated) in OPERATIONS {
        let mut operation = OperationBuilder::new()
            .tag(*tag)
            .summary(Some(*summary))
            .response(*status, ResponseBuilder::new().description("success"))
            .response(
                "default",
                ResponseBuilder::new().description("application/problem+json with a stable `code`"),
            );
        if *authenticated {
            operation =
                operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        paths = paths.path(*path, PathItem::new(method.clone(), operation));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("okta-ingest")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
                )
                .build(),
        ))
        .build()
}
