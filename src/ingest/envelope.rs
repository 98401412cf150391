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
}

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
    events: Option<Vec<&'a RawValue>>,
}

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
                _ => (6, true),
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

/// The code unit of a `\uXXXX` escape starting at `at`.
fn unicode_escape(json: &[u8], at: usize) -> Option<u16> {
    let escape = json.get(at..at + 6)?;
    if !escape.starts_with(br"\u") {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

pub fn parse(body: &str) -> Result<Batch<'_>, EnvelopeError> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
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
    Ok(batch_of(events))
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
        Some(text) => Some(
            DateTime::parse_from_rfc3339(&text)
                .map_err(|e| format!("published {text:?} is not an RFC 3339 time: {e}"))?
                .with_timezone(&Utc),
        ),
    };
    Ok(Accepted {
        uuid,
        event_type,
        published,
        raw: raw.get(),
    })
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
        ];
        for (input, expected) in cases {
            assert_eq!(storable(input), expected, "{input}");
        }
        assert!(matches!(storable(r#"{"a":"b"}"#), Cow::Borrowed(_)));
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
