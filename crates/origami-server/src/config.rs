//! [`ServerConfig`]: everything the HTTP front needs besides the store.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use origami_engine::Limits;

use crate::cors::CorsOrigins;
use crate::error::ServerError;
use crate::working_copies::WorkingCopyConfig;

/// A hook run on the worker thread right before each transform, with the request's cache key
/// (`<hash>/<spec>`). Instrumentation only: tests use it to hold a worker busy deterministically.
pub type TransformHook = Arc<dyn Fn(&str) + Send + Sync>;

/// The default [`ServerConfig::transform_memory_bytes`] per worker: 128 MiB. Decoded working
/// copies take half of it by default, which leaves each worker 64 MiB, a little over a 20 MP
/// progressive JPEG's coefficients (4:2:0) plus its 1/4-scale decode. (At 64 MiB per worker,
/// with half of it for copies, every 10-20 MP progressive upload ran alone: on the first-touch
/// benchmark a quarter of the two cores sat idle.)
pub const DEFAULT_TRANSFORM_MEMORY_PER_WORKER: u64 = 128 << 20;

/// How the server behaves. [`ServerConfig::default`] gives the documented defaults.
#[derive(Clone)]
pub struct ServerConfig {
    /// Transforms run at once on the CPU pool (default: the number of cores).
    pub workers: usize,
    /// Transforms allowed to wait for a worker; beyond that, requests get 503 with
    /// `Retry-After: 1` at once (default 64).
    pub max_queue: usize,
    /// Memory the transforms running at once may use together, as estimated from each
    /// original's header ([`origami_engine::working_memory`]); a transform that would go over
    /// waits for others to finish, and one larger than the whole budget runs alone. Decoded
    /// working copies take their share from it ([`WorkingCopyConfig::memory_bytes`]). Default
    /// [`DEFAULT_TRANSFORM_MEMORY_PER_WORKER`] per worker.
    pub transform_memory_bytes: u64,
    /// Deadline of one request (store reads, queueing and transform; not uploads), default 10 s.
    pub request_timeout: Duration,
    /// Budget of the in-memory result cache, in bytes of cached bodies (default 256 MiB). The
    /// hit memo (paths answered before, with their cache keys and ETags) takes up to 1/64 of it
    /// more; it is off when CORS is on.
    pub cache_memory_bytes: u64,
    /// Bytes of originals that `GET /original/` responses may hold at once while they are
    /// read and sent, however slowly clients read; more requests wait, within their deadline
    /// (default 256 MiB).
    pub max_original_bytes_in_flight: u64,
    /// How long what this server holds in memory for an original (results, probe facts, its
    /// working copy) is served before the store's tombstones are asked again whether it was
    /// deleted elsewhere, by another server or `origami delete` (default 60 s). The lookup
    /// runs in the background, never on a request's path.
    pub takedown_recheck: Duration,
    /// Read derivatives from the store's derived space before transforming, and write new ones
    /// there in the background, so replicas share work (default false here; the `origami`
    /// command turns it on for S3).
    pub persist_derivatives: bool,
    /// Header-read (and idle keep-alive) timeout, connection cap and shutdown grace period.
    pub connections: ConnectionLimits,
    /// Working copies of large originals (`[working_copy]`); their memory is part of
    /// `transform_memory_bytes`.
    pub working_copy: WorkingCopyConfig,
    /// The engine's limits (source pixels, output side, input bytes, ...).
    pub limits: Limits,
    /// The bearer token `POST /originals` requires; `None` (the default) disables uploads.
    pub upload_token: Option<String>,
    /// The bearer token `/metrics` requires; `None` (the default): open, unless
    /// [`signing_keys`](Self::signing_keys) are set, which close it until a token is set.
    pub metrics_token: Option<String>,
    /// Keys for signed URLs; when non-empty every transform URL must be `/s/{signature}/...`
    /// and any key verifies (rotation). Default empty.
    pub signing_keys: Vec<SigningKey>,
    /// When set, the only `thumb`/`fit` sizes accepted (as written in the URL, before `dpr`);
    /// others get 400. Default: any size.
    pub allowed_sizes: Option<Vec<Size>>,
    /// Named pipelines, used as `/p/{name}/{hash}.{ext}` (optionally followed by `dpr/` and
    /// `q/`). Default none.
    pub presets: std::collections::BTreeMap<String, origami_engine::Pipeline>,
    /// Refuse (403) every transform URL that does not name a preset. Default false.
    pub presets_only: bool,
    /// Origins whose scripts may read images (CORS on the read routes; never on uploads or
    /// the operations routes). Default: none, no CORS headers.
    pub cors: CorsOrigins,
    /// See [`TransformHook`]. Default none.
    pub transform_hook: Option<TransformHook>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers,
            max_queue: 64,
            transform_memory_bytes: DEFAULT_TRANSFORM_MEMORY_PER_WORKER * workers as u64,
            request_timeout: Duration::from_secs(10),
            cache_memory_bytes: 256 << 20,
            max_original_bytes_in_flight: 256 << 20,
            takedown_recheck: Duration::from_secs(60),
            persist_derivatives: false,
            connections: ConnectionLimits::default(),
            working_copy: WorkingCopyConfig {
                max_side: WorkingCopyConfig::DEFAULT_MAX_SIDE,
                memory_bytes: DEFAULT_TRANSFORM_MEMORY_PER_WORKER / 2 * workers as u64,
            },
            limits: Limits::default(),
            upload_token: None,
            metrics_token: None,
            signing_keys: Vec::new(),
            allowed_sizes: None,
            presets: std::collections::BTreeMap::new(),
            presets_only: false,
            cors: CorsOrigins::None,
            transform_hook: None,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("workers", &self.workers)
            .field("max_queue", &self.max_queue)
            .field("transform_memory_bytes", &self.transform_memory_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("cache_memory_bytes", &self.cache_memory_bytes)
            .field("takedown_recheck", &self.takedown_recheck)
            .field("persist_derivatives", &self.persist_derivatives)
            .field("connections", &self.connections)
            .field("working_copy", &self.working_copy)
            .field("limits", &self.limits)
            .field(
                "upload_token",
                &self.upload_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("signing_keys", &self.signing_keys.len())
            .field("allowed_sizes", &self.allowed_sizes)
            .field("presets", &self.presets.len())
            .field("presets_only", &self.presets_only)
            .field("cors", &self.cors)
            .field("transform_hook", &self.transform_hook.is_some())
            .finish()
    }
}

/// A key for signed URLs (raw bytes; configured as hex).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// A key from raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Parses a hex-encoded key (an even number of hex digits, at least 16 bytes' worth).
    pub fn from_hex(digits: &str) -> Result<Self, ServerError> {
        let bad = |why: &str| ServerError::Config(format!("signing key: {why}"));
        let bytes = hex::decode(digits).map_err(|e| match e {
            hex::FromHexError::OddLength => bad("odd number of hex digits"),
            _ => bad("not hex"),
        })?;
        if bytes.len() < 16 {
            return Err(bad("shorter than 16 bytes (32 hex digits)"));
        }
        Ok(Self(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// An allowed output size, written `WxH` (either side may be 0, as in the URL grammar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    /// Width in pixels (0 = auto).
    pub width: u32,
    /// Height in pixels (0 = auto).
    pub height: u32,
}

impl FromStr for Size {
    type Err = ServerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ServerError::Config(format!("size {s:?} is not WxH"));
        let (w, h) = s.split_once('x').ok_or_else(bad)?;
        Ok(Size {
            width: w.parse().map_err(|_| bad())?,
            height: h.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// How connections are held to account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's whole header, counted from the connection's start
    /// or the end of its previous response (so it is also the idle keep-alive timeout).
    pub header_read_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Time a write to the client may wait without progress (the client reads nothing);
    /// then the connection is closed, releasing what its response held.
    pub send_timeout: Duration,
    /// After shutdown begins, how long in-flight requests may take before their connections are
    /// dropped.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            send_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_sizes() {
        let key = SigningKey::from_hex("00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(key.as_bytes().len(), 16);
        assert!(SigningKey::from_hex("0011").is_err());
        assert!(SigningKey::from_hex("zz112233445566778899aabbccddeeff").is_err());
        assert!(SigningKey::from_hex("0112233445566778899aabbccddeeff").is_err());
        // `u8::from_str_radix` takes a sign: "+1" is not a hex byte.
        assert!(SigningKey::from_hex("+1112233445566778899aabbccddeeff").is_err());
        assert_eq!(
            "400x300".parse::<Size>().unwrap(),
            Size {
                width: 400,
                height: 300
            }
        );
        assert!("400".parse::<Size>().is_err());
        assert!("ax3".parse::<Size>().is_err());
        assert!(format!("{:?}", key).contains("redacted"));
    }
}
