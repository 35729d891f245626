//! The image routes: renditions, originals, ThumbHashes and probe facts.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::Response;
use origami_engine::ImageFormat;

use super::respond::{
    answer, etag_matches, method_not_allowed, not_modified, reject_aliases, success,
};
use crate::api_error::ApiError;
use crate::cache::{Cached, Outcome};
use crate::original_sends;
use crate::path::{
    check_signed_read, negotiate, negotiation_needs_source, parse_file, parse_hash, parse_transform,
};
use crate::present;
use crate::rendition::Rendition;
use crate::state::AppState;

/// The `{file}` of `/original/{file}` and `/thumbhash/{file}` (and their signed forms, whose
/// `{signature}` the handlers verify from the whole path).
#[derive(serde::Deserialize)]
pub(crate) struct FileParam {
    file: String,
}

/// The `{hash}` of `/info/{hash}` (and its signed form).
#[derive(serde::Deserialize)]
pub(crate) struct HashParam {
    hash: String,
}

/// `GET|HEAD /{ops}/{hash}[.{ext}]` (and `/s/{signature}/...`): a rendition.
pub(crate) async fn transform(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(method_not_allowed(uri.path()));
    }
    reject_aliases(&uri)?;
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
    let found = state.rendition(&rendition).await?;
    if !negotiated {
        state.remember_path(uri.path(), &rendition, &etag);
    }
    Ok(answer(&method, &headers, found, &etag, negotiated))
}

/// `GET|HEAD` of a rendition URL the router answered before, answered again from the result
/// cache without routing or parsing it (see [`HitMemo`](crate::hit_memo::HitMemo)): the same
/// `304`s and the same success as [`transform`] gives for a cache hit. `None` (not remembered,
/// not in the cache any more, taken down, another method, a query) sends the request through
/// the router.
pub(crate) async fn remembered(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    if (method != Method::GET && method != Method::HEAD) || uri.query().is_some() {
        return None;
    }
    let resolved = state.resolved_path(uri.path())?;
    if etag_matches(headers, &resolved.etag) {
        return Some(not_modified(&resolved.etag, false));
    }
    let cached = state
        .remembered_rendition(&resolved.hash, &resolved.key)
        .await?;
    Some(answer(
        method,
        headers,
        (cached, Outcome::Hit),
        &resolved.etag,
        false,
    ))
}

/// What every read but a transform checks first: one URL per resource, and the signing policy.
fn check_read(uri: &Uri, state: &AppState) -> Result<(), ApiError> {
    reject_aliases(uri)?;
    check_signed_read(uri.path(), state.config())
}

/// `GET|HEAD /original/{hash}[.{ext}]`: the stored bytes.
pub(crate) async fn original(
    State(state): State<AppState>,
    Path(FileParam { file }): Path<FileParam>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_read(&uri, &state)?;
    let (hash, ext) = parse_file(&file)?;
    let etag = format!("\"{hash}\"");
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag, false));
    }
    // Reserved before the read: the most an original may be until its size is known.
    let sending = if method == Method::GET {
        let bound = match state.known_original_size(&hash).await {
            Some(size) => size,
            None => state.config().limits.max_input_bytes as u64,
        };
        Some(state.original_sends().reserve(bound).await)
    } else {
        None
    };
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
    let bytes = cached.bytes.clone();
    let response = answer(&method, &headers, (cached, outcome), &etag, false);
    Ok(match sending {
        Some(reservation) if response.status() == axum::http::StatusCode::OK => {
            response.map(|_| original_sends::body(bytes, reservation))
        }
        _ => response,
    })
}

/// `GET /thumbhash/{hash}` (JSON) and `GET /thumbhash/{hash}.png` (the rendered placeholder).
pub(crate) async fn thumbhash(
    State(state): State<AppState>,
    Path(FileParam { file }): Path<FileParam>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_read(&uri, &state)?;
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
    let found = state.thumbhash(&hash, png).await?;
    Ok(answer(&method, &headers, found, &etag, false))
}

/// `GET /info/{hash}`: the probe as JSON.
pub(crate) async fn info(
    State(state): State<AppState>,
    Path(HashParam { hash }): Path<HashParam>,
    method: Method,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_read(&uri, &state)?;
    let hash = parse_hash(&hash)?;
    let found = state.original_info(&hash).await?;
    let body = present::info_json(&hash, &found.info, found.bytes);
    let cached = Cached {
        bytes: body.to_string().into(),
        content_type: "application/json",
        origin: Arc::from("cache"),
    };
    let etag = format!("\"{hash}-info\"");
    Ok(success(&method, cached, Outcome::Hit, &etag, false))
}
