//! Okta's own risk signals, which arrive in several shapes: `debugData.behaviors` and
//! `debugData.risk` as `{k=v, k=v}` text, a list or an object; `logOnlySecurityData` as an
//! object or a JSON string holding `risk` and `behaviors`; `threatSuspected` as `"true"` or a
//! boolean. Each is read whatever form it takes.

use serde_json::Value;

use crate::okta::LogEvent;

/// `(name, value)` pairs of a signal in any of its forms. A bare name in a list (as some
/// exports write behaviors) counts as `POSITIVE`.
pub(super) fn pairs(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(items) => items.iter().flat_map(item_pairs).collect(),
        Value::String(s) => text_pairs(s),
        _ => Vec::new(),
    }
}

fn item_pairs(item: &Value) -> Vec<(String, String)> {
    match item {
        Value::String(s) => match s.split_once('=') {
            Some((k, v)) => vec![(k.trim().to_owned(), v.trim().to_owned())],
            None => vec![(s.trim().to_owned(), "POSITIVE".to_owned())],
        },
        other => pairs(other),
    }
}

/// `{"k":"v"}` (JSON in a string) or Okta's `{k=v, k=v}`, where a value may itself contain
/// `, ` (risk reasons): a piece without `=` continues the previous value.
fn text_pairs(text: &str) -> Vec<(String, String)> {
    let trimmed = text.trim();
    if trimmed.starts_with(['{', '['])
        && let Ok(json) = serde_json::from_str::<Value>(trimmed)
    {
        return pairs(&json);
    }
    let inner = trimmed.trim_start_matches('{').trim_end_matches('}');
    let mut out: Vec<(String, String)> = Vec::new();
    for piece in inner.split(',') {
        match (piece.split_once('='), out.last_mut()) {
            (Some((k, v)), _) => out.push((k.trim().to_owned(), v.trim().to_owned())),
            (None, Some((_, prev))) => {
                prev.push_str(", ");
                prev.push_str(piece.trim());
            }
            (None, None) if !piece.trim().is_empty() => {
                out.push((piece.trim().to_owned(), "POSITIVE".to_owned()))
            }
            (None, None) => {}
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => pairs(v)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn debug_value<'a>(ev: &'a LogEvent, key: &str) -> Option<&'a Value> {
    ev.debug_context
        .as_ref()?
        .debug_data
        .as_ref()?
        .get(key)
        .filter(|v| !v.is_null())
}

/// `logOnlySecurityData.<key>`, the object parsed from its JSON text when needed.
fn log_only(ev: &LogEvent, key: &str) -> Option<Value> {
    let data = debug_value(ev, "logOnlySecurityData")?;
    let parsed;
    let object = match data {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        other => other,
    };
    object.get(key).filter(|v| !v.is_null()).cloned()
}

/// The behaviors Okta evaluated, from debugData or else logOnlySecurityData.
pub(super) fn behaviors(ev: &LogEvent) -> Vec<(String, String)> {
    let from_debug = debug_value(ev, "behaviors").map(pairs).unwrap_or_default();
    if !from_debug.is_empty() {
        return from_debug;
    }
    log_only(ev, "behaviors")
        .map(|v| pairs(&v))
        .unwrap_or_default()
}

/// `level` or `reasons` of the risk Okta assessed: securityContext.risk, else debugData.risk,
/// else logOnlySecurityData.risk.
pub(super) fn risk(ev: &LogEvent, key: &str) -> Option<String> {
    let sources = [
        ev.security_context.as_ref().and_then(|s| s.risk.clone()),
        debug_value(ev, "risk").cloned(),
        log_only(ev, "risk"),
    ];
    sources.into_iter().flatten().find_map(|v| {
        pairs(&v)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    })
}

/// ThreatInsight's verdict as `true`/`false`, whether sent as text or a boolean.
pub(super) fn threat_suspected(ev: &LogEvent) -> Option<&'static str> {
    match debug_value(ev, "threatSuspected")? {
        Value::Bool(b) => Some(if *b { "true" } else { "false" }),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some("true"),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some("false"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(debug: Value) -> LogEvent {
        serde_json::from_value(json!({"uuid": "u", "eventType": "user.session.start",
            "debugContext": {"debugData": debug}}))
        .expect("event")
    }

    fn positive(ev: &LogEvent) -> Vec<String> {
        behaviors(ev)
            .into_iter()
            .filter(|(_, v)| v == "POSITIVE")
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn behaviors_in_every_form() {
        let text = event(json!({"behaviors":
            "{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=POSITIVE}"}));
        assert_eq!(positive(&text), ["New Device", "New IP"]);
        let list = event(json!({"behaviors": ["New Device", "New IP=NEGATIVE"]}));
        assert_eq!(positive(&list), ["New Device"]);
        let object =
            event(json!({"behaviors": {"New Device": "POSITIVE", "Velocity": "NEGATIVE"}}));
        assert_eq!(positive(&object), ["New Device"]);
        let json_text = event(json!({"behaviors": "{\"Velocity\":\"POSITIVE\"}"}));
        assert_eq!(positive(&json_text), ["Velocity"]);
        let log_only = event(json!({"logOnlySecurityData":
            "{\"risk\":{\"level\":\"HIGH\"},\"behaviors\":{\"New Country\":\"POSITIVE\"}}"}));
        assert_eq!(positive(&log_only), ["New Country"]);
        assert_eq!(risk(&log_only, "level").as_deref(), Some("HIGH"));
    }

    #[test]
    fn risk_text_keeps_reasons_with_commas() {
        let ev =
            event(json!({"risk": "{reasons=Anomalous Location, Anomalous Device, level=HIGH}"}));
        assert_eq!(risk(&ev, "level").as_deref(), Some("HIGH"));
        assert_eq!(
            risk(&ev, "reasons").as_deref(),
            Some("Anomalous Location, Anomalous Device")
        );
        let object = event(json!({"logOnlySecurityData": {"risk": {"level": "MEDIUM"}}}));
        assert_eq!(risk(&object, "level").as_deref(), Some("MEDIUM"));
        assert_eq!(risk(&event(json!({})), "level"), None);
    }

    #[test]
    fn threat_suspected_as_text_or_bool() {
        assert_eq!(
            threat_suspected(&event(json!({"threatSuspected": "true"}))),
            Some("true")
        );
        assert_eq!(
            threat_suspected(&event(json!({"threatSuspected": false}))),
            Some("false")
        );
        assert_eq!(threat_suspected(&event(json!({}))), None);
    }
}
