//! Control operations shared by the `/sim/…` HTTP API and `SimHandle`.

use chrono::Utc;
use serde_json::Value;

use super::control::SimState;
use super::state::{
    AuthScheme, Faults, Hook, HookStatus, Shared, VerificationStatus, okta_id, random_string,
};

pub(crate) fn state(shared: &Shared) -> SimState {
    let inner = shared.lock();
    SimState {
        client_id: shared.options.client_id.clone(),
        granted_scopes: inner.granted_scopes.clone(),
        down: shared.down_mode(),
        faults: inner.faults.clone(),
        hooks: inner.hooks.iter().map(Hook::view).collect(),
        counters: inner.counters.clone(),
    }
}

pub(crate) fn log_events(shared: &Shared) -> Vec<Value> {
    shared.lock().log.iter().map(|e| e.event.clone()).collect()
}

pub(crate) fn clear_faults(shared: &Shared) {
    shared.lock().faults = Faults::default();
    shared.set_down_mode(super::DownMode::Up);
}

/// A new secret replaces the old one at once (Okta: new secret created, old deactivated).
/// Access tokens already issued stay valid until they expire, as in Okta.
pub(crate) fn rotate_client_secret(shared: &Shared) -> String {
    let secret = new_client_secret();
    shared.lock().client_secret = secret.clone();
    secret
}

pub(crate) fn new_client_secret() -> String {
    random_string(40)
}

/// Hooks some other integration of the org created: ACTIVE and VERIFIED, but never delivered
/// to (their URI is unroutable); they only count towards the org's hook limit.
pub(crate) fn create_foreign_hooks(shared: &Shared, count: usize) -> Vec<String> {
    let mut inner = shared.lock();
    let now = Utc::now();
    let start = inner.hooks.len();
    let ids: Vec<String> = (0..count).map(|_| okta_id("who")).collect();
    for (i, id) in ids.iter().enumerate() {
        inner.hooks.push(Hook {
            id: id.clone(),
            name: format!("Other integration {}", start + i + 1),
            description: None,
            status: HookStatus::Active,
            verification: VerificationStatus::Verified,
            events: vec!["user.lifecycle.create".to_owned()],
            uri: "https://hooks.other-vendor.invalid/okta".to_owned(),
            headers: Vec::new(),
            auth: Some(AuthScheme {
                key: "Authorization".to_owned(),
                value: random_string(32),
            }),
            created: now,
            last_updated: now,
            created_by: okta_id("00u"),
            foreign: true,
            verified_at: Some(std::time::Instant::now()),
        });
    }
    ids
}
