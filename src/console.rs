//! The web console: static files from `console/`, embedded in the binary, served at `/`.
//!
//! The page calls only the public `/api/v1/*` API. Assets live under `/assets/{version}/`,
//! where the version is a hash of their contents, so a browser may keep them for a year
//! (`immutable`); `index.html` names the current version and is revalidated on every load.
//! Every answer carries a Content-Security-Policy without inline script or style.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::state::Services;

/// Served as `/assets/{version}/{name}`; ES modules import each other relatively.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../console/app.js")),
    ("api.js", JS, include_str!("../console/api.js")),
    ("ui.js", JS, include_str!("../console/ui.js")),
    (
        "integrations.js",
        JS,
        include_str!("../console/integrations.js"),
    ),
    ("feed.js", JS, include_str!("../console/feed.js")),
    ("policies.js", JS, include_str!("../console/policies.js")),
    ("style.css", CSS, include_str!("../console/style.css")),
];

const INDEX: &str = include_str!("../console/index.html");
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A hash of every asset: changes whenever one of them does.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (name, _, body) in ASSETS {
        hash.update(name.as_bytes());
        hash.update(body.as_bytes());
    }
    hex::encode(&hash.finalize()[..6])
});

static INDEX_HTML: LazyLock<String> =
    LazyLock::new(|| INDEX.replace("{assets}", &format!("/assets/{}", *VERSION)));

pub fn router() -> Router<Services> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{version}/{name}", get(asset))
}

async fn index() -> Response {
    page("text/html; charset=utf-8", "no-cache", INDEX_HTML.as_str())
}

async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|(asset, _, _)| *asset == name);
    match found {
        Some((_, content_type, body)) if version == *VERSION => {
            page(content_type, "public, max-age=31536000, immutable", body)
        }
        // An old page asking for an older version: a fresh index.html names the current one.
        _ => (StatusCode::NOT_FOUND, "no such asset; reload the console").into_response(),
    }
}

fn page(content_type: &'static str, cache: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_every_asset_it_loads_at_the_current_version() {
        assert!(!INDEX_HTML.contains("{assets}"));
        for name in ["app.js", "style.css"] {
            assert!(INDEX_HTML.contains(&format!("/assets/{}/{name}", *VERSION)));
        }
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        assert!(!INDEX.contains("<script>"));
        assert!(!INDEX.contains("style="));
        assert!(!INDEX.contains("<style"));
    }
}
