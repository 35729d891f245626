//! [`AppState`]: what the handlers share — the store, the configuration, the result cache, the
//! originals, the miss path, the CPU pool and the counters. It wires the parts together and
//! holds no logic of its own.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use origami_store::{ContentHash, Store};

use crate::api_error::ApiError;
use crate::cache::{Cached, Outcome, ResultCache, Stats, StatsSnapshot};
use crate::config::ServerConfig;
use crate::cors::CorsOrigins;
use crate::hit_memo::{HitMemo, Resolved};
use crate::metrics::{self as m, HttpMetrics};
use crate::original_sends::OriginalSends;
use crate::originals::{OriginalInfo, Originals};
use crate::phase::Phase;
use crate::pool::TransformPool;
use crate::render::Renderer;
use crate::rendition::Rendition;
use crate::takedowns::Takedowns;
use crate::working_copies::{WorkingCopies, WorkingCopyConfig};

/// Everything the handlers share. Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: ServerConfig,
    originals: Originals,
    original_sends: OriginalSends,
    renderer: Renderer,
    copies: WorkingCopies,
    pool: TransformPool,
    stats: Arc<Stats>,
    http_metrics: Arc<HttpMetrics>,
    prometheus: Option<PrometheusHandle>,
    phase: AtomicU8,
    /// Off when CORS is on: the CORS layer shapes every read answer by its `Origin`, which the
    /// memo's answers would skip.
    hit_memo: Option<HitMemo>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state over any [`Store`] (in production a
    /// [`FailoverStore`](origami_store::FailoverStore)): a result cache of
    /// `config.cache_memory_bytes`, a pool of `config.workers` threads. `prometheus` is what
    /// `/metrics` renders (404 without one). Fails only when the pool's threads cannot be
    /// started.
    pub fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        prometheus: Option<PrometheusHandle>,
    ) -> std::io::Result<Self> {
        m::describe();
        let stats = Arc::new(Stats::default());
        let takedowns = Takedowns::new(store.clone(), config.takedown_recheck);
        let cache = ResultCache::new(config.cache_memory_bytes, stats.clone(), takedowns);
        // The decoded working copies are counted in the transform memory budget (at most half
        // of it): the pool's transforms get the rest.
        let copies_memory = if config.working_copy.max_side > 0 {
            config
                .working_copy
                .memory_bytes
                .min(config.transform_memory_bytes / 2)
        } else {
            0
        };
        let pool = TransformPool::new(
            config.workers,
            config.max_queue,
            config.transform_memory_bytes - copies_memory,
        )?;
        let originals = Originals::new(store.clone(), cache.clone());
        let copies = WorkingCopies::new(
            WorkingCopyConfig {
                memory_bytes: copies_memory,
                ..config.working_copy
            },
            store.clone(),
            originals.clone(),
            pool.clone(),
            config.limits,
            stats.clone(),
        );
        let renderer = Renderer::new(
            store.clone(),
            originals.clone(),
            copies.clone(),
            cache,
            pool.clone(),
            stats.clone(),
            &config,
        );
        let original_sends = OriginalSends::new(config.max_original_bytes_in_flight);
        let hit_memo = (config.cors == CorsOrigins::None)
            .then(|| HitMemo::new(config.cache_memory_bytes / HitMemo::SHARE));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                originals,
                original_sends,
                renderer,
                copies,
                pool,
                stats,
                http_metrics: Arc::new(HttpMetrics::new()),
                prometheus,
                phase: AtomicU8::new(Phase::Starting as u8),
                hit_memo,
            }),
        })
    }

    /// Where the server is in its life.
    pub fn phase(&self) -> Phase {
        match self.inner.phase.load(Ordering::SeqCst) {
            0 => Phase::Starting,
            1 => Phase::Serving,
            _ => Phase::Draining,
        }
    }

    /// Moves to `phase`; never back from draining.
    pub(crate) fn set_phase(&self, phase: Phase) {
        let _ = self
            .inner
            .phase
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                (now != Phase::Draining as u8).then_some(phase as u8)
            });
    }

    /// Sets the gauges read at each scrape (see [`m::set_gauges`]).
    pub(crate) async fn refresh_gauges(&self) {
        let inner = &*self.inner;
        m::set_gauges(m::Gauges {
            workers: inner.pool.workers(),
            workers_busy: inner.pool.busy(),
            memory_reserved: inner.pool.memory_reserved(),
            memory_budget: inner.config.transform_memory_bytes,
            results: inner.renderer.cache_size().await,
            working_copies: inner.copies.size().await,
        });
    }

    /// Drops everything held in memory for the original `hash` and remembers that it was
    /// deleted (`deleted`), or that it was restored.
    pub(crate) async fn forget_original(&self, hash: &ContentHash, deleted: bool) {
        let inner = &*self.inner;
        inner.renderer.takedowns().record(*hash, deleted);
        if deleted {
            inner.renderer.forget(hash);
            inner.originals.forget(hash).await;
            inner.copies.forget(hash).await;
        }
    }

    /// The budget of `/original/` bytes being sent.
    pub(crate) fn original_sends(&self) -> &OriginalSends {
        &self.inner.original_sends
    }

    /// An original's size when known without reading it (cached probe facts or bytes), else
    /// `None`.
    pub(crate) async fn known_original_size(&self, hash: &ContentHash) -> Option<u64> {
        self.inner.originals.known_size(hash).await
    }

    /// What `path` resolved to when the router last answered it (see [`HitMemo`]).
    pub(crate) fn resolved_path(&self, path: &str) -> Option<Arc<Resolved>> {
        self.inner.hit_memo.as_ref()?.get(path)
    }

    /// Remembers what `path` resolved to (see [`HitMemo::remember`]).
    pub(crate) fn remember_path(&self, path: &str, rendition: &Rendition, etag: &str) {
        if let Some(memo) = &self.inner.hit_memo {
            memo.remember(path, *rendition.hash(), rendition.key(), etag);
        }
    }

    /// The rendition at result-cache key `key` (of `hash`) when it is in memory: a hit, counted
    /// (as one answered through the hit memo too).
    pub(crate) async fn remembered_rendition(
        &self,
        hash: &ContentHash,
        key: &str,
    ) -> Option<Cached> {
        let found = self.inner.renderer.cached_rendition(hash, key).await?;
        self.inner.stats.remembered();
        Some(found)
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The CPU pool.
    pub fn pool(&self) -> &TransformPool {
        &self.inner.pool
    }

    /// The working copies of large originals.
    pub(crate) fn working_copies(&self) -> &WorkingCopies {
        &self.inner.copies
    }

    /// The HTTP metrics' handles (the access-log middleware's state).
    pub(crate) fn http_metrics(&self) -> Arc<HttpMetrics> {
        self.inner.http_metrics.clone()
    }

    /// The Prometheus handle, if one was given.
    pub fn prometheus(&self) -> Option<&PrometheusHandle> {
        self.inner.prometheus.as_ref()
    }

    /// This instance's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// An original through the memory cache (the `/original/` route).
    pub async fn original(&self, hash: &ContentHash) -> Result<(Cached, Outcome), ApiError> {
        self.inner.originals.cached(hash).await
    }

    /// Probe facts about an original (cached by hash).
    pub async fn original_info(&self, hash: &ContentHash) -> Result<OriginalInfo, ApiError> {
        self.inner.originals.info(hash).await
    }

    /// A rendition of its original: memory cache, then (with `persist_derivatives`) the
    /// store's derived space, then a transform on the CPU pool, coalesced across identical
    /// requests.
    pub async fn rendition(&self, rendition: &Rendition) -> Result<(Cached, Outcome), ApiError> {
        self.inner.renderer.rendition(rendition).await
    }

    /// The ThumbHash of `hash` as JSON (`png` false) or its rendered PNG.
    pub async fn thumbhash(
        &self,
        hash: &ContentHash,
        png: bool,
    ) -> Result<(Cached, Outcome), ApiError> {
        self.inner.renderer.thumbhash(hash, png).await
    }
}
