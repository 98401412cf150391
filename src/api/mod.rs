//! The HTTP edge: axum routers, authentication and the problem+json error type.

pub mod auth;
pub mod error;
pub mod events;
pub mod health;
pub mod hooks;
pub mod openapi;
pub mod policies;
pub mod schemas;
pub mod tokens;
pub mod wizard;

use axum::Router;
use axum::http::StatusCode;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::state::Services;

pub fn router(services: Services) -> Router {
    let (routes, doc) = openapi::documented_routes(services.config().hook_body_limit_bytes);
    Router::new()
        .merge(routes)
        .merge(openapi::router(&doc))
        .merge(crate::console::router())
        // After every route: it applies to the routes registered so far. axum adds `Allow`.
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take this method; the Allow header lists those it takes",
            )
        })
        .fallback(|| async {
            error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such path")
        })
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(services)
}
