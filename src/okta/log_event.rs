//! Data table (schema): Okta's System Log `LogEvent`, as delivered by Event Hooks and returned
//! by `/api/v1/logs`.
//!
//! Every field is optional: Okta leaves fields null or absent, enums grow, and real payloads
//! carry fields the spec lacks. Unknown fields are ignored here; the raw JSON is kept beside
//! the typed event wherever it is stored.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LogEvent {
    pub uuid: String,
    pub published: Option<String>,
    pub event_type: String,
    pub version: Option<String>,
    pub severity: Option<String>,
    pub legacy_event_type: Option<String>,
    pub display_message: Option<String>,
    pub actor: Option<Actor>,
    pub client: Option<Client>,
    pub device: Option<serde_json::Value>,
    pub outcome: Option<Outcome>,
    pub target: Option<Vec<Target>>,
    pub transaction: Option<Transaction>,
    pub debug_context: Option<DebugContext>,
    pub authentication_context: Option<AuthenticationContext>,
    pub security_context: Option<SecurityContext>,
    pub request: Option<Request>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Actor {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
    pub detail_entry: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Client {
    pub user_agent: Option<UserAgent>,
    pub zone: Option<String>,
    pub device: Option<String>,
    pub id: Option<String>,
    pub ip_address: Option<String>,
    pub geographical_context: Option<GeographicalContext>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct UserAgent {
    pub raw_user_agent: Option<String>,
    pub os: Option<String>,
    pub browser: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GeographicalContext {
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub geolocation: Option<Geolocation>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Geolocation {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Outcome {
    pub result: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Target {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
    pub detail_entry: Option<serde_json::Value>,
    pub change_details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Transaction {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DebugContext {
    /// Okta documents the values as strings; real payloads occasionally nest objects.
    pub debug_data: Option<HashMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationContext {
    pub authentication_provider: Option<String>,
    pub credential_provider: Option<String>,
    pub credential_type: Option<String>,
    pub issuer: Option<Issuer>,
    pub interface: Option<String>,
    pub authentication_step: Option<i64>,
    pub external_session_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Issuer {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityContext {
    pub as_number: Option<u64>,
    pub as_org: Option<String>,
    pub isp: Option<String>,
    pub domain: Option<String>,
    pub is_proxy: Option<bool>,
    pub risk: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Request {
    pub ip_chain: Option<Vec<IpChainEntry>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IpChainEntry {
    pub ip: Option<String>,
    pub geographical_context: Option<GeographicalContext>,
    pub version: Option<String>,
    pub source: Option<String>,
    pub ip_details: Option<serde_json::Value>,
}

impl LogEvent {
    /// The (last) target of the given Okta type, e.g. `User`, `UserGroup`, `AppInstance`.
    pub fn target_of_type(&self, kind: &str) -> Option<&Target> {
        self.target
            .as_deref()?
            .iter()
            .rev()
            .find(|t| t.kind.as_deref() == Some(kind))
    }

    /// A `debugContext.debugData` value as text (Okta sends strings; anything else is rendered).
    pub fn debug_data(&self, key: &str) -> Option<std::borrow::Cow<'_, str>> {
        let value = self.debug_context.as_ref()?.debug_data.as_ref()?.get(key)?;
        match value {
            serde_json::Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
            serde_json::Value::Null => None,
            other => Some(std::borrow::Cow::Owned(other.to_string())),
        }
    }
}
