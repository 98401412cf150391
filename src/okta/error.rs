//! Errors of the Okta client, mapped to the wizard's stable codes with an actionable detail.
//!
//! No variant ever holds a secret: Okta's own error texts and our descriptions only.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The scopes the integration needs, in the form Okta shows them.
pub const REQUIRED_SCOPES: [&str; 2] = ["okta.eventHooks.manage", "okta.logs.read"];

/// The Okta client's result.
pub type Result<T, E = OktaError> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum OktaError {
    /// The token endpoint answered `invalid_client` / `unauthorized_client`.
    #[error("Okta rejected the client credentials ({error})")]
    InvalidClient {
        error: String,
        description: Option<String>,
    },
    /// `invalid_scope` from the token endpoint, or 403 `E0000006` from the API.
    #[error("the integration lacks required scopes: {}", .missing.join(", "))]
    MissingScopes {
        missing: Vec<String>,
        description: Option<String>,
    },
    /// Event hook creation refused because the org has the maximum number of hooks.
    #[error("the Okta org has the maximum number of event hooks: {}", .causes.join("; "))]
    EventHookLimitReached { causes: Vec<String> },
    /// DNS, connect, TLS, timeout, or a 502/503/504 from Okta.
    #[error("the Okta org is unreachable: {reason}")]
    Unreachable { reason: String },
    /// 429 beyond what one call may wait for.
    #[error("Okta rate limit exceeded; retry at {retry_at}")]
    RateLimited { retry_at: DateTime<Utc> },
    /// Any other error answer of the Okta API.
    #[error("Okta answered {status}: {}", describe_api(.error_code, .summary, .causes))]
    Api {
        status: u16,
        error_code: Option<String>,
        summary: Option<String>,
        causes: Vec<String>,
    },
    /// Okta refused the hook's URI: Okta calls https URLs only.
    #[error("Okta refused the hook URL: {}", .causes.join("; "))]
    HookUriNotHttps { causes: Vec<String> },
    /// Okta's verification GET to our hook endpoint did not get the right answer in time.
    #[error("Okta could not verify the event hook: {}", .causes.join("; "))]
    VerificationFailed { causes: Vec<String> },
    /// A System Log `next` link pointing away from the org (SSRF guard).
    #[error("refusing a System Log next link outside the Okta org")]
    ForeignNextLink,
    /// A response we could not read.
    #[error("unexpected response from Okta: {0}")]
    Unexpected(String),
}

impl OktaError {
    /// The wizard's stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            OktaError::InvalidClient { .. } => "invalid_client",
            OktaError::MissingScopes { .. } => "missing_scopes",
            OktaError::EventHookLimitReached { .. } => "event_hook_limit_reached",
            OktaError::HookUriNotHttps { .. } => "public_url_not_https",
            OktaError::Unreachable { .. } => "org_unreachable",
            OktaError::RateLimited { .. } => "okta_rate_limited",
            OktaError::Api { .. }
            | OktaError::VerificationFailed { .. }
            | OktaError::ForeignNextLink
            | OktaError::Unexpected(_) => "okta_error",
        }
    }

    /// What the admin should do, in the voice of the troubleshooting guide.
    pub fn detail(&self) -> String {
        match self {
            OktaError::InvalidClient { .. } => INVALID_CLIENT_DETAIL.to_string(),
            OktaError::MissingScopes { missing, .. } => missing_scopes_detail(missing),
            OktaError::EventHookLimitReached { causes } => limit_detail(causes),
            OktaError::HookUriNotHttps { .. } => format!(
                "{self}. Okta only calls https URLs: set OKTA_INGEST_PUBLIC_URL to the service's \
                 public https URL (e.g. https://okta-ingest.example.com, with a certificate Okta \
                 trusts), restart the service, then run Complete again."
            ),
            OktaError::Unreachable { reason } => format!(
                "Could not reach your Okta org ({reason}). Check that the Okta domain is \
                 correct (e.g. acme.okta.com, without -admin) and that Okta is up \
                 (status.okta.com), then retry."
            ),
            OktaError::RateLimited { retry_at } => format!(
                "Okta's API rate limit for your org is exhausted. Retry after {} (UTC).",
                retry_at.format("%H:%M:%S")
            ),
            OktaError::Api { .. } => format!(
                "{self}. If this persists, reinstall the \"Sysdig\" integration in Okta and \
                 copy all values (Client ID, Client Secret, Okta domain) again."
            ),
            OktaError::VerificationFailed { .. } => format!(
                "{self}. Okta must reach the hook URL over the internet and get an answer within \
                 3 seconds: check that OKTA_INGEST_PUBLIC_URL is the service's public https URL, \
                 then retry."
            ),
            OktaError::ForeignNextLink | OktaError::Unexpected(_) => {
                format!("{self}. Retry; if this persists, contact support.")
            }
        }
    }

    /// Whether Okta answered 404 (`E0000007`), e.g. a hook deleted in Okta.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OktaError::Api { status: 404, .. })
    }
}

const INVALID_CLIENT_DETAIL: &str = "Okta rejected the Client ID/Client Secret. Make sure the \
     integration installed in Okta is named \"Sysdig\", then reinstall it and copy all values \
     (Client ID, Client Secret, Okta domain) again — or redo the flow starting from the other \
     side (from Okta instead of Sysdig, or vice versa).";

fn missing_scopes_detail(missing: &[String]) -> String {
    let missing = if missing.is_empty() {
        REQUIRED_SCOPES.join(", ")
    } else {
        missing.join(", ")
    };
    format!(
        "The \"Sysdig\" integration in Okta was not granted the scopes it needs ({missing}). \
         In Okta, open Applications → API Service Integrations → Sysdig, grant the scopes \
         okta.eventHooks.manage and okta.logs.read (reinstall the integration if they cannot \
         be edited), then retry."
    )
}

fn limit_detail(causes: &[String]) -> String {
    let mut detail = "Your Okta org already has the maximum number of Event Hooks (25). Delete \
         an unused Event Hook in Okta (Workflow → Event Hooks) and retry."
        .to_string();
    if !causes.is_empty() {
        detail.push_str(" Okta said: ");
        detail.push_str(&causes.join("; "));
    }
    detail
}

fn describe_api(code: &Option<String>, summary: &Option<String>, causes: &[String]) -> String {
    let mut text = match (code, summary) {
        (Some(code), Some(summary)) => format!("{code} {summary}"),
        (Some(code), None) => code.clone(),
        (None, Some(summary)) => summary.clone(),
        (None, None) => "no error details".to_string(),
    };
    if !causes.is_empty() {
        text.push_str(" (");
        text.push_str(&causes.join("; "));
        text.push(')');
    }
    text
}

/// What an error body says, read leniently: `errorCode` and `errorSummary` survive whatever
/// shape `errorCauses` has (an array of objects or strings, one object, `null`, absent), and
/// an OAuth-style `{"error","error_description"}` body is read the same way.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorBody {
    pub code: Option<String>,
    pub summary: Option<String>,
    pub causes: Vec<String>,
}

impl ErrorBody {
    pub fn parse(body: &[u8]) -> ErrorBody {
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
            return ErrorBody::default();
        };
        let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
        ErrorBody {
            code: text("errorCode").or_else(|| text("error")),
            summary: text("errorSummary").or_else(|| text("error_description")),
            causes: fields
                .get("errorCauses")
                .map(cause_texts)
                .unwrap_or_default(),
        }
    }
}

fn cause_texts(causes: &Value) -> Vec<String> {
    match causes {
        Value::String(text) => vec![text.clone()],
        Value::Object(cause) => cause
            .get("errorSummary")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        Value::Array(items) => items.iter().flat_map(cause_texts).collect(),
        _ => Vec::new(),
    }
}

impl OktaError {
    /// Maps a non-success API answer (not 429, not 5xx-down) to an error.
    pub(crate) fn from_api(status: u16, body: &[u8]) -> OktaError {
        let body = ErrorBody::parse(body);
        if status == 403 && body.code.as_deref() == Some("E0000006") {
            return OktaError::MissingScopes {
                missing: Vec::new(),
                description: body.summary,
            };
        }
        OktaError::Api {
            status,
            error_code: body.code,
            summary: body.summary,
            causes: body.causes,
        }
    }

    /// Maps an error answer of the token endpoint, keeping its status and OAuth code.
    pub(crate) fn from_oauth(status: u16, body: &[u8]) -> OktaError {
        let body = ErrorBody::parse(body);
        match body.code.as_deref() {
            Some("invalid_client" | "unauthorized_client") => OktaError::InvalidClient {
                error: body.code.unwrap_or_default(),
                description: body.summary,
            },
            // Which scopes: the client asks Okta one scope at a time (`probe_missing_scopes`).
            Some("invalid_scope") => OktaError::MissingScopes {
                missing: Vec::new(),
                description: body.summary,
            },
            _ => OktaError::Api {
                status,
                error_code: body.code,
                summary: body.summary,
                causes: body.causes,
            },
        }
    }

    /// Okta's validation error (400 `E0000001`): how it reports the hook limit, an http URI
    /// and a failed verification alike.
    pub(crate) fn is_validation_failure(&self) -> bool {
        matches!(self, OktaError::Api { status: 400, error_code: Some(code), .. } if code == "E0000001")
    }

    /// A validation error whose causes name the hook URI's scheme.
    pub(crate) fn into_https_refusal(self) -> OktaError {
        match self {
            OktaError::Api { ref causes, .. }
                if self.is_validation_failure() && causes.iter().any(|c| names_https(c)) =>
            {
                OktaError::HookUriNotHttps {
                    causes: causes.clone(),
                }
            }
            other => other,
        }
    }

    /// The same error as the hook-limit case, with Okta's own words kept.
    pub(crate) fn into_hook_limit(self) -> OktaError {
        match self {
            OktaError::Api { causes, .. } | OktaError::VerificationFailed { causes } => {
                OktaError::EventHookLimitReached { causes }
            }
            other => other,
        }
    }

    /// On `lifecycle/verify`, a validation error means Okta's GET to our endpoint failed.
    pub(crate) fn into_verification_failed(self) -> OktaError {
        if !self.is_validation_failure() {
            return self;
        }
        match self {
            OktaError::Api { causes, .. } => OktaError::VerificationFailed { causes },
            other => other,
        }
    }

    /// Whether Okta's words mention a limit: a hint only, since Okta does not document them.
    pub(crate) fn mentions_limit(&self) -> bool {
        let hit = |text: &str| {
            let text = text.to_ascii_lowercase();
            text.contains("maximum") || text.contains("limit")
        };
        match self {
            OktaError::Api {
                summary, causes, ..
            } => summary.as_deref().is_some_and(hit) || causes.iter().any(|c| hit(c)),
            OktaError::VerificationFailed { causes } => causes.iter().any(|c| hit(c)),
            _ => false,
        }
    }
}

fn names_https(cause: &str) -> bool {
    let cause = cause.to_ascii_lowercase();
    cause.contains("https") && (cause.contains("uri") || cause.contains("url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_details() {
        let e = OktaError::InvalidClient {
            error: "invalid_client".into(),
            description: None,
        };
        assert_eq!(e.code(), "invalid_client");
        assert!(e.detail().contains("named \"Sysdig\""));
        assert!(e.detail().contains("from Okta instead of Sysdig"));

        let e = OktaError::from_api(403, br#"{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}"#);
        assert_eq!(e.code(), "missing_scopes");
        assert!(e.detail().contains("okta.logs.read"));

        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: eventHook","errorCauses":[{"errorSummary":"Maximum number of allowed Event Hooks reached."}]}"#;
        let e = OktaError::from_api(400, body);
        assert!(e.mentions_limit());
        let e = e.into_hook_limit();
        assert_eq!(e.code(), "event_hook_limit_reached");
        assert!(e.detail().contains("(25)"));
        assert!(
            e.detail()
                .contains("Maximum number of allowed Event Hooks reached.")
        );

        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: eventHook","errorCauses":{"errorSummary":"channel.config.uri: The URI must use HTTPS"}}"#;
        let e = OktaError::from_api(400, body);
        assert!(!e.mentions_limit());
        let e = e.into_https_refusal();
        assert_eq!(e.code(), "public_url_not_https");
        assert!(
            e.detail().contains("OKTA_INGEST_PUBLIC_URL"),
            "{}",
            e.detail()
        );

        let e = OktaError::from_api(404, br#"{"errorCode":"E0000007"}"#);
        assert!(e.is_not_found());
        let e = OktaError::from_api(500, b"<html>");
        assert_eq!(e.code(), "okta_error");
        assert!(e.to_string().contains("500"));
    }

    #[test]
    fn error_bodies_parse_whatever_error_causes_is() {
        let parse = |body: &str| ErrorBody::parse(body.as_bytes());
        let base = r#""errorCode":"E0000006","errorSummary":"You do not have permission""#;
        for (causes, expected) in [
            (
                r#""errorCauses":[{"errorSummary":"a"},{"errorSummary":"b"}]"#,
                vec!["a", "b"],
            ),
            (r#""errorCauses":{"errorSummary":"a"}"#, vec!["a"]),
            (r#""errorCauses":["a"]"#, vec!["a"]),
            (r#""errorCauses":null"#, vec![]),
            (r#""errorCauses":[]"#, vec![]),
            (r#""errorCauses":7"#, vec![]),
            (r#""x":1"#, vec![]),
        ] {
            let body = parse(&format!("{{{base},{causes}}}"));
            assert_eq!(body.code.as_deref(), Some("E0000006"), "{causes}");
            assert_eq!(body.summary.as_deref(), Some("You do not have permission"));
            assert_eq!(body.causes, expected, "{causes}");
        }
        assert_eq!(parse("<html>"), ErrorBody::default());
        assert_eq!(parse("[1]"), ErrorBody::default());
    }

    #[test]
    fn oauth_errors_keep_their_status_and_code() {
        let e = OktaError::from_oauth(
            403,
            br#"{"error":"access_denied","error_description":"Policy evaluation failed"}"#,
        );
        match &e {
            OktaError::Api {
                status, error_code, ..
            } => assert_eq!(
                (*status, error_code.as_deref()),
                (403, Some("access_denied"))
            ),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("403"), "{e}");
        let e = OktaError::from_oauth(401, br#"{"error":"invalid_client"}"#);
        assert_eq!(e.code(), "invalid_client");
        let e = OktaError::from_oauth(400, br#"{"error":"invalid_scope"}"#);
        assert_eq!(e.code(), "missing_scopes");
    }
}
