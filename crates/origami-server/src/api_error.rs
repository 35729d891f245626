//! [`ApiError`]: what a request gets back when it fails, as JSON with the documented
//! `Cache-Control`.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use origami_engine::EngineError;
use origami_store::StoreError;

use crate::access_info::AccessInfo;
use crate::pool::PoolError;

/// An error answer: a status, a machine code and a short reason, sent as JSON
/// `{"error": "<reason>", "code": "<code>"}`.
///
/// 5xx answers carry `Cache-Control: no-store`; 4xx answers `public, max-age=60` (so a CDN
/// absorbs floods of bad URLs briefly, but nothing wrong is cached for long). Never `immutable`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`bad_path`, `not_found`, `saturated`, ...).
    pub code: &'static str,
    /// A short human-readable reason.
    pub message: String,
    /// `Retry-After` seconds, for 503s.
    pub retry_after: Option<u32>,
    /// `Allow`, for 405s: the methods the path takes.
    pub allow: Option<&'static str>,
    /// The region that served the original, when one did (for the access log).
    pub region: Option<String>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
            region: None,
        }
    }

    /// 400: the path or its parameters are not canonical or invalid.
    pub fn bad_path(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_path", message)
    }

    /// 404: nothing here.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403: forbidden (bad signature, wrong token, uploads disabled).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 503 with `Retry-After: 1`: the transform queue is full.
    pub fn saturated() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "saturated",
            "too many transforms in progress; retry shortly",
        );
        e.retry_after = Some(1);
        e
    }

    /// 503 with `Retry-After: 1`: the request did not finish within its deadline.
    pub fn timeout() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request did not finish in time; retry shortly",
        );
        e.retry_after = Some(1);
        e
    }

    /// 500: something that should not happen (a worker panicked, ...).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Records the region that served the original.
    pub fn with_region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let status = match err {
            EngineError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            EngineError::Corrupt(_) | EngineError::TooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::InvalidParams(_) => StatusCode::BAD_REQUEST,
            // An encoder or resizer failure is the server's fault, not the image's.
            EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, err.code(), err.to_string())
    }
}

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Saturated => Self::saturated(),
            PoolError::Closed | PoolError::Failed => Self::internal(err.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { .. } => Self::not_found("no original with this hash"),
            StoreError::Deleted { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "deleted",
                "this original was taken down",
            ),
            StoreError::InvalidInput(msg) => Self::new(StatusCode::BAD_REQUEST, "invalid", msg),
            other => {
                tracing::warn!(error = %other, "store unavailable");
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "no region could serve the original",
                );
                e.retry_after = Some(1);
                e
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message, "code": self.code });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        let cache = if self.status.is_server_error() {
            "no-store"
        } else {
            "public, max-age=60"
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response.extensions_mut().insert(AccessInfo {
            region: self.region.map(Arc::from),
            cache: None,
        });
        response
    }
}
