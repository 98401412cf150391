//! The state behind stateful rules, and an in-memory store for `rules test` and the bench.
//!
//! All times are the events' `published` times in milliseconds, never arrival times, so the
//! same events give the same detections offline and in the service.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasherDefault;

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

/// Durable primitives the stateful rules are built from. Every method is idempotent per
/// event uuid, so a redelivered or reprocessed event changes nothing.
pub trait StateStore {
    type Error: std::error::Error + Send + Sync + 'static;

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
        event_uuid: &str,
    ) -> impl Future<Output = Result<Option<GeoPoint>, Self::Error>> + Send;
}

use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use super::fxhash::Fx;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;
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
}

/// Bounds on what one (rule, group) keeps; past them the oldest entries are forgotten (and
/// counted). Rules count far fewer than these within a window.
const MAX_OBSERVATIONS: usize = 1024;
const MAX_ALERTS: usize = 64;
const MAX_VALUES: usize = 256;
/// Points kept per entity for geo-velocity; only neighbours in time matter.
const MAX_POINTS: usize = 64;
/// Keys (rule, group) of one tenant; past it, the least recently active are forgotten.
pub const MAX_KEYS: usize = 200_000;

/// A geo point as held: its three texts in one allocation, its event as a fingerprint.
#[derive(Debug, Clone, PartialEq)]
struct HeldPoint {
    at_ms: i64,
    uuid: u64,
    lat: f64,
    lon: f64,
    /// country, city and ip, one after the other; `lens` are the first two's lengths.
    texts: Box<str>,
    lens: [u16; 2],
}

impl HeldPoint {
    fn new(point: &GeoPoint, uuid: u64) -> HeldPoint {
        let country = clip_u16(&point.country);
        let city = clip_u16(&point.city);
        let ip = clip_u16(&point.ip);
        HeldPoint {
            at_ms: point.at_ms,
            uuid,
            lat: point.lat,
            lon: point.lon,
            texts: [country, city, ip].concat().into_boxed_str(),
            lens: [country.len() as u16, city.len() as u16],
        }
    }

    fn point(&self) -> GeoPoint {
        let (country, rest) = self.texts.split_at(usize::from(self.lens[0]));
        let (city, ip) = rest.split_at(usize::from(self.lens[1]));
        GeoPoint {
            at_ms: self.at_ms,
            lat: self.lat,
            lon: self.lon,
            country: country.to_owned(),
            city: city.to_owned(),
            ip: ip.to_owned(),
        }
    }

    /// at, uuid, lat, lon, then each text's length (u16) and bytes.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.at_ms.to_le_bytes());
        out.extend(self.uuid.to_le_bytes());
        out.extend(self.lat.to_le_bytes());
        out.extend(self.lon.to_le_bytes());
        let point = self.point();
        for text in [&point.country, &point.city, &point.ip] {
            out.extend((text.len() as u16).to_le_bytes());
            out.extend(text.as_bytes());
        }
    }

    fn decode(bytes: &mut &[u8]) -> Option<HeldPoint> {
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = bytes.split_at_checked(n)?;
            *bytes = tail;
            Some(head)
        };
        let at_ms = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let uuid = u64::from_le_bytes(take(8)?.try_into().ok()?);
        let lat = f64::from_le_bytes(take(8)?.try_into().ok()?);
        let lon = f64::from_le_bytes(take(8)?.try_into().ok()?);
        let mut text = || -> Option<String> {
            let len = u16::from_le_bytes(take(2)?.try_into().ok()?);
            String::from_utf8(take(usize::from(len))?.to_vec()).ok()
        };
        let (country, city, ip) = (text()?, text()?, text()?);
        let point = GeoPoint {
            at_ms,
            lat,
            lon,
            country,
            city,
            ip,
        };
        Some(HeldPoint::new(&point, uuid))
    }
}

/// Points as checkpointed before the binary form: JSON with the event's uuid in full.
#[derive(serde::Deserialize)]
struct JsonPoint {
    at_ms: i64,
    lat: f64,
    lon: f64,
    country: String,
    city: String,
    ip: String,
    event_uuid: String,
}

/// The first byte of a binary points entry (a JSON one starts with `[`).
const POINTS_V2: u8 = 2;

fn encode_points(points: &[HeldPoint]) -> Vec<u8> {
    let mut out = vec![POINTS_V2];
    for point in points {
        point.encode(&mut out);
    }
    out
}

fn decode_points(bytes: &[u8]) -> Option<Items<HeldPoint>> {
    match bytes.split_first()? {
        (&POINTS_V2, mut rest) => {
            let mut points = Items::new();
            while !rest.is_empty() {
                points.push(HeldPoint::decode(&mut rest)?);
            }
            Some(points)
        }
        _ => {
            let legacy: Vec<JsonPoint> = serde_json::from_slice(bytes).ok()?;
            Some(
                legacy
                    .into_iter()
                    .map(|p| {
                        let uuid = fp(&p.event_uuid);
                        let point = GeoPoint {
                            at_ms: p.at_ms,
                            lat: p.lat,
                            lon: p.lon,
                            country: p.country,
                            city: p.city,
                            ip: p.ip,
                        };
                        HeldPoint::new(&point, uuid)
                    })
                    .collect(),
            )
        }
    }
}

/// At most `u16::MAX` bytes, cut at a character boundary (place names and addresses are short).
fn clip_u16(text: &str) -> &str {
    &text[..text.floor_char_boundary(usize::from(u16::MAX))]
}

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
    type Error = std::convert::Infallible;

    async fn observe(
        &mut self,
        k: StateKey<'_>,
        event_uuid: &str,
        at_ms: i64,
        value: &str,
        keep_ms: i64,
    ) -> Result<(), Self::Error> {
        let id = Keyed::<()>::id(k);
        let uuid = fp(event_uuid);
        let obs = self.observations.0.entry(id).or_default();
        if obs.iter().any(|(_, u, _)| *u == uuid) {
            return Ok(());
        }
        if obs.len() >= 64 {
            let horizon = at_ms.saturating_sub(keep_ms);
            obs.retain(|(at, _, _)| *at >= horizon);
        }
        obs.push((at_ms, uuid, fp(value)));
        self.forgotten += cap(obs, MAX_OBSERVATIONS, |o| o.0);
        self.touch(StateKind::Observations, id);
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
            .map(|obs| count_between(obs, after_ms, until_ms))
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
                obs.iter()
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
            .iter()
            .map(|(t, _, _)| *t)
            .filter(|t| *t > at_ms && *t < at_ms + window_ms);
        let mut anchors: Vec<i64> = std::iter::once(at_ms).chain(later).collect();
        anchors.sort_unstable();
        anchors.dedup();
        Ok(anchors
            .into_iter()
            .map(|end| count_between(obs, end - window_ms, end))
            .collect())
    }

    async fn claim_alert(
        &mut self,
        k: StateKey<'_>,
        at_ms: i64,
        quiet_ms: i64,
        event_uuid: &str,
    ) -> Result<bool, Self::Error> {
        let id = Keyed::<()>::id(k);
        let uuid = fp(event_uuid);
        let fired = self.alerts.0.entry(id).or_default();
        if fired
            .iter()
            .any(|(at, u)| *u == uuid || (at - at_ms).abs() < quiet_ms)
        {
            return Ok(false);
        }
        fired.push((at_ms, uuid));
        self.forgotten += cap(fired, MAX_ALERTS, |a| a.0);
        self.touch(StateKind::Alerts, id);
        Ok(true)
    }

    async fn first_seen(
        &mut self,
        k: StateKey<'_>,
        value: &str,
        at_ms: i64,
        history_ms: i64,
    ) -> Result<FirstSeen, Self::Error> {
        let id = Keyed::<()>::id(k);
        let value = fp(value);
        let values = self.seen.0.entry(id).or_default();
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
        Ok(result)
    }

    async fn previous_location(
        &mut self,
        k: StateKey<'_>,
        point: &GeoPoint,
        event_uuid: &str,
    ) -> Result<Option<GeoPoint>, Self::Error> {
        let id = Keyed::<()>::id(k);
        let uuid = fp(event_uuid);
        let points = self.points.0.entry(id).or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(future: impl Future<Output = Result<T, std::convert::Infallible>>) -> T {
        let future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.poll(&mut cx) {
            std::task::Poll::Ready(Ok(value)) => value,
            _ => unreachable!("in memory"),
        }
    }

    #[test]
    fn delta_and_rows_rebuild_the_same_state() {
        let mut state = MemoryState::new();
        let key = StateKey {
            rule: "r",
            group: "alice",
        };
        run(state.observe(key, "e1", 1_000, "1.2.3.4", 60_000));
        run(state.observe(key, "e2", 2_000, "5.6.7.8", 60_000));
        run(state.claim_alert(key, 2_000, 60_000, "e2"));
        run(state.first_seen(key, "FR", 2_000, 86_400_000));
        let point = GeoPoint {
            at_ms: 2_000,
            lat: 1.0,
            lon: 2.0,
            country: "France".into(),
            city: "Paris".into(),
            ip: "192.0.2.1".into(),
        };
        run(state.previous_location(key, &point, "e2"));
        let delta = state.take_delta();
        assert_eq!(delta.len(), 4);
        assert!(state.take_delta().is_empty(), "a delta is taken once");
        let mut rebuilt = MemoryState::from_rows(delta);
        let mut expected_rows = state.rows();
        let mut rows = rebuilt.rows();
        let order = |r: &StateRow| (r.kind as i16, r.rule, r.group);
        expected_rows.sort_by_key(order);
        rows.sort_by_key(order);
        assert_eq!(rows, expected_rows);
        assert_eq!(
            run(rebuilt.window(key, 0, 3_000)),
            WindowCount {
                count: 2,
                distinct: 2
            }
        );
        assert!(!run(rebuilt.claim_alert(key, 2_500, 60_000, "e3")));
    }

    #[test]
    fn points_checkpointed_as_json_still_load() {
        let legacy = br#"[{"at_ms":1000,"lat":48.85,"lon":2.35,"country":"France","city":"Paris","ip":"192.0.2.1","event_uuid":"e1"}]"#;
        let mut state = MemoryState::from_rows([StateRow {
            kind: StateKind::Points,
            rule: fp("r"),
            group: fp("alice"),
            state: Some(legacy.to_vec()),
        }]);
        let key = StateKey {
            rule: "r",
            group: "alice",
        };
        let later = GeoPoint {
            at_ms: 2_000,
            ..GeoPoint::default()
        };
        let prev = run(state.previous_location(key, &later, "e2")).expect("the JSON point");
        assert_eq!(
            (prev.city.as_str(), prev.ip.as_str()),
            ("Paris", "192.0.2.1")
        );
        // The same event again is recognised by its uuid's fingerprint.
        let again = GeoPoint {
            at_ms: 1_000,
            ..GeoPoint::default()
        };
        run(state.previous_location(key, &again, "e1"));
        let rows = state.take_delta();
        assert_eq!(rows.len(), 1, "e2 was added, e1 was not added twice");
        let points = decode_points(rows[0].state.as_deref().unwrap_or_default());
        assert_eq!(points.map(|p| p.len()), Some(2));
    }

    #[test]
    fn caps_forget_the_oldest_and_count_it() {
        let mut state = MemoryState::new();
        let key = StateKey {
            rule: "r",
            group: "g",
        };
        for i in 0..(MAX_OBSERVATIONS as i64 + 10) {
            run(state.observe(key, &format!("e{i}"), i, "", i64::MAX / 4));
        }
        assert_eq!(state.take_forgotten(), 10);
        let window = run(state.window(key, -1, i64::MAX));
        assert_eq!(window.count, MAX_OBSERVATIONS as u64);
        assert_eq!(
            run(state.times(key, -1, 9)).first(),
            None,
            "the oldest went first"
        );
    }
}
