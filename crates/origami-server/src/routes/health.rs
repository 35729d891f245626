//! Operations routes: liveness, readiness and the Prometheus scrape.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::require_bearer;
use super::respond::no_store_json;
use crate::api_error::ApiError;
use crate::phase::Phase;
use crate::present;
use crate::state::AppState;

/// `GET /healthz`: the process is alive.
pub(crate) async fn healthz() -> Response {
    no_store_json(StatusCode::OK, json!({ "status": "ok" }))
}

/// `GET /readyz`: 503 while starting (until every region was checked once and one answered)
/// and while draining; 200 otherwise, even when no region can serve right now (cache hits
/// still can; the all-regions-down alert covers that), with each region's state.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let regions = state.store().region_status();
    let phase = state.phase();
    let ready = phase == Phase::Serving;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = no_store_json(status, present::readiness(phase, &regions));
    if !ready {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
    }
    response
}

/// `GET /metrics`: Prometheus text. Behind `Authorization: Bearer <metrics_token>` when one is
/// configured; refused (403) when signing keys are set without one, since a signed deployment
/// means to close every door but health checks.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let config = state.config();
    match config.metrics_token.as_deref() {
        Some(token) => require_bearer(&headers, token, "wrong metrics token")?,
        None if !config.signing_keys.is_empty() => {
            return Err(ApiError::forbidden(
                "metrics_token_required",
                "signed URLs are on: /metrics needs security.metrics_token",
            ))
        }
        None => {}
    }
    let handle = state
        .prometheus()
        .ok_or_else(|| ApiError::not_found("metrics are not enabled"))?;
    state.refresh_gauges().await;
    let mut response = handle.render().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
