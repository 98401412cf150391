//! [`MemoryState`]: the state held in memory, its checkpoint rows and its caps.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::points::{HeldPoint, decode_points, encode_points};
use super::{FirstSeen, GeoPoint, Items, StateKey, StateStore, WindowCount, fp};
use crate::detect::fxhash::Fx;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// The four kinds of state, as persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    Observations = 1,
    Alerts = 2,
    Seen = 3,
    Points = 4,
}

impl StateKind {
    pub fn from_i16(kind: i16) -> Option<StateKind> {
        Some(match kind {
            1 => StateKind::Observations,
            2 => StateKind::Alerts,
            3 => StateKind::Seen,
            4 => StateKind::Points,
            _ => return None,
        })
    }
}

/// One (kind, rule, group) entry as persisted: `state` is `None` when it was forgotten.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRow {
    pub kind: StateKind,
    pub rule: u64,
    pub group: u64,
    pub state: Option<Vec<u8>>,
}

type Id = (u64, u64);

/// State per (rule, group), keyed by fingerprints: no allocation per lookup.
#[derive(Debug, Clone)]
struct Keyed<V>(FxMap<Id, V>);

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed(FxMap::default())
    }
}

impl<V: Default> Keyed<V> {
    fn id(k: StateKey<'_>) -> Id {
        (fp(k.rule), fp(k.group))
    }

    fn get(&self, k: StateKey<'_>) -> Option<&V> {
        self.0.get(&Self::id(k))
    }

    /// `k`'s id and entry, created empty.
    fn entry(&mut self, k: StateKey<'_>) -> (Id, &mut V) {
        let id = Self::id(k);
        (id, self.0.entry(id).or_default())
    }
}

/// Bounds on what one (rule, group) keeps; past them the oldest entries are forgotten (and
/// counted). Rules count far fewer than these within a window.
pub(super) const MAX_OBSERVATIONS: usize = 1024;
const MAX_ALERTS: usize = 64;
const MAX_VALUES: usize = 256;
/// Points kept per entity for geo-velocity; only neighbours in time matter.
const MAX_POINTS: usize = 64;
/// Keys (rule, group) of one tenant; past it, the least recently active are forgotten.
pub const MAX_KEYS: usize = 200_000;

/// In-memory [`StateStore`]: the tenant's state while a worker owns it (and all of the state
/// of `rules test`). Every change marks its entry dirty; [`MemoryState::take_delta`] hands the
/// changed entries to the checkpoint, [`MemoryState::from_rows`] rebuilds from them.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    /// (published, uuid, value) per observation; groups are small, so scanning beats hashing.
    observations: Keyed<Items<(i64, u64, u64)>>,
    /// (published, uuid) of each alert fired.
    alerts: Keyed<Items<(i64, u64)>>,
    /// Per entity: (value, first seen, last seen).
    seen: Keyed<Items<(u64, i64, i64)>>,
    points: Keyed<Items<HeldPoint>>,
    dirty: std::collections::HashSet<(StateKind, u64, u64), BuildHasherDefault<Fx>>,
    forgotten: u64,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries dropped at a cap since the last call (for a metric).
    pub fn take_forgotten(&mut self) -> u64 {
        std::mem::take(&mut self.forgotten)
    }

    /// Number of (kind, rule, group) entries held.
    pub fn len(&self) -> usize {
        self.observations.0.len() + self.alerts.0.len() + self.seen.0.len() + self.points.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn touch(&mut self, kind: StateKind, id: Id) {
        self.dirty.insert((kind, id.0, id.1));
    }

    /// The entries changed since the last call, encoded for the checkpoint.
    pub fn take_delta(&mut self) -> Vec<StateRow> {
        self.enforce_key_cap();
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|(kind, rule, group)| StateRow {
                kind,
                rule,
                group,
                state: self.encode(kind, (rule, group)),
            })
            .collect()
    }

    /// Every entry, encoded (what a fresh checkpoint of this state holds).
    pub fn rows(&self) -> Vec<StateRow> {
        fn ids<V>(kind: StateKind, map: &FxMap<Id, V>) -> Vec<(StateKind, Id)> {
            map.keys().map(|id| (kind, *id)).collect()
        }
        let mut all = ids(StateKind::Observations, &self.observations.0);
        all.extend(ids(StateKind::Alerts, &self.alerts.0));
        all.extend(ids(StateKind::Seen, &self.seen.0));
        all.extend(ids(StateKind::Points, &self.points.0));
        all.into_iter()
            .map(|(kind, id)| StateRow {
                kind,
                rule: id.0,
                group: id.1,
                state: self.encode(kind, id),
            })
            .collect()
    }

    /// Rebuilds the state a checkpoint holds; rows that do not decode are skipped.
    pub fn from_rows(rows: impl IntoIterator<Item = StateRow>) -> MemoryState {
        let mut state = MemoryState::default();
        for row in rows {
            let (id, Some(bytes)) = ((row.rule, row.group), row.state) else {
                continue;
            };
            match row.kind {
                StateKind::Observations => {
                    state.observations.0.insert(id, decode_triples(&bytes));
                }
                StateKind::Alerts => {
                    let pairs = bytes
                        .chunks_exact(16)
                        .map(|c| (i64_at(c, 0), u64_at(c, 8)))
                        .collect();
                    state.alerts.0.insert(id, pairs);
                }
                StateKind::Seen => {
                    let values = decode_triples(&bytes)
                        .into_iter()
                        .map(|(a, b, c)| (a as u64, b as i64, c as i64))
                        .collect();
                    state.seen.0.insert(id, values);
                }
                StateKind::Points => {
                    if let Some(points) = decode_points(&bytes) {
                        state.points.0.insert(id, points);
                    }
                }
            }
        }
        state
    }

    fn encode(&self, kind: StateKind, id: Id) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        match kind {
            StateKind::Observations => {
                for (at, uuid, value) in self.observations.0.get(&id)? {
                    out.extend(at.to_le_bytes());
                    out.extend(uuid.to_le_bytes());
                    out.extend(value.to_le_bytes());
                }
            }
            StateKind::Alerts => {
                for (at, uuid) in self.alerts.0.get(&id)? {
                    out.extend(at.to_le_bytes());
                    out.extend(uuid.to_le_bytes());
                }
            }
            StateKind::Seen => {
                for (value, first, last) in self.seen.0.get(&id)? {
                    out.extend(value.to_le_bytes());
                    out.extend(first.to_le_bytes());
                    out.extend(last.to_le_bytes());
                }
            }
            StateKind::Points => return Some(encode_points(self.points.0.get(&id)?)),
        }
        Some(out)
    }

    /// Forgets the least recently active keys past [`MAX_KEYS`].
    fn enforce_key_cap(&mut self) {
        let excess = self.len().saturating_sub(MAX_KEYS);
        if excess == 0 {
            return;
        }
        let mut last: Vec<(i64, StateKind, Id)> = Vec::with_capacity(self.len());
        let latest = |times: &mut dyn Iterator<Item = i64>| times.max().unwrap_or(i64::MIN);
        for (id, v) in &self.observations.0 {
            last.push((
                latest(&mut v.iter().map(|o| o.0)),
                StateKind::Observations,
                *id,
            ));
        }
        for (id, v) in &self.alerts.0 {
            last.push((latest(&mut v.iter().map(|a| a.0)), StateKind::Alerts, *id));
        }
        for (id, v) in &self.seen.0 {
            last.push((latest(&mut v.iter().map(|s| s.2)), StateKind::Seen, *id));
        }
        for (id, v) in &self.points.0 {
            last.push((
                latest(&mut v.iter().map(|p| p.at_ms)),
                StateKind::Points,
                *id,
            ));
        }
        last.sort_unstable_by_key(|(at, _, _)| *at);
        for (_, kind, id) in last.into_iter().take(excess) {
            match kind {
                StateKind::Observations => drop(self.observations.0.remove(&id)),
                StateKind::Alerts => drop(self.alerts.0.remove(&id)),
                StateKind::Seen => drop(self.seen.0.remove(&id)),
                StateKind::Points => drop(self.points.0.remove(&id)),
            }
            self.dirty.insert((kind, id.0, id.1));
            self.forgotten += 1;
        }
    }
}

fn u64_at(chunk: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(chunk[at..at + 8].try_into().unwrap_or_default())
}

fn i64_at(chunk: &[u8], at: usize) -> i64 {
    u64_at(chunk, at) as i64
}

/// (i64, u64, u64) triples, 24 bytes each.
fn decode_triples(bytes: &[u8]) -> Items<(i64, u64, u64)> {
    bytes
        .chunks_exact(24)
        .map(|c| (i64_at(c, 0), u64_at(c, 8), u64_at(c, 16)))
        .collect()
}

/// Drops the oldest entries (by `time`) past `max`; returns how many.
fn cap<T>(items: &mut Items<T>, max: usize, time: impl Fn(&T) -> i64) -> u64 {
    if items.len() <= max {
        return 0;
    }
    items.sort_by_key(|item| time(item));
    let excess = items.len() - max;
    items.drain(..excess);
    excess as u64
}

impl StateStore for MemoryState {
    fn observe(
        &mut self,
        k: StateKey<'_>,
        event_uuid: &str,
        at_ms: i64,
        value: &str,
        keep_ms: i64,
    ) {
        let uuid = fp(event_uuid);
        let (id, obs) = self.observations.entry(k);
        if obs.iter().any(|(_, u, _)| *u == uuid) {
            return;
        }
        if obs.len() >= 64 {
            let horizon = at_ms.saturating_sub(keep_ms);
            obs.retain(|(at, _, _)| *at >= horizon);
        }
        obs.push((at_ms, uuid, fp(value)));
        self.forgotten += cap(obs, MAX_OBSERVATIONS, |o| o.0);
        self.touch(StateKind::Observations, id);
    }

    fn window(&self, k: StateKey<'_>, after_ms: i64, until_ms: i64) -> WindowCount {
        self.observations
            .get(k)
            .map(|obs| count_between(obs, after_ms, until_ms))
            .unwrap_or_default()
    }

    fn times(&self, k: StateKey<'_>, after_ms: i64, until_ms: i64) -> Vec<i64> {
        let mut times: Vec<i64> = self
            .observations
            .get(k)
            .map(|obs| {
                obs.iter()
                    .map(|(t, _, _)| *t)
                    .filter(|t| *t > after_ms && *t <= until_ms)
                    .collect()
            })
            .unwrap_or_default();
        times.sort_unstable();
        times
    }

    fn windows_containing(&self, k: StateKey<'_>, at_ms: i64, window_ms: i64) -> Vec<WindowCount> {
        let Some(obs) = self.observations.get(k) else {
            return Vec::new();
        };
        let later = obs
            .iter()
            .map(|(t, _, _)| *t)
            .filter(|t| *t > at_ms && *t < at_ms + window_ms);
        let mut anchors: Vec<i64> = std::iter::once(at_ms).chain(later).collect();
        anchors.sort_unstable();
        anchors.dedup();
        anchors
            .into_iter()
            .map(|end| count_between(obs, end - window_ms, end))
            .collect()
    }

    fn claim_alert(
        &mut self,
        k: StateKey<'_>,
        at_ms: i64,
        quiet_ms: i64,
        event_uuid: &str,
    ) -> bool {
        let uuid = fp(event_uuid);
        let (id, fired) = self.alerts.entry(k);
        if fired
            .iter()
            .any(|(at, u)| *u == uuid || (at - at_ms).abs() < quiet_ms)
        {
            return false;
        }
        fired.push((at_ms, uuid));
        self.forgotten += cap(fired, MAX_ALERTS, |a| a.0);
        self.touch(StateKind::Alerts, id);
        true
    }

    fn first_seen(
        &mut self,
        k: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> FirstSeen {
        let value = fp(value);
        let (id, values) = self.seen.entry(k);
        let known =
            |(_, first, last): &&(u64, i64, i64)| *first < at_ms && *last >= at_ms - history_ms;
        let result = FirstSeen {
            entity_known: values.iter().any(|v| known(&v)),
            value_known: values
                .iter()
                .filter(|(v, _, _)| *v == value)
                .any(|v| known(&v)),
        };
        match values.iter_mut().find(|(v, _, _)| *v == value) {
            Some(span) => *span = (value, span.1.min(at_ms), span.2.max(at_ms)),
            None => values.push((value, at_ms, at_ms)),
        }
        self.forgotten += cap(values, MAX_VALUES, |v| v.2);
        self.touch(StateKind::Seen, id);
        result
    }

    fn previous_location(
        &mut self,
        k: StateKey<'_>,
        point: &GeoPoint,
        event_uuid: &str,
    ) -> Option<GeoPoint> {
        let uuid = fp(event_uuid);
        let (id, points) = self.points.entry(k);
        let prev = points
            .iter()
            .filter(|p| p.at_ms < point.at_ms && p.uuid != uuid)
            .max_by_key(|p| p.at_ms)
            .map(HeldPoint::point);
        if !points.iter().any(|p| p.uuid == uuid) {
            points.push(HeldPoint::new(point, uuid));
            cap(points, MAX_POINTS, |p| p.at_ms);
            self.touch(StateKind::Points, id);
        }
        prev
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
