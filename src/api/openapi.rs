//! `/api/v1/openapi.json`: the HTTP contract as OpenAPI 3.1, and the routes it describes.
//!
//! Each router module registers its handlers through utoipa-axum's `routes!`, which routes a
//! handler at the path and method its `#[utoipa::path]` documents: a route cannot be missing
//! from the document, nor the document list a route that is not served. Here the modules are
//! merged, each one's operations under its tag and with the credentials they take
//! ([`Access`]), and the errors that the shared extractors answer for every route that uses
//! them are added in one place, so no handler repeats them: a bearer token
//! (400/401/403/503/500), a JSON body (400/413/415/422), a path parameter (400), query
//! parameters (400). Every 4xx/5xx is `application/problem+json`.
//! `tests/service/openapi_contract.rs` holds real answers to the schemas given here.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder, SecurityRequirement, Type,
};
use utoipa::{Modify, OpenApi};

use super::{events, health, hooks, policies, schemas, tokens, wizard};
use crate::state::Services;

/// Serves `doc` at `/api/v1/openapi.json`.
pub fn router(doc: &utoipa::openapi::OpenApi) -> Router<Services> {
    let json = serde_json::to_string(doc).expect("the OpenAPI document serializes");
    Router::new()
        .route("/api/v1/openapi.json", get(document))
        .with_state(Bytes::from(json))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value))
)]
async fn document(State(json): State<Bytes>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "okta-ingest",
        description = "Connects Okta orgs to a threat-detection platform: the wizard, Okta's \
            Event Hook endpoint, the event feed, policies, tokens and operations. Errors are \
            RFC 9457 `application/problem+json` with a stable `code`.",
    ),
    paths(document),
    components(schemas(schemas::Problem)),
    tags(
        (name = "wizard", description = "Connect an Okta org, from our side or from Okta's"),
        (name = "hooks", description = "Okta's side: no bearer token, Okta's own Authorization header"),
        (name = "events", description = "The event feed of runtime events"),
        (name = "policies", description = "Managed and custom detection policies"),
        (name = "tokens", description = "The tenant's API tokens (admin only)"),
        (name = "operations", description = "Probes, metrics and this document"),
    ),
)]
struct ApiDoc;

/// Every router module's routes, and the whole document: each module's operations under its
/// tag and with its access, then the shared errors.
pub fn documented_routes(hook_body_limit: usize) -> (Router<Services>, utoipa::openapi::OpenApi) {
    let mut doc = ApiDoc::openapi();
    let mut routes = Router::new();
    for (tag, access, module) in [
        ("wizard", Access::Tenant, wizard::router()),
        ("hooks", Access::OktaHook, hooks::router(hook_body_limit)),
        ("events", Access::Tenant, events::router()),
        ("policies", Access::Tenant, policies::router()),
        ("tokens", Access::Admin, tokens::router()),
        ("operations", Access::Open, health::router()),
    ] {
        let (module_routes, mut part) = module.split_for_parts();
        for (_, method, operation) in operations(&mut part) {
            operation.tags = Some(vec![tag.to_string()]);
            operation.security = access.requirement(method).map(|r| vec![r]);
        }
        doc.merge(part);
        routes = routes.merge(module_routes);
    }
    SecuritySchemes.modify(&mut doc);
    ExtractorErrors.modify(&mut doc);
    (routes, doc)
}

/// Who may call a router module's operations. The handlers' extractors enforce it ([`Caller`]
/// takes any tenant token, [`Admin`] an admin's); `tests/service/isolation.rs` calls every
/// operation of this document with each role and holds it to what is said here.
///
/// [`Caller`]: super::auth::Caller
/// [`Admin`]: super::auth::Admin
#[derive(Clone, Copy)]
enum Access {
    /// No credentials: the probes, the metrics and this document.
    Open,
    /// Okta's own Authorization header: the secret we gave Okta for the hook.
    OktaHook,
    /// A tenant token: any role reads (GET), `admin` changes things.
    Tenant,
    /// A tenant token of role `admin`, for reading too.
    Admin,
}

impl Access {
    fn requirement(self, method: HttpMethod) -> Option<SecurityRequirement> {
        let none: [&str; 0] = [];
        match (self, method) {
            (Access::Open, _) => None,
            (Access::OktaHook, _) => Some(SecurityRequirement::new("okta_hook", none)),
            (Access::Tenant, HttpMethod::Get) => Some(SecurityRequirement::new("bearer", none)),
            (Access::Tenant | Access::Admin, _) => {
                Some(SecurityRequirement::new("bearer", ["admin"]))
            }
        }
    }
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "A tenant token (`oki_…`). Roles: `admin` may change things, `viewer` only reads; \
             operations requiring `admin` list it as a role."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "okta_hook",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The secret okta-ingest gave Okta for this hook, sent by Okta as the whole \
                 Authorization header value",
            ))),
        );
    }
}

/// Errors the shared extractors answer, added to every operation that uses them.
struct ExtractorErrors;

impl Modify for ExtractorErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, _, operation) in operations(doc) {
            for (status, cause) in extractor_errors(path, operation) {
                add_cause(operation, status, cause);
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response {
                    problem_content(status, response);
                }
            }
        }
    }
}

/// Every operation of the document, with its path and method.
fn operations(
    doc: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&str, HttpMethod, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Delete, &mut item.delete),
            (HttpMethod::Patch, &mut item.patch),
        ]
        .into_iter()
        .filter_map(move |(method, operation)| Some((path.as_str(), method, operation.as_mut()?)))
    })
}

fn extractor_errors(path: &str, operation: &Operation) -> Vec<(&'static str, &'static str)> {
    let requires = |roles: &[&str]| {
        operation
            .security
            .as_ref()
            .is_some_and(|s| s.contains(&SecurityRequirement::new("bearer", roles.to_vec())))
    };
    let parameter_in = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let mut causes = Vec::new();
    if requires(&[]) || requires(&["admin"]) {
        causes.extend([
            (
                "400",
                "`duplicate_authorization`: more than one Authorization header",
            ),
            (
                "401",
                "`unauthorized`: no `Authorization: Bearer <tenant token>`, or an unknown, \
                 expired or revoked token",
            ),
            (
                "503",
                "`unavailable`: the database is unavailable; retry after `Retry-After`",
            ),
            (
                "500",
                "`internal_error`: a fault of ours, logged; `detail` has an id to quote",
            ),
        ]);
    }
    if requires(&["admin"]) {
        causes.push((
            "403",
            "`forbidden`: a viewer token; this needs an admin token",
        ));
    }
    if parameter_in(ParameterIn::Path) {
        causes.push(("400", "`invalid_id`: a path parameter is not of its format"));
    }
    if parameter_in(ParameterIn::Query) {
        causes.push((
            "400",
            "`invalid_query`: a query parameter of the wrong type, or one not listed",
        ));
    }
    // The API's bodies go through `error::Json`; the hook reads its own and says so itself.
    if path.starts_with("/api/") && operation.request_body.is_some() {
        causes.extend([
            (
                "400",
                "`malformed_json`: the body is not JSON; `invalid_body`: unreadable",
            ),
            ("413", "`body_too_large`: the body is over 1 MiB"),
            (
                "415",
                "`unsupported_media_type`: not Content-Type: application/json",
            ),
            (
                "422",
                "`invalid_body`: a required field is missing, a field has the wrong type, or a \
                 field is not one listed",
            ),
        ]);
    }
    causes
}

/// Adds `cause` to the operation's response for `status`, making one if there is none.
fn add_cause(operation: &mut Operation, status: &str, cause: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            response.description = format!("{}; {cause}", response.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert(
                status.to_string(),
                RefOr::T(ResponseBuilder::new().description(cause).build()),
            );
        }
    }
}

/// An error response without a body of its own is a problem document; a 503 problem says
/// when to retry.
fn problem_content(status: &str, response: &mut Response) {
    let is_error = matches!(status.as_bytes().first(), Some(b'4' | b'5'));
    if !is_error || !response.content.is_empty() {
        return;
    }
    response.content.insert(
        "application/problem+json".into(),
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    if status == "503" {
        response.headers.insert(
            "Retry-After".into(),
            HeaderBuilder::new()
                .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
}
