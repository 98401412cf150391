//! Errors of the Okta client, mapped to the wizard's stable codes with an actionable detail.
//!
//! No variant ever holds a secret: Okta's own error texts and our descriptions only.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The scopes the integration needs, in the form Okta shows them.
pub const REQUIRED_SCOPES: [&str; 2] = ["okta.eventHooks.manage", "okta.logs.read"];

#[derive(Debug, thiserror::Error)]
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

/// Okta's API error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ApiErrorBody {
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub error_causes: Vec<ErrorCause>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ErrorCause {
    pub error_summary: String,
}

impl OktaError {
    /// Maps a non-success API answer (not 429, not 5xx-down) to an error.
    pub(crate) fn from_api(status: u16, body: &[u8]) -> OktaError {
        let body: ApiErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let causes: Vec<String> = body
            .error_causes
            .into_iter()
            .map(|c| c.error_summary)
            .collect();
        if status == 403 && body.error_code.as_deref() == Some("E0000006") {
            return OktaError::MissingScopes {
                missing: Vec::new(),
                description: body.error_summary,
            };
        }
        OktaError::Api {
            status,
            error_code: body.error_code,
            summary: body.error_summary,
            causes,
        }
    }

    /// On hook creation, a validation error about the number of hooks is the limit case.
    pub(crate) fn into_hook_limit(self) -> OktaError {
        match self {
            OktaError::Api {
                status: 400,
                error_code: Some(code),
                summary,
                causes,
            } if code == "E0000001" && mentions_limit(summary.as_deref(), &causes) => {
                OktaError::EventHookLimitReached { causes }
            }
            other => other,
        }
    }
}

impl OktaError {
    /// On `lifecycle/verify`, a validation error means Okta's GET to our endpoint failed.
    pub(crate) fn into_verification_failed(self) -> OktaError {
        match self {
            OktaError::Api {
                status: 400,
                error_code: Some(code),
                causes,
                ..
            } if code == "E0000001" => OktaError::VerificationFailed { causes },
            other => other,
        }
    }
}

fn mentions_limit(summary: Option<&str>, causes: &[String]) -> bool {
    let hit = |text: &str| {
        let text = text.to_ascii_lowercase();
        text.contains("maximum") || text.contains("limit")
    };
    summary.is_some_and(hit) || causes.iter().any(|c| hit(c))
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
        let e = OktaError::from_api(400, body).into_hook_limit();
        assert_eq!(e.code(), "event_hook_limit_reached");
        assert!(e.detail().contains("(25)"));
        assert!(
            e.detail()
                .contains("Maximum number of allowed Event Hooks reached.")
        );

        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: eventHook","errorCauses":[{"errorSummary":"channel.config.uri: must be https"}]}"#;
        let e = OktaError::from_api(400, body).into_hook_limit();
        assert_eq!(e.code(), "okta_error");
        assert!(e.to_string().contains("must be https"), "{e}");

        let e = OktaError::from_api(404, br#"{"errorCode":"E0000007"}"#);
        assert!(e.is_not_found());
        let e = OktaError::from_api(500, b"<html>");
        assert_eq!(e.code(), "okta_error");
        assert!(e.to_string().contains("500"));
    }
}
