//! Okta's error bodies come in more shapes than its schema says: `errorCauses` is an array
//! of `{"errorSummary"}` objects, a single such object, an array of strings, `[]`, `null`
//! or absent (all in Okta's own spec examples). The simulator cycles through them so that
//! every client of it meets each one.

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use serde_json::{Map, Value};

use super::state::Shared;

/// Error bodies are small; anything larger is passed through untouched.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Rewrites the `errorCauses` of an `E0000…` error body into the next shape in turn.
pub(crate) async fn vary_error_shape(shared: &Shared, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status().is_success() || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(Value::Object(mut error)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if !error.contains_key("errorCode") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let turn = {
        let mut inner = shared.lock();
        inner.error_shape_seq += 1;
        inner.error_shape_seq
    };
    reshape_causes(&mut error, turn);
    let body = Value::Object(error).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The shape for `turn`: causes keep their text in every shape.
pub(crate) fn reshape_causes(error: &mut Map<String, Value>, turn: u64) {
    let summaries: Vec<Value> = match error.get("errorCauses") {
        Some(Value::Array(causes)) => causes
            .iter()
            .filter_map(|c| c.get("errorSummary").cloned())
            .collect(),
        _ => Vec::new(),
    };
    let shape = match (summaries.as_slice(), turn % 3) {
        ([], 0) => Some(Value::Array(Vec::new())),
        ([], 1) => Some(Value::Null),
        ([], _) => None,
        ([only], 1) => Some(serde_json::json!({ "errorSummary": only })),
        (_, 2) => Some(Value::Array(summaries.clone())),
        (_, _) => error.get("errorCauses").cloned(),
    };
    match shape {
        Some(value) => error.insert("errorCauses".to_owned(), value),
        None => error.remove("errorCauses"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shaped(causes: Value, turn: u64) -> Option<Value> {
        let mut error = json!({ "errorCode": "E0000001", "errorCauses": causes })
            .as_object()
            .cloned()
            .unwrap_or_default();
        reshape_causes(&mut error, turn);
        error.get("errorCauses").cloned()
    }

    #[test]
    fn every_shape_comes_round() {
        let one = json!([{ "errorSummary": "uri: must be https" }]);
        assert_eq!(shaped(one.clone(), 0), Some(one.clone()));
        assert_eq!(
            shaped(one.clone(), 1),
            Some(json!({ "errorSummary": "uri: must be https" }))
        );
        assert_eq!(shaped(one, 2), Some(json!(["uri: must be https"])));
        assert_eq!(shaped(json!([]), 0), Some(json!([])));
        assert_eq!(shaped(json!([]), 1), Some(Value::Null));
        assert_eq!(shaped(json!([]), 2), None);
    }
}
