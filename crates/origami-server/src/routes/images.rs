//! The handlers: thin, each parses its path, asks [`AppState`] and shapes the response.

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt as _;
use origami_engine::ImageFormat;
use origami_store::{Blob, BlobOptions, ContentHash, StoreError};
use serde_json::json;

use crate::access::AccessInfo;
use crate::error::ApiError;
use crate::path::{negotiate, negotiation_needs_source, parse_file, parse_transform};
use crate::state::{AppState, Cached, Outcome, Rendition};

/// `Cache-Control` of every successful image answer.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
        })
}

fn not_modified(etag: &str, vary: bool) -> Response {
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
fn success(method: &Method, cached: Cached, outcome: Outcome, etag: &str, vary: bool) -> Response {
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

fn reject_query(uri: &Uri) -> Result<(), ApiError> {
    match uri.query() {
        Some(_) => Err(ApiError::bad_path(
            "query strings are not accepted (the path is the whole cache key)",
        )),
        None => Ok(()),
    }
}

/// `GET|HEAD /{ops}/{hash}[.{ext}]` (and `/s/{signature}/...`): a rendition.
pub async fn transform(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(method_not_allowed_error());
    }
    reject_query(&uri)?;
    let request = parse_transform(uri.path(), state.config())?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (format, negotiated) = match request.format {
        Some(format) => (format, false),
        None => {
            let alpha = if negotiation_needs_source(accept) {
                state.original_info(&request.hash).await?.info.has_alpha
            } else {
                false
            };
            (negotiate(accept, alpha), true)
        }
    };
    let rendition = Rendition::new(request.hash, request.pipeline, format, negotiated);
    let etag = rendition.etag();
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag, negotiated));
    }
    let (cached, outcome) = state.rendition(&rendition).await?;
    Ok(success(&method, cached, outcome, &etag, negotiated))
}

/// `GET|HEAD /original/{hash}[.{ext}]`: the stored bytes.
pub async fn original(
    State(state): State<AppState>,
    Path(file): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    reject_query(&uri)?;
    let (hash, ext) = parse_file(&file)?;
    let etag = format!("\"{hash}\"");
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag, false));
    }
    let (cached, outcome) = state.original(&hash).await?;
    if let Some(ext) = ext {
        if ext.mime_type() != cached.content_type {
            return Err(ApiError::bad_path(format!(
                "this original is not {}; it is {}",
                ext.extension(),
                cached.content_type
            )));
        }
    }
    Ok(success(&method, cached, outcome, &etag, false))
}

/// `GET /thumbhash/{hash}` (JSON) and `GET /thumbhash/{hash}.png` (the rendered placeholder).
pub async fn thumbhash(
    State(state): State<AppState>,
    Path(file): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    reject_query(&uri)?;
    let (hash, ext) = parse_file(&file)?;
    let png = match ext {
        None => false,
        Some(ImageFormat::Png) => true,
        Some(_) => return Err(ApiError::bad_path("a thumbhash is JSON or .png")),
    };
    let etag = format!(
        "\"{hash}-thumbhash{}-v{}\"",
        if png { "-png" } else { "" },
        origami_engine::ENGINE_VERSION
    );
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag, false));
    }
    let (cached, outcome) = state.thumbhash(&hash, png).await?;
    Ok(success(&method, cached, outcome, &etag, false))
}

/// `GET /info/{hash}`: the probe as JSON.
pub async fn info(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    method: Method,
    uri: Uri,
) -> Result<Response, ApiError> {
    reject_query(&uri)?;
    let hash = ContentHash::parse(&hash).map_err(|_| {
        ApiError::bad_path("the image name must be a 64-character lowercase hex BLAKE3 hash")
    })?;
    let found = state.original_info(&hash).await?;
    let body = json!({
        "hash": hash.to_string(),
        "format": found.info.format.extension(),
        "width": found.info.width,
        "height": found.info.height,
        "bytes": found.bytes,
        "has_alpha": found.info.has_alpha,
        "orientation": found.info.orientation,
        "progressive": found.info.progressive,
    });
    let cached = Cached {
        bytes: body.to_string().into(),
        content_type: "application/json",
        origin: Arc::from("cache"),
    };
    let etag = format!("\"{hash}-info\"");
    Ok(success(&method, cached, Outcome::Hit, &etag, false))
}

/// Compares two secrets without an early exit.
fn same_secret(a: &str, b: &str) -> bool {
    let (da, db) = (ContentHash::of(a.as_bytes()), ContentHash::of(b.as_bytes()));
    da.as_bytes()
        .iter()
        .zip(db.as_bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `POST /originals`: stores an image (bearer token required; 403 when uploads are off).
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(token) = state.config().upload_token.as_deref() else {
        return Err(ApiError::forbidden(
            "uploads_disabled",
            "uploads are disabled on this server",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an Authorization: Bearer token is required",
        ));
    };
    if !same_secret(presented.trim(), token) {
        return Err(ApiError::forbidden("forbidden", "wrong upload token"));
    }
    let max = state.config().limits.max_input_bytes as u64;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("uploads are limited to {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(too_large());
    }
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let options = BlobOptions {
        max_len: Some(max),
        ..BlobOptions::default()
    };
    let blob = match Blob::from_stream(stream, &options).await {
        Ok(blob) => blob,
        Err(StoreError::InvalidInput(_)) => return Err(too_large()),
        Err(err) => {
            return Err(ApiError::bad_path(format!(
                "reading the body failed: {err}"
            )))
        }
    };
    let bytes = blob
        .to_bytes()
        .await
        .map_err(|e| ApiError::internal(format!("reading the spooled body: {e}")))?;
    let limits = state.config().limits;
    let info = tokio::task::spawn_blocking(move || origami_engine::check_limits(&bytes, &limits))
        .await
        .map_err(|_| ApiError::internal("checking the upload failed"))??;
    let hash = *blob.hash();
    let existed = origami_store::Store::head(state.store(), &hash)
        .await
        .is_ok();
    let put = origami_store::Store::put(state.store(), &blob).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let ext = info.format.extension();
    let (width, height) = info.oriented_dimensions();
    let body = json!({
        "hash": hash.to_string(),
        "bytes": blob.len(),
        "width": width,
        "height": height,
        "format": ext,
        "url": format!("/original/{hash}.{ext}"),
        "regions": put.stored_in,
    });
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn no_store_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> Response {
    no_store_json(StatusCode::OK, json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when at least one region can serve, with each region's state; else 503.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let regions = state.store().region_status();
    let ready = regions.iter().any(|r| r.up);
    let list: Vec<_> = regions
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "up": r.up,
                "consecutive_failures": r.consecutive_failures,
            })
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = no_store_json(status, json!({ "ready": ready, "regions": list }));
    if !ready {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
    }
    response
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = state
        .prometheus()
        .ok_or_else(|| ApiError::not_found("metrics are not enabled"))?;
    let mut response = handle.render().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn method_not_allowed_error() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed",
    )
}

/// Answers a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    method_not_allowed_error()
}
