//! [`FailoverStore`]: active-active reads and writes over N regions.

mod breaker;
mod repair;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::time::Instant;

use crate::blob::Blob;
use crate::error::{CauseKind, RegionCause, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::metrics;
use crate::store::{ListStream, ObjectMeta, PutOutcome, Store};

use breaker::Breaker;
use repair::RepairQueue;

/// How a [`FailoverStore`] behaves. Every knob has the default documented on its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverConfig {
    /// The timeout of one read attempt on one region (default 2 s). On expiry the region counts
    /// as failed for that request and the next one is tried.
    pub attempt_timeout: Duration,
    /// The timeout of one write to one region (default 30 s).
    pub write_timeout: Duration,
    /// Start the same read on the next region when the current one has not answered within this
    /// delay, and take the first valid answer (default 100 ms; zero disables hedging).
    pub hedge_after: Duration,
    /// Consecutive failures that open a region's circuit breaker (default 3).
    pub breaker_failures: u32,
    /// While a breaker is open, one probe is let through (or sent by the background worker) every
    /// this often; its success closes the breaker (default 5 s).
    pub breaker_probe: Duration,
    /// Regions that must acknowledge a write for it to succeed (default 1).
    pub write_quorum: usize,
    /// The background repair of copies that regions missed.
    pub repair: RepairConfig,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(30),
            hedge_after: Duration::from_millis(100),
            breaker_failures: 3,
            breaker_probe: Duration::from_secs(5),
            write_quorum: 1,
            repair: RepairConfig::default(),
        }
    }
}

/// The background repair queue: copies a region missed (a failed write, or a read that found it
/// missing or corrupt) are copied from a verified good copy, with exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairConfig {
    /// Whether missed copies are queued at all (default true). `origami sync` repairs the rest.
    pub enabled: bool,
    /// The wait before the second attempt (default 1 s); it doubles on each failure.
    pub initial_backoff: Duration,
    /// The longest wait between attempts (default 5 min).
    pub max_backoff: Duration,
    /// Attempts after which a repair is given up and left to `origami sync` (default 20).
    pub max_attempts: u32,
    /// Copies queued at most; further ones are dropped with a warning (default 100 000).
    pub max_pending: usize,
    /// Repairs run at once (default 4).
    pub concurrency: usize,
}

impl Default for RepairConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_attempts: 20,
            max_pending: 100_000,
            concurrency: 4,
        }
    }
}

/// A region's state as the failover layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionStatus {
    /// The region's name.
    pub name: String,
    /// False while its circuit breaker is open.
    pub up: bool,
    /// Its consecutive failures so far.
    pub consecutive_failures: u32,
}

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
}

/// Active-active storage over N regions, with no primary.
///
/// * Reads start at a rotating region and move on to the next on error, timeout, `NotFound`
///   (replication lag) or a copy that fails BLAKE3 verification. A hash is `NotFound` only when
///   every region said so; otherwise, when no region served it, the error is `Unavailable` with
///   every region's cause. A read that has waited [`FailoverConfig::hedge_after`] on one region
///   starts the same read on the next and takes the first valid answer, cancelling the other.
/// * Each region has a circuit breaker ([`FailoverConfig::breaker_failures`],
///   [`FailoverConfig::breaker_probe`]), exported as `origami_region_up{region}`; a background
///   worker probes open regions so that a recovered region comes back without waiting for traffic.
/// * Writes go to every region at once and succeed when [`FailoverConfig::write_quorum`] regions
///   acknowledged; regions that missed a write are queued for background repair.
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

pub(crate) struct Region {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) name: String,
    pub(crate) breaker: Arc<Breaker>,
}

pub(crate) struct Inner {
    name: String,
    pub(crate) regions: Vec<Region>,
    pub(crate) config: FailoverConfig,
    /// The rotation of each [`ReadOp`], apart: a request that reads the derived space and then
    /// the original would otherwise, with two regions, always read its original from the same
    /// region.
    next_start: [AtomicUsize; ReadOp::COUNT],
    pub(crate) repair: RepairQueue,
    hedged_reads: AtomicU64,
    integrity_failures: AtomicU64,
}

impl fmt::Debug for FailoverStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailoverStore")
            .field("name", &self.inner.name)
            .field(
                "regions",
                &self
                    .inner
                    .regions
                    .iter()
                    .map(|r| &r.name)
                    .collect::<Vec<_>>(),
            )
            .field("config", &self.inner.config)
            .finish()
    }
}

type AttemptFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;
type InflightRead<T> = Pin<Box<dyn Future<Output = (usize, Result<T>, breaker::Permit)> + Send>>;

/// Which read a request is: the label in metrics, and whether it is verified and read-repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadOp {
    Get,
    Head,
    GetDerived,
}

impl ReadOp {
    const COUNT: usize = 3;

    /// Its slot in [`Inner::next_start`].
    fn index(self) -> usize {
        match self {
            Self::Get => 0,
            Self::Head => 1,
            Self::GetDerived => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Head => "head",
            Self::GetDerived => "get_derived",
        }
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
            .map(|store| {
                let name = store.name().to_owned();
                let breaker =
                    Breaker::new(name.clone(), config.breaker_failures, config.breaker_probe);
                Region {
                    store,
                    name,
                    breaker: Arc::new(breaker),
                }
            })
            .collect();
        let inner = Arc::new(Inner {
            name,
            regions,
            repair: RepairQueue::new(config.repair.clone()),
            config,
            next_start: Default::default(),
            hedged_reads: AtomicU64::new(0),
            integrity_failures: AtomicU64::new(0),
        });
        let worker = repair::spawn_worker(&handle, Arc::downgrade(&inner));
        Ok(Self {
            inner,
            _worker: Arc::new(worker),
        })
    }

    /// The regions, in configuration order.
    pub fn regions(&self) -> Vec<Arc<dyn Store>> {
        self.inner.regions.iter().map(|r| r.store.clone()).collect()
    }

    /// Each region's breaker state.
    pub fn region_status(&self) -> Vec<RegionStatus> {
        self.inner
            .regions
            .iter()
            .map(|r| RegionStatus {
                name: r.name.clone(),
                up: r.breaker.is_up(),
                consecutive_failures: r.breaker.consecutive_failures(),
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
            hedged_reads: self.inner.hedged_reads.load(Ordering::Relaxed),
            integrity_failures: self.inner.integrity_failures.load(Ordering::Relaxed),
            repairs_done: self.inner.repair.done(),
            repairs_abandoned: self.inner.repair.abandoned(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FailoverConfig {
        &self.inner.config
    }

    /// Like [`Store::get`], also naming the region that served the (verified) bytes.
    pub async fn get_with_region(&self, hash: &ContentHash) -> Result<(Bytes, String)> {
        let hash = *hash;
        let (data, idx) = self
            .inner
            .read(ReadOp::Get, &hash.to_string(), Some(hash), |region| {
                let (store, name) = (region.store.clone(), region.name.clone());
                Box::pin(async move {
                    let data = store.get(&hash).await?;
                    verify(&name, &hash, data).await
                })
            })
            .await?;
        Ok((data, self.inner.regions[idx].name.clone()))
    }

    /// Like [`Store::get_derived`], also naming the region that served the bytes.
    pub async fn get_derived_with_region(&self, key: &DerivedKey) -> Result<(Bytes, String)> {
        let (data, idx) = self
            .inner
            .read(ReadOp::GetDerived, &key.to_string(), None, |region| {
                let (store, key) = (region.store.clone(), key.clone());
                Box::pin(async move { store.get_derived(&key).await })
            })
            .await?;
        Ok((data, self.inner.regions[idx].name.clone()))
    }
}

/// Checks that `data` hashes to `hash` (off the async threads for large objects).
async fn verify(region: &str, hash: &ContentHash, data: Bytes) -> Result<Bytes> {
    let (data, actual) = if data.len() > (1 << 20) {
        tokio::task::spawn_blocking(move || {
            let actual = ContentHash::of(&data);
            (data, actual)
        })
        .await
        .map_err(|e| {
            StoreError::unavailable(region, CauseKind::Error, format!("hashing task: {e}"))
        })?
    } else {
        let actual = ContentHash::of(&data);
        (data, actual)
    };
    if actual == *hash {
        Ok(data)
    } else {
        Err(StoreError::Integrity {
            region: region.to_owned(),
            key: hash.to_string(),
            detail: format!("content hashes to {actual}"),
        })
    }
}

fn outcome_label(result: &Result<impl Sized>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(StoreError::NotFound { .. }) => "not_found",
        Err(StoreError::Integrity { .. }) => "integrity",
        Err(StoreError::Unavailable { causes })
            if causes.iter().any(|c| c.kind == CauseKind::Timeout) =>
        {
            "timeout"
        }
        Err(_) => "error",
    }
}

/// Runs `fut` (an operation on region `name`) with `timeout`, recording metrics.
async fn timed<T>(
    name: String,
    op: &'static str,
    timeout: Duration,
    fut: AttemptFuture<'static, T>,
) -> Result<T> {
    let started = Instant::now();
    let result = match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::unavailable(
            &name,
            CauseKind::Timeout,
            format!("no answer within {} ms", timeout.as_millis()),
        )),
    };
    metrics::request(&name, op, outcome_label(&result), started.elapsed());
    result
}

/// Reports the outcome of an attempt nobody waits for any more (a hedge loser, a write past the
/// quorum) to its region's breaker, so that a region that never answers still trips it.
fn report_late<T>(result: &Result<T>, permit: breaker::Permit) {
    match result {
        Ok(_) | Err(StoreError::NotFound { .. } | StoreError::Integrity { .. }) => permit.success(),
        Err(err) => permit.failure(&err.to_string()),
    }
}

impl Inner {
    /// The read path: rotating start, breaker admission, hedging, move-on on any failure.
    /// Returns the value and the index of the region that served it.
    async fn read<T, F>(
        &self,
        op: ReadOp,
        key: &str,
        repair_hash: Option<ContentHash>,
        make: F,
    ) -> Result<(T, usize)>
    where
        T: Send + 'static,
        F: Fn(&Region) -> AttemptFuture<'static, T>,
    {
        let n = self.regions.len();
        let start = self.next_start[op.index()].fetch_add(1, Ordering::Relaxed) % n;
        let mut candidates = (0..n).map(|i| (start + i) % n).peekable();
        let mut causes: Vec<Option<RegionCause>> = vec![None; n];
        let mut not_found = 0usize;
        let mut inflight: FuturesUnordered<InflightRead<T>> = FuturesUnordered::new();
        let hedging = !self.config.hedge_after.is_zero();

        // Starts the next admitted candidate; `None` when none is left.
        let mut launch = |inflight: &mut FuturesUnordered<InflightRead<T>>,
                          causes: &mut Vec<Option<RegionCause>>|
         -> Option<usize> {
            for idx in candidates.by_ref() {
                let region = &self.regions[idx];
                match region.breaker.admit() {
                    Some(permit) => {
                        let fut = timed(
                            region.name.clone(),
                            op.label(),
                            self.config.attempt_timeout,
                            make(region),
                        );
                        inflight.push(Box::pin(async move { (idx, fut.await, permit) }));
                        return Some(idx);
                    }
                    None => {
                        causes[idx] = Some(RegionCause::new(
                            &region.name,
                            CauseKind::CircuitOpen,
                            "circuit breaker open: region skipped",
                        ));
                    }
                }
            }
            None
        };

        let mut last_launched = launch(&mut inflight, &mut causes);
        let mut hedge_deadline = Instant::now() + self.config.hedge_after;
        loop {
            if inflight.is_empty() {
                match launch(&mut inflight, &mut causes) {
                    Some(idx) => {
                        last_launched = Some(idx);
                        hedge_deadline = Instant::now() + self.config.hedge_after;
                        continue;
                    }
                    None => break,
                }
            }
            let may_hedge = hedging && inflight.len() < n;
            tokio::select! {
                Some((idx, result, permit)) = inflight.next() => {
                    let region = &self.regions[idx];
                    match result {
                        Ok(value) => {
                            permit.success();
                            if let Some(hash) = repair_hash {
                                self.read_repair(&hash, &causes);
                            }
                            if !inflight.is_empty() {
                                // Let the losers finish (each is bounded by the attempt timeout)
                                // so that their regions' breakers learn whether they answer.
                                tokio::spawn(async move {
                                    while let Some((_, result, permit)) = inflight.next().await {
                                        report_late(&result, permit);
                                    }
                                });
                            }
                            return Ok((value, idx));
                        }
                        Err(err) => {
                            match &err {
                                StoreError::NotFound { .. } => {
                                    permit.success();
                                    not_found += 1;
                                }
                                StoreError::Integrity { detail, .. } => {
                                    // The region answered: its copy of this object is bad.
                                    permit.success();
                                    self.integrity_failures.fetch_add(1, Ordering::Relaxed);
                                    metrics::integrity_failure(&region.name);
                                    tracing::warn!(region = %region.name, key, %detail, "corrupt copy: trying the next region");
                                }
                                other => {
                                    let cause = other.to_string();
                                    permit.failure(&cause);
                                    tracing::debug!(region = %region.name, key, error = %cause, "read failed: trying the next region");
                                }
                            }
                            causes[idx] = Some(err.into_cause(&region.name));
                            if let Some(next) = launch(&mut inflight, &mut causes) {
                                last_launched = Some(next);
                                hedge_deadline = Instant::now() + self.config.hedge_after;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(hedge_deadline), if may_hedge && candidates_left(&causes, &inflight, n) => {
                    if let Some(next) = launch(&mut inflight, &mut causes) {
                        if let Some(slow) = last_launched {
                            self.hedged_reads.fetch_add(1, Ordering::Relaxed);
                            metrics::hedged_read(&self.regions[slow].name);
                            tracing::debug!(slow = %self.regions[slow].name, hedge = %self.regions[next].name, key, op = op.label(), "hedging the read");
                        }
                        last_launched = Some(next);
                    }
                    hedge_deadline = Instant::now() + self.config.hedge_after;
                }
                else => break,
            }
        }
        if not_found == n {
            return Err(StoreError::not_found(key));
        }
        Err(StoreError::Unavailable {
            causes: causes.into_iter().flatten().collect(),
        })
    }

    /// After a successful read, queues the regions that lacked the object or held a bad copy.
    fn read_repair(&self, hash: &ContentHash, causes: &[Option<RegionCause>]) {
        for (idx, cause) in causes.iter().enumerate() {
            if let Some(cause) = cause {
                if matches!(cause.kind, CauseKind::NotFound | CauseKind::Integrity) {
                    self.repair.enqueue(*hash, idx);
                }
            }
        }
    }

    /// Runs `write` on every admitted region at once and returns who acknowledged and who
    /// missed. Once the quorum is reached, stragglers get `attempt_timeout` more; those still
    /// writing after that finish in the background (feeding their breaker, and queued for repair
    /// of `repair_hash` if they fail) and are reported as missed.
    async fn write_all<F>(
        self: &Arc<Self>,
        op: &'static str,
        repair_hash: Option<ContentHash>,
        write: F,
    ) -> (Vec<usize>, Vec<(usize, RegionCause)>)
    where
        F: Fn(&Region) -> AttemptFuture<'static, ()>,
    {
        let mut missed = Vec::new();
        let mut inflight: FuturesUnordered<InflightRead<()>> = FuturesUnordered::new();
        for (idx, region) in self.regions.iter().enumerate() {
            match region.breaker.admit() {
                Some(permit) => {
                    let fut = timed(
                        region.name.clone(),
                        op,
                        self.config.write_timeout,
                        write(region),
                    );
                    inflight.push(Box::pin(async move { (idx, fut.await, permit) }));
                }
                None => missed.push((
                    idx,
                    RegionCause::new(
                        &region.name,
                        CauseKind::CircuitOpen,
                        "circuit breaker open: region skipped",
                    ),
                )),
            }
        }
        let mut stored = Vec::new();
        let mut grace: Option<Instant> = None;
        loop {
            if grace.is_none() && stored.len() >= self.config.write_quorum {
                grace = Some(Instant::now() + self.config.attempt_timeout);
            }
            let next = match grace {
                None => inflight.next().await,
                Some(deadline) => tokio::select! {
                    next = inflight.next() => next,
                    _ = tokio::time::sleep_until(deadline) => break,
                },
            };
            let Some((idx, result, permit)) = next else {
                break;
            };
            match result {
                Ok(()) => {
                    permit.success();
                    stored.push(idx);
                }
                Err(err) => {
                    let cause = err.into_cause(&self.regions[idx].name);
                    permit.failure(&cause.message);
                    tracing::warn!(region = %self.regions[idx].name, op, error = %cause.message, "write to region failed");
                    missed.push((idx, cause));
                }
            }
        }
        if !inflight.is_empty() {
            let inner = Arc::clone(self);
            for idx in 0..self.regions.len() {
                if !stored.contains(&idx) && !missed.iter().any(|(i, _)| *i == idx) {
                    missed.push((
                        idx,
                        RegionCause::new(
                            &self.regions[idx].name,
                            CauseKind::Timeout,
                            "still writing after the quorum was reached (finishing in the background)",
                        ),
                    ));
                }
            }
            tokio::spawn(async move {
                while let Some((idx, result, permit)) = inflight.next().await {
                    if result.is_err() {
                        if let Some(hash) = repair_hash {
                            inner.repair.enqueue(hash, idx);
                        }
                    }
                    report_late(&result, permit);
                }
            });
        }
        stored.sort_unstable();
        missed.sort_unstable_by_key(|(idx, _)| *idx);
        (stored, missed)
    }
}

/// True when some region has not been tried yet (so a hedge could start).
fn candidates_left<F>(
    causes: &[Option<RegionCause>],
    inflight: &FuturesUnordered<F>,
    n: usize,
) -> bool {
    causes.iter().filter(|c| c.is_some()).count() + inflight.len() < n
}

#[async_trait]
impl Store for FailoverStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn get(&self, hash: &ContentHash) -> Result<Bytes> {
        Ok(self.get_with_region(hash).await?.0)
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        let hash = *hash;
        let (meta, _) = self
            .inner
            .read(ReadOp::Head, &hash.to_string(), None, |region| {
                let store = region.store.clone();
                Box::pin(async move { store.head(&hash).await })
            })
            .await?;
        Ok(meta)
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        let (stored, missed) = self
            .inner
            .write_all("put", Some(*blob.hash()), |region| {
                let (store, blob) = (region.store.clone(), blob.clone());
                Box::pin(async move { store.put(&blob).await.map(drop) })
            })
            .await;
        if !stored.is_empty() {
            for (idx, cause) in &missed {
                // Stragglers queue themselves if they fail.
                if cause.kind != CauseKind::Timeout {
                    self.inner.repair.enqueue(*blob.hash(), *idx);
                }
            }
        }
        let names = |idxs: &[usize]| {
            idxs.iter()
                .map(|&i| self.inner.regions[i].name.clone())
                .collect::<Vec<_>>()
        };
        let missed: Vec<RegionCause> = missed.into_iter().map(|(_, c)| c).collect();
        if stored.len() < self.inner.config.write_quorum {
            return Err(StoreError::Unavailable { causes: missed });
        }
        Ok(PutOutcome {
            hash: *blob.hash(),
            size: blob.len(),
            stored_in: names(&stored),
            missed,
        })
    }

    fn list(&self) -> ListStream {
        let inner = self.inner.clone();
        futures::stream::once(async move {
            let listings = futures::future::join_all(inner.regions.iter().map(|region| async move {
                let mut hashes = HashSet::new();
                let mut stream = region.store.list();
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

    async fn get_derived(&self, key: &DerivedKey) -> Result<Bytes> {
        Ok(self.get_derived_with_region(key).await?.0)
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        let (stored, missed) = self
            .inner
            .write_all("put_derived", None, |region| {
                let (store, key, data) = (region.store.clone(), key.clone(), data.clone());
                Box::pin(async move { store.put_derived(&key, data).await })
            })
            .await;
        if stored.len() < self.inner.config.write_quorum {
            return Err(StoreError::Unavailable {
                causes: missed.into_iter().map(|(_, c)| c).collect(),
            });
        }
        Ok(())
    }
}
