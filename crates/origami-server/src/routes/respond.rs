//! Shaping answers: successes with their caching headers, `304 Not Modified`, and the small
//! checks every image route shares.

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::access_info::AccessInfo;
use crate::api_error::ApiError;
use crate::cache::{Cached, Outcome};

/// `Cache-Control` of every successful image answer (the same value the store sets on the
/// objects it writes).
pub const IMMUTABLE: &str = origami_store::CACHE_CONTROL;

/// The entity tags of `If-None-Match`.
fn if_none_match(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Whether `If-None-Match` names `etag`. Checked before any work: a client holding this exact
/// ETag was given these immutable bytes, so `304` is right without reading anything.
pub(super) fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    if_none_match(headers).any(|tag| tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Whether `If-None-Match` is `*`. Checked only once the representation exists (RFC 9110: `*`
/// matches a current representation, not an unknown hash, a bad size or an image over the
/// limits, which keep their own answers).
fn matches_any(headers: &HeaderMap) -> bool {
    if_none_match(headers).any(|tag| tag == "*")
}

/// `304 Not Modified` for `etag`.
pub(super) fn not_modified(etag: &str, vary: bool) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if vary {
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    response
}

/// A successful answer: the body with the caching headers.
pub(super) fn success(
    method: &Method,
    cached: Cached,
    outcome: Outcome,
    etag: &str,
    vary: bool,
) -> Response {
    static CACHE: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("cache"));
    let region = if outcome == Outcome::Hit {
        CACHE.clone()
    } else {
        cached.origin.clone()
    };
    let len = cached.bytes.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(cached.bytes)
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(cached.content_type),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&region) {
        h.insert("x-origami-region", v);
    }
    if vary {
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    response.extensions_mut().insert(AccessInfo {
        region: Some(region),
        cache: Some(outcome.as_str()),
    });
    response
}

/// The answer once the representation exists: `304` for `If-None-Match: *`, else
/// [`success`].
pub(super) fn answer(
    method: &Method,
    headers: &HeaderMap,
    (cached, outcome): (Cached, Outcome),
    etag: &str,
    vary: bool,
) -> Response {
    if matches_any(headers) {
        not_modified(etag, vary)
    } else {
        success(method, cached, outcome, etag, vary)
    }
}

/// A JSON answer that is never cached (uploads, health).
pub(super) fn no_store_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 400 for a query string (the path is the whole cache key) or a percent-encoded character
/// (`/original/<hash>%2ejpg` would otherwise be an alias of `/original/<hash>.jpg`: one
/// resource, one URL, one CDN cache entry; no canonical image URL needs an escape).
pub(super) fn reject_aliases(uri: &Uri) -> Result<(), ApiError> {
    if uri.query().is_some() {
        return Err(ApiError::bad_path(
            "query strings are not accepted (the path is the whole cache key)",
        ));
    }
    if uri.path().contains('%') {
        return Err(ApiError::bad_path(
            "percent-encoded characters are not accepted (one canonical URL per image)",
        ));
    }
    Ok(())
}

/// 405 for a known path with the wrong method, with `Allow`: `POST` for uploads, `GET, HEAD`
/// for everything else.
pub(super) fn method_not_allowed(path: &str) -> ApiError {
    let allow = if path == "/originals" {
        "POST"
    } else {
        "GET, HEAD"
    };
    let mut error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("method not allowed; use {allow}"),
    );
    error.allow = Some(allow);
    error
}
