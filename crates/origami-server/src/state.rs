//! [`AppState`]: the store, the result cache, the CPU pool and the counters, shared by handlers.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;
use moka::future::Cache;
use origami_engine::{EngineError, ImageFormat, ImageInfo, Op, Pipeline, ENGINE_VERSION};
use origami_store::{ContentHash, DerivedKey, FailoverStore, Store as _};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics as m;
use crate::pool::TransformPool;

/// A cached response body and where it came from.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The body.
    pub bytes: Bytes,
    /// Its media type.
    pub content_type: &'static str,
    /// The region that served the original it was made from, or `derived`.
    pub origin: Arc<str>,
}

/// How a [`Cached`] was obtained by one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was in the memory cache.
    Hit,
    /// This request made it.
    Miss,
    /// Another request was already making it; this one waited for that result.
    Coalesced,
    /// This request read it from the store's derived space.
    Derived,
}

impl Outcome {
    /// The label in `origami_cache_total{outcome}` and the access log.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Coalesced => "coalesced",
            Outcome::Derived => "derived",
        }
    }
}

/// What is known about an original without decoding it.
#[derive(Debug, Clone)]
pub struct OriginalInfo {
    /// The probe result.
    pub info: ImageInfo,
    /// The original's size in bytes.
    pub bytes: u64,
}

/// Counters of one server instance (the same events go to the metrics facade; these are
/// per-instance, which tests running several servers in one process need).
#[derive(Debug, Default)]
pub struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
    derived: AtomicU64,
    transforms: AtomicU64,
    lookups: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Memory cache hits.
    pub hits: u64,
    /// Misses this server computed.
    pub misses: u64,
    /// Requests that waited for an identical in-flight miss.
    pub coalesced: u64,
    /// Misses served from the store's derived space.
    pub derived: u64,
    /// Engine runs (transforms and thumbhashes).
    pub transforms: u64,
    /// Lookups that found nothing in memory and went to the coalescing path.
    pub lookups: u64,
}

/// Everything the handlers share. Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: FailoverStore,
    config: ServerConfig,
    cache: Cache<String, Cached>,
    infos: Cache<ContentHash, OriginalInfo>,
    pool: TransformPool,
    stats: Stats,
    http_metrics: m::HttpMetrics,
    prometheus: Option<PrometheusHandle>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The derived-space spec (and cache key suffix) of a rendition: `v<engine>/<ops>.<ext>`, or
/// `v<engine>/convert.<ext>` for the empty pipeline.
pub fn rendition_spec(pipeline: &Pipeline, format: ImageFormat) -> String {
    let mut spec = String::with_capacity(48);
    push_spec(&mut spec, pipeline, format);
    spec
}

/// Appends the spec of [`rendition_spec`] to `out`.
fn push_spec(out: &mut String, pipeline: &Pipeline, format: ImageFormat) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "v{ENGINE_VERSION}/{pipeline}");
    if pipeline.ops().is_empty() {
        out.push_str("convert");
    }
    out.push('.');
    out.push_str(format.extension());
}

/// The strong ETag of a rendition: a digest of its cache key `<source hash>/<spec>`, which holds
/// the source hash, the canonical operations, the output format and the engine version.
pub fn rendition_etag(hash: &ContentHash, pipeline: &Pipeline, format: ImageFormat) -> String {
    Rendition::new(*hash, pipeline.clone(), format, false).etag()
}

/// One rendition's identity, computed once per request: the result-cache key, the derived-space
/// spec and the ETag all come from it.
#[derive(Debug, Clone)]
pub struct Rendition {
    hash: ContentHash,
    pipeline: Pipeline,
    format: ImageFormat,
    negotiated: bool,
    /// `<hash>/<spec>`: the result-cache key.
    key: String,
    /// Where `<spec>` starts in `key`.
    spec_at: usize,
}

impl Rendition {
    /// `pipeline` of `hash` as `format`; `negotiated` when the format came from `Accept` (an AVIF
    /// asked for that way falls back to WebP when the output is too large for AVIF).
    pub fn new(
        hash: ContentHash,
        pipeline: Pipeline,
        format: ImageFormat,
        negotiated: bool,
    ) -> Self {
        use std::fmt::Write as _;
        let mut key = String::with_capacity(112);
        // Writing to a String cannot fail.
        let _ = write!(key, "{hash}/");
        let spec_at = key.len();
        push_spec(&mut key, &pipeline, format);
        Self {
            hash,
            pipeline,
            format,
            negotiated,
            key,
            spec_at,
        }
    }

    /// The result-cache key, `<hash>/<spec>`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The derived-space spec, `v<engine>/<ops>.<ext>`.
    pub fn spec(&self) -> &str {
        &self.key[self.spec_at..]
    }

    /// The strong ETag (quoted): the first 32 hex digits of the BLAKE3 digest of the key.
    pub fn etag(&self) -> String {
        // 64 hex digits, of which the ETag keeps 32 (128 bits), in quotes: one allocation.
        let mut etag = ContentHash::of(self.key.as_bytes()).to_string();
        etag.truncate(32);
        etag.insert(0, '"');
        etag.push('"');
        etag
    }
}

fn op_label(pipeline: &Pipeline) -> &'static str {
    match pipeline.ops().first() {
        Some(Op::Thumb { .. }) => "thumb",
        Some(Op::Fit { .. }) => "fit",
        Some(Op::Blur { .. }) => "blur",
        None => "convert",
    }
}

fn format_label(format: ImageFormat) -> &'static str {
    format.extension()
}

impl AppState {
    /// Builds the state: a result cache of `config.cache_memory_bytes`, a pool of
    /// `config.workers` threads. `prometheus` is what `/metrics` renders (404 without one).
    /// Fails only when the pool's threads cannot be started.
    pub fn new(
        store: FailoverStore,
        config: ServerConfig,
        prometheus: Option<PrometheusHandle>,
    ) -> std::io::Result<Self> {
        m::describe();
        let cache = Cache::builder()
            .max_capacity(config.cache_memory_bytes)
            .weigher(|key: &String, value: &Cached| {
                u32::try_from(key.len() + value.bytes.len() + 64).unwrap_or(u32::MAX)
            })
            .build();
        let infos = Cache::builder().max_capacity(100_000).build();
        let pool = TransformPool::new(
            config.workers,
            config.max_queue,
            config.transform_memory_bytes,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                cache,
                infos,
                pool,
                stats: Stats::default(),
                http_metrics: m::HttpMetrics::new(),
                prometheus,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &FailoverStore {
        &self.inner.store
    }

    /// The CPU pool.
    pub fn pool(&self) -> &TransformPool {
        &self.inner.pool
    }

    /// The HTTP metrics' handles.
    pub(crate) fn http_metrics(&self) -> &m::HttpMetrics {
        &self.inner.http_metrics
    }

    /// The Prometheus handle, if one was given.
    pub fn prometheus(&self) -> Option<&PrometheusHandle> {
        self.inner.prometheus.as_ref()
    }

    /// This instance's counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
        StatsSnapshot {
            hits: load(&s.hits),
            misses: load(&s.misses),
            coalesced: load(&s.coalesced),
            derived: load(&s.derived),
            transforms: load(&s.transforms),
            lookups: load(&s.lookups),
        }
    }

    fn count(&self, outcome: Outcome) {
        let s = &self.inner.stats;
        let counter = match outcome {
            Outcome::Hit => &s.hits,
            Outcome::Miss => &s.misses,
            Outcome::Coalesced => &s.coalesced,
            Outcome::Derived => &s.derived,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        m::cache(outcome.as_str());
    }

    /// Looks `key` up in the memory cache; on a miss builds and runs `make()` once for all
    /// concurrent callers of the same key (coalescing) and caches its result (errors are not
    /// cached). `make` is only called on a miss, so a hit copies nothing; its future returns
    /// whether it read the derived space.
    pub async fn cached<M, F>(&self, key: &str, make: M) -> Result<(Cached, Outcome), ApiError>
    where
        M: FnOnce() -> F,
        F: Future<Output = Result<(Cached, bool), ApiError>> + Send,
    {
        if let Some(found) = self.inner.cache.get(key).await {
            self.count(Outcome::Hit);
            return Ok((found, Outcome::Hit));
        }
        self.inner.stats.lookups.fetch_add(1, Ordering::SeqCst);
        // 0: another caller's `make` ran; 1: ours made it; 2: ours read the derived space.
        let ran = AtomicU8::new(0);
        let make = make();
        let result = self
            .inner
            .cache
            .try_get_with(key.to_owned(), async {
                let (value, derived) = make.await?;
                ran.store(if derived { 2 } else { 1 }, Ordering::SeqCst);
                Ok::<_, ApiError>(value)
            })
            .await;
        let outcome = match ran.load(Ordering::SeqCst) {
            1 => Outcome::Miss,
            2 => Outcome::Derived,
            _ => Outcome::Coalesced,
        };
        match result {
            Ok(value) => {
                self.count(outcome);
                Ok((value, outcome))
            }
            Err(err) => Err((*err).clone()),
        }
    }

    /// Reads an original: from the memory cache when `/original/` put it there, else through the
    /// failover store. Returns the bytes and the region that served them (`cache` for memory).
    pub async fn read_original(&self, hash: &ContentHash) -> Result<(Bytes, Arc<str>), ApiError> {
        if let Some(found) = self.inner.cache.get(&original_key(hash)).await {
            return Ok((found.bytes, Arc::from("cache")));
        }
        let (bytes, region) = self.inner.store.get_with_region(hash).await?;
        Ok((bytes, Arc::from(region)))
    }

    /// An original through the memory cache (the `/original/` route).
    pub async fn original(&self, hash: &ContentHash) -> Result<(Cached, Outcome), ApiError> {
        let hash = *hash;
        self.cached(&original_key(&hash), || async move {
            let (bytes, region) = self.inner.store.get_with_region(&hash).await?;
            let content_type = origami_store::sniff_content_type(&bytes);
            Ok((
                Cached {
                    bytes,
                    content_type,
                    origin: Arc::from(region),
                },
                false,
            ))
        })
        .await
    }

    /// Probe facts about an original (cached by hash).
    pub async fn original_info(&self, hash: &ContentHash) -> Result<OriginalInfo, ApiError> {
        let hash = *hash;
        let result = self
            .inner
            .infos
            .try_get_with(hash, async move {
                let (bytes, region) = self.read_original(&hash).await?;
                let info = origami_engine::probe(&bytes)
                    .map_err(|e| ApiError::from(e).with_region(Some(region.to_string())))?;
                Ok::<_, ApiError>(OriginalInfo {
                    info,
                    bytes: bytes.len() as u64,
                })
            })
            .await;
        result.map_err(|e| (*e).clone())
    }

    /// Runs `work`, which needs about `memory` bytes, on the CPU pool, after the transform hook.
    /// `admission` comes from [`TransformPool::admit`], taken before the input was read.
    async fn run_engine<T, F>(
        &self,
        admission: crate::pool::Admission,
        memory: u64,
        key: &str,
        work: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let hook = self.inner.config.transform_hook.clone();
        let key = key.to_owned();
        let result = admission
            .run_weighted(memory, move || {
                if let Some(hook) = hook {
                    hook(&key);
                }
                work()
            })
            .await;
        self.inner.stats.transforms.fetch_add(1, Ordering::SeqCst);
        result
    }

    /// A rendition of `hash`: memory cache, then (with `persist_derivatives`) the store's
    /// derived space, then a transform on the CPU pool, coalesced across identical requests.
    pub async fn rendition(&self, rendition: &Rendition) -> Result<(Cached, Outcome), ApiError> {
        let make = || {
            let Rendition {
                hash,
                pipeline,
                format,
                negotiated,
                ..
            } = rendition.clone();
            let key = rendition.key().to_owned();
            let spec = rendition.spec().to_owned();
            async move {
                let derived_key = DerivedKey::new(hash, spec).ok();
                let persist = self.inner.config.persist_derivatives;
                if let (true, Some(dk)) = (persist, &derived_key) {
                    match self.inner.store.get_derived_with_region(dk).await {
                        Ok((bytes, _region)) => {
                            if let Some(found) = ImageFormat::sniff(&bytes) {
                                let cached = Cached {
                                    bytes,
                                    content_type: found.mime_type(),
                                    origin: Arc::from("derived"),
                                };
                                return Ok((cached, true));
                            }
                        }
                        Err(err) if err.is_not_found() => {}
                        Err(err) => tracing::debug!(error = %err, "derived read failed"),
                    }
                }
                // Admitted first: a request waiting for a worker does not hold its original.
                let admission = self.inner.pool.admit().await?;
                let (source, region) = self.read_original(&hash).await?;
                let limits = self.inner.config.limits;
                let op = op_label(&pipeline);
                // A header parse (microseconds); a bad header fails in the transform instead.
                let memory =
                    origami_engine::working_memory(&source, &pipeline, &limits).unwrap_or(0);
                let out = self
                    .run_engine(admission, memory, &key, move || {
                        let start = Instant::now();
                        let mut result =
                            origami_engine::transform(&source, &pipeline, format, &limits);
                        if negotiated
                            && format == ImageFormat::Avif
                            && matches!(result, Err(EngineError::TooLarge(_)))
                        {
                            result = origami_engine::transform(
                                &source,
                                &pipeline,
                                ImageFormat::WebP,
                                &limits,
                            );
                        }
                        if let Ok(out) = &result {
                            m::transform(op, format_label(out.format), start.elapsed());
                        }
                        result
                    })
                    .await?
                    .map_err(|e| ApiError::from(e).with_region(Some(region.to_string())))?;
                let bytes = Bytes::from(out.bytes);
                if let (true, Some(dk)) = (persist, derived_key) {
                    let store = self.inner.store.clone();
                    let data = bytes.clone();
                    tokio::spawn(async move {
                        if let Err(err) = store.put_derived(&dk, data).await {
                            tracing::warn!(key = %dk, error = %err, "writing a derivative failed");
                        }
                    });
                }
                Ok((
                    Cached {
                        bytes,
                        content_type: out.format.mime_type(),
                        origin: region,
                    },
                    false,
                ))
            }
        };
        self.cached(rendition.key(), make).await
    }

    /// The ThumbHash of `hash` as JSON (`png` false) or its rendered PNG.
    pub async fn thumbhash(
        &self,
        hash: &ContentHash,
        png: bool,
    ) -> Result<(Cached, Outcome), ApiError> {
        let ext = if png { "png" } else { "json" };
        let key = format!("{hash}/v{ENGINE_VERSION}/thumbhash.{ext}");
        let hash = *hash;
        let make = || {
            let key = key.clone();
            async move {
                let admission = self.inner.pool.admit().await?;
                let (source, region) = self.read_original(&hash).await?;
                let limits = self.inner.config.limits;
                let memory = origami_engine::working_memory(&source, &THUMBHASH_DECODE, &limits)
                    .unwrap_or(0);
                let out = self
                    .run_engine(admission, memory, &key, move || {
                        let th = origami_engine::thumbhash(&source, &limits)?;
                        if png {
                            Ok((origami_engine::render_thumbhash(&th.hash)?, "image/png"))
                        } else {
                            use base64::Engine as _;
                            let b64 = base64::engine::general_purpose::STANDARD.encode(&th.hash);
                            let json = serde_json::json!({
                                "thumbhash": b64, "width": th.width, "height": th.height,
                            });
                            Ok((json.to_string().into_bytes(), "application/json"))
                        }
                    })
                    .await?
                    .map_err(|e: EngineError| {
                        ApiError::from(e).with_region(Some(region.to_string()))
                    })?;
                Ok((
                    Cached {
                        bytes: Bytes::from(out.0),
                        content_type: out.1,
                        origin: region,
                    },
                    false,
                ))
            }
        };
        self.cached(&key, make).await
    }
}

/// What a ThumbHash decodes, for its memory estimate: the source fitted in 100x100.
static THUMBHASH_DECODE: std::sync::LazyLock<Pipeline> = std::sync::LazyLock::new(|| {
    Pipeline::new()
        .then(Op::Fit {
            width: 100,
            height: 100,
        })
        .unwrap_or_default()
});

fn original_key(hash: &ContentHash) -> String {
    format!("{hash}/original")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendition_key_names_source_ops_format_and_engine() {
        let hash = ContentHash::of(b"an original");
        let pipeline: Pipeline = "thumb/400/300".parse().unwrap();
        let r = Rendition::new(hash, pipeline.clone(), ImageFormat::WebP, false);
        assert_eq!(r.spec(), format!("v{ENGINE_VERSION}/thumb/400/300.webp"));
        assert_eq!(r.key(), format!("{hash}/{}", r.spec()));
        let convert = Rendition::new(hash, Pipeline::default(), ImageFormat::Png, false);
        assert_eq!(convert.spec(), format!("v{ENGINE_VERSION}/convert.png"));

        let etag = r.etag();
        assert_eq!(etag.len(), 34);
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert_eq!(etag, rendition_etag(&hash, &pipeline, ImageFormat::WebP));
        // Every part of the identity changes the ETag.
        let others = [
            rendition_etag(&ContentHash::of(b"another"), &pipeline, ImageFormat::WebP),
            rendition_etag(&hash, &"thumb/400/301".parse().unwrap(), ImageFormat::WebP),
            rendition_etag(&hash, &pipeline, ImageFormat::Jpeg),
        ];
        for other in others {
            assert_ne!(other, etag);
        }
    }
}
