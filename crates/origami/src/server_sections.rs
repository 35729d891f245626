//! The server's configuration sections: `listen`, `[server]`, `[cache]` and `[security]`
//! (same file and `ORIGAMI_<SECTION>__<KEY>` rules as the store's). Their defaults are the
//! server library's ([`ServerConfig::default`]); `[limits]` is the engine's
//! [`Limits`](origami_engine::Limits) itself.

use std::time::Duration;

use origami_server::ServerConfig;
use serde::{Deserialize, Serialize};

/// The default `listen` address.
pub fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

/// `[server]`: the CPU pool, its queue and the request deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Transforms run at once (default 0 = the number of cores).
    pub workers: usize,
    /// Transforms allowed to wait for a worker before requests get 503 + `Retry-After: 1`
    /// (default 64).
    pub max_queue: usize,
    /// Memory the transforms running at once may use together, estimated from each original's
    /// header; others wait (default 0 = 128 MiB per worker, half of it for working copies).
    pub transform_memory_bytes: u64,
    /// Deadline of one request, in milliseconds (default 10000).
    pub request_timeout_ms: u64,
    /// Time a client has to send a request's header, from the connection's start or its
    /// previous response: also the idle keep-alive timeout (default 10000).
    pub header_read_timeout_ms: u64,
    /// Connections open at once; more are closed as soon as they are accepted (default 4096).
    pub max_connections: usize,
    /// How long a write to a client may wait without progress before the connection is
    /// closed, in milliseconds (default 30000).
    pub send_timeout_ms: u64,
    /// Bytes of originals `GET /original/` responses may hold at once, however slowly their
    /// clients read; more requests wait within their deadline (default 268435456 = 256 MiB).
    pub max_original_bytes_in_flight: u64,
    /// After SIGTERM, how long in-flight requests may finish before their connections are
    /// dropped; idle connections close at once (default 30000).
    pub shutdown_grace_ms: u64,
    /// Origins whose scripts may read images (CORS on the image, original, info and
    /// thumbhash routes, never on uploads): `["*"]` or `["https://app.example", ...]`
    /// (default empty: no CORS headers).
    pub cors_allow_origins: Vec<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        let library = ServerConfig::default();
        Self {
            // 0: "as many as cores", resolved when the server's configuration is made.
            workers: 0,
            max_queue: library.max_queue,
            // 0: "the default per worker", for whatever `workers` becomes.
            transform_memory_bytes: 0,
            request_timeout_ms: millis(library.request_timeout),
            header_read_timeout_ms: millis(library.connections.header_read_timeout),
            max_connections: library.connections.max_connections,
            send_timeout_ms: millis(library.connections.send_timeout),
            max_original_bytes_in_flight: library.max_original_bytes_in_flight,
            shutdown_grace_ms: millis(library.connections.shutdown_grace),
            cors_allow_origins: Vec::new(),
        }
    }
}

/// A duration in whole milliseconds, as the configuration writes it.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `[cache]`: the memory cache and the shared derived space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSection {
    /// Bytes of responses kept in memory (default 268435456 = 256 MiB); the memo of paths
    /// answered before (their cache keys and ETags, no bodies) takes up to 1/64 of it more.
    pub memory_bytes: u64,
    /// Write derivatives to the store's derived space and read them from there before
    /// transforming (default: true with `[[store.s3]]` regions, false for the local store).
    pub persist_derivatives: Option<bool>,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            memory_bytes: ServerConfig::default().cache_memory_bytes,
            persist_derivatives: None,
        }
    }
}

/// `[working_copy]`: one reduced, losslessly stored rendition per large original, from which
/// the derivatives that fit inside it are made without decoding the original again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkingCopySection {
    /// The copies' long side in pixels (default 2048); originals at least 1.5x larger get one.
    /// 0 turns working copies off.
    pub max_side: u32,
    /// Bytes of decoded copies kept in memory, taken from `[server] transform_memory_bytes`
    /// (default 0 = half of it; at most half of it).
    pub memory_bytes: u64,
}

impl Default for WorkingCopySection {
    fn default() -> Self {
        Self {
            max_side: ServerConfig::default().working_copy.max_side,
            memory_bytes: 0,
        }
    }
}

/// `[security]`: uploads and signed URLs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySection {
    /// The bearer token of `POST /originals` (default none: uploads are off).
    pub upload_token: Option<String>,
    /// The bearer token of `/metrics` (default none: open, but closed while `signing_keys`
    /// are set).
    pub metrics_token: Option<String>,
    /// Hex-encoded keys for signed URLs; when any is set, transform URLs must be signed
    /// (`/s/{signature}/...`) and every key verifies (rotation). Default none.
    pub signing_keys: Vec<String>,
    /// The only `thumb`/`fit` sizes accepted, as `"WxH"` (default: any).
    pub allowed_sizes: Vec<String>,
    /// Refuse (403) every transform URL that does not name one of `[presets]` (default false).
    pub presets_only: bool,
}
