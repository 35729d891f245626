//! The handlers: thin, each parses its request, asks [`AppState`](crate::AppState) and shapes
//! the answer with [`respond`].

mod auth;
mod health;
mod images;
mod respond;
mod takedown;
mod upload;

pub(crate) use health::{healthz, metrics, readyz};
pub(crate) use images::{info, original, remembered, thumbhash, transform};
pub use respond::IMMUTABLE;
pub(crate) use takedown::delete_original;
pub(crate) use upload::upload;

use crate::api_error::ApiError;

/// Answers a known path with the wrong method.
pub(crate) async fn method_not_allowed(uri: axum::http::Uri) -> ApiError {
    respond::method_not_allowed(uri.path())
}
