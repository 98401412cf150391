//! Everything that speaks to Okta: domains, OAuth2 tokens, Event Hooks and System Log APIs.

pub mod client;
pub mod domain;
pub mod error;
pub mod event_hooks;
pub mod log_event;
mod oauth_http;
pub mod rate_limit;
mod resolver;
pub mod system_log;
pub mod types;

pub use client::{Credentials, OktaClient};
pub use domain::{DomainError, DomainPolicy, OktaDomain};
pub use error::OktaError;
pub use event_hooks::MAX_ACTIVE_EVENT_HOOKS;
pub use log_event::LogEvent;
pub use system_log::{LogsPage, LogsStart};
pub use types::{EventHook, HookStatus, NewEventHook, VerificationStatus};

/// The 18 event types the Event Hook subscribes to.
pub const EVENT_TYPES: [&str; 18] = [
    "application.user_membership.add",
    "group.user_membership.add",
    "system.api_token.create",
    "system.org.rate_limit.violation",
    "user.account.lock",
    "user.account.privilege.grant",
    "user.account.reset_password",
    "user.account.update_password",
    "user.authentication.auth_via_mfa",
    "user.authentication.sso",
    "user.lifecycle.activate",
    "user.lifecycle.create",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.reset_all",
    "user.session.start",
];
