//! The typed, normalized view of a LogEvent that runtime events carry for drill-down.

use serde::Serialize;

use crate::okta::LogEvent;
use crate::okta::log_event::{GeographicalContext, Target};

#[derive(Debug, Serialize)]
pub struct Normalized<'a> {
    pub uuid: &'a str,
    pub event_type: &'a str,
    pub published: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub message: Option<&'a str>,
    pub actor: Option<Party<'a>>,
    pub targets: Vec<Party<'a>>,
    pub client: Client<'a>,
    pub outcome: Outcome<'a>,
    pub transaction_id: Option<&'a str>,
    pub transaction_type: Option<&'a str>,
    pub authentication: Option<&'a crate::okta::log_event::AuthenticationContext>,
    pub security: Option<&'a crate::okta::log_event::SecurityContext>,
    pub ip_chain: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Party<'a> {
    pub id: Option<&'a str>,
    #[serde(rename = "type")]
    pub kind: Option<&'a str>,
    pub alternate_id: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Client<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub os: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub zone: Option<&'a str>,
    pub geo: Option<&'a GeographicalContext>,
}

#[derive(Debug, Serialize)]
pub struct Outcome<'a> {
    pub result: Option<&'a str>,
    pub reason: Option<&'a str>,
}

fn target_party(t: &Target) -> Party<'_> {
    Party {
        id: t.id.as_deref(),
        kind: t.kind.as_deref(),
        alternate_id: t.alternate_id.as_deref(),
        display_name: t.display_name.as_deref(),
    }
}

pub fn normalize(e: &LogEvent) -> Normalized<'_> {
    let client = e.client.as_ref();
    let agent = client.and_then(|c| c.user_agent.as_ref());
    Normalized {
        uuid: &e.uuid,
        event_type: &e.event_type,
        published: e.published.as_deref(),
        severity: e.severity.as_deref(),
        message: e.display_message.as_deref(),
        actor: e.actor.as_ref().map(|a| Party {
            id: a.id.as_deref(),
            kind: a.kind.as_deref(),
            alternate_id: a.alternate_id.as_deref(),
            display_name: a.display_name.as_deref(),
        }),
        targets: e.target.iter().flatten().map(target_party).collect(),
        client: Client {
            ip: client.and_then(|c| c.ip_address.as_deref()),
            user_agent: agent.and_then(|a| a.raw_user_agent.as_deref()),
            os: agent.and_then(|a| a.os.as_deref()),
            browser: agent.and_then(|a| a.browser.as_deref()),
            zone: client.and_then(|c| c.zone.as_deref()),
            geo: client.and_then(|c| c.geographical_context.as_ref()),
        },
        outcome: Outcome {
            result: e.outcome.as_ref().and_then(|o| o.result.as_deref()),
            reason: e.outcome.as_ref().and_then(|o| o.reason.as_deref()),
        },
        transaction_id: e.transaction.as_ref().and_then(|t| t.id.as_deref()),
        transaction_type: e.transaction.as_ref().and_then(|t| t.kind.as_deref()),
        authentication: e.authentication_context.as_ref(),
        security: e.security_context.as_ref(),
        ip_chain: e
            .request
            .iter()
            .flat_map(|r| r.ip_chain.iter().flatten())
            .filter_map(|hop| hop.ip.as_deref())
            .collect(),
    }
}

/// Who did it, for the feed's actor column.
pub fn actor_label(e: &LogEvent) -> String {
    e.actor
        .as_ref()
        .and_then(|a| a.alternate_id.clone().or_else(|| a.display_name.clone()))
        .unwrap_or_default()
}

/// What it was done to, for the feed's target column.
pub fn target_label(e: &LogEvent) -> String {
    e.target
        .iter()
        .flatten()
        .filter_map(|t| t.alternate_id.as_deref().or(t.display_name.as_deref()))
        .collect::<Vec<_>>()
        .join(", ")
}
