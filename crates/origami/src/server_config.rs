//! The server's configuration sections: `listen`, `[server]`, `[cache]`, `[limits]` and
//! `[security]` (same file and `ORIGAMI_<SECTION>__<KEY>` rules as the store's).

use std::time::Duration;

use anyhow::Context as _;
use origami_engine::Limits;
use origami_server::{ServerConfig, SigningKey, Size};
use serde::{Deserialize, Serialize};

use crate::config::Config;

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
    /// header; others wait (default 0 = 64 MiB per worker).
    pub transform_memory_bytes: u64,
    /// Deadline of one request, in milliseconds (default 10000).
    pub request_timeout_ms: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            workers: 0,
            max_queue: 64,
            transform_memory_bytes: 0,
            request_timeout_ms: 10_000,
        }
    }
}

/// `[cache]`: the memory cache and the shared derived space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSection {
    /// Bytes of responses kept in memory (default 268435456 = 256 MiB).
    pub memory_bytes: u64,
    /// Write derivatives to the store's derived space and read them from there before
    /// transforming (default: true with `[[store.s3]]` regions, false for the local store).
    pub persist_derivatives: Option<bool>,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            persist_derivatives: None,
        }
    }
}

/// `[limits]`: the engine's limits (defaults as in the engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest source image, in pixels (default 50000000).
    pub max_source_pixels: u64,
    /// Largest output width or height (default 4096).
    pub max_output_side: u32,
    /// Largest AVIF output, in pixels (default 2100000).
    pub max_avif_pixels: u64,
    /// Largest original accepted (uploads, reads), in bytes (default 67108864 = 64 MiB).
    pub max_input_bytes: usize,
    /// Progressive JPEG scans allowed (default 64).
    pub max_jpeg_scans: u32,
    /// AVIF encoder speed 1..=10 (default 9).
    pub avif_speed: u8,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            max_source_pixels: l.max_source_pixels,
            max_output_side: l.max_output_side,
            max_avif_pixels: l.max_avif_pixels,
            max_input_bytes: l.max_input_bytes,
            max_jpeg_scans: l.max_jpeg_scans,
            avif_speed: l.avif_speed,
        }
    }
}

impl LimitsSection {
    /// The engine's [`Limits`].
    pub fn to_limits(&self) -> Limits {
        Limits {
            max_source_pixels: self.max_source_pixels,
            max_output_side: self.max_output_side,
            max_avif_pixels: self.max_avif_pixels,
            max_input_bytes: self.max_input_bytes,
            max_jpeg_scans: self.max_jpeg_scans,
            avif_speed: self.avif_speed,
        }
    }
}

/// `[security]`: uploads and signed URLs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySection {
    /// The bearer token of `POST /originals` (default none: uploads are off).
    pub upload_token: Option<String>,
    /// Hex-encoded keys for signed URLs; when any is set, transform URLs must be signed
    /// (`/s/{signature}/...`) and every key verifies (rotation). Default none.
    pub signing_keys: Vec<String>,
    /// The only `thumb`/`fit` sizes accepted, as `"WxH"` (default: any).
    pub allowed_sizes: Vec<String>,
}

/// The server's configuration from the whole file.
pub fn server_config(config: &Config) -> anyhow::Result<ServerConfig> {
    let defaults = ServerConfig::default();
    let signing_keys = config
        .security
        .signing_keys
        .iter()
        .map(|k| SigningKey::from_hex(k))
        .collect::<Result<Vec<_>, _>>()
        .context("[security] signing_keys")?;
    let allowed_sizes = if config.security.allowed_sizes.is_empty() {
        None
    } else {
        Some(
            config
                .security
                .allowed_sizes
                .iter()
                .map(|s| s.parse::<Size>())
                .collect::<Result<Vec<_>, _>>()
                .context("[security] allowed_sizes")?,
        )
    };
    anyhow::ensure!(
        config.server.request_timeout_ms > 0,
        "[server] request_timeout_ms must be positive"
    );
    let workers = if config.server.workers == 0 {
        defaults.workers
    } else {
        config.server.workers
    };
    Ok(ServerConfig {
        workers,
        max_queue: config.server.max_queue,
        transform_memory_bytes: match config.server.transform_memory_bytes {
            0 => origami_server::DEFAULT_TRANSFORM_MEMORY_PER_WORKER * workers as u64,
            bytes => bytes,
        },
        request_timeout: Duration::from_millis(config.server.request_timeout_ms),
        cache_memory_bytes: config.cache.memory_bytes,
        persist_derivatives: config
            .cache
            .persist_derivatives
            .unwrap_or(!config.store.s3.is_empty()),
        limits: config.limits.to_limits(),
        upload_token: config
            .security
            .upload_token
            .clone()
            .filter(|t| !t.is_empty()),
        signing_keys,
        allowed_sizes,
        transform_hook: None,
    })
}
