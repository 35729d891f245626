//! [`Renderer`]: the miss path. A rendition not in memory is read from the store's derived
//! space (with `persist_derivatives`), else made: admitted to the CPU pool, its original read,
//! the engine run (an AVIF asked for by `Accept` falls back to WebP when too large for AVIF),
//! timed, and written back to the derived space in the background. ThumbHashes too.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use origami_engine::{
    Cost, EngineError, ImageFormat, Limits, Op, Pipeline, ThumbHash, Transformed, ENGINE_VERSION,
};
use origami_store::{ContentHash, DerivedKey, Store};

use crate::api_error::ApiError;
use crate::cache::{Cached, Made, Outcome, ResultCache, Stats};
use crate::config::{ServerConfig, TransformHook};
use crate::metrics as m;
use crate::originals::Originals;
use crate::pool::{Admission, TransformPool};
use crate::present;
use crate::rendition::{rendition_spec, Rendition};
use crate::working_copies::{CopyState, ReadyCopy, WorkingCopies};

/// Makes what the result cache misses. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Renderer {
    store: Arc<dyn Store>,
    originals: Originals,
    copies: WorkingCopies,
    cache: ResultCache,
    pool: TransformPool,
    stats: Arc<Stats>,
    limits: Limits,
    persist_derivatives: bool,
    hook: Option<TransformHook>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("store", &self.store)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// A renderer over `store`, filling `cache`, running on `pool`, as `config` says.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        originals: Originals,
        copies: WorkingCopies,
        cache: ResultCache,
        pool: TransformPool,
        stats: Arc<Stats>,
        config: &ServerConfig,
    ) -> Self {
        Self {
            store,
            originals,
            copies,
            cache,
            pool,
            stats,
            limits: config.limits,
            persist_derivatives: config.persist_derivatives,
            hook: config.transform_hook.clone(),
        }
    }

    /// Bytes and entries of the result cache now.
    /// What this server knows of deleted originals.
    pub(crate) fn takedowns(&self) -> &crate::takedowns::Takedowns {
        self.cache.takedowns()
    }

    /// Drops every result of the original `hash` (it was deleted).
    pub(crate) fn forget(&self, hash: &ContentHash) {
        self.cache.forget(hash);
    }

    pub(crate) async fn cache_size(&self) -> (u64, u64) {
        self.cache.size().await
    }

    /// A rendition: memory cache, then (with `persist_derivatives`) the store's derived space,
    /// then a transform on the CPU pool, coalesced across identical requests.
    /// The rendition at result-cache key `key` (of the original `hash`) when it is in memory
    /// (a hit, counted), without making anything.
    pub(crate) async fn cached_rendition(&self, hash: &ContentHash, key: &str) -> Option<Cached> {
        self.cache.hit(hash, key).await
    }

    pub(crate) async fn rendition(
        &self,
        rendition: &Rendition,
    ) -> Result<(Cached, Outcome), ApiError> {
        self.cache
            .get_or_make(rendition.hash(), rendition.key(), || {
                let rendition = rendition.clone();
                let this = self.clone();
                async move {
                    let derived_key = this
                        .persist_derivatives
                        .then(|| DerivedKey::new(*rendition.hash(), rendition.spec()).ok())
                        .flatten();
                    if let Some(found) = this.read_derived(derived_key.as_ref()).await {
                        return Ok((found, Made::FromDerived));
                    }
                    let (made, format) = this.transform(&rendition).await?;
                    if let Some(key) = derived_key {
                        // A fallback (a negotiated AVIF made as WebP) is stored as what it is,
                        // under the spec of its own format, never under the one asked for.
                        let key = if format == rendition.format() {
                            Some(key)
                        } else {
                            DerivedKey::new(
                                *rendition.hash(),
                                rendition_spec(rendition.pipeline(), format),
                            )
                            .ok()
                        };
                        if let Some(key) = key {
                            this.write_derived(key, made.bytes.clone());
                        }
                    }
                    Ok((made, Made::Computed))
                }
            })
            .await
    }

    /// The derivative at `key` in the store's derived space, when there is one and it is an
    /// image (anything else is made again).
    async fn read_derived(&self, key: Option<&DerivedKey>) -> Option<Cached> {
        match self.store.get_derived(key?).await {
            Ok(got) => {
                let format = ImageFormat::sniff(&got.bytes)?;
                Some(Cached {
                    bytes: got.bytes,
                    content_type: format.mime_type(),
                    origin: Arc::from("derived"),
                })
            }
            Err(err) if err.is_not_found() => None,
            Err(err) => {
                tracing::debug!(error = %err, "derived read failed");
                None
            }
        }
    }

    /// Writes a new derivative to the derived space in the background: it only saves other
    /// replicas work, so nobody waits for it.
    fn write_derived(&self, key: DerivedKey, data: Bytes) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.put_derived(&key, data).await {
                tracing::warn!(key = %key, error = %err, "writing a derivative failed");
            }
        });
    }

    /// Makes `rendition` from its original on the CPU pool; also returns the format made (the
    /// one asked for, or WebP when a negotiated AVIF fell back).
    async fn transform(&self, rendition: &Rendition) -> Result<(Cached, ImageFormat), ApiError> {
        let mut original = None;
        if self.copies.enabled() {
            let (state, read) = self.copies.get(rendition.hash()).await?;
            if let CopyState::Ready(ready) = state {
                if ready.copy.fits(rendition.pipeline(), &self.limits) {
                    self.copies.used(rendition.hash(), &ready);
                    return self.transform_copy(rendition, ready).await;
                }
            }
            original = read;
        }
        // Admitted first: a request waiting for a worker does not hold its original (unless
        // looking for a working copy just read it).
        let admission = self.pool.admit().await?;
        let (source, region) = match original {
            Some(read) => read,
            None => self.originals.read(rendition.hash()).await?,
        };
        // The header is parsed once, here (microseconds); a bad one fails inside the job below,
        // like any other engine error.
        let planned = origami_engine::plan(source, rendition.pipeline(), &self.limits);
        let cost = match &planned {
            Ok(plan) => weigh(rendition, &self.limits, |format| plan.cost(format))
                .map_err(|e| e.with_region(Some(region.to_string())))?,
            Err(_) => Cost::default(),
        };
        self.make(rendition, admission, cost, region, move |format| {
            planned.as_ref().map_err(Clone::clone)?.run(format)
        })
        .await
    }

    /// Makes `rendition` from its original's working copy on the CPU pool (see
    /// [`Renderer::transform`]).
    async fn transform_copy(
        &self,
        rendition: &Rendition,
        ready: Arc<ReadyCopy>,
    ) -> Result<(Cached, ImageFormat), ApiError> {
        let region = ready.region.clone();
        let admission = self.pool.admit().await?;
        let pipeline = rendition.pipeline().clone();
        let limits = self.limits;
        let cost = weigh(rendition, &limits, |format| {
            ready.copy.cost(&pipeline, format, &limits)
        })
        .map_err(|e| e.with_region(Some(region.to_string())))?;
        self.make(rendition, admission, cost, region, move |format| {
            ready.copy.run(&pipeline, format, &limits)
        })
        .await
    }

    /// Runs `run` (one output format -> the encoded rendition) on the CPU pool for
    /// `rendition`, timed, falling back from a negotiated AVIF too large for AVIF to WebP, and
    /// returns it with the format made; `region` is where its source came from.
    async fn make<F>(
        &self,
        rendition: &Rendition,
        admission: Admission,
        cost: Cost,
        region: Arc<str>,
        run: F,
    ) -> Result<(Cached, ImageFormat), ApiError>
    where
        F: Fn(ImageFormat) -> Result<Transformed, EngineError> + Send + 'static,
    {
        let format = rendition.format();
        let negotiated = rendition.negotiated();
        let op = op_label(rendition.pipeline());
        let out = self
            .run_engine(admission, cost, rendition.key(), move || {
                let start = Instant::now();
                let mut result = run(format);
                if negotiated
                    && format == ImageFormat::Avif
                    && matches!(result, Err(EngineError::TooLarge(_)))
                {
                    result = run(ImageFormat::WebP);
                }
                if let Ok(out) = &result {
                    m::transform(op, out.format.extension(), start.elapsed());
                }
                result
            })
            .await?
            .map_err(|e| ApiError::from(e).with_region(Some(region.to_string())))?;
        let cached = Cached {
            bytes: Bytes::from(out.bytes),
            content_type: out.format.mime_type(),
            origin: region,
        };
        Ok((cached, out.format))
    }

    /// The ThumbHash of `hash` as JSON (`png` false) or its rendered PNG.
    pub(crate) async fn thumbhash(
        &self,
        hash: &ContentHash,
        png: bool,
    ) -> Result<(Cached, Outcome), ApiError> {
        let ext = if png { "png" } else { "json" };
        let key = format!("{hash}/v{ENGINE_VERSION}/thumbhash.{ext}");
        let hash = *hash;
        let make = || {
            let key = key.clone();
            let this = self.clone();
            async move {
                let (copy, original) = if this.copies.enabled() {
                    this.copies.get(&hash).await?
                } else {
                    (CopyState::NotWorthIt, None)
                };
                let admission = this.pool.admit().await?;
                let limits = this.limits;
                // From the working copy when the original has one (a decode of nothing), else
                // from the original at its smallest useful scale.
                let (work, cost, region): (Box<dyn FnOnce() -> _ + Send>, Cost, Arc<str>) =
                    match copy {
                        CopyState::Ready(ready) => {
                            let region = ready.region.clone();
                            let work = move || ready.copy.thumbhash();
                            (Box::new(work), Cost::default(), region)
                        }
                        CopyState::NotWorthIt => {
                            let (source, region) = match original {
                                Some(read) => read,
                                None => this.originals.read(&hash).await?,
                            };
                            let cost = origami_engine::plan(&source, &THUMBHASH_DECODE, &limits)
                                .map_or(Cost::default(), |plan| plan.cost(ImageFormat::Png));
                            let work = move || origami_engine::thumbhash(&source, &limits);
                            (Box::new(work), cost, region)
                        }
                    };
                let (bytes, content_type) = this
                    .run_engine(admission, cost, &key, move || {
                        let thumbhash: ThumbHash = work()?;
                        if png {
                            let png = origami_engine::render_thumbhash(&thumbhash.hash)?;
                            Ok((png, "image/png"))
                        } else {
                            let json = present::thumbhash(&thumbhash).to_string();
                            Ok((json.into_bytes(), "application/json"))
                        }
                    })
                    .await?
                    .map_err(|e: EngineError| {
                        ApiError::from(e).with_region(Some(region.to_string()))
                    })?;
                let cached = Cached {
                    bytes: Bytes::from(bytes),
                    content_type,
                    origin: region,
                };
                Ok((cached, Made::Computed))
            }
        };
        self.cache.get_or_make(&hash, &key, make).await
    }

    /// Runs `work`, estimated at `cost`, on the CPU pool, after the transform hook.
    /// `admission` comes from [`TransformPool::admit`], taken before the input was read.
    async fn run_engine<T, F>(
        &self,
        admission: Admission,
        cost: Cost,
        key: &str,
        work: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let hook = self.hook.clone();
        let key = key.to_owned();
        let result = admission
            .run_weighted(cost.memory_bytes, cost.work_ms, move || {
                if let Some(hook) = hook {
                    hook(&key);
                }
                work()
            })
            .await;
        self.stats.transformed();
        Ok(result?)
    }
}

/// What making `rendition` costs, given `cost_of` one output format, refused at once (422, before
/// it waits for anything) when over `limits.max_cost`. A negotiated AVIF over the limit is made
/// as WebP (the engine falls back on the same refusal), so then WebP's cost is the one that
/// counts; its memory is the larger of the two, as both may run.
fn weigh(
    rendition: &Rendition,
    limits: &Limits,
    cost_of: impl Fn(ImageFormat) -> Cost,
) -> Result<Cost, ApiError> {
    let format = rendition.format();
    let cost = cost_of(format);
    if !(rendition.negotiated() && format == ImageFormat::Avif) {
        return Ok(cost.check(format, limits)?);
    }
    let fallback = cost_of(ImageFormat::WebP);
    let made = match cost.check(format, limits) {
        Ok(avif) => avif,
        Err(_) => fallback.check(ImageFormat::WebP, limits)?,
    };
    Ok(Cost {
        memory_bytes: cost.memory_bytes.max(fallback.memory_bytes),
        ..made
    })
}

/// The `op` label of `origami_transform_seconds`: the first operation.
fn op_label(pipeline: &Pipeline) -> &'static str {
    match pipeline.ops().first() {
        Some(Op::Thumb { .. }) => "thumb",
        Some(Op::Fit { .. }) => "fit",
        Some(Op::Blur { .. }) => "blur",
        Some(Op::Sharpen { .. }) => "sharpen",
        Some(Op::Rotate { .. }) => "rotate",
        Some(Op::Flip { .. }) => "flip",
        Some(Op::Pad { .. }) => "pad",
        None => "convert",
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
