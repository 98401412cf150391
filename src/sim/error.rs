//! Okta's error bodies: the management API's `E0000…` shape and OAuth2's `{"error"}` shape.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::random_string;

/// An error answer of the simulated org; rendered in Okta's shape for its API.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// `{"errorCode","errorSummary","errorLink","errorId","errorCauses":[{"errorSummary"}]}`.
    Okta {
        status: StatusCode,
        code: &'static str,
        summary: String,
        causes: Vec<String>,
        www_authenticate: Option<String>,
    },
    /// The token endpoint's `{"error","error_description"}`.
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    /// A malformed `/sim/…` control request.
    Control(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Okta {
                status,
                code,
                summary,
                causes,
                www_authenticate,
            } => {
                let causes: Vec<_> = causes
                    .iter()
                    .map(|c| json!({ "errorSummary": c }))
                    .collect();
                let body = json!({
                    "errorCode": code,
                    "errorSummary": summary,
                    "errorLink": code,
                    "errorId": format!("oae{}", random_string(22)),
                    "errorCauses": causes,
                });
                let mut response = (status, Json(body)).into_response();
                if let Some(value) = www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Self::OAuth {
                status,
                error,
                description,
            } => {
                let body = json!({ "error": error, "error_description": description });
                let no_store = [(header::CACHE_CONTROL, "no-cache, no-store")];
                (status, no_store, Json(body)).into_response()
            }
            Self::Control(detail) => {
                let body = json!({ "error": "invalid_body", "detail": detail });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }
}

pub(crate) fn okta_error(
    status: StatusCode,
    code: &'static str,
    summary: &str,
    causes: Vec<String>,
) -> ApiError {
    ApiError::Okta {
        status,
        code,
        summary: summary.to_owned(),
        causes,
        www_authenticate: None,
    }
}

pub(crate) fn validation_failed(causes: Vec<String>) -> ApiError {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: eventHook",
        causes,
    )
}

pub(crate) fn not_found(what: &str) -> ApiError {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {what} (EventHook)"),
        Vec::new(),
    )
}

pub(crate) fn malformed_body() -> ApiError {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000003",
        "The request body was not well-formed.",
        Vec::new(),
    )
}

pub(crate) fn invalid_token() -> ApiError {
    ApiError::Okta {
        status: StatusCode::UNAUTHORIZED,
        code: "E0000011",
        summary: "Invalid token provided".to_owned(),
        causes: Vec::new(),
        www_authenticate: Some("Bearer error=\"invalid_token\"".to_owned()),
    }
}

pub(crate) fn insufficient_scope(scope: &str) -> ApiError {
    ApiError::Okta {
        status: StatusCode::FORBIDDEN,
        code: "E0000006",
        summary: "You do not have permission to perform the requested action".to_owned(),
        causes: Vec::new(),
        www_authenticate: Some(format!(
            "Bearer error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", scope=\"{scope}\""
        )),
    }
}

pub(crate) fn rate_limited() -> ApiError {
    okta_error(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
        Vec::new(),
    )
}

pub(crate) fn internal_error() -> ApiError {
    okta_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "E0000009",
        "Internal Server Error",
        Vec::new(),
    )
}

pub(crate) fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::OAuth {
        status,
        error,
        description: description.to_owned(),
    }
}
