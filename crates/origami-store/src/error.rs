//! The store's error type.

use std::fmt;

/// What went wrong with one region (or one single store) for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CauseKind {
    /// The object is not in this region.
    NotFound,
    /// The region did not answer within the attempt timeout.
    Timeout,
    /// The region could not be reached or answered with an error.
    Error,
    /// The region's copy does not hash to its key.
    Integrity,
    /// The region's circuit breaker is open: it was skipped.
    CircuitOpen,
}

impl CauseKind {
    /// A short stable label (`not_found`, `timeout`, `error`, `integrity`, `circuit_open`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Integrity => "integrity",
            Self::CircuitOpen => "circuit_open",
        }
    }
}

/// Why one region failed a request: part of [`StoreError::Unavailable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCause {
    /// The region's name (its label in metrics and logs).
    pub region: String,
    /// The kind of failure.
    pub kind: CauseKind,
    /// A human-readable description.
    pub message: String,
}

impl RegionCause {
    /// Builds a cause.
    pub fn new(region: impl Into<String>, kind: CauseKind, message: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for RegionCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.region, self.message)
    }
}

/// An error from a [`Store`](crate::Store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object does not exist (in a failover store: every region said so).
    #[error("not found: {key}")]
    NotFound {
        /// The object's key (`<hash>` or `derived/<hash>/<spec>`).
        key: String,
    },
    /// No region could serve the request; one cause per region tried or skipped.
    #[error("store unavailable: {}", DisplayCauses(.causes))]
    Unavailable {
        /// Why each region failed.
        causes: Vec<RegionCause>,
    },
    /// A copy's bytes are not what was stored: they do not hash to their key (or, for S3, fail
    /// the checksum S3 stored with them).
    #[error("integrity failure in {region}: {key}: {detail}")]
    Integrity {
        /// The region holding the bad copy.
        region: String,
        /// The object's key.
        key: String,
        /// What was found, such as `content hashes to <hash>`.
        detail: String,
    },
    /// The original was taken down ([`Store::delete`](crate::Store::delete)): a tombstone
    /// records it, so it is neither served nor stored again until
    /// [`Store::restore`](crate::Store::restore).
    #[error("deleted: {key} was taken down")]
    Deleted {
        /// The object's key (`<hash>` or `derived/<hash>/<spec>`).
        key: String,
    },
    /// The caller's input was invalid (a bad derived spec, a body over the size limit, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The caller's body stream failed while it was being read.
    #[error("reading the body failed: {0}")]
    Body(#[source] std::io::Error),
}

impl StoreError {
    /// A [`StoreError::Unavailable`] with a single cause.
    pub fn unavailable(
        region: impl Into<String>,
        kind: CauseKind,
        message: impl Into<String>,
    ) -> Self {
        Self::Unavailable {
            causes: vec![RegionCause::new(region, kind, message)],
        }
    }

    /// A [`StoreError::NotFound`] for `key`.
    pub fn not_found(key: impl fmt::Display) -> Self {
        Self::NotFound {
            key: key.to_string(),
        }
    }

    /// A [`StoreError::Deleted`] for `key`.
    pub fn deleted(key: impl fmt::Display) -> Self {
        Self::Deleted {
            key: key.to_string(),
        }
    }

    /// True for [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Turns this error into the cause recorded for `region` in an [`StoreError::Unavailable`].
    pub fn into_cause(self, region: &str) -> RegionCause {
        match self {
            Self::NotFound { .. } => RegionCause::new(region, CauseKind::NotFound, "not found"),
            Self::Integrity { detail, .. } => RegionCause::new(
                region,
                CauseKind::Integrity,
                format!("corrupt copy: {detail}"),
            ),
            Self::Unavailable { causes } if causes.len() == 1 => {
                let cause = causes.into_iter().next().map(|c| (c.kind, c.message));
                let (kind, message) = cause.unwrap_or((CauseKind::Error, String::new()));
                RegionCause::new(region, kind, message)
            }
            other => RegionCause::new(region, CauseKind::Error, other.to_string()),
        }
    }
}

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

struct DisplayCauses<'a>(&'a [RegionCause]);

impl fmt::Display for DisplayCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no region configured");
        }
        for (i, cause) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{cause}")?;
        }
        Ok(())
    }
}

/// At most the first 80 characters of `s`: what an error quotes of a caller's input, so a
/// huge key or hash does not become a huge message.
pub(crate) fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}
