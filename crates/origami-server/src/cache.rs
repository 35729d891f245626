//! [`ResultCache`]: response bodies by key in memory, weighed in bytes, with coalescing of
//! identical misses, and the per-instance [`Stats`] of its outcomes.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use moka::future::Cache;
use origami_store::ContentHash;

use crate::api_error::ApiError;
use crate::metrics as m;
use crate::takedowns::Takedowns;

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
    /// Its place in [`Stats`]'s counter handles.
    fn index(self) -> usize {
        match self {
            Outcome::Hit => 0,
            Outcome::Miss => 1,
            Outcome::Coalesced => 2,
            Outcome::Derived => 3,
        }
    }

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

/// How the request whose `make` ran obtained the value of a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Made {
    /// It computed it (a transform, or a read of the original).
    Computed,
    /// It read it from the store's derived space.
    FromDerived,
}

/// Counters of one server instance (the same events go to the metrics facade; these are
/// per-instance, which tests running several servers in one process need).
#[derive(Default)]
pub struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
    derived: AtomicU64,
    transforms: AtomicU64,
    lookups: AtomicU64,
    copies_made: AtomicU64,
    remembered: AtomicU64,
    /// `origami_cache_total{outcome}`, by [`Outcome::index`]: looked up in the recorder once,
    /// not on every request (a registry lookup that hashes the labels).
    outcome_counters: [OnceLock<metrics::Counter>; 4],
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Stats").field(&self.snapshot()).finish()
    }
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
    /// Working copies made by decoding an original (by a request or an upload), not read back
    /// from the store.
    pub working_copies_made: u64,
    /// Hits answered through the hit memo, without the router (a subset of `hits`).
    pub remembered: u64,
}

impl Stats {
    /// A snapshot of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
        StatsSnapshot {
            hits: load(&self.hits),
            misses: load(&self.misses),
            coalesced: load(&self.coalesced),
            derived: load(&self.derived),
            transforms: load(&self.transforms),
            lookups: load(&self.lookups),
            working_copies_made: load(&self.copies_made),
            remembered: load(&self.remembered),
        }
    }

    /// Counts one engine run.
    pub(crate) fn transformed(&self) {
        self.transforms.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts one hit answered through the hit memo.
    pub(crate) fn remembered(&self) {
        self.remembered.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts one working copy decoded from its original.
    pub(crate) fn copy_made(&self) {
        self.copies_made.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Hit => &self.hits,
            Outcome::Miss => &self.misses,
            Outcome::Coalesced => &self.coalesced,
            Outcome::Derived => &self.derived,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        self.outcome_counters[outcome.index()]
            .get_or_init(|| m::cache_counter(outcome.as_str()))
            .increment(1);
    }
}

/// Response bodies by key (`<hash>/<spec>`, `<hash>/original`), at most `max_bytes` of keys and
/// bodies. Cloning is cheap and shares the cache.
///
/// An entry weighing more than [`MAX_ENTRY_FRACTION`] of the cache is answered but not kept:
/// moka admits an entry first and evicts down to the bound afterwards, so one large original
/// (a 4 MB photo in a 1 MiB cache) would otherwise be served from memory past the bound and push
/// out hundreds of derivatives on its way.
#[derive(Debug, Clone)]
pub(crate) struct ResultCache {
    /// Keyed by strings a client chooses (paths), hashed with a per-process random seed.
    cache: Cache<String, Cached, foldhash::fast::RandomState>,
    max_entry_bytes: u64,
    stats: Arc<Stats>,
    takedowns: Takedowns,
}

/// The largest share of the cache's bytes one entry may take (1/`MAX_ENTRY_FRACTION`).
pub(crate) const MAX_ENTRY_FRACTION: u64 = 8;

/// What an entry weighs against the cache's byte bound: its key, its body and a fixed overhead.
fn weight(key: &str, value: &Cached) -> u64 {
    (key.len() + value.bytes.len() + 64) as u64
}

/// Why a made entry did not go into the cache: an error (never cached), or a result too large
/// to keep, which still goes to every caller waiting for it.
#[derive(Debug)]
enum NotKept {
    Failed(ApiError),
    TooLarge(Cached),
}

impl ResultCache {
    /// An empty cache of `max_bytes`, counting its outcomes in `stats`; an entry of an original
    /// `takedowns` knows to be deleted is dropped instead of served.
    pub(crate) fn new(max_bytes: u64, stats: Arc<Stats>, takedowns: Takedowns) -> Self {
        let cache = Cache::builder()
            .support_invalidation_closures()
            .max_capacity(max_bytes)
            .weigher(|key: &String, value: &Cached| {
                u32::try_from(weight(key, value)).unwrap_or(u32::MAX)
            })
            .eviction_listener(|_key, _value, cause| {
                if cause == moka::notification::RemovalCause::Size {
                    m::cache_evicted();
                }
            })
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self {
            cache,
            max_entry_bytes: max_bytes / MAX_ENTRY_FRACTION,
            stats,
            takedowns,
        }
    }

    /// What this server knows of deleted originals.
    pub(crate) fn takedowns(&self) -> &Takedowns {
        &self.takedowns
    }

    /// The entry at `key`, an entry of the original `hash`, unless that original is known to
    /// be deleted (then it is dropped).
    async fn live(&self, hash: &ContentHash, key: &str) -> Option<Cached> {
        let found = self.cache.get(key).await?;
        if self.takedowns.is_deleted(hash) {
            self.cache.invalidate(key).await;
            return None;
        }
        Some(found)
    }

    /// Drops every entry of the original `hash` (it was deleted).
    pub(crate) fn forget(&self, hash: &origami_store::ContentHash) {
        let prefix = format!("{hash}/");
        if let Err(err) = self
            .cache
            .invalidate_entries_if(move |key, _| key.starts_with(&prefix))
        {
            tracing::warn!(error = %err, "dropping a deleted original's results failed");
        }
    }

    /// Bytes (as weighed) and entries held now, after pending evictions ran.
    pub(crate) async fn size(&self) -> (u64, u64) {
        self.cache.run_pending_tasks().await;
        (self.cache.weighted_size(), self.cache.entry_count())
    }

    /// The entry at `key` (an entry of the original `hash`), if any, without counting an
    /// outcome.
    pub(crate) async fn peek(&self, hash: &ContentHash, key: &str) -> Option<Cached> {
        self.live(hash, key).await
    }

    /// The entry at `key` (an entry of the original `hash`) when it is in memory, counted as a
    /// hit; `None` otherwise, counting nothing (the caller goes on to [`ResultCache::get_or_make`],
    /// which counts what happens there).
    pub(crate) async fn hit(&self, hash: &ContentHash, key: &str) -> Option<Cached> {
        let found = self.live(hash, key).await?;
        self.stats.count(Outcome::Hit);
        Some(found)
    }

    /// Looks `key` (an entry of the original `hash`) up; on a miss builds and runs `make()` once for all concurrent callers of
    /// the same key (coalescing) and caches its result (errors are not cached, nor results over
    /// the entry bound, though every waiting caller gets them). `make` is only
    /// called on a miss, so a hit copies nothing.
    ///
    /// The making runs in a task of its own, so a caller that gives up (its request deadline
    /// passed, its client went away) does not cancel it: the result still lands in the cache,
    /// and the CDN's retry of a `503 timeout` is a hit or joins the work in flight instead of
    /// starting it again. What may be left running this way is bounded by the CPU pool's
    /// admission limit, which every transform passes.
    pub(crate) async fn get_or_make<M, F>(
        &self,
        hash: &ContentHash,
        key: &str,
        make: M,
    ) -> Result<(Cached, Outcome), ApiError>
    where
        M: FnOnce() -> F,
        F: Future<Output = Result<(Cached, Made), ApiError>> + Send + 'static,
    {
        if let Some(found) = self.live(hash, key).await {
            self.stats.count(Outcome::Hit);
            return Ok((found, Outcome::Hit));
        }
        self.stats.lookups.fetch_add(1, Ordering::SeqCst);
        // Set only when this caller's `make` ran; otherwise another caller's did (coalesced).
        let made_here = Arc::new(OnceLock::new());
        let make = make();
        let cache = self.cache.clone();
        let key = key.to_owned();
        let made = made_here.clone();
        let max_entry_bytes = self.max_entry_bytes;
        let making = tokio::spawn(async move {
            let key_len = key.len();
            cache
                .try_get_with(key, async move {
                    let (value, how) = make.await.map_err(NotKept::Failed)?;
                    let _ = made.set(how);
                    if weight("", &value) + key_len as u64 > max_entry_bytes {
                        return Err(NotKept::TooLarge(value));
                    }
                    Ok(value)
                })
                .await
        });
        let result = match making.await {
            Ok(result) => result,
            Err(join) => {
                // Only a panic gets here (nothing aborts the task): a bug, reported as such.
                tracing::error!(error = %join, "making a cache entry failed");
                return Err(ApiError::internal("the request failed unexpectedly"));
            }
        };
        let outcome = match made_here.get() {
            Some(Made::Computed) => Outcome::Miss,
            Some(Made::FromDerived) => Outcome::Derived,
            None => Outcome::Coalesced,
        };
        match result {
            Ok(value) => {
                self.stats.count(outcome);
                Ok((value, outcome))
            }
            Err(not_kept) => match &*not_kept {
                NotKept::Failed(err) => Err(err.clone()),
                NotKept::TooLarge(value) => {
                    self.stats.count(outcome);
                    Ok((value.clone(), outcome))
                }
            },
        }
    }
}
