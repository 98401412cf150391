//! The state behind stateful rules, and an in-memory store for `rules test` and the bench.
//!
//! All times are the events' `published` times in milliseconds, never arrival times, so the
//! same events give the same detections offline and in the service.

use std::collections::{HashMap, HashSet};
use std::future::Future;

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
    pub event_uuid: String,
}

/// Durable primitives the stateful rules are built from. Every method is idempotent per
/// event uuid, so a redelivered or reprocessed event changes nothing.
pub trait StateStore {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Serializes all work on `key` until the caller's transaction ends (a no-op in memory).
    fn lock(&mut self, key: StateKey<'_>) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Records that the event happened for `key` with `value` (for distinct counts);
    /// observations older than `at_ms - keep_ms` may be forgotten.
    fn observe(
        &mut self,
        key: StateKey<'_>,
        event_uuid: &str,
        at_ms: i64,
        value: &str,
        keep_ms: i64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Observations with `after_ms < published <= until_ms`.
    fn window(
        &mut self,
        key: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> impl Future<Output = Result<WindowCount, Self::Error>> + Send;

    /// Counts of every `window_ms`-long window that contains `at_ms` and ends at `at_ms` or at
    /// a later observation: a late event can complete a window that ends after it.
    fn windows_containing(
        &mut self,
        key: StateKey<'_>,
        at_ms: i64,
        window_ms: i64,
    ) -> impl Future<Output = Result<Vec<WindowCount>, Self::Error>> + Send;

    /// Claims the alert for `key` at `at_ms` unless one was claimed within `quiet_ms` of it;
    /// true means "fire now". This is what makes a window alert once, not once per event.
    fn claim_alert(
        &mut self,
        key: StateKey<'_>,
        at_ms: i64,
        quiet_ms: i64,
        event_uuid: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Looks up and then records `value` for the entity `key.group`.
    fn first_seen(
        &mut self,
        key: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> impl Future<Output = Result<FirstSeen, Self::Error>> + Send;

    /// The entity's latest point published before `point`, then records `point`.
    fn previous_location(
        &mut self,
        key: StateKey<'_>,
        point: &GeoPoint,
    ) -> impl Future<Output = Result<Option<GeoPoint>, Self::Error>> + Send;
}

type Key = (String, String);

fn key(k: StateKey<'_>) -> Key {
    (k.rule.to_owned(), k.group.to_owned())
}

#[derive(Debug, Default)]
struct Observations {
    uuids: HashSet<String>,
    items: Vec<(i64, String, String)>,
}

/// In-memory [`StateStore`]: one process, no durability.
#[derive(Debug, Default)]
pub struct MemoryState {
    observations: HashMap<Key, Observations>,
    alerts: HashMap<Key, Vec<(i64, String)>>,
    seen: HashMap<Key, HashMap<String, (i64, i64)>>,
    points: HashMap<Key, Vec<GeoPoint>>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Points kept per entity for geo-velocity; only neighbours in time matter.
const MAX_POINTS: usize = 64;

impl StateStore for MemoryState {
    type Error = std::convert::Infallible;

    async fn lock(&mut self, _key: StateKey<'_>) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn observe(
        &mut self,
        k: StateKey<'_>,
        event_uuid: &str,
        at_ms: i64,
        value: &str,
        keep_ms: i64,
    ) -> Result<(), Self::Error> {
        let obs = self.observations.entry(key(k)).or_default();
        if obs.uuids.contains(event_uuid) {
            return Ok(());
        }
        let horizon = at_ms.saturating_sub(keep_ms);
        if obs.items.len() > 64 {
            let before = obs.items.len();
            let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut obs.items)
                .into_iter()
                .partition(|(at, _, _)| *at >= horizon);
            obs.items = keep;
            if obs.items.len() != before {
                drop.iter().for_each(|(_, u, _)| {
                    obs.uuids.remove(u);
                });
            }
        }
        obs.uuids.insert(event_uuid.to_owned());
        obs.items
            .push((at_ms, event_uuid.to_owned(), value.to_owned()));
        Ok(())
    }

    async fn window(
        &mut self,
        k: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> Result<WindowCount, Self::Error> {
        let Some(obs) = self.observations.get(&key(k)) else {
            return Ok(WindowCount::default());
        };
        let inside = || {
            obs.items
                .iter()
                .filter(|(at, _, _)| *at > after_ms && *at <= until_ms)
        };
        let distinct: HashSet<&str> = inside().map(|(_, _, v)| v.as_str()).collect();
        Ok(WindowCount {
            count: inside().count() as u64,
            distinct: distinct.len() as u64,
        })
    }

    async fn windows_containing(
        &mut self,
        k: StateKey<'_>,
        at_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<WindowCount>, Self::Error> {
        let Some(obs) = self.observations.get(&key(k)) else {
            return Ok(Vec::new());
        };
        let mut anchors: Vec<i64> = obs
            .items
            .iter()
            .map(|(t, _, _)| *t)
            .filter(|t| *t > at_ms && *t < at_ms + window_ms)
            .collect();
        anchors.push(at_ms);
        anchors.sort_unstable();
        anchors.dedup();
        Ok(anchors
            .into_iter()
            .map(|end| {
                let inside = || {
                    obs.items
                        .iter()
                        .filter(move |(t, _, _)| *t > end - window_ms && *t <= end)
                };
                let distinct: HashSet<&str> = inside().map(|(_, _, v)| v.as_str()).collect();
                WindowCount {
                    count: inside().count() as u64,
                    distinct: distinct.len() as u64,
                }
            })
            .collect())
    }

    async fn claim_alert(
        &mut self,
        k: StateKey<'_>,
        at_ms: i64,
        quiet_ms: i64,
        event_uuid: &str,
    ) -> Result<bool, Self::Error> {
        let fired = self.alerts.entry(key(k)).or_default();
        if fired
            .iter()
            .any(|(at, uuid)| uuid == event_uuid || (at - at_ms).abs() < quiet_ms)
        {
            return Ok(false);
        }
        fired.push((at_ms, event_uuid.to_owned()));
        Ok(true)
    }

    async fn first_seen(
        &mut self,
        k: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> Result<FirstSeen, Self::Error> {
        let values = self.seen.entry(key(k)).or_default();
        let known = |(first, last): &(i64, i64)| *first < at_ms && *last >= at_ms - history_ms;
        let result = FirstSeen {
            entity_known: values.values().any(known),
            value_known: values.get(value).is_some_and(known),
        };
        let span = values.entry(value.to_owned()).or_insert((at_ms, at_ms));
        span.0 = span.0.min(at_ms);
        span.1 = span.1.max(at_ms);
        Ok(result)
    }

    async fn previous_location(
        &mut self,
        k: StateKey<'_>,
        point: &GeoPoint,
    ) -> Result<Option<GeoPoint>, Self::Error> {
        let points = self.points.entry(key(k)).or_default();
        let prev = points
            .iter()
            .filter(|p| p.at_ms < point.at_ms && p.event_uuid != point.event_uuid)
            .max_by_key(|p| p.at_ms)
            .cloned();
        if !points.iter().any(|p| p.event_uuid == point.event_uuid) {
            points.push(point.clone());
            if points.len() > MAX_POINTS {
                points.sort_by_key(|p| p.at_ms);
                points.remove(0);
            }
        }
        Ok(prev)
    }
}
