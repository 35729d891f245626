//! `DELETE /originals/{hash}`: taking an original down, behind the upload token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::auth::require_bearer;
use super::respond::no_store_json;
use crate::api_error::ApiError;
use crate::cdn_paths::cdn_paths;
use crate::path::parse_hash;
use crate::present;
use crate::state::AppState;

/// `DELETE /originals/{hash}`: records a tombstone in every region, removes the original and
/// its derived objects there, drops what this server holds in memory for it, and answers the
/// paths a CDN may have cached (they cannot be listed afterwards): 200 when every region
/// confirmed, 202 when some are queued (down, failing), 404 when no region that answered had
/// the original (it is tombstoned all the same, so that its upload is refused).
pub(crate) async fn delete_original(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = state.config().upload_token.as_deref() else {
        return Err(ApiError::forbidden(
            "uploads_disabled",
            "uploads and deletes are disabled on this server",
        ));
    };
    require_bearer(&headers, token, "wrong upload token")?;
    let hash = parse_hash(&hash)?;
    let outcome = state.store().delete(&hash).await?;
    state.forget_original(&hash, true).await;
    if !outcome.had_original && outcome.is_complete() {
        return Err(ApiError::not_found(
            "no region had this original (it is tombstoned all the same: its upload is refused)",
        ));
    }
    let paths = cdn_paths(&hash, &outcome.derived, state.config());
    let status = if outcome.is_complete() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(no_store_json(status, present::deleted(&outcome, &paths)))
}
