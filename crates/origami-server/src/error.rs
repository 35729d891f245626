//! [`ServerError`]: what can go wrong starting or configuring the server (never a request's
//! answer: that is [`ApiError`](crate::ApiError)).

/// Errors starting or configuring the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A configuration value is invalid.
    #[error("invalid server configuration: {0}")]
    Config(String),
    /// Binding or serving failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The Prometheus recorder could not be installed.
    #[error("metrics: {0}")]
    Metrics(String),
}
