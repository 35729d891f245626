//! [`FailoverStore`]: active-active reads and writes over N regions.
//!
//! One concern per file, each child importing only its siblings:
//!
//! | file | what |
//! | --- | --- |
//! | `config.rs` | [`FailoverConfig`], [`RepairConfig`] |
//! | `breaker.rs` | a region's circuit breaker and the permit an attempt needs |
//! | `attempt.rs` | a region (its layers: instrumented over verified, and its breaker); one attempt; `report_late` |
//! | `read.rs` | the rotating, hedged read |
//! | `write.rs` | the concurrent write with a quorum |
//! | `queue.rs` | the repair queue, with backoff |
//! | `shared.rs` | the state the clones, the paths and the worker share |
//! | `tombstones.rs` | whether an original was deleted: every region's tombstone, remembered |
//! | `repair.rs` | the background worker: repairs, queued deletes and probes |
//! | `mod.rs` | the store itself: constructor, accessors, the [`Store`] impl |

mod attempt;
mod breaker;
mod config;
mod queue;
mod read;
mod repair;
mod shared;
mod tombstones;
mod write;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::blob::Blob;
use crate::error::{CauseKind, RegionCause, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::lock::lock;
use crate::metrics;
use crate::store::{
    Access, DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, RegionCheck,
    RegionStatus, Store, Tombstone,
};

pub use config::{FailoverConfig, RepairConfig};

use attempt::Region;
use queue::RepairQueue;
use read::ReadOp;
use shared::Inner;
use tombstones::Tombstones;
use write::Written;

/// Counters kept by one [`FailoverStore`] (the same events also go to the metrics facade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailoverStats {
    /// Hedge requests started.
    pub hedged_reads: u64,
    /// Copies read whose bytes did not match their hash.
    pub integrity_failures: u64,
    /// Copies repaired by the background queue.
    pub repairs_done: u64,
    /// Repairs given up after [`RepairConfig::max_attempts`] (or dropped because the queue was
    /// full).
    pub repairs_abandoned: u64,
    /// Deletes that regions missed, made later by the background queue.
    pub deletes_done: u64,
}

/// Active-active storage over N regions, with no primary.
///
/// * Every region is wrapped in the [`VerifiedStore`](crate::VerifiedStore) and
///   [`InstrumentedStore`](crate::InstrumentedStore) layers: each attempt has a timeout
///   ([`FailoverConfig::attempt_timeout`], [`FailoverConfig::write_timeout`]) and is counted per
///   region, and every original read is checked against its hash.
/// * Reads start at a rotating region and move on to the next on error, timeout, `NotFound`
///   (replication lag) or a copy that fails BLAKE3 verification. A hash is `NotFound` only when
///   every region said so; otherwise, when no region served it, the error is `Unavailable` with
///   every region's cause. A read that has waited [`FailoverConfig::hedge_after`] on one region
///   starts the same read on the next and takes the first valid answer, cancelling the other.
///   [`GetResult::region`] names the region that served.
/// * Each region has a circuit breaker ([`FailoverConfig::breaker_failures`],
///   [`FailoverConfig::breaker_probe`]), exported as `origami_region_up{region}` and reported by
///   [`Store::region_status`]; a background worker probes open regions so that a recovered
///   region comes back without waiting for traffic.
/// * Writes go to every region at once and succeed when [`FailoverConfig::write_quorum`] regions
///   acknowledged; regions that missed a write are queued for background repair.
/// * Deletes ([`Store::delete`]) go to every region at once and succeed when one region
///   recorded the tombstone; the regions that missed one are queued and retried like repairs.
///   Reads of an original or its derived objects answer [`StoreError::Deleted`] when any
///   region that answers holds its tombstone (the answer is remembered for
///   [`FailoverConfig::tombstone_recheck`]), so a lagging region's copy is never served;
///   uploads of it are refused the same way until [`Store::restore`], and repair skips it.
///
/// Derived objects use the same read path (S3 regions verify them against a digest stored with
/// them) and the same concurrent writes, without repair: they are a cache.
///
/// Cloning is cheap and shares everything. The background worker stops when the last clone is
/// dropped.
#[derive(Clone)]
pub struct FailoverStore {
    inner: Arc<Inner>,
    _worker: Arc<repair::WorkerGuard>,
}

impl fmt::Debug for FailoverStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let regions: Vec<&str> = self.inner.regions.iter().map(|r| &*r.name).collect();
        f.debug_struct("FailoverStore")
            .field("name", &self.inner.name)
            .field("regions", &regions)
            .field("config", &self.inner.config)
            .finish()
    }
}

impl FailoverStore {
    /// A failover store over `regions` (their [`Store::name`]s must be distinct).
    ///
    /// Must be called inside a Tokio runtime: it starts the background repair and probe worker.
    /// Errors with [`StoreError::InvalidInput`] on an empty region list, duplicate names, or a
    /// write quorum of 0 or above the number of regions.
    pub fn new(regions: Vec<Arc<dyn Store>>, config: FailoverConfig) -> Result<Self> {
        if regions.is_empty() {
            return Err(StoreError::InvalidInput(
                "a failover store needs at least one region".into(),
            ));
        }
        let mut seen = HashSet::new();
        for region in &regions {
            if !seen.insert(region.name().to_owned()) {
                return Err(StoreError::InvalidInput(format!(
                    "duplicate region name {:?}",
                    region.name()
                )));
            }
        }
        if config.write_quorum == 0 || config.write_quorum > regions.len() {
            return Err(StoreError::InvalidInput(format!(
                "write_quorum {} must be between 1 and the number of regions ({})",
                config.write_quorum,
                regions.len()
            )));
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::InvalidInput(
                "FailoverStore::new must be called inside a Tokio runtime".into(),
            )
        })?;
        metrics::describe();
        let name = regions
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join("+");
        let regions = regions
            .into_iter()
            .map(|store| Region::new(store, &config))
            .collect();
        let inner = Arc::new(Inner {
            name,
            regions,
            repair: Arc::new(RepairQueue::new(config.repair.clone())),
            tombstones: Tombstones::new(config.tombstone_recheck),
            config,
            reads: Default::default(),
        });
        let worker = repair::spawn_worker(&handle, Arc::downgrade(&inner));
        Ok(Self {
            inner,
            _worker: Arc::new(worker),
        })
    }

    /// The regions, in configuration order, as they were given (without the layers).
    pub fn regions(&self) -> Vec<Arc<dyn Store>> {
        self.inner.regions.iter().map(|r| r.store.clone()).collect()
    }

    /// Each region's breaker state (the same as [`Store::region_status`], callable without the
    /// trait in scope).
    pub fn region_status(&self) -> Vec<RegionStatus> {
        self.inner
            .regions
            .iter()
            .map(|r| RegionStatus {
                name: r.name.to_string(),
                up: r.breaker.is_up(),
                consecutive_failures: r.breaker.consecutive_failures(),
                check: lock(&r.check).clone(),
            })
            .collect()
    }

    /// Region copies waiting in the repair queue (also the `origami_repair_pending` gauge).
    pub fn repair_pending(&self) -> usize {
        self.inner.repair.pending()
    }

    /// This store's counters.
    pub fn stats(&self) -> FailoverStats {
        FailoverStats {
            hedged_reads: self.inner.reads.hedged_reads.load(Ordering::Relaxed),
            integrity_failures: self.inner.reads.integrity_failures.load(Ordering::Relaxed),
            repairs_done: self.inner.repair.done(),
            repairs_abandoned: self.inner.repair.abandoned(),
            deletes_done: self.inner.repair.deletes_done(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FailoverConfig {
        &self.inner.config
    }

    /// `result`, served by region `idx`, labelled with that region.
    fn served_by(&self, (mut got, idx): (GetResult, usize)) -> GetResult {
        got.region = self.inner.regions[idx].name.clone();
        got
    }

    /// The union of every region's listing by `list`; an error only when no region could be
    /// listed.
    fn union_of_listings(&self, list: fn(&dyn Store) -> ListStream) -> ListStream {
        let inner = self.inner.clone();
        futures::stream::once(async move {
            let listings = futures::future::join_all(inner.regions.iter().map(|region| async move {
                let mut hashes = HashSet::new();
                let mut stream = list(&*region.store);
                while let Some(item) = stream.next().await {
                    hashes.insert(item.map_err(|e| e.into_cause(&region.name))?);
                }
                Ok::<_, RegionCause>(hashes)
            }))
            .await;
            let mut all = HashSet::new();
            let mut causes = Vec::new();
            for listing in listings {
                match listing {
                    Ok(hashes) => all.extend(hashes),
                    Err(cause) => {
                        tracing::warn!(region = %cause.region, error = %cause.message, "listing a region failed");
                        causes.push(cause);
                    }
                }
            }
            let items: Vec<Result<ContentHash>> = if causes.len() == inner.regions.len() {
                vec![Err(StoreError::Unavailable { causes })]
            } else {
                all.into_iter().map(Ok).collect()
            };
            futures::stream::iter(items)
        })
        .flatten()
        .boxed()
    }
    /// `Err(Deleted)` when `hash` was deleted. When no region can say, the read goes on:
    /// availability first (the read itself then fails or is served from a region that answers).
    async fn refuse_deleted(&self, hash: &ContentHash, key: impl fmt::Display) -> Result<()> {
        match self
            .inner
            .tombstones
            .is_deleted(&self.inner.regions, *hash)
            .await
        {
            Ok(true) => Err(StoreError::deleted(key)),
            Ok(false) => Ok(()),
            Err(err) => {
                tracing::debug!(%hash, error = %err, "no region answered for tombstones: read goes on");
                Ok(())
            }
        }
    }

    /// Turns a write's outcome into an error when fewer than the quorum stored it.
    fn check_quorum(&self, written: &Written) -> Result<()> {
        if written.stored.len() < self.inner.config.write_quorum {
            return Err(StoreError::Unavailable {
                causes: written.missed.iter().map(|(_, c)| c.clone()).collect(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FailoverStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn get(&self, hash: &ContentHash) -> Result<GetResult> {
        let hash = *hash;
        let (reader, shown) = (self.inner.reader(), hash.to_string());
        let (live, read) = tokio::join!(
            self.refuse_deleted(&hash, &hash),
            reader.read(ReadOp::Get, &shown, Some(hash), |region| {
                let store = region.layered.clone();
                Box::pin(async move { store.get(&hash).await })
            })
        );
        live?;
        Ok(self.served_by(read?))
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        let hash = *hash;
        let (reader, shown) = (self.inner.reader(), hash.to_string());
        let (live, read) = tokio::join!(
            self.refuse_deleted(&hash, &hash),
            reader.read(ReadOp::Head, &shown, None, |region| {
                let store = region.layered.clone();
                Box::pin(async move { store.head(&hash).await })
            })
        );
        live?;
        Ok(read?.0)
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        // Asked now, not remembered: an upload must see a delete made a moment ago elsewhere.
        // When no region can say, the write itself fails the same way.
        if let Ok(true) = self
            .inner
            .tombstones
            .is_deleted_now(&self.inner.regions, *blob.hash())
            .await
        {
            return Err(StoreError::deleted(blob.hash()));
        }
        let written = self
            .inner
            .writer()
            .write_all("put", Some(*blob.hash()), |region| {
                let (store, blob) = (region.layered.clone(), blob.clone());
                Box::pin(async move { store.put(&blob).await.map(drop) })
            })
            .await;
        if !written.stored.is_empty() {
            for (idx, cause) in &written.missed {
                // Stragglers queue themselves if they fail.
                if cause.kind != CauseKind::Timeout {
                    self.inner.repair.enqueue(*blob.hash(), *idx);
                }
            }
        }
        self.check_quorum(&written)?;
        let regions = &self.inner.regions;
        Ok(PutOutcome {
            hash: *blob.hash(),
            size: blob.len(),
            stored_in: written
                .stored
                .iter()
                .map(|&i| regions[i].name.to_string())
                .collect(),
            missed: written.missed.into_iter().map(|(_, c)| c).collect(),
        })
    }

    fn list(&self) -> ListStream {
        self.union_of_listings(|store| store.list())
    }

    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult> {
        let (reader, shown) = (self.inner.reader(), key.to_string());
        let (live, read) = tokio::join!(
            self.refuse_deleted(key.hash(), key),
            reader.read(ReadOp::GetDerived, &shown, None, |region| {
                let (store, key) = (region.layered.clone(), key.clone());
                Box::pin(async move { store.get_derived(&key).await })
            })
        );
        live?;
        Ok(self.served_by(read?))
    }

    /// Records the tombstone in every region and removes the original and its derived objects
    /// there (see [`Store::delete`]). Succeeds when at least one region confirmed it: reads
    /// are refused from then on. The regions that missed it are in
    /// [`DeleteOutcome::pending`] and queued: the background worker makes the delete when
    /// they are back (and `origami sync` does, from any process).
    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome> {
        let hash = *hash;
        let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let written = self
            .inner
            .writer()
            .write_all("delete", None, |region| {
                let (store, outcomes) = (region.layered.clone(), outcomes.clone());
                Box::pin(async move {
                    let outcome = store.delete(&hash).await?;
                    lock(&outcomes).push(outcome);
                    Ok(())
                })
            })
            .await;
        if written.stored.is_empty() {
            return Err(StoreError::Unavailable {
                causes: written.missed.into_iter().map(|(_, c)| c).collect(),
            });
        }
        for (idx, _) in &written.missed {
            self.inner.repair.enqueue_delete(hash, *idx);
        }
        self.inner.tombstones.set(hash, true).await;
        let outcomes = std::mem::take(&mut *lock(&outcomes));
        let mut derived: Vec<String> = outcomes.iter().flat_map(|o| o.derived.clone()).collect();
        derived.sort();
        derived.dedup();
        let regions = &self.inner.regions;
        let outcome = DeleteOutcome {
            hash,
            had_original: outcomes.iter().any(|o| o.had_original),
            derived,
            deleted_in: written
                .stored
                .iter()
                .map(|&i| regions[i].name.to_string())
                .collect(),
            pending: written.missed.into_iter().map(|(_, c)| c).collect(),
        };
        tracing::info!(
            %hash,
            had_original = outcome.had_original,
            derived = outcome.derived.len(),
            deleted_in = ?outcome.deleted_in,
            pending = outcome.pending.len(),
            "original deleted"
        );
        Ok(outcome)
    }

    /// The first tombstone of `hash` any region holds, asked of every region now; the answer
    /// is also remembered for this store's reads (see [`FailoverConfig::tombstone_recheck`]).
    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>> {
        let lookups = self.inner.regions.iter().map(|region| async move {
            region
                .layered
                .tombstone(hash)
                .await
                .map_err(|e| e.into_cause(&region.name))
        });
        let answers = futures::future::join_all(lookups).await;
        let mut causes = Vec::new();
        let mut answered = false;
        for answer in answers {
            match answer {
                Ok(Some(tombstone)) => {
                    self.inner.tombstones.set(*hash, true).await;
                    return Ok(Some(tombstone));
                }
                Ok(None) => answered = true,
                Err(cause) => causes.push(cause),
            }
        }
        if answered {
            self.inner.tombstones.set(*hash, false).await;
            Ok(None)
        } else {
            Err(StoreError::Unavailable { causes })
        }
    }

    async fn is_deleted(&self, hash: &ContentHash) -> Result<bool> {
        self.inner
            .tombstones
            .is_deleted(&self.inner.regions, *hash)
            .await
    }

    /// Removes the tombstone from every region (and drops the deletes queued for it). Fails
    /// unless every region confirmed: a tombstone left in one region still refuses the hash.
    async fn restore(&self, hash: &ContentHash) -> Result<()> {
        let hash = *hash;
        self.inner.repair.forget(&hash);
        let written = self
            .inner
            .writer()
            .write_all("restore", None, |region| {
                let store = region.layered.clone();
                Box::pin(async move { store.restore(&hash).await })
            })
            .await;
        self.inner.tombstones.set(hash, false).await;
        if !written.missed.is_empty() {
            return Err(StoreError::Unavailable {
                causes: written.missed.into_iter().map(|(_, c)| c).collect(),
            });
        }
        tracing::info!(%hash, "original restored: its tombstones are removed");
        Ok(())
    }

    fn list_tombstones(&self) -> ListStream {
        self.union_of_listings(|store| store.list_tombstones())
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        let written = self
            .inner
            .writer()
            .write_all("put_derived", None, |region| {
                let (store, key, data) = (region.layered.clone(), key.clone(), data.clone());
                Box::pin(async move { store.put_derived(&key, data).await })
            })
            .await;
        self.check_quorum(&written)
    }

    fn region_status(&self) -> Vec<RegionStatus> {
        FailoverStore::region_status(self)
    }

    /// Checks every region at once (each through its timeout): each result is kept for
    /// [`Store::region_status`], logged and exported as `origami_region_check{region}`. Ready
    /// when at least one region answered, with listing only if every region that answered may
    /// list; an error naming every region's cause when none did.
    async fn check(&self) -> Result<Access> {
        let checks = self.inner.regions.iter().map(|region| async move {
            let result = region.layered.check().await;
            let check = match &result {
                Ok(access) => {
                    if access.can_list {
                        tracing::info!(region = %region.name, "region checked: it answers");
                    } else {
                        tracing::warn!(
                            region = %region.name,
                            "region checked: it answers, but these credentials may not list \
                             the bucket (no s3:ListBucket), so S3 answers 403 for missing \
                             originals; they are read as not found (see deploy/ for the IAM \
                             policy)"
                        );
                    }
                    RegionCheck::Answered(*access)
                }
                Err(err) => {
                    tracing::warn!(region = %region.name, error = %err, "region check failed");
                    RegionCheck::Failed(err.to_string())
                }
            };
            metrics::region_check(&region.name, result.is_ok());
            *lock(&region.check) = check;
            result.map_err(|err| err.into_cause(&region.name))
        });
        let results = futures::future::join_all(checks).await;
        let answered: Vec<Access> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        if answered.is_empty() {
            return Err(StoreError::Unavailable {
                causes: results.into_iter().filter_map(|r| r.err()).collect(),
            });
        }
        Ok(if answered.iter().all(|a| a.can_list) {
            Access::FULL
        } else {
            Access::WITHOUT_LIST
        })
    }

    /// The first region's that has one (a local directory).
    fn spool_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.regions.iter().find_map(|r| r.store.spool_dir())
    }
}
