//! Stateful rules: thresholds over sliding windows, first-seen values, geo-velocity,
//! sequences and absences (`absence.rs`). The rule's `condition` selects the events; these
//! settings decide, from state, whether a matching event fires. Syntax: `src/detect/README.md`.

use super::LoadError;
use super::absence::Absence;
use super::eval::{Ctx, Expr};
use std::borrow::Cow;

use super::fields::{Field, Val};
use super::output::StateOut;
use super::rules::Compiler;
use super::state::{GeoPoint, StateKey, StateStore};
use super::yaml::Node;

#[derive(Debug, Clone)]
pub enum Stateful {
    Threshold(Threshold),
    FirstSeen(FirstSeenRule),
    GeoVelocity(GeoVelocity),
    Sequence(Sequence),
    Absence(Absence),
}

#[derive(Debug, Clone)]
pub struct Threshold {
    window_ms: i64,
    group_by: Vec<Field>,
    count: Option<u64>,
    /// Each field's minimum of distinct values, all met in one window (none: count only).
    distinct: Vec<(Field, u64)>,
}

#[derive(Debug, Clone)]
pub struct FirstSeenRule {
    entity: Vec<Field>,
    /// One item (`value`), or with `all_new` several, each a field or a combination of
    /// fields, that must all be new together.
    values: Vec<Vec<Field>>,
    history_ms: i64,
}

#[derive(Debug, Clone)]
pub struct GeoVelocity {
    entity: Vec<Field>,
    max_kmh: f64,
    min_km: f64,
}

#[derive(Debug, Clone)]
pub struct Sequence {
    window_ms: i64,
    group_by: Vec<Field>,
    pub(super) after: Expr,
    count: u64,
}

/// Reads a stateful block's settings, refusing unknown keys.
pub(super) struct Settings<'a> {
    cx: &'a Compiler<'a>,
    node: &'a Node,
    file: usize,
    kind: &'a str,
}

impl<'a> Settings<'a> {
    pub(super) fn new(
        cx: &'a Compiler<'a>,
        node: &'a Node,
        file: usize,
        kind: &'a str,
        allowed: &[&str],
    ) -> Result<Self, LoadError> {
        let entries = node
            .as_map()
            .ok_or_else(|| cx.error(file, node.mark, format!("'{kind}' must be a mapping")))?;
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !allowed.contains(&key) {
                return Err(cx.error(
                    file,
                    k.mark,
                    format!(
                        "{kind}: unknown setting '{key}' (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(Settings {
            cx,
            node,
            file,
            kind,
        })
    }

    pub(super) fn err(&self, node: &Node, reason: String) -> LoadError {
        self.cx
            .error(self.file, node.mark, format!("{}: {reason}", self.kind))
    }

    pub(super) fn required(&self, key: &str) -> Result<&'a Node, LoadError> {
        self.node
            .get(key)
            .ok_or_else(|| self.err(self.node, format!("missing '{key}'")))
    }

    pub(super) fn fields(&self, key: &str) -> Result<Vec<Field>, LoadError> {
        let node = self.required(key)?;
        let items = match node.as_seq() {
            Some(seq) => seq.to_vec(),
            None => vec![node.clone()],
        };
        if items.is_empty() {
            return Err(self.err(node, format!("'{key}' needs at least one field")));
        }
        items.iter().map(|n| self.cx.field(self.file, n)).collect()
    }

    /// `all_new`'s items: each a field, or a list of fields combined into one value.
    fn field_groups(&self, node: &Node) -> Result<Vec<Vec<Field>>, LoadError> {
        let items = node
            .as_seq()
            .filter(|items| items.len() >= 2)
            .ok_or_else(|| self.err(node, "'all_new' lists two or more items".into()))?;
        items
            .iter()
            .map(|item| match item.as_seq() {
                Some(combined) if !combined.is_empty() => combined
                    .iter()
                    .map(|n| self.cx.field(self.file, n))
                    .collect(),
                Some(_) => Err(self.err(item, "an 'all_new' item needs a field".into())),
                None => Ok(vec![self.cx.field(self.file, item)?]),
            })
            .collect()
    }

    /// `distinct: [{field: F, count: N}, …]`: several distinct minimums for one window.
    fn distinct_list(&self, node: &Node) -> Result<Vec<(Field, u64)>, LoadError> {
        let items = node.as_seq().unwrap_or_default();
        if items.is_empty() || items.len() > 4 {
            return Err(self.err(node, "'distinct' lists 1 to 4 {field, count} items".into()));
        }
        let mut names: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for item in items {
            let item_settings =
                Settings::new(self.cx, item, self.file, self.kind, &["field", "count"])?;
            let field = item_settings.required("field")?;
            let name = field.as_str().unwrap_or_default();
            if names.contains(&name) {
                return Err(self.err(field, format!("'{name}' is listed twice in 'distinct'")));
            }
            names.push(name);
            let count = item_settings
                .count("count")?
                .ok_or_else(|| self.err(item, "each 'distinct' item needs a 'count'".into()))?;
            out.push((self.cx.field(self.file, field)?, count));
        }
        Ok(out)
    }

    fn number(&self, key: &str) -> Result<Option<f64>, LoadError> {
        let Some(node) = self.node.get(key) else {
            return Ok(None);
        };
        let value = node
            .as_str()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|n| *n >= 0.0)
            .ok_or_else(|| self.err(node, format!("'{key}' must be a non-negative number")))?;
        Ok(Some(value))
    }

    fn count(&self, key: &str) -> Result<Option<u64>, LoadError> {
        match self.number(key)? {
            Some(n) if n >= 1.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
            Some(_) => Err(self.err(
                self.required(key)?,
                format!("'{key}' must be a whole number ≥ 1"),
            )),
            None => Ok(None),
        }
    }

    pub(super) fn duration(&self, key: &str) -> Result<i64, LoadError> {
        let node = self.required(key)?;
        node.as_str().and_then(parse_duration_ms).ok_or_else(|| {
            self.err(
                node,
                format!("'{key}' must be a duration like 30s, 15m, 3h, 7d (at most 3650d)"),
            )
        })
    }
}

/// `90` (seconds), `30s`, `15m`, `3h`, `7d`.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit.trim() {
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    // Beyond ten years a window is a typo; the cap also keeps window arithmetic far from overflow.
    n.checked_mul(unit_ms).filter(|ms| *ms <= MAX_DURATION_MS)
}

const MAX_DURATION_MS: i64 = 3650 * 86_400_000;

impl Stateful {
    pub(super) fn compile(
        cx: &Compiler<'_>,
        kind: &str,
        node: &Node,
        file: usize,
    ) -> Result<Stateful, LoadError> {
        let settings = |allowed: &[&str]| Settings::new(cx, node, file, kind, allowed);
        match kind {
            "threshold" => {
                let s = settings(&["window", "group_by", "count", "distinct", "distinct_count"])?;
                let distinct = match (s.node.get("distinct"), s.count("distinct_count")?) {
                    (Some(list), None) if list.as_seq().is_some() => s.distinct_list(list)?,
                    (Some(f), Some(n)) if f.as_seq().is_none() => vec![(cx.field(file, f)?, n)],
                    (None, None) => Vec::new(),
                    _ => {
                        return Err(s.err(
                            node,
                            "'distinct: FIELD' goes with 'distinct_count', or 'distinct' lists \
                             {field, count} items"
                                .into(),
                        ));
                    }
                };
                let count = s.count("count")?;
                if count.is_none() && distinct.is_empty() {
                    return Err(s.err(
                        node,
                        "needs 'count' or 'distinct' with 'distinct_count'".into(),
                    ));
                }
                Ok(Stateful::Threshold(Threshold {
                    window_ms: s.duration("window")?,
                    group_by: s.fields("group_by")?,
                    count,
                    distinct,
                }))
            }
            "first_seen" => {
                let s = settings(&["entity", "value", "all_new", "history"])?;
                let values = match (node.get("value"), node.get("all_new")) {
                    (Some(_), None) => vec![s.fields("value")?],
                    (None, Some(items)) => s.field_groups(items)?,
                    _ => return Err(s.err(node, "needs either 'value' or 'all_new'".into())),
                };
                Ok(Stateful::FirstSeen(FirstSeenRule {
                    entity: s.fields("entity")?,
                    values,
                    history_ms: s.duration("history")?,
                }))
            }
            "geo_velocity" => {
                let s = settings(&["entity", "max_kmh", "min_km"])?;
                Ok(Stateful::GeoVelocity(GeoVelocity {
                    entity: s.fields("entity")?,
                    max_kmh: s.number("max_kmh")?.unwrap_or(900.0),
                    min_km: s.number("min_km")?.unwrap_or(100.0),
                }))
            }
            "absence" => Ok(Stateful::Absence(Absence::compile(cx, node, file)?)),
            _ => {
                let s = settings(&["window", "group_by", "after", "count"])?;
                let after = s.required("after")?;
                Ok(Stateful::Sequence(Sequence {
                    window_ms: s.duration("window")?,
                    group_by: s.fields("group_by")?,
                    after: cx.condition(file, after)?,
                    count: s.count("count")?.unwrap_or(1),
                }))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Stateful::Threshold(_) => "threshold",
            Stateful::FirstSeen(_) => "first_seen",
            Stateful::GeoVelocity(_) => "geo_velocity",
            Stateful::Sequence(_) => "sequence",
            Stateful::Absence(_) => "absence",
        }
    }

    /// Updates state for the event and says whether the rule fires. A sequence or an absence
    /// also records its other events, whether or not the rule's condition held.
    pub(super) fn run<S: StateStore>(&self, input: &Input<'_>, state: &mut S) -> Option<StateOut> {
        match self {
            Stateful::Threshold(t) if input.matched => t.run(input, state),
            Stateful::FirstSeen(f) if input.matched => f.run(input, state),
            Stateful::GeoVelocity(g) if input.matched => g.run(input, state),
            Stateful::Sequence(s) => s.run(input, state),
            Stateful::Absence(a) => a.run(input, state),
            _ => None,
        }
    }
}

/// What one event brings to one stateful rule: the event, its `published` time and whether
/// the rule's condition held, with the rule's state keys.
#[derive(Clone, Copy)]
pub(super) struct Input<'a> {
    /// The rule's own key ("policy id/rule name").
    pub rule: &'a str,
    /// The key of a sequence's steps, or of an absence's starts.
    pub steps: &'a str,
    pub ctx: &'a Ctx<'a>,
    pub at: i64,
    pub matched: bool,
}

impl<'a> Input<'a> {
    pub(super) fn uuid(&self) -> &'a str {
        &self.ctx.event.uuid
    }

    /// The event's group under `fields` (see [`group_key`]).
    pub(super) fn group(&self, fields: &[Field]) -> Option<Cow<'a, str>> {
        group_key(fields, self.ctx)
    }

    /// The rule's own key for `group`.
    pub(super) fn key(&self, group: &'a str) -> StateKey<'a> {
        StateKey {
            rule: self.rule,
            group,
        }
    }
}

/// The group's key: the values joined; `None` when one is missing (such events are not
/// lumped together under an empty group).
fn group_key<'a>(fields: &[Field], ctx: &Ctx<'a>) -> Option<Cow<'a, str>> {
    if let [single] = fields {
        return match ctx.value(single) {
            Val::Str(text) if !text.is_empty() => Some(text),
            other => other
                .as_text()
                .filter(|t| !t.is_empty())
                .map(|t| Cow::Owned(t.into_owned())),
        };
    }
    let mut key = String::new();
    for (i, f) in fields.iter().enumerate() {
        let value = ctx.value(f);
        let text = value.as_text().filter(|t| !t.is_empty())?;
        if i > 0 {
            key.push('\u{1f}');
        }
        key.push_str(&text);
    }
    Some(Cow::Owned(key))
}

impl Threshold {
    fn run<S: StateStore>(&self, input: &Input<'_>, state: &mut S) -> Option<StateOut> {
        let group = input.group(&self.group_by)?;
        let (at, uuid) = (input.at, input.uuid());
        // One observation per distinct field, each under its own key; the first keeps the
        // group's own key (what a single `distinct` always used). The same events land in
        // every key, so their windows line up one for one.
        let mut values = Vec::with_capacity(self.distinct.len().max(1));
        for (field, _) in &self.distinct {
            match input.ctx.value(field).as_text() {
                Some(v) if !v.is_empty() => values.push(v.into_owned()),
                _ => return None,
            }
        }
        if values.is_empty() {
            values.push(String::new());
        }
        let mut windows = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            let sub_group = match i {
                0 => Cow::Borrowed(group.as_ref()),
                _ => Cow::Owned(format!("{group}\u{1e}distinct{i}")),
            };
            let key = input.key(&sub_group);
            state.observe(key, uuid, at, value, self.window_ms * 2);
            windows.push(state.windows_containing(key, at, self.window_ms));
        }
        let enough = |i: usize| {
            let first = windows[0][i];
            self.count.is_none_or(|n| first.count >= n)
                && self
                    .distinct
                    .iter()
                    .zip(&windows)
                    .all(|((_, n), w)| w.get(i).is_some_and(|w| w.distinct >= *n))
        };
        let seen = (0..windows[0].len())
            .find(|i| enough(*i))
            .map(|i| windows[0][i])?;
        if !state.claim_alert(input.key(&group), at, self.window_ms, uuid) {
            return None;
        }
        Some(StateOut {
            count: seen.count,
            distinct: seen.distinct,
            ..StateOut::default()
        })
    }
}

impl FirstSeenRule {
    fn run<S: StateStore>(&self, input: &Input<'_>, state: &mut S) -> Option<StateOut> {
        let entity = input.group(&self.entity)?;
        let values = self.item_values(input.ctx)?;
        let key = input.key(&entity);
        let (mut entity_known, mut all_new) = (false, true);
        for value in &values {
            // An item the event lacks says nothing about novelty: not new, not recorded.
            let Some(value) = value else {
                all_new = false;
                continue;
            };
            let seen = state.first_seen(key, value, input.at, self.history_ms);
            entity_known |= seen.entity_known;
            all_new &= !seen.value_known;
        }
        if !entity_known || !all_new {
            return None;
        }
        Some(StateOut {
            value: self.shown(values),
            ..StateOut::default()
        })
    }

    /// Each item's value (`None` where the event lacks one of its fields); with several
    /// items, tagged with the item's position so that equal text in two items stays apart.
    /// `None` overall when no item has a value.
    fn item_values(&self, ctx: &Ctx<'_>) -> Option<Vec<Option<String>>> {
        if let [only] = self.values.as_slice() {
            return group_key(only, ctx).map(|v| vec![Some(v.into_owned())]);
        }
        let values: Vec<Option<String>> = self
            .values
            .iter()
            .enumerate()
            .map(|(i, fields)| group_key(fields, ctx).map(|v| format!("{i}\u{1e}{v}")))
            .collect();
        values.iter().any(Option::is_some).then_some(values)
    }

    fn shown(&self, values: Vec<Option<String>>) -> String {
        let values: Vec<String> = values.into_iter().flatten().collect();
        if self.values.len() == 1 {
            return values.into_iter().next().unwrap_or_default();
        }
        values
            .iter()
            .map(|v| v.split_once('\u{1e}').map_or(v.as_str(), |(_, v)| v))
            .map(|v| v.replace('\u{1f}', " "))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl GeoVelocity {
    fn run<S: StateStore>(&self, input: &Input<'_>, state: &mut S) -> Option<StateOut> {
        let entity = input.group(&self.entity)?;
        let point = location(input.ctx, input.at)?;
        let key = input.key(&entity);
        let prev = state.previous_location(key, &point, input.uuid())?;
        let distance_km = haversine_km(prev.lat, prev.lon, point.lat, point.lon);
        let hours = (point.at_ms - prev.at_ms) as f64 / 3_600_000.0;
        let speed_kmh = if hours > 0.0 {
            distance_km / hours
        } else {
            f64::INFINITY
        };
        if distance_km < self.min_km || speed_kmh <= self.max_kmh {
            return None;
        }
        Some(StateOut {
            speed_kmh,
            distance_km,
            prev: Some(prev),
            ..StateOut::default()
        })
    }
}

fn location(ctx: &Ctx<'_>, at: i64) -> Option<GeoPoint> {
    let geo = super::fields::geo(ctx.event)?;
    let loc = geo.geolocation?;
    let ip = ctx.event.client.as_ref().and_then(|c| c.ip_address.clone());
    Some(GeoPoint {
        at_ms: at,
        lat: loc.lat?,
        lon: loc.lon?,
        country: geo.country.clone().unwrap_or_default(),
        city: geo.city.clone().unwrap_or_default(),
        ip: ip.unwrap_or_default(),
    })
}

pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

impl Sequence {
    fn run<S: StateStore>(&self, input: &Input<'_>, state: &mut S) -> Option<StateOut> {
        let is_step = self.after.eval(input.ctx);
        if !is_step && !input.matched {
            return None;
        }
        let group = input.group(&self.group_by)?;
        let steps = StateKey {
            rule: input.steps,
            group: &group,
        };
        let finals = input.key(&group);
        let (at, uuid) = (input.at, input.uuid());
        if is_step {
            state.observe(steps, uuid, at, "", self.window_ms * 2);
        }
        if input.matched {
            state.observe(finals, uuid, at, "", self.window_ms * 2);
            return self.complete(state, steps, finals, at, uuid);
        }
        // A step delivered after final events published later than it may complete them now.
        state
            .times(finals, at, at + self.window_ms)
            .into_iter()
            .find_map(|end| self.complete(state, steps, finals, end, uuid))
    }

    /// Fires for the final event at `end` if enough steps precede it (once per window).
    fn complete<S: StateStore>(
        &self,
        state: &mut S,
        steps: StateKey<'_>,
        finals: StateKey<'_>,
        end: i64,
        uuid: &str,
    ) -> Option<StateOut> {
        let before = state.window(steps, end - self.window_ms, end - 1);
        if before.count < self.count || !state.claim_alert(finals, end, self.window_ms, uuid) {
            return None;
        }
        Some(StateOut {
            count: before.count,
            ..StateOut::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("15m"), Some(900_000));
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("7d"), Some(604_800_000));
        assert_eq!(parse_duration_ms("0s"), None);
        assert_eq!(parse_duration_ms("5w"), None);
        assert_eq!(parse_duration_ms("99999999999d"), None);
    }

    #[test]
    fn haversine_paris_new_york() {
        let d = haversine_km(48.8566, 2.3522, 40.7128, -74.0060);
        assert!((d - 5837.0).abs() < 20.0, "{d}");
    }
}
