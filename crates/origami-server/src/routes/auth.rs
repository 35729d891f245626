//! Bearer tokens (uploads, `/metrics`): presented, compared in constant time.

use axum::http::{header, HeaderMap, StatusCode};
use origami_store::ContentHash;
use subtle::ConstantTimeEq as _;

use crate::api_error::ApiError;

/// Compares two secrets in constant time. Both are hashed first, so neither their contents nor
/// their lengths show in the timing.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (ContentHash::of(a.as_bytes()), ContentHash::of(b.as_bytes()));
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The token of `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 9110
/// section 11.1): `bearer` is `Bearer`.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// 401 without a bearer token, 403 (`wrong`) with another one than `expected`.
pub(super) fn require_bearer(
    headers: &HeaderMap,
    expected: &str,
    wrong: &'static str,
) -> Result<(), ApiError> {
    let Some(presented) = bearer_token(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an Authorization: Bearer token is required",
        ));
    };
    if !same_secret(presented, expected) {
        return Err(ApiError::forbidden("forbidden", wrong));
    }
    Ok(())
}
