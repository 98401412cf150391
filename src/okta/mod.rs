//! Everything that speaks to Okta: domains, OAuth2 tokens, Event Hooks and System Log APIs.

pub mod client;
pub mod coverage;
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
pub use coverage::{Coverage, EVENT_TYPES, EXTENDED_EVENT_TYPES};
pub use domain::{DomainError, DomainPolicy, OktaDomain};
pub use error::OktaError;
pub use event_hooks::MAX_ACTIVE_EVENT_HOOKS;
pub use log_event::LogEvent;
pub use system_log::{LogsPage, LogsStart};
pub use types::{EventHook, HookStatus, NewEventHook, VerificationStatus};
