//! The state behind stateful rules, and an in-memory store for `rules test` and the bench.
//!
//! All times are the events' `published` times in milliseconds, never arrival times, so the
//! same events give the same detections offline and in the service.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};

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

    /// Published times of observations with `after_ms < published <= until_ms`, ascending.
    fn times(
        &mut self,
        key: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> impl Future<Output = Result<Vec<i64>, Self::Error>> + Send;

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

use super::fxhash::Fx;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

fn fx(text: &str) -> u64 {
    let mut h = Fx::default();
    h.write(text.as_bytes());
    h.finish()
}

/// State per (rule, group), keyed by 64-bit hashes: no allocation per lookup. A collision
/// (odds ~2^-64 per pair) would merge two groups' state, acceptable offline.
#[derive(Debug)]
struct Keyed<V>(FxMap<(u64, u64), V>);

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed(FxMap::default())
    }
}

impl<V: Default> Keyed<V> {
    fn id(k: StateKey<'_>) -> (u64, u64) {
        (fx(k.rule), fx(k.group))
    }

    fn get(&self, k: StateKey<'_>) -> Option<&V> {
        self.0.get(&Self::id(k))
    }

    fn slot(&mut self, k: StateKey<'_>) -> &mut V {
        self.0.entry(Self::id(k)).or_default()
    }
}

/// (published, uuid hash, value hash) per observation; groups are small, so scanning beats
/// hashing (and stays in cache).
#[derive(Debug, Default)]
struct Observations {
    items: Vec<(i64, u64, u64)>,
}

/// In-memory [`StateStore`]: one process, no durability.
#[derive(Debug, Default)]
pub struct MemoryState {
    observations: Keyed<Observations>,
    alerts: Keyed<Vec<(i64, u64)>>,
    /// Per entity: (value hash, first seen, last seen); entities have few values.
    seen: Keyed<Vec<(u64, i64, i64)>>,
    points: Keyed<Vec<GeoPoint>>,
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
        let obs = self.observations.slot(k);
        let id = fx(event_uuid);
        if obs.items.iter().any(|(_, u, _)| *u == id) {
            return Ok(());
        }
        if obs.items.len() >= 64 {
            let horizon = at_ms.saturating_sub(keep_ms);
            obs.items.retain(|(at, _, _)| *at >= horizon);
        }
        obs.items.push((at_ms, id, fx(value)));
        Ok(())
    }

    async fn window(
        &mut self,
        k: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> Result<WindowCount, Self::Error> {
        Ok(self
            .observations
            .get(k)
            .map(|obs| count_between(&obs.items, after_ms, until_ms))
            .unwrap_or_default())
    }

    async fn times(
        &mut self,
        k: StateKey<'_>,
        after_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<i64>, Self::Error> {
        let mut times: Vec<i64> = self
            .observations
            .get(k)
            .map(|obs| {
                obs.items
                    .iter()
                    .map(|(t, _, _)| *t)
                    .filter(|t| *t > after_ms && *t <= until_ms)
                    .collect()
            })
            .unwrap_or_default();
        times.sort_unstable();
        Ok(times)
    }

    async fn windows_containing(
        &mut self,
        k: StateKey<'_>,
        at_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<WindowCount>, Self::Error> {
        let Some(obs) = self.observations.get(k) else {
            return Ok(Vec::new());
        };
        let later = obs
            .items
            .iter()
            .map(|(t, _, _)| *t)
            .filter(|t| *t > at_ms && *t < at_ms + window_ms);
        let mut anchors: Vec<i64> = std::iter::once(at_ms).chain(later).collect();
        anchors.sort_unstable();
        anchors.dedup();
        Ok(anchors
            .into_iter()
            .map(|end| count_between(&obs.items, end - window_ms, end))
            .collect())
    }

    async fn claim_alert(
        &mut self,
        k: StateKey<'_>,
        at_ms: i64,
        quiet_ms: i64,
        event_uuid: &str,
    ) -> Result<bool, Self::Error> {
        let fired = self.alerts.slot(k);
        let id = fx(event_uuid);
        if fired
            .iter()
            .any(|(at, uuid)| *uuid == id || (at - at_ms).abs() < quiet_ms)
        {
            return Ok(false);
        }
        fired.push((at_ms, id));
        Ok(true)
    }

    async fn first_seen(
        &mut self,
        k: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> Result<FirstSeen, Self::Error> {
        let values = self.seen.slot(k);
        let id = fx(value);
        let known =
            |(_, first, last): &&(u64, i64, i64)| *first < at_ms && *last >= at_ms - history_ms;
        let result = FirstSeen {
            entity_known: values.iter().any(|v| known(&v)),
            value_known: values
                .iter()
                .filter(|(v, _, _)| *v == id)
                .any(|v| known(&v)),
        };
        match values.iter_mut().find(|(v, _, _)| *v == id) {
            Some(span) => *span = (id, span.1.min(at_ms), span.2.max(at_ms)),
            None => values.push((id, at_ms, at_ms)),
        }
        Ok(result)
    }

    async fn previous_location(
        &mut self,
        k: StateKey<'_>,
        point: &GeoPoint,
    ) -> Result<Option<GeoPoint>, Self::Error> {
        let points = self.points.slot(k);
        let prev = points
            .iter()
            .filter(|p| p.at_ms < point.at_ms && p.event_uuid != point.event_uuid)
            .max_by_key(|p| p.at_ms)
            .cloned();
        if !points.iter().any(|p| p.event_uuid == point.event_uuid) {
            if points.len() >= MAX_POINTS {
                points.sort_by_key(|p| p.at_ms);
                points.remove(0);
            }
            points.push(point.clone());
        }
        Ok(prev)
    }
}

fn count_between(items: &[(i64, u64, u64)], after_ms: i64, until_ms: i64) -> WindowCount {
    let mut count = 0;
    let mut distinct: Vec<u64> = Vec::new();
    for (_, _, v) in items
        .iter()
        .filter(|(at, _, _)| *at > after_ms && *at <= until_ms)
    {
        count += 1;
        if !distinct.contains(v) {
            distinct.push(*v);
        }
    }
    WindowCount {
        count,
        distinct: distinct.len() as u64,
    }
}
