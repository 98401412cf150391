//! Okta's Event Hook delivery envelope: `{"eventType":"com.okta.event_hook", "data":{"events":[…]}}`.
//!
//! Only what the inbox needs is read here (uuid, eventType, published); the full LogEvent is
//! parsed by the worker, off the acknowledgement path.

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

pub const EVENT_HOOK_TYPE: &str = "com.okta.event_hook";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvelopeError {
    #[error("the body is not a JSON object of Okta's event hook envelope: {0}")]
    Malformed(String),
    #[error("eventType must be \"com.okta.event_hook\", got {0:?}")]
    WrongType(String),
    #[error("data.events must be an array of LogEvents")]
    MissingEvents,
    #[error("a delivery holds at most {MAX_EVENTS} events")]
    TooManyEvents,
}

/// Okta batches events close in time; a delivery of more than this is not Okta's. Counting
/// stops there, before a hostile array of millions of items is ever held in memory.
pub const MAX_EVENTS: usize = 10_000;

/// `published` outside these bounds is quarantined: a year-9999 event would otherwise sit
/// at the top of the newest-first feed for good. Okta was founded in 2009; a day ahead
/// covers clock skew.
const EARLIEST_PUBLISHED: &str = "2009-01-01T00:00:00Z";
const MAX_FUTURE_SECS: i64 = 86_400;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    events: Option<Capped<'a>>,
}

/// The events array, refused as soon as it passes [`MAX_EVENTS`].
struct Capped<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Capped<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Capped<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of LogEvents")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_EVENTS));
                while let Some(event) = seq.next_element()? {
                    if events.len() == MAX_EVENTS {
                        return Err(serde::de::Error::custom(TOO_MANY));
                    }
                    events.push(event);
                }
                Ok(Capped(events))
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

const TOO_MANY: &str = "too many events";

#[derive(Deserialize)]
struct EventKeys {
    uuid: Option<String>,
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    published: Option<String>,
}

/// An event accepted into the inbox.
#[derive(Debug)]
pub struct Accepted<'a> {
    pub uuid: String,
    pub event_type: String,
    pub published: Option<DateTime<Utc>>,
    pub raw: &'a str,
}

/// An event refused on its own, with the reason.
#[derive(Debug)]
pub struct Rejected<'a> {
    pub reason: String,
    pub raw: &'a str,
}

#[derive(Debug, Default)]
pub struct Batch<'a> {
    pub accepted: Vec<Accepted<'a>>,
    pub rejected: Vec<Rejected<'a>>,
    /// Events repeated inside this very delivery.
    pub repeated: usize,
}

/// Rewrites the JSON escapes Postgres cannot store, `\u0000` and UTF-16 surrogates that are
/// not paired, as `\ufffd` (the replacement character); every other byte is kept. Such an
/// escape in one field must not cost the whole delivery, nor hide the event from detection.
pub fn storable(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let (mut at, mut copied) = (0, 0);
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'\\') {
        let escape = at + offset;
        let (len, keep) = match bytes.get(escape + 1) {
            Some(b'u') => match unicode_escape(bytes, escape) {
                Some(0) | Some(0xDC00..=0xDFFF) => (6, false),
                Some(0xD800..=0xDBFF) => match unicode_escape(bytes, escape + 6) {
                    Some(0xDC00..=0xDFFF) => (12, true),
                    _ => (6, false),
                },
                Some(_) => (6, true),
                // Not four hex digits: invalid JSON, which `parse` refuses. Step over the
                // `\u` alone, so an escape right after it is still seen.
                None => (2, true),
            },
            _ => (2, true),
        };
        if !keep {
            // Escapes are ASCII, so these offsets are character boundaries.
            let out = out.get_or_insert_with(|| String::with_capacity(json.len()));
            out.push_str(&json[copied..escape]);
            out.push_str(r"\ufffd");
            copied = escape + len;
        }
        at = (escape + len).min(json.len());
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut out) => {
            out.push_str(&json[copied..]);
            Cow::Owned(out)
        }
    }
}

/// The code unit of a `\uXXXX` escape (exactly four hex digits) starting at `at`.
fn unicode_escape(json: &[u8], at: usize) -> Option<u16> {
    let escape = json.get(at..at + 6)?;
    if !escape.starts_with(br"\u") || !escape[2..].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

/// Nesting an accepted event may have. Postgres' jsonb input is a recursive parser that runs
/// out of its default 2 MB stack at about 15,000 levels, failing the delivery's whole insert;
/// a LogEvent is a handful of levels deep, and serde_json reads 128 into a `Value`.
pub const MAX_DEPTH: usize = 128;

/// Why Postgres would refuse this (valid) JSON as jsonb beyond the escapes [`storable`]
/// rewrites: nesting past [`MAX_DEPTH`], or a number that `numeric` cannot hold.
fn jsonb_refusal(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let (mut at, mut depth) = (0, 0usize);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                at += 1;
                while let Some(&b) = bytes.get(at) {
                    match b {
                        b'\\' => at += 2,
                        b'"' => break,
                        _ => at += 1,
                    }
                }
                at += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(format!("nested deeper than {MAX_DEPTH} levels"));
                }
                at += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let len = bytes[at..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .unwrap_or(bytes.len() - at);
                let number = &json[at..at + len];
                if !numeric_holds(number) {
                    let shown: String = number.chars().take(40).collect();
                    return Some(format!("number {shown} is beyond what Postgres stores"));
                }
                at += len;
            }
            _ => at += 1,
        }
    }
    None
}

/// Whether Postgres' `numeric` (what jsonb keeps numbers in) holds this JSON number: at most
/// 131,072 digits before the decimal point and 16,383 after, counted as `numeric_in` does.
fn numeric_holds(number: &str) -> bool {
    const MAX_WEIGHT: i64 = 131_071;
    const MAX_SCALE: i64 = 16_383;
    let (mantissa, exponent) = number.split_once(['e', 'E']).unwrap_or((number, "0"));
    // Postgres refuses exponents from ±(i32::MAX / 2) on, even on a zero.
    let Ok(exponent) = exponent.parse::<i64>() else {
        return false;
    };
    if exponent.unsigned_abs() >= u64::from(i32::MAX.unsigned_abs() / 2) {
        return false;
    }
    let mantissa = mantissa.trim_start_matches('-');
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if frac.len() as i64 - exponent > MAX_SCALE {
        return false;
    }
    match int.bytes().chain(frac.bytes()).position(|d| d != b'0') {
        None => true,
        Some(first) => int.len() as i64 - 1 - first as i64 + exponent <= MAX_WEIGHT,
    }
}

pub fn parse(body: &str) -> Result<Batch<'_>, EnvelopeError> {
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| {
        if e.to_string().starts_with(TOO_MANY) {
            EnvelopeError::TooManyEvents
        } else {
            EnvelopeError::Malformed(e.to_string())
        }
    })?;
    match envelope.event_type.as_deref() {
        Some(EVENT_HOOK_TYPE) => {}
        other => {
            return Err(EnvelopeError::WrongType(
                other.unwrap_or_default().to_string(),
            ));
        }
    }
    let events = envelope
        .data
        .and_then(|d| d.events)
        .ok_or(EnvelopeError::MissingEvents)?;
    Ok(batch_of(events.0))
}

/// Sorts raw LogEvents into accepted (first of each uuid), repeated and rejected.
pub fn batch_of<'a>(events: impl IntoIterator<Item = &'a RawValue>) -> Batch<'a> {
    let mut batch = Batch::default();
    let mut seen = HashSet::new();
    for raw in events {
        match check_event(raw) {
            Ok(event) if !seen.insert(event.uuid.clone()) => batch.repeated += 1,
            Ok(event) => batch.accepted.push(event),
            Err(reason) => batch.rejected.push(Rejected {
                reason,
                raw: raw.get(),
            }),
        }
    }
    batch
}

fn check_event(raw: &RawValue) -> Result<Accepted<'_>, String> {
    let keys: EventKeys =
        serde_json::from_str(raw.get()).map_err(|e| format!("not a LogEvent object: {e}"))?;
    let uuid = keys
        .uuid
        .filter(|u| !u.trim().is_empty())
        .ok_or("missing uuid")?;
    if uuid.len() > 128 {
        return Err("uuid longer than 128 characters".into());
    }
    let event_type = keys
        .event_type
        .filter(|t| !t.trim().is_empty())
        .ok_or("missing eventType")?;
    let published = match keys.published {
        None => None,
        Some(text) => Some(check_published(&text)?),
    };
    if let Some(reason) = jsonb_refusal(raw.get()) {
        return Err(reason);
    }
    Ok(Accepted {
        uuid,
        event_type,
        published,
        raw: raw.get(),
    })
}

fn check_published(text: &str) -> Result<DateTime<Utc>, String> {
    let published = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("published {text:?} is not an RFC 3339 time: {e}"))?
        .with_timezone(&Utc);
    let earliest = EARLIEST_PUBLISHED
        .parse::<DateTime<Utc>>()
        .unwrap_or_default();
    let latest = Utc::now() + chrono::Duration::seconds(MAX_FUTURE_SECS);
    if published < earliest || published > latest {
        return Err(format!(
            "published {text:?} is outside {EARLIEST_PUBLISHED} .. a day from now"
        ));
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(events: &str) -> String {
        format!(
            r#"{{"eventType":"com.okta.event_hook","eventId":"x","data":{{"events":{events}}}}}"#
        )
    }

    #[test]
    fn accepts_good_events_and_quarantines_bad_ones() {
        let body = envelope(
            r#"[{"uuid":"a","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z"},
                {"eventType":"user.session.start"},
                42,
                {"uuid":"b","eventType":"x","published":"yesterday"},
                {"uuid":"a","eventType":"user.session.start"}]"#,
        );
        let batch = parse(&body).expect("valid envelope");
        assert_eq!(batch.accepted.len(), 1);
        assert_eq!(batch.accepted[0].uuid, "a");
        assert_eq!(batch.rejected.len(), 3);
        assert!(batch.rejected[0].reason.contains("uuid"));
        assert!(batch.rejected[2].reason.contains("RFC 3339"));
        assert_eq!(batch.repeated, 1);
    }

    #[test]
    fn storable_replaces_only_what_postgres_refuses() {
        let cases = [
            (r#"{"a":"x\u0000y"}"#, r#"{"a":"x\ufffdy"}"#),
            (r#"["\ud800"]"#, r#"["\ufffd"]"#),
            (r#"["\udc00\ud800x"]"#, r#"["\ufffd\ufffdx"]"#),
            (r#"["\ud83d\ude00"]"#, r#"["\ud83d\ude00"]"#),
            (r#"["\\u0000"]"#, r#"["\\u0000"]"#),
            (r#"["\"\u00e9\n"]"#, r#"["\"\u00e9\n"]"#),
            (r#"["\ud800"#, r#"["\ufffd"#),
            (r#"["\u00"#, r#"["\u00"#),
            // Malformed escapes are left to `parse`, and hide nothing after them.
            (r#"["\u+000"]"#, r#"["\u+000"]"#),
            (r#"["\u\udc00"]"#, r#"["\u\ufffd"]"#),
        ];
        for (input, expected) in cases {
            assert_eq!(storable(input), expected, "{input}");
        }
        assert!(matches!(storable(r#"{"a":"b"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn caps_events_before_holding_them() {
        let items = vec!["0"; MAX_EVENTS + 1].join(",");
        let err = parse(&envelope(&format!("[{items}]"))).unwrap_err();
        assert_eq!(err, EnvelopeError::TooManyEvents);
        let items = vec!["0"; MAX_EVENTS].join(",");
        let body = envelope(&format!("[{items}]"));
        let batch = parse(&body).expect("at the cap");
        assert_eq!(batch.rejected.len(), MAX_EVENTS);
    }

    #[test]
    fn published_is_bounded() {
        for bad in [
            "9999-12-31T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
        ] {
            let body = envelope(&format!(
                r#"[{{"uuid":"a","eventType":"x","published":"{bad}"}}]"#
            ));
            let batch = parse(&body).unwrap();
            assert_eq!(batch.rejected.len(), 1, "{bad}");
        }
    }

    #[test]
    fn quarantines_what_postgres_jsonb_refuses() {
        let deep = format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000));
        let fits = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let cases = [
            (deep.as_str(), false),
            (fits.as_str(), true),
            ("1e131071", true),
            ("1e131072", false),
            ("-12.5e131070", true),
            ("12.5e131071", false),
            ("0.001e131074", true),
            ("0.001e131075", false),
            ("1e-16383", true),
            ("1e-16384", false),
            ("-0.00e-16381", true),
            ("0e-16384", false),
            ("0.0e999999", true),
            ("0e1073741822", true),
            ("0e1073741823", false),
            ("1e99999999999999999999999", false),
            ("[1.5, -3E+2, 0, \"1e999999\"]", true),
        ];
        for (value, stored) in cases {
            let body = envelope(&format!(
                r#"[{{"uuid":"a","eventType":"x","debugContext":{{"debugData":{{"n":{value}}}}}}}]"#
            ));
            let batch = parse(&body).unwrap();
            assert_eq!(batch.accepted.len(), usize::from(stored), "{value:.40}");
        }
    }

    #[test]
    fn refuses_bad_envelopes() {
        assert!(matches!(parse("[]"), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(parse("{"), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(
            parse(r#"{"eventType":"other","data":{"events":[]}}"#),
            Err(EnvelopeError::WrongType(_))
        ));
        assert_eq!(
            parse(r#"{"eventType":"com.okta.event_hook","data":{}}"#).err(),
            Some(EnvelopeError::MissingEvents)
        );
    }
}
