//! The engine's error type.

use thiserror::Error;

/// Why a probe or transform failed. Every variant carries a short reason meant for a human; the
/// HTTP layer maps the variants to 415 / 422 / 422 / 400 / 500.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The bytes are not an image format the engine can read, or the requested output format is
    /// not available.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The bytes look like a supported format but cannot be decoded (truncated, damaged).
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// The image or the requested output exceeds a configured [`Limits`](crate::Limits) value.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The operation pipeline or its parameters are invalid.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The engine itself failed (an encoder or the resizer) on an image it had decoded and
    /// parameters it had accepted: a fault on the engine's side, not the input's.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// A stable machine-readable code for the error class: `unsupported`, `corrupt`,
    /// `too_large`, `invalid_params` or `internal`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Unsupported(_) => "unsupported",
            EngineError::Corrupt(_) => "corrupt",
            EngineError::TooLarge(_) => "too_large",
            EngineError::InvalidParams(_) => "invalid_params",
            EngineError::Internal(_) => "internal",
        }
    }

    pub(crate) fn corrupt(reason: impl std::fmt::Display) -> Self {
        EngineError::Corrupt(reason.to_string())
    }

    pub(crate) fn invalid(reason: impl std::fmt::Display) -> Self {
        EngineError::InvalidParams(reason.to_string())
    }

    pub(crate) fn internal(reason: impl std::fmt::Display) -> Self {
        EngineError::Internal(reason.to_string())
    }
}

/// Shorthand for results of engine functions.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
