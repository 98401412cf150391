//! What the fuzz targets run on each input, and the properties they check.
//!
//! Shared by the cargo-fuzz targets in `fuzz/fuzz_targets/` (nightly, libFuzzer) and by
//! `tests/fuzz_regressions.rs` (stable, `cargo test`), so an input that once failed here is
//! replayed through the very same code path by the normal test suite. A check fails by
//! panicking; each function takes the fuzzer's raw bytes.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use okta_ingest::detect::fields::{self, Extras, FieldType, Val};
use okta_ingest::detect::{Engine, MemoryState, PolicyRef, RuleSet, managed_engine, yaml_to_json};
use okta_ingest::ingest::{envelope, normalize};
use okta_ingest::okta::LogEvent;

/// A rules input that compiles (or evaluates) slower than this is a bug: compilation must be
/// cut short by the bounds in `src/detect/limits.rs` long before. Measured inside the target,
/// so it holds whatever libFuzzer's `-timeout` and whether or not the build is optimized.
pub const SLOW: Duration = Duration::from_secs(1);

/// The Okta org that field extraction and rules see.
const ORG: &str = "acme.okta.com";

// ---------------------------------------------------------------------------------------
// envelope: a hook body as the hook handler sees it (UTF-8 → storable → parse).

pub fn envelope(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let stored = envelope::storable(body);
    check_storable(body, &stored);
    let Ok(batch) = envelope::parse(&stored) else {
        return;
    };
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&stored)
        && let Some(events) = value["data"]["events"].as_array()
    {
        assert_eq!(
            batch.accepted.len() + batch.rejected.len() + batch.repeated,
            events.len(),
            "every event is accepted, rejected or repeated"
        );
    }
    let mut uuids = std::collections::HashSet::new();
    for event in &batch.accepted {
        assert!(!event.uuid.trim().is_empty() && event.uuid.len() <= 128);
        assert!(!event.event_type.trim().is_empty());
        assert!(uuids.insert(event.uuid.as_str()), "uuid accepted twice");
        assert!(within(&stored, event.raw), "raw is a slice of the body");
        if let Err(why) = jsonb_takes(event.raw) {
            panic!(
                "accepted an event Postgres jsonb refuses ({why}): {}",
                event.raw
            );
        }
        if let Some(published) = event.published {
            let year = chrono::Datelike::year(&published);
            assert!((2009..=chrono::Datelike::year(&chrono::Utc::now()) + 1).contains(&year));
        }
        // What the worker later does with it.
        log_event_str(event.raw);
    }
    for event in &batch.rejected {
        assert!(within(&stored, event.raw), "raw is a slice of the body");
    }
}

fn within(body: &str, part: &str) -> bool {
    let (start, end) = (body.as_ptr() as usize, body.as_ptr() as usize + body.len());
    let at = part.as_ptr() as usize;
    at >= start && at + part.len() <= end
}

/// `storable` rewrites only `\uXXXX` escapes of U+0000 or of a surrogate without its pair,
/// each as `\ufffd` (same length), keeps every other byte, and leaves none behind.
fn check_storable(input: &str, out: &str) {
    assert_eq!(
        envelope::storable(out),
        out,
        "storable is idempotent on its own output"
    );
    assert_eq!(input.len(), out.len(), "each rewrite keeps the length");
    let (inp, outp) = (input.as_bytes(), out.as_bytes());
    let mut i = 0;
    while i < inp.len() {
        if inp[i] == outp[i] {
            i += 1;
            continue;
        }
        // The first differing byte lies inside a rewritten 6-byte escape.
        let start = (i.saturating_sub(5)..=i)
            .find(|&k| outp.get(k..k + 6) == Some(br"\ufffd") && is_escape_start(inp, k))
            .unwrap_or_else(|| panic!("byte {i} changed outside a rewritten escape: {input:?}"));
        match escape_unit(inp, start) {
            Some(0) | Some(0xDC00..=0xDFFF) => {}
            Some(0xD800..=0xDBFF) => assert!(
                !matches!(escape_unit(inp, start + 6), Some(0xDC00..=0xDFFF)),
                "a paired surrogate was rewritten: {input:?}"
            ),
            other => {
                panic!("rewrote escape {other:?} at {start}, which Postgres stores: {input:?}")
            }
        }
        i = start + 6;
    }
    if let Some(why) = unstorable_escape(out) {
        panic!("storable left {why}: {out:?}");
    }
}

/// Whether a backslash at `at` starts an escape (is not itself escaped).
fn is_escape_start(bytes: &[u8], at: usize) -> bool {
    let before = bytes[..at]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    bytes.get(at) == Some(&b'\\') && before % 2 == 0
}

/// The code unit of a well-formed `\uXXXX` (exactly four hex digits) at `at`.
fn escape_unit(bytes: &[u8], at: usize) -> Option<u16> {
    let e = bytes.get(at..at + 6)?;
    if !e.starts_with(br"\u") || !e[2..].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&e[2..]).ok()?, 16).ok()
}

/// A `\u0000` or unpaired surrogate escape left in the text, if any.
fn unstorable_escape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_unit(bytes, i) {
            Some(0) => return Some(format!("\\u0000 at {i}")),
            Some(0xD800..=0xDBFF) if matches!(escape_unit(bytes, i + 6), Some(0xDC00..=0xDFFF)) => {
                i += 12;
            }
            Some(0xD800..=0xDFFF) => return Some(format!("an unpaired surrogate at {i}")),
            Some(_) => i += 6,
            None => i += 2,
        }
    }
    None
}

/// A model of what PostgreSQL's jsonb input accepts, for text that is valid JSON: no
/// `\u0000`, no unpaired surrogate, numbers `numeric` can hold (at most 131072 digits before
/// the decimal point and 16383 after), and nesting its recursive parser can take (measured:
/// 5000 levels are stored, 20000 exceed the default `max_stack_depth`).
pub fn jsonb_takes(json: &str) -> Result<(), String> {
    if let Some(why) = unstorable_escape(json) {
        return Err(why);
    }
    let bytes = json.as_bytes();
    let (mut i, mut depth, mut deepest) = (0, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(bytes.len(), |n| i + n);
                numeric_takes(&json[i..end])?;
                i = end;
            }
            _ => i += 1,
        }
    }
    if deepest > 5000 {
        return Err(format!("nested {deepest} deep"));
    }
    Ok(())
}

/// PostgreSQL's `numeric` input (numeric.c, `set_var_from_str` and `make_result`).
fn numeric_takes(number: &str) -> Result<(), String> {
    let number = number.trim_start_matches('-');
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(at) => (&number[..at], &number[at + 1..]),
        None => (number, "0"),
    };
    let exponent: i64 =
        exponent
            .trim_start_matches('+')
            .parse()
            .unwrap_or(if exponent.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            });
    if exponent.unsigned_abs() >= (i32::MAX / 2) as u64 {
        return Err(format!("{number}: exponent out of range"));
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let scale = (frac.len() as i64 - exponent).max(0);
    if scale > 16383 {
        return Err(format!("{number}: {scale} digits after the decimal point"));
    }
    let digits = int.bytes().chain(frac.bytes());
    if let Some(first) = digits.clone().position(|d| d != b'0') {
        let weight = int.len() as i64 - 1 - first as i64 + exponent;
        if weight >= 131072 {
            return Err(format!("{number}: {} digits before the point", weight + 1));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// log_event: a stored LogEvent as the worker sees it (parse → rules → normalize, labels),
// and every field of the rule language extracted from it.

pub fn log_event(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        log_event_str(text);
    }
}

static MANAGED: LazyLock<Engine> = LazyLock::new(managed_engine);

pub fn log_event_str(text: &str) {
    let Ok(event) = serde_json::from_str::<LogEvent>(text) else {
        return;
    };
    let again = serde_json::to_string(&event).expect("a LogEvent serializes");
    serde_json::from_str::<LogEvent>(&again).expect("a serialized LogEvent parses again");

    let normalized = normalize::normalize(&event);
    serde_json::to_value(&normalized).expect("the normalized view serializes");
    let _ = normalize::actor_label(&event);
    let _ = normalize::target_label(&event);

    extract_every_field(&event);

    // Twice, so the stateful rules see a repeat.
    let mut state = MemoryState::new();
    for _ in 0..2 {
        for d in MANAGED.evaluate_in_memory(&event, ORG, &mut state) {
            assert!(!d.rule.is_empty());
        }
    }
}

fn extract_every_field(event: &LogEvent) {
    let mut args: Vec<String> = ["0", "1", "3", "300", "User", "AppInstance", "risk"]
        .map(str::to_owned)
        .into();
    if let Some(data) = event
        .debug_context
        .as_ref()
        .and_then(|d| d.debug_data.as_ref())
    {
        args.extend(data.keys().take(4).cloned());
    }
    args.extend(
        event
            .target
            .iter()
            .flatten()
            .filter_map(|t| t.kind.clone())
            .take(4),
    );
    let extras = Extras {
        mfa_counts: vec![(false, 300, 2), (true, 3, 1)],
    };
    let mut out = String::new();
    for (name, _) in fields::catalog() {
        let plain = fields::resolve(name, None).ok();
        let with_args = args
            .iter()
            .filter_map(|a| fields::resolve(name, Some(a)).ok());
        for field in plain.into_iter().chain(with_args) {
            let value = field.extract(event, ORG, &extras);
            match &value {
                Val::U64(_) => assert_eq!(field.ty, FieldType::U64, "{name}"),
                Val::List(_) => assert_eq!(field.ty, FieldType::List, "{name}"),
                Val::Str(_) | Val::Absent => {}
            }
            out.clear();
            value.render(&mut out);
            if let Some(text) = value.as_text() {
                assert!(matches!(value, Val::List(_)) || text == out, "{name}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// rules: a tenant's policy as the policies API sees it (validated by compiling it), run on a
// few events when it compiles. A NUL byte (which YAML cannot contain) splits the input into
// files loaded together, so later files append to and override earlier ones.

static EVENTS: LazyLock<Vec<LogEvent>> = LazyLock::new(|| {
    let events = [
        r#"{"uuid":"e1","published":"2026-01-01T10:00:00.000Z","eventType":"user.session.start",
            "actor":{"id":"00u1","type":"User","alternateId":"alice@example.com","displayName":"Alice"},
            "client":{"ipAddress":"198.51.100.7","zone":"null","device":"Computer",
              "userAgent":{"rawUserAgent":"Mozilla/5.0","os":"Mac OS X","browser":"CHROME"},
              "geographicalContext":{"city":"Austin","state":"Texas","country":"United States",
                "postalCode":"78701","geolocation":{"lat":30.27,"lon":-97.74}}},
            "outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},
            "securityContext":{"asNumber":64496,"asOrg":"example","isp":"example","domain":"example.net","isProxy":true},
            "debugContext":{"debugData":{"requestUri":"/app/salesforce/abc/sso/saml","risk":"{level=HIGH, reasons=New Device}","behaviors":"{New Geo-Location=POSITIVE}"}},
            "request":{"ipChain":[{"ip":"198.51.100.7","geographicalContext":{"country":"United States"}}]}}"#,
        r#"{"uuid":"e2","published":"2026-01-01T10:01:00.000Z","eventType":"user.authentication.auth_via_mfa",
            "actor":{"id":"00u1","type":"User","alternateId":"alice@example.com"},
            "client":{"ipAddress":"203.0.113.9","geographicalContext":{"country":"France","city":"Paris","geolocation":{"lat":48.85,"lon":2.35}}},
            "outcome":{"result":"DENY","reason":"User rejected Okta push verify"},
            "authenticationContext":{"authenticationProvider":"FACTOR_PROVIDER","credentialType":"OTP","authenticationStep":0,"externalSessionId":"idx1","issuer":{"id":"i","type":"t"}}}"#,
        r#"{"uuid":"e3","published":"2026-01-01T10:02:00.000Z","eventType":"group.user_membership.add",
            "actor":{"id":"00u2","type":"User","alternateId":"admin@example.com"},
            "target":[{"id":"00u3","type":"User","alternateId":"bob@example.com","displayName":"Bob"},
                      {"id":"00g1","type":"UserGroup","alternateId":"unknown","displayName":"Admins"},
                      {"id":"0oa1","type":"AppInstance","alternateId":"Salesforce","displayName":"Salesforce"}],
            "outcome":{"result":"SUCCESS"},"transaction":{"type":"WEB","id":"tx1"},"severity":"INFO",
            "displayMessage":"Add user to group membership","legacyEventType":"core.user_group_member.user_add"}"#,
        r#"{"uuid":"e4","eventType":"system.api_token.create"}"#,
    ];
    events
        .iter()
        .map(|e| serde_json::from_str(e).expect("sample event"))
        .collect()
});

pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    const NAMES: [&str; 3] = ["a.yaml", "b.yaml", "c.yaml"];
    let files: Vec<(&str, &str)> = NAMES.into_iter().zip(text.splitn(3, '\0')).collect();

    let started = Instant::now();
    for (name, text) in &files {
        let _ = yaml_to_json(name, text);
    }
    let compiled = RuleSet::compile_files(&files);
    let took = started.elapsed();
    assert!(took < SLOW, "compiling took {took:?}");

    let set = match compiled {
        Ok(set) => set,
        Err(e) => {
            let (_, source) = files
                .iter()
                .find(|(name, _)| *name == e.file)
                .unwrap_or_else(|| panic!("error names no input file: {e}"));
            assert!(!e.reason.is_empty(), "{e}");
            assert!(e.line >= 1 && e.column >= 1, "{e}");
            // YAML breaks lines at CR, LF and CRLF; an error at the end of the text may be
            // placed on the line after the last.
            let lines = source.replace("\r\n", "\n").matches(['\r', '\n']).count() + 1;
            assert!(e.line <= lines + 1, "error past the end: {e}");
            return;
        }
    };
    let engine = Engine::new(vec![(
        PolicyRef {
            id: uuid::Uuid::nil(),
            name: "fuzz".into(),
        },
        Arc::new(set),
    )]);
    let started = Instant::now();
    let mut state = MemoryState::new();
    for _ in 0..2 {
        for event in EVENTS.iter() {
            engine.evaluate_in_memory(event, ORG, &mut state);
        }
    }
    let took = started.elapsed();
    assert!(took < SLOW, "evaluating took {took:?}");
}
