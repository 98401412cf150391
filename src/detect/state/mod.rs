//! The state behind stateful rules, and an in-memory store for `rules test` and the bench.
//!
//! All times are the events' `published` times in milliseconds, never arrival times, so the
//! same events give the same detections offline and in the service.

/// Which rule's state, for which group (the `group_by`/`entity` values joined).
#[derive(Debug, Clone, Copy)]
pub struct StateKey<'a> {
    pub rule: &'a str,
    pub group: &'a str,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub distinct: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstSeen {
    /// The entity was seen (with any value) before, within the history.
    pub entity_known: bool,
    /// This value was seen for the entity before, within the history.
    pub value_known: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoPoint {
    pub at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub country: String,
    pub city: String,
    pub ip: String,
}

/// The primitives the stateful rules are built from. Every write is idempotent per event
/// uuid, so a redelivered or reprocessed event changes nothing.
pub trait StateStore {
    /// Records that the event happened for `key` with `value` (for distinct counts);
    /// observations older than `at_ms - keep_ms` may be forgotten.
    fn observe(&mut self, key: StateKey<'_>, uuid: &str, at_ms: i64, value: &str, keep_ms: i64);

    /// Observations with `after_ms < published <= until_ms`.
    fn window(&self, key: StateKey<'_>, after_ms: i64, until_ms: i64) -> WindowCount;

    /// Published times of observations with `after_ms < published <= until_ms`, ascending.
    fn times(&self, key: StateKey<'_>, after_ms: i64, until_ms: i64) -> Vec<i64>;

    /// Counts of every `window_ms`-long window that contains `at_ms` and ends at `at_ms` or at
    /// a later observation: a late event can complete a window that ends after it.
    fn windows_containing(&self, key: StateKey<'_>, at_ms: i64, window_ms: i64)
    -> Vec<WindowCount>;

    /// Claims the alert for `key` at `at_ms` unless one was claimed within `quiet_ms` of it;
    /// true means "fire now". This is what makes a window alert once, not once per event.
    fn claim_alert(&mut self, key: StateKey<'_>, at_ms: i64, quiet_ms: i64, uuid: &str) -> bool;

    /// Looks up and then records `value` for the entity `key.group`.
    fn first_seen(
        &mut self,
        key: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> FirstSeen;

    /// The entity's latest point published before `point`, then records `point`.
    fn previous_location(
        &mut self,
        key: StateKey<'_>,
        point: &GeoPoint,
        uuid: &str,
    ) -> Option<GeoPoint>;
}

mod memory;
mod points;
#[cfg(test)]
mod tests;

pub use memory::{MAX_KEYS, MemoryState, StateKind, StateRow};

use sha2::{Digest, Sha256};
use smallvec::SmallVec;

/// A (rule, group)'s entries. Most groups hold one (a user's one address, one sign-in in the
/// window), which then lives inside the map's slot with no allocation of its own.
type Items<T> = SmallVec<[T; 1]>;

/// A stable 64-bit fingerprint of a key, uuid or value: the first 8 bytes of its SHA-256.
/// Stable across processes and versions (state is persisted and shared by replicas), and not
/// forgeable (usernames are attacker-chosen: a fast hash would let one craft a collision that
/// merges two users' state). Two distinct texts of one tenant collide with odds ~2^-64.
fn fp(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}
