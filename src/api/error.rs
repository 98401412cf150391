//! The one API error type, rendered as RFC 9457 `application/problem+json` with a stable `code`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::okta::OktaError;
use crate::service::IntegrationError;
use crate::service::policies::PolicyError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Extra members of the problem document (e.g. `checks` of a failed validation).
    pub extra: Option<serde_json::Value>,
    pub retry_after_secs: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            extra: None,
            retry_after_secs: None,
        }
    }

    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        error.retry_after_secs = Some(5);
        error
    }

    /// A failure that is ours: logged with an id the caller can quote; the cause stays here.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let error_id = uuid::Uuid::new_v4();
        tracing::error!(%error_id, error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("internal error; quote error id {error_id} to support"),
        )
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("/problems/{}", self.code.replace('_', "-")),
            "title": title(self.status),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let (Some(serde_json::Value::Object(extra)), Some(object)) =
            (self.extra, body.as_object_mut())
        {
            object.extend(extra);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "database unavailable");
                ApiError::unavailable("the database is unavailable; retry shortly")
            }
            StoreError::Conflict { .. } => ApiError::conflict("conflict", error.to_string()),
            _ => ApiError::internal(&error),
        }
    }
}

impl From<IntegrationError> for ApiError {
    fn from(error: IntegrationError) -> Self {
        match error {
            IntegrationError::NotFound => ApiError::not_found("integration"),
            IntegrationError::InvalidInput { code, detail } => {
                ApiError::unprocessable(code, detail)
            }
            IntegrationError::Domain(e) => ApiError::unprocessable(e.code(), e.to_string()),
            IntegrationError::OutOfOrder { code, detail } => ApiError::conflict(code, detail),
            IntegrationError::Busy => ApiError::conflict("step_in_progress", error.to_string()),
            IntegrationError::AlreadyConnected { id, detail } => {
                let api = ApiError::conflict("already_connected", detail);
                match id {
                    Some(id) => api.with_extra(json!({ "integration_id": id })),
                    None => api,
                }
            }
            IntegrationError::Okta { error, checks } => {
                let mut api = ApiError::unprocessable(error.code(), error.detail())
                    .with_extra(json!({ "checks": checks }));
                if let OktaError::RateLimited { retry_at } = error {
                    api.retry_after_secs =
                        Some((retry_at - chrono::Utc::now()).num_seconds().max(1) as u64);
                }
                api
            }
            IntegrationError::VerificationFailed { .. } => {
                ApiError::unprocessable("hook_verification_failed", error.to_string())
            }
            IntegrationError::Store(e) => e.into(),
            IntegrationError::Vault(e) => ApiError::internal(&e),
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(error: PolicyError) -> Self {
        match error {
            PolicyError::NotFound => ApiError::not_found("policy"),
            PolicyError::InvalidInput { code, detail } => ApiError::unprocessable(code, detail),
            PolicyError::InvalidRules(e) => ApiError::unprocessable("invalid_rules", e.to_string())
                .with_extra(json!({ "line": e.line, "column": e.column, "reason": e.reason })),
            PolicyError::NameTaken(_) => ApiError::conflict("policy_name_taken", error.to_string()),
            PolicyError::Managed(detail) => ApiError::conflict("managed_policy", detail),
            PolicyError::Store(e) => e.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => {
                ApiError::unprocessable("invalid_body", e.body_text())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is over 1 MiB (a policy's rules count with their JSON escaping)",
                )
            }
            other => ApiError::bad_request("invalid_body", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(
            "invalid_id",
            format!("invalid path parameter: {}", rejection.body_text()),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

/// `Json` whose rejections are problem+json.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path` whose rejections are problem+json.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `Query` whose rejections are problem+json.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);
