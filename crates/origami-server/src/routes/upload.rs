//! `POST /originals`: storing an original, behind a bearer token.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures::TryStreamExt as _;
use origami_engine::{ImageFormat, WorkingCopy};
use origami_store::{Blob, BlobOptions, StoreError};

use super::auth::require_bearer;
use super::respond::no_store_json;
use crate::api_error::ApiError;
use crate::present;
use crate::state::AppState;

/// `POST /originals`: stores an image (bearer token required; 403 when uploads are off). An
/// original that was deleted is refused with 410 unless the query is `?restore=true`, which
/// removes its tombstones first.
pub(crate) async fn upload(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(token) = state.config().upload_token.as_deref() else {
        return Err(ApiError::forbidden(
            "uploads_disabled",
            "uploads are disabled on this server",
        ));
    };
    require_bearer(&headers, token, "wrong upload token")?;
    let restore = match uri.query() {
        None => false,
        Some("restore=true") => true,
        Some(_) => {
            return Err(ApiError::bad_path(
                "the only query an upload takes is ?restore=true",
            ))
        }
    };
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
    // Spooled inside the store's own directory when it has one (the local store cleans it when
    // it opens), not in the system's, where a crash mid-upload would leave the file for good.
    let options = BlobOptions {
        max_len: Some(max),
        spool_dir: state.store().spool_dir(),
        ..BlobOptions::default()
    };
    let blob = match Blob::from_stream(stream, &options).await {
        Ok(blob) => blob,
        Err(StoreError::InvalidInput(_)) => return Err(too_large()),
        // The client's body, not its path, is what failed (a malformed chunked encoding, a
        // connection cut mid-upload).
        Err(err) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                format!("reading the request body failed: {err}"),
            ))
        }
    };
    let bytes = blob
        .to_bytes()
        .await
        .map_err(|e| ApiError::internal(format!("reading the spooled body: {e}")))?;
    let limits = state.config().limits;
    let max_side = if state.working_copies().enabled() {
        state.config().working_copy.max_side
    } else {
        0
    };
    // Validated like a read before anything is stored: the header against the limits, then a
    // decode, so an original every transform would refuse (truncated, corrupt, an undecodable
    // format) is refused now, with the status its transforms would get. A large original is
    // decoded into its working copy (the decode its first derivatives would otherwise each pay);
    // a small one at the smallest useful scale (a JPEG at 1/8, what a ThumbHash needs). On the
    // CPU pool, like transforms.
    let admission = state.pool().admit().await?;
    let memory = WorkingCopy::making_memory(&bytes, max_side, &limits)
        .ok()
        .flatten()
        .unwrap_or(0);
    let (info, copy) = admission
        .run_weighted(memory, 0, move || {
            let info = origami_engine::check_limits(&bytes, &limits)?;
            let copy = WorkingCopy::from_original(&bytes, max_side, &limits)?;
            if copy.is_none() {
                origami_engine::thumbhash(&bytes, &limits)?;
            }
            Ok::<_, origami_engine::EngineError>((info, copy))
        })
        .await??;
    let blob = blob.with_content_type(ImageFormat::mime_type(info.format));
    let hash = *blob.hash();
    if restore {
        state.store().restore(&hash).await?;
        state.forget_original(&hash, false).await;
    }
    let existed = state.store().head(&hash).await.is_ok();
    let put = state.store().put(&blob).await.map_err(|err| match err {
        StoreError::Deleted { .. } => ApiError::new(
            StatusCode::GONE,
            "deleted",
            "this original was taken down; to allow it again, upload it with ?restore=true",
        ),
        other => ApiError::from(other),
    })?;
    if let Some(copy) = copy {
        let region = put.stored_in.first().map_or("upload", String::as_str);
        state
            .working_copies()
            .insert(hash, copy, Arc::from(region))
            .await;
    }
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = present::uploaded(&hash, blob.len(), &info, &put.stored_in);
    Ok(no_store_json(status, body))
}
