//! The configuration shared by every command and the server: a TOML file (`--config FILE`) with
//! every key overridable by an environment variable `ORIGAMI_<SECTION>__<KEY>` (for example
//! `ORIGAMI_FAILOVER__HEDGE_AFTER_MS=0`; an array such as `[[store.s3]]` takes an inline value:
//! `ORIGAMI_STORE__S3='[{name="a",bucket="b",region="us-east-1"}]'`).
//!
//! With no file and no variable, originals go to a local directory, `./origami-data`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use origami_engine::Limits;
use origami_server::{ConnectionLimits, ServerConfig, SigningKey, Size, WorkingCopyConfig};
use origami_store::{
    FailoverConfig, FailoverStore, LocalStore, RepairConfig, S3Config, S3Store, Store,
};
use serde::{Deserialize, Serialize};

use crate::server_sections::millis;
pub use crate::server_sections::{
    default_listen, CacheSection, SecuritySection, ServerSection, WorkingCopySection,
};

/// The whole configuration.
///
/// Every unknown key is an error: at the top level (a misspelt table such as `[securty]` would
/// otherwise switch signing off without a word), inside a table, and from any `ORIGAMI_*`
/// variable but [`NOT_CONFIGURATION`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The address `origami serve` listens on (default `127.0.0.1:8080`).
    pub listen: String,
    /// `[store]`: where originals live.
    pub store: StoreSection,
    /// `[failover]`: how the regions are used.
    pub failover: FailoverSection,
    /// `[server]`: the CPU pool, its queue and the request deadline.
    pub server: ServerSection,
    /// `[cache]`: the memory cache and the shared derived space.
    pub cache: CacheSection,
    /// `[limits]`: what the engine accepts and produces (the engine's own type and defaults).
    pub limits: Limits,
    /// `[security]`: uploads and signed URLs.
    pub security: SecuritySection,
    /// `[working_copy]`: reduced copies of large originals.
    pub working_copy: WorkingCopySection,
    /// `[presets]`: named pipelines (`avatar = "thumb/128/128/g/smart"`), served as
    /// `/p/{name}/{hash}.{ext}`.
    pub presets: std::collections::BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            store: StoreSection::default(),
            failover: FailoverSection::default(),
            server: ServerSection::default(),
            cache: CacheSection::default(),
            limits: Limits::default(),
            security: SecuritySection::default(),
            working_copy: WorkingCopySection::default(),
            presets: std::collections::BTreeMap::new(),
        }
    }
}

/// `[store]`: a local directory, or one `[[store.s3]]` entry per region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// The directory of the embedded local store, used when no `[[store.s3]]` entry exists
    /// (default `./origami-data`, relative to the working directory).
    pub local_dir: PathBuf,
    /// The S3 regions (`[[store.s3]]`), all active; none means the local store.
    pub s3: Vec<S3Region>,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            local_dir: PathBuf::from("./origami-data"),
            s3: Vec::new(),
        }
    }
}

/// One `[[store.s3]]` entry: a region. Credentials come from the standard AWS chain
/// (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, instance metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Region {
    /// The region's label in metrics, logs and `X-Origami-Region` (required, unique).
    pub name: String,
    /// The bucket (required; 3-63 characters).
    pub bucket: String,
    /// The AWS region of the bucket (required).
    pub region: String,
    /// An S3-compatible endpoint (MinIO, tests), such as `http://127.0.0.1:9000`; path-style
    /// addressing is used when set. Default: AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The prefix of originals' keys (default `originals/`).
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

fn default_key_prefix() -> String {
    "originals/".to_owned()
}

/// `[failover]`: timeouts, hedging, circuit breakers and the write quorum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverSection {
    /// Timeout of one read attempt on one region, in milliseconds (default 2000).
    pub attempt_timeout_ms: u64,
    /// Start the same read on the next region after this many milliseconds without an answer
    /// (default 100; 0 disables hedging).
    pub hedge_after_ms: u64,
    /// Consecutive failures that mark a region down (default 3).
    pub breaker_failures: u32,
    /// While a region is down, probe it every this many seconds (default 5).
    pub breaker_probe_secs: u64,
    /// Regions that must acknowledge a write (default 1).
    pub write_quorum: usize,
    /// Timeout of one write to one region, in milliseconds (default 30000).
    pub write_timeout_ms: u64,
    /// How long this server trusts an "it was not deleted" answer before asking the regions'
    /// tombstones again, in seconds (default 60): the longest a delete made through another
    /// server (or `origami delete`) may go unnoticed here, memory caches included.
    pub tombstone_recheck_secs: u64,
}

impl Default for FailoverSection {
    /// The store library's defaults ([`FailoverConfig::default`]), in the file's units.
    fn default() -> Self {
        let library = FailoverConfig::default();
        Self {
            attempt_timeout_ms: millis(library.attempt_timeout),
            hedge_after_ms: millis(library.hedge_after),
            breaker_failures: library.breaker_failures,
            breaker_probe_secs: library.breaker_probe.as_secs(),
            write_quorum: library.write_quorum,
            write_timeout_ms: millis(library.write_timeout),
            tombstone_recheck_secs: library.tombstone_recheck.as_secs(),
        }
    }
}

impl FailoverSection {
    /// The store library's configuration for this section.
    pub fn to_failover_config(&self) -> FailoverConfig {
        FailoverConfig {
            attempt_timeout: Duration::from_millis(self.attempt_timeout_ms),
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            hedge_after: Duration::from_millis(self.hedge_after_ms),
            breaker_failures: self.breaker_failures,
            breaker_probe: Duration::from_secs(self.breaker_probe_secs),
            write_quorum: self.write_quorum,
            tombstone_recheck: Duration::from_secs(self.tombstone_recheck_secs),
            repair: RepairConfig::default(),
        }
    }
}

/// `ORIGAMI_*` variables that are not configuration keys (lower-cased, without the prefix):
/// `ORIGAMI_CONFIG` names the file; the others belong to the project's scripts and benches.
pub const NOT_CONFIGURATION: &[&str] = &["config", "photos", "bin", "dev_port", "dev_dir"];

/// Figment's errors, each unknown key followed by the valid key closest to it, when one is
/// close enough to be what was meant (`[securty]`: did you mean `security`?).
fn with_suggestions(errors: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|error| {
            let suggestion = match &error.kind {
                figment::error::Kind::UnknownField(key, valid) => closest(key, valid),
                _ => None,
            };
            match suggestion {
                Some(best) => format!("{error} (did you mean `{best}`?)"),
                None => error.to_string(),
            }
        })
        .collect();
    anyhow::anyhow!(lines.join("; "))
}

/// The entry of `valid` nearest to `key` in edits, if within a third of its length (at least 2).
fn closest<'a>(key: &str, valid: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    let allowed = (key.chars().count() / 3).max(2);
    valid
        .iter()
        .map(|candidate| (strsim::levenshtein(&key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

impl Config {
    /// Loads the defaults, then `file` (which must exist, when given), then the `ORIGAMI_*`
    /// environment variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            anyhow::ensure!(path.is_file(), "config file {} not found", path.display());
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("ORIGAMI_")
            .split("__")
            .ignore(NOT_CONFIGURATION);
        let figment = figment.merge(env);
        let config: Config = figment
            .extract()
            .map_err(with_suggestions)
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let mut names = std::collections::HashSet::new();
        for region in &self.store.s3 {
            anyhow::ensure!(!region.name.is_empty(), "[[store.s3]]: empty name");
            anyhow::ensure!(
                names.insert(&region.name),
                "[[store.s3]]: duplicate name {:?}",
                region.name
            );
        }
        let regions = self.store.s3.len().max(1);
        anyhow::ensure!(
            (1..=regions).contains(&self.failover.write_quorum),
            "[failover] write_quorum = {} must be between 1 and the number of regions ({regions})",
            self.failover.write_quorum
        );
        anyhow::ensure!(
            self.failover.attempt_timeout_ms > 0,
            "[failover] attempt_timeout_ms must be positive"
        );
        anyhow::ensure!(
            self.failover.write_timeout_ms > 0,
            "[failover] write_timeout_ms must be positive"
        );
        self.check_ranges()
    }

    /// Every numeric key that has a meaningful range: a value outside it would start a server
    /// that cannot work (10 000 threads, a zero output side, an AVIF speed the encoder
    /// clamps), so it is refused with the range.
    fn check_ranges(&self) -> anyhow::Result<()> {
        use crate::range::{check, max_workers};
        let (failover, server, limits) = (&self.failover, &self.server, &self.limits);
        check(
            "failover",
            "breaker_failures",
            failover.breaker_failures,
            1..=1000,
        )?;
        check(
            "failover",
            "breaker_probe_secs",
            failover.breaker_probe_secs,
            1..=3600,
        )?;
        // 0 = as many as cores.
        check("server", "workers", server.workers, 0..=max_workers())?;
        check("server", "max_queue", server.max_queue, 0..=100_000)?;
        check(
            "server",
            "request_timeout_ms",
            server.request_timeout_ms,
            1..=600_000,
        )?;
        check(
            "server",
            "header_read_timeout_ms",
            server.header_read_timeout_ms,
            100..=600_000,
        )?;
        check(
            "server",
            "max_connections",
            server.max_connections,
            1..=1_000_000,
        )?;
        check(
            "server",
            "shutdown_grace_ms",
            server.shutdown_grace_ms,
            0..=3_600_000,
        )?;
        check(
            "server",
            "send_timeout_ms",
            server.send_timeout_ms,
            100..=3_600_000,
        )?;
        check(
            "server",
            "max_original_bytes_in_flight",
            server.max_original_bytes_in_flight,
            1 << 20..=1 << 40,
        )?;
        check(
            "limits",
            "max_source_pixels",
            limits.max_source_pixels,
            1..=1 << 32,
        )?;
        let max_side = origami_engine::MAX_DIMENSION;
        check(
            "limits",
            "max_output_side",
            limits.max_output_side,
            1..=max_side,
        )?;
        check(
            "limits",
            "max_input_bytes",
            limits.max_input_bytes,
            1..=1 << 32,
        )?;
        check("limits", "max_jpeg_scans", limits.max_jpeg_scans, 1..=1000)?;
        check("limits", "avif_speed", limits.avif_speed, 1..=10)?;
        check("limits", "max_cost", limits.max_cost, 1..=3_600_000)?;
        check("limits", "max_frames", limits.max_frames, 1..=100_000)?;
        check(
            "limits",
            "max_animation_pixels",
            limits.max_animation_pixels,
            1..=u64::MAX,
        )?;
        // 0 = off; a copy at least the smallest useful thumbnail, at most the output limit.
        let copy_side = self.working_copy.max_side;
        if copy_side != 0 {
            check(
                "working_copy",
                "max_side",
                copy_side,
                256..=limits.max_output_side.max(256),
            )?;
        }
        Ok(())
    }
}

/// Builds the store described by `config`: a [`FailoverStore`] over the `[[store.s3]]` regions,
/// or over the single local store at `store.local_dir` when there is none. (Even a single region
/// goes through the failover layer: reads are verified and metrics exported the same way.)
///
/// Must be called inside a Tokio runtime.
pub async fn build_store(config: &Config) -> anyhow::Result<FailoverStore> {
    let failover = config.failover.to_failover_config();
    let mut regions: Vec<Arc<dyn Store>> = Vec::new();
    if config.store.s3.is_empty() {
        let dir = &config.store.local_dir;
        let local = LocalStore::new(dir)
            .with_context(|| format!("opening the local store {}", dir.display()))?;
        regions.push(Arc::new(local));
    }
    for region in &config.store.s3 {
        let mut s3 = S3Config::new(&region.name, &region.bucket, &region.region);
        s3.endpoint = region.endpoint.clone();
        s3.key_prefix = region.key_prefix.clone();
        s3.read_timeout = failover.attempt_timeout;
        s3.write_timeout = failover.write_timeout;
        s3.connect_timeout = failover.attempt_timeout.min(Duration::from_secs(1));
        let store = S3Store::new(s3)
            .await
            .with_context(|| format!("configuring region {:?}", region.name))?;
        regions.push(Arc::new(store));
    }
    FailoverStore::new(regions, failover).context("building the failover store")
}

/// `[presets]` parsed: names of lowercase letters, digits, `-` and `_`; pipelines in the URL
/// grammar, canonical (as they would be written in a URL).
fn presets(
    config: &Config,
) -> anyhow::Result<std::collections::BTreeMap<String, origami_engine::Pipeline>> {
    let mut presets = std::collections::BTreeMap::new();
    for (name, text) in &config.presets {
        anyhow::ensure!(
            !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
            "[presets] {name:?}: a preset's name is 1-64 lowercase letters, digits, - and _"
        );
        let pipeline: origami_engine::Pipeline = text
            .parse()
            .with_context(|| format!("[presets] {name} = {text:?}"))?;
        anyhow::ensure!(
            pipeline.to_string() == *text,
            "[presets] {name} = {text:?} is not canonical; write {:?}",
            pipeline.to_string()
        );
        anyhow::ensure!(
            !pipeline.is_empty(),
            "[presets] {name}: an empty pipeline; name an operation"
        );
        presets.insert(name.clone(), pipeline);
    }
    anyhow::ensure!(
        !config.security.presets_only || !presets.is_empty(),
        "[security] presets_only = true without any [presets]: every transform would be refused"
    );
    Ok(presets)
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
    let transform_memory_bytes = match config.server.transform_memory_bytes {
        0 => origami_server::DEFAULT_TRANSFORM_MEMORY_PER_WORKER * workers as u64,
        bytes => bytes,
    };
    let copies_memory = match config.working_copy.memory_bytes {
        0 => transform_memory_bytes / 2,
        bytes => bytes,
    };
    anyhow::ensure!(
        copies_memory <= transform_memory_bytes / 2,
        "[working_copy] memory_bytes = {copies_memory} is more than half of [server] \
         transform_memory_bytes ({transform_memory_bytes}): raise the latter or lower the former"
    );
    Ok(ServerConfig {
        workers,
        max_queue: config.server.max_queue,
        transform_memory_bytes,
        request_timeout: Duration::from_millis(config.server.request_timeout_ms),
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_millis(config.server.header_read_timeout_ms),
            max_connections: config.server.max_connections,
            send_timeout: Duration::from_millis(config.server.send_timeout_ms),
            shutdown_grace: Duration::from_millis(config.server.shutdown_grace_ms),
        },
        cache_memory_bytes: config.cache.memory_bytes,
        max_original_bytes_in_flight: config.server.max_original_bytes_in_flight,
        takedown_recheck: Duration::from_secs(config.failover.tombstone_recheck_secs),
        persist_derivatives: config
            .cache
            .persist_derivatives
            .unwrap_or(!config.store.s3.is_empty()),
        working_copy: WorkingCopyConfig {
            max_side: config.working_copy.max_side,
            memory_bytes: copies_memory,
        },
        limits: config.limits,
        upload_token: config
            .security
            .upload_token
            .clone()
            .filter(|t| !t.is_empty()),
        metrics_token: config
            .security
            .metrics_token
            .clone()
            .filter(|t| !t.is_empty()),
        signing_keys,
        allowed_sizes,
        presets: presets(config)?,
        presets_only: config.security.presets_only,
        cors: origami_server::CorsOrigins::parse(&config.server.cors_allow_origins)
            .context("[server] cors_allow_origins")?,
        transform_hook: None,
    })
}
