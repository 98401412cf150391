//! Event Hooks API shapes (`/api/v1/eventHooks`), as in Okta's management OpenAPI spec.
//!
//! Reads are lenient (unknown fields ignored, unknown enum values kept as `Unknown`);
//! the auth secret is write-only: a `SecretString` that serializes only into the request body
//! and prints as `[REDACTED]`.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    Active,
    Inactive,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationStatus {
    Verified,
    Unverified,
    #[serde(other)]
    Unknown,
}

/// An event hook as Okta returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHook {
    pub id: String,
    pub name: String,
    pub status: HookStatus,
    pub verification_status: Option<VerificationStatus>,
    pub events: EventSubscriptions,
    pub channel: Channel,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_updated: Option<DateTime<Utc>>,
}

impl EventHook {
    pub fn is_verified(&self) -> bool {
        self.verification_status == Some(VerificationStatus::Verified)
    }

    /// ACTIVE and VERIFIED: receives events, and counts towards the org's hook quota.
    pub fn is_live(&self) -> bool {
        self.status == HookStatus::Active && self.is_verified()
    }
}

/// `{"type":"EVENT_TYPE","items":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSubscriptions {
    #[serde(rename = "type")]
    pub kind: String,
    pub items: Vec<String>,
}

impl EventSubscriptions {
    pub fn event_types(items: &[&str]) -> Self {
        EventSubscriptions {
            kind: "EVENT_TYPE".to_string(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The channel of a returned hook (the auth secret is never returned).
#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub config: ChannelConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelConfig {
    pub uri: String,
    #[serde(default)]
    pub headers: Option<Vec<Header>>,
    #[serde(default)]
    pub auth_scheme: Option<AuthSchemeInfo>,
}

/// The auth scheme as returned: type and (lower-cased) header name, no value.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSchemeInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub key: String,
    pub value: String,
}

/// The body of create (`POST`) and replace (`PUT`).
#[derive(Debug, Clone, Serialize)]
pub struct NewEventHook {
    pub name: String,
    pub events: EventSubscriptions,
    pub channel: NewChannel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl NewEventHook {
    /// An HTTP hook for `event_types` delivering to `uri` with `Authorization: {secret}`.
    pub fn http(name: &str, uri: &str, auth_secret: SecretString, event_types: &[&str]) -> Self {
        NewEventHook {
            name: name.to_string(),
            events: EventSubscriptions::event_types(event_types),
            channel: NewChannel {
                kind: "HTTP".to_string(),
                version: "1.0.0".to_string(),
                config: NewChannelConfig {
                    uri: uri.to_string(),
                    headers: Vec::new(),
                    auth_scheme: Some(AuthScheme::header("Authorization", auth_secret)),
                },
            },
            description: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NewChannel {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub config: NewChannelConfig,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewChannelConfig {
    pub uri: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<AuthScheme>,
}

/// `{"type":"HEADER","key":"Authorization","value":"<secret>"}`; `Debug` redacts the value.
#[derive(Debug, Clone, Serialize)]
pub struct AuthScheme {
    #[serde(rename = "type")]
    pub kind: String,
    pub key: String,
    #[serde(serialize_with = "expose")]
    pub value: SecretString,
}

impl AuthScheme {
    pub fn header(key: &str, value: SecretString) -> Self {
        AuthScheme {
            kind: "HEADER".to_string(),
            key: key.to_string(),
            value,
        }
    }
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hook_body_has_okta_shape_and_debug_hides_secret() {
        let hook = NewEventHook::http(
            "Sysdig",
            "https://ingest.example.com/hooks/okta/k1",
            SecretString::from("hook-secret-123"),
            &["user.session.start"],
        );
        let body = serde_json::to_value(&hook).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "Sysdig",
                "events": {"type": "EVENT_TYPE", "items": ["user.session.start"]},
                "channel": {"type": "HTTP", "version": "1.0.0", "config": {
                    "uri": "https://ingest.example.com/hooks/okta/k1",
                    "authScheme": {"type": "HEADER", "key": "Authorization", "value": "hook-secret-123"}
                }}
            })
        );
        assert!(!format!("{hook:?}").contains("hook-secret-123"));
    }

    #[test]
    fn parses_okta_response() {
        let json = r#"{
          "id": "who8vt36qfNpCGz9H1e6", "status": "ACTIVE", "verificationStatus": "UNVERIFIED",
          "name": "Sysdig", "description": null,
          "created": "2026-11-25T09:00:00.000Z", "createdBy": "0oa1", "lastUpdated": "2026-11-25T09:00:00.000Z",
          "events": {"type": "EVENT_TYPE", "items": ["user.session.start"], "filter": null},
          "channel": {"type": "HTTP", "version": "1.0.0", "config": {
             "uri": "https://x.example.com/h", "headers": [], "method": "POST",
             "authScheme": {"type": "HEADER", "key": "authorization"}}},
          "_links": {"self": {"href": "https://acme.okta.com/api/v1/eventHooks/who8"}}
        }"#;
        let hook: EventHook = serde_json::from_str(json).unwrap();
        assert_eq!(hook.status, HookStatus::Active);
        assert!(!hook.is_verified());
        assert_eq!(
            hook.channel.config.auth_scheme.unwrap().key,
            "authorization"
        );
        let odd: EventHook =
            serde_json::from_str(&json.replace("\"ACTIVE\"", "\"PAUSED\"")).unwrap();
        assert_eq!(odd.status, HookStatus::Unknown);
    }
}
