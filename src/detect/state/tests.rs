use super::memory::MAX_OBSERVATIONS;
use super::points::decode_points;
use super::*;

/// The one (rule, group) these tests keep state under.
const KEY: StateKey<'static> = StateKey {
    rule: "r",
    group: "alice",
};

#[test]
fn delta_and_rows_rebuild_the_same_state() {
    let mut state = MemoryState::new();
    state.observe(KEY, "e1", 1_000, "1.2.3.4", 60_000);
    state.observe(KEY, "e2", 2_000, "5.6.7.8", 60_000);
    state.claim_alert(KEY, 2_000, 60_000, "e2");
    state.first_seen(KEY, "FR", 2_000, 86_400_000);
    let point = GeoPoint {
        at_ms: 2_000,
        lat: 1.0,
        lon: 2.0,
        country: "France".into(),
        city: "Paris".into(),
        ip: "192.0.2.1".into(),
    };
    state.previous_location(KEY, &point, "e2");
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
        rebuilt.window(KEY, 0, 3_000),
        WindowCount {
            count: 2,
            distinct: 2
        }
    );
    assert!(!rebuilt.claim_alert(KEY, 2_500, 60_000, "e3"));
}

#[test]
fn points_checkpointed_as_json_still_load() {
    let legacy = br#"[{"at_ms":1000,"lat":48.85,"lon":2.35,"country":"France","city":"Paris","ip":"192.0.2.1","event_uuid":"e1"}]"#;
    let mut state = MemoryState::from_rows([StateRow {
        kind: StateKind::Points,
        rule: fp(KEY.rule),
        group: fp(KEY.group),
        state: Some(legacy.to_vec()),
    }]);
    let later = GeoPoint {
        at_ms: 2_000,
        ..GeoPoint::default()
    };
    let prev = state
        .previous_location(KEY, &later, "e2")
        .expect("the JSON point");
    assert_eq!(
        (prev.city.as_str(), prev.ip.as_str()),
        ("Paris", "192.0.2.1")
    );
    // The same event again is recognised by its uuid's fingerprint.
    let again = GeoPoint {
        at_ms: 1_000,
        ..GeoPoint::default()
    };
    state.previous_location(KEY, &again, "e1");
    let rows = state.take_delta();
    assert_eq!(rows.len(), 1, "e2 was added, e1 was not added twice");
    let points = decode_points(rows[0].state.as_deref().unwrap_or_default());
    assert_eq!(points.map(|p| p.len()), Some(2));
}

#[test]
fn caps_forget_the_oldest_and_count_it() {
    let mut state = MemoryState::new();
    for i in 0..(MAX_OBSERVATIONS as i64 + 10) {
        state.observe(KEY, &format!("e{i}"), i, "", i64::MAX / 4);
    }
    assert_eq!(state.take_forgotten(), 10);
    let window = state.window(KEY, -1, i64::MAX);
    assert_eq!(window.count, MAX_OBSERVATIONS as u64);
    assert_eq!(
        state.times(KEY, -1, 9).first(),
        None,
        "the oldest went first"
    );
}
