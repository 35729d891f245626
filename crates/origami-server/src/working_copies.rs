//! [`WorkingCopies`]: one reduced, losslessly stored rendition per large original
//! ([`origami_engine::WorkingCopy`]), so that a large original is decoded once, not once per
//! derivative.
//!
//! Where a copy comes from, cheapest first: the decoded copies in memory (a byte-bounded
//! cache), the store's derived space (`derived/<hash>/v<engine>/working-copy/<max_side>.ogwc`,
//! shared by every replica and region, verified by its BLAKE3), and last the original, decoded
//! once on the CPU pool (or by the upload that brought it). A new copy is written back in the
//! background once a second derivative is made from it. Concurrent requests for one original
//! (a srcset burst of different sizes) share that single read and decode.
//!
//! Which requests use the copy is decided by the engine from the pipeline and the original's
//! header alone, and the copy is lossless, so a URL's bytes are the same whether its copy was
//! made now, read back from the store or found in memory.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use moka::future::Cache;
use origami_engine::{EngineError, Limits, WorkingCopy, WorkingCopyCodec, ENGINE_VERSION};
use origami_store::{ContentHash, DerivedKey, Store};

use crate::api_error::ApiError;
use crate::cache::Stats;
use crate::originals::Originals;
use crate::pool::TransformPool;

/// The `[working_copy]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingCopyConfig {
    /// The copies' long side in pixels; 0 turns working copies off. Originals at least 1.5x
    /// this size get one.
    pub max_side: u32,
    /// Bytes of decoded copies kept in memory. They are counted in the transform memory
    /// budget: the CPU pool gets `transform_memory_bytes` minus this.
    pub memory_bytes: u64,
}

impl WorkingCopyConfig {
    /// The default long side: 2048 pixels.
    pub const DEFAULT_MAX_SIDE: u32 = 2048;
}

/// What is known about an original's working copy.
#[derive(Debug, Clone)]
pub(crate) enum CopyState {
    /// The copy.
    Ready(Arc<ReadyCopy>),
    /// The original is too small to be worth one: derivatives are made from it directly.
    NotWorthIt,
}

/// A decoded working copy in memory.
#[derive(Debug)]
pub(crate) struct ReadyCopy {
    /// Its pixels.
    pub(crate) copy: WorkingCopy,
    /// The region its pixels came from (`working-copy` when read back from the derived space,
    /// else the original's region).
    pub(crate) region: Arc<str>,
    /// Derivatives made from it so far, or `u32::MAX` once it is in the derived space.
    uses: AtomicU32,
}

impl ReadyCopy {
    fn new(copy: WorkingCopy, region: Arc<str>, stored: bool) -> Arc<Self> {
        Arc::new(Self {
            copy,
            region,
            uses: AtomicU32::new(if stored { u32::MAX } else { 0 }),
        })
    }
}

/// What the derived space holds for a copy.
enum Stored {
    /// A copy that passed its checks.
    Found(WorkingCopy),
    /// No copy (or none could be read).
    Missing,
    /// A copy that failed its checks.
    Damaged,
}

/// An original's bytes and the region that served them.
pub(crate) type Original = (Bytes, Arc<str>);

/// The working copies of originals. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct WorkingCopies {
    config: WorkingCopyConfig,
    store: Arc<dyn Store>,
    originals: Originals,
    pool: TransformPool,
    limits: Limits,
    stats: Arc<Stats>,
    decoded: Cache<ContentHash, CopyState>,
}

impl std::fmt::Debug for WorkingCopies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkingCopies")
            .field("config", &self.config)
            .field("in_memory", &self.decoded.entry_count())
            .finish_non_exhaustive()
    }
}

/// The codec copies are stored with: PNG decoded faster than QOI on four of the five benchmark
/// photos and was about as large (see the README's working copy section).
const CODEC: WorkingCopyCodec = WorkingCopyCodec::Png;

impl WorkingCopies {
    /// Working copies as `config` says, read from and written to `store`'s derived space,
    /// made on `pool` from `originals`.
    pub(crate) fn new(
        config: WorkingCopyConfig,
        store: Arc<dyn Store>,
        originals: Originals,
        pool: TransformPool,
        limits: Limits,
        stats: Arc<Stats>,
    ) -> Self {
        let decoded = Cache::builder()
            .max_capacity(config.memory_bytes)
            .weigher(|_: &ContentHash, state: &CopyState| match state {
                CopyState::Ready(ready) => {
                    u32::try_from(ready.copy.memory_bytes()).unwrap_or(u32::MAX)
                }
                CopyState::NotWorthIt => 1,
            })
            .build();
        Self {
            config,
            store,
            originals,
            pool,
            limits,
            stats,
            decoded,
        }
    }

    /// Drops the decoded copy of `hash` (it was deleted; the stored one went with the store's
    /// derived objects).
    pub(crate) async fn forget(&self, hash: &ContentHash) {
        self.decoded.invalidate(hash).await;
    }

    /// Bytes (as weighed) and entries of the decoded copies held now.
    pub(crate) async fn size(&self) -> (u64, u64) {
        self.decoded.run_pending_tasks().await;
        (self.decoded.weighted_size(), self.decoded.entry_count())
    }

    /// Whether working copies are on (`max_side` > 0).
    pub(crate) fn enabled(&self) -> bool {
        self.config.max_side > 0
    }

    /// The derived-space key of `hash`'s copy: it names the engine version and the size, so a
    /// copy made by another engine or with another `max_side` is never read for this one.
    fn key(&self, hash: &ContentHash) -> Option<DerivedKey> {
        let spec = format!(
            "v{ENGINE_VERSION}/working-copy/{}.ogwc",
            self.config.max_side
        );
        DerivedKey::new(*hash, spec).ok()
    }

    /// The working copy of `hash`, or [`CopyState::NotWorthIt`]: from memory, else the derived
    /// space, else made from the original. One caller per original does the work; the others
    /// wait for it. When this caller read the original and found it too small for a copy, the
    /// original comes back too, so that the caller does not read it a second time.
    pub(crate) async fn get(
        &self,
        hash: &ContentHash,
    ) -> Result<(CopyState, Option<Original>), ApiError> {
        if self.originals.is_deleted(hash) {
            self.decoded.invalidate(hash).await;
        }
        let hash = *hash;
        let read = parking_lot::Mutex::new(None);
        let state = self
            .decoded
            .try_get_with(hash, self.load(hash, &read))
            .await
            .map_err(|e| (*e).clone())?;
        Ok((state, read.into_inner()))
    }

    /// Reads the copy back from the derived space, or makes it; an original read and found too
    /// small is left in `read`.
    async fn load(
        &self,
        hash: ContentHash,
        read: &parking_lot::Mutex<Option<Original>>,
    ) -> Result<CopyState, ApiError> {
        let damaged = match self.read_stored(&hash).await {
            Stored::Found(copy) => {
                crate::metrics::working_copy("stored");
                return Ok(CopyState::Ready(ReadyCopy::new(
                    copy,
                    Arc::from("working-copy"),
                    true,
                )));
            }
            Stored::Missing => false,
            Stored::Damaged => true,
        };
        let admission = self.pool.admit().await?;
        let (source, region) = self.originals.read(&hash).await?;
        let (max_side, limits) = (self.config.max_side, self.limits);
        let with_region = |e: EngineError| ApiError::from(e).with_region(Some(region.to_string()));
        let memory = match WorkingCopy::making_memory(&source, max_side, &limits) {
            Ok(Some(memory)) => memory,
            // Too small for a copy, or a header the engine refuses: the caller's direct path
            // uses (and reports on) the original.
            Ok(None) | Err(_) => {
                *read.lock() = Some((source, region));
                return Ok(CopyState::NotWorthIt);
            }
        };
        let made = admission
            .run_weighted(memory, 0, move || {
                WorkingCopy::from_original(&source, max_side, &limits)
            })
            .await?
            .map_err(with_region)?;
        Ok(match made {
            Some(copy) => {
                crate::metrics::working_copy("made");
                self.stats.copy_made();
                let ready = ReadyCopy::new(copy, region, false);
                if damaged {
                    // It was stored before, so it is in demand: replace the damaged one now.
                    ready.uses.store(u32::MAX, Ordering::SeqCst);
                    self.write_back(hash, ready.clone());
                }
                CopyState::Ready(ready)
            }
            None => CopyState::NotWorthIt,
        })
    }

    /// The stored copy of `hash`, when there is one and it checks out; anything else (absent,
    /// damaged, made with other settings, a store error) means "make it again".
    async fn read_stored(&self, hash: &ContentHash) -> Stored {
        let Some(key) = self.key(hash) else {
            return Stored::Missing;
        };
        let got = match self.store.get_derived(&key).await {
            Ok(got) => got,
            Err(err) if err.is_not_found() => return Stored::Missing,
            Err(err) => {
                tracing::debug!(key = %key, error = %err, "reading a working copy failed");
                return Stored::Missing;
            }
        };
        let (max_side, limits) = (self.config.max_side, self.limits);
        let bytes = got.bytes;
        let decoded = self
            .pool
            .run(move || WorkingCopy::from_bytes(&bytes, max_side, &limits))
            .await;
        match decoded {
            Ok(Ok(copy)) => Stored::Found(copy),
            Ok(Err(err)) => {
                tracing::warn!(key = %key, error = %err, "a stored working copy is damaged: making it again");
                crate::metrics::working_copy("damaged");
                Stored::Damaged
            }
            Err(_) => Stored::Missing,
        }
    }

    /// Keeps `copy`, made from `hash` outside [`WorkingCopies::get`] (an upload decodes its
    /// original once and hands the copy over).
    pub(crate) async fn insert(&self, hash: ContentHash, copy: WorkingCopy, region: Arc<str>) {
        crate::metrics::working_copy("upload");
        self.stats.copy_made();
        self.decoded
            .insert(hash, CopyState::Ready(ReadyCopy::new(copy, region, false)))
            .await;
    }

    /// Counts a derivative made from `ready`, the copy of `hash`, and writes the copy to the
    /// derived space when this is its second: a copy used once (the one thumbnail of a new
    /// original) is not worth its encode and its bytes in the store, one used twice (a srcset,
    /// new sizes) is. Whoever needs it later without it makes the same pixels again.
    pub(crate) fn used(&self, hash: &ContentHash, ready: &Arc<ReadyCopy>) {
        let second = ready
            .uses
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n != u32::MAX).then(|| if n >= 1 { u32::MAX } else { n + 1 })
            })
            .is_ok_and(|before| before == 1);
        if second {
            self.write_back(*hash, ready.clone());
        }
    }

    /// Encodes and stores a new copy in the background: it saves every later reader (other
    /// replicas, this one after a restart) a decode of the original, but nobody waits for it.
    fn write_back(&self, hash: ContentHash, ready: Arc<ReadyCopy>) {
        let Some(key) = self.key(&hash) else {
            return;
        };
        let store = self.store.clone();
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let encoded = match pool.run(move || ready.copy.to_bytes(CODEC)).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(err)) => {
                    tracing::warn!(key = %key, error = %err, "encoding a working copy failed");
                    return;
                }
                // A saturated pool: the next reader makes the copy again.
                Err(_) => return,
            };
            if let Err(err) = store.put_derived(&key, Bytes::from(encoded)).await {
                tracing::warn!(key = %key, error = %err, "writing a working copy failed");
            }
        });
    }
}
