//! The read path: rotating start, breaker admission, hedging, move on at any failure.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::time::Instant;

use super::attempt::{self, AttemptFuture, Inflight, Region};
use super::config::FailoverConfig;
use super::queue::RepairQueue;
use crate::error::{CauseKind, RegionCause, Result, StoreError};
use crate::hash::ContentHash;
use crate::metrics;

/// Which read a request is: the rotation it takes its start from, and its label in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadOp {
    Get,
    Head,
    GetDerived,
}

impl ReadOp {
    const COUNT: usize = 3;

    /// Its slot in [`ReadState::next_start`].
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

/// What the read path keeps between requests.
#[derive(Debug, Default)]
pub(super) struct ReadState {
    /// The rotation of each [`ReadOp`], apart: a request that reads the derived space and then
    /// the original would otherwise, with two regions, always read its original from the same
    /// region.
    next_start: [AtomicUsize; ReadOp::COUNT],
    /// Hedge requests started.
    pub(super) hedged_reads: AtomicU64,
    /// Copies read whose bytes did not match their hash.
    pub(super) integrity_failures: AtomicU64,
}

/// Everything one read needs, borrowed from the failover store.
pub(super) struct Reader<'a> {
    pub(super) regions: &'a [Region],
    pub(super) config: &'a FailoverConfig,
    pub(super) state: &'a ReadState,
    pub(super) repair: &'a RepairQueue,
}

impl Reader<'_> {
    /// Reads `key` with `make(region)` on one region after another (starting at the next in the
    /// rotation, hedging slow ones) until one answers. Returns the value and the index of the
    /// region that served it. With `repair_hash`, the regions that lacked the object or held a
    /// bad copy are queued for repair once it was found.
    pub(super) async fn read<T, F>(
        &self,
        op: ReadOp,
        key: &str,
        repair_hash: Option<ContentHash>,
        make: F,
    ) -> Result<(T, usize)>
    where
        T: Send + 'static,
        F: Fn(&Region) -> AttemptFuture<T>,
    {
        let regions = self.regions;
        let n = regions.len();
        let start = self.state.next_start[op.index()].fetch_add(1, Ordering::Relaxed) % n;
        let mut candidates = (0..n).map(|i| (start + i) % n).peekable();
        let mut causes: Vec<Option<RegionCause>> = vec![None; n];
        let mut not_found = 0usize;
        let mut inflight: FuturesUnordered<Inflight<T>> = FuturesUnordered::new();
        let hedge_after = self.config.hedge_after;
        let hedging = !hedge_after.is_zero();

        // Starts the next admitted candidate; `None` when none is left.
        let mut launch = |inflight: &mut FuturesUnordered<Inflight<T>>,
                          causes: &mut Vec<Option<RegionCause>>|
         -> Option<usize> {
            for idx in candidates.by_ref() {
                let region = &regions[idx];
                match region.breaker.admit() {
                    Some(permit) => {
                        inflight.push(attempt::start(idx, permit, make(region)));
                        return Some(idx);
                    }
                    None => causes[idx] = Some(region.circuit_open()),
                }
            }
            None
        };

        let mut last_launched = launch(&mut inflight, &mut causes);
        let mut hedge_deadline = Instant::now() + hedge_after;
        loop {
            if inflight.is_empty() {
                match launch(&mut inflight, &mut causes) {
                    Some(idx) => {
                        last_launched = Some(idx);
                        hedge_deadline = Instant::now() + hedge_after;
                        continue;
                    }
                    None => break,
                }
            }
            let may_hedge = hedging && inflight.len() < n;
            tokio::select! {
                Some((idx, result, permit)) = inflight.next() => {
                    let region = &regions[idx];
                    match result {
                        Ok(value) => {
                            permit.success();
                            if let Some(hash) = repair_hash {
                                self.read_repair(&hash, &causes);
                            }
                            finish_in_background(inflight);
                            return Ok((value, idx));
                        }
                        Err(err) => {
                            match &err {
                                StoreError::NotFound { .. } => {
                                    permit.success();
                                    not_found += 1;
                                    if matches!(op, ReadOp::GetDerived) {
                                        // A derived object is only a saved transform: one
                                        // region's "not found" is enough to make it again,
                                        // rather than wait for a slow region to say the same
                                        // (an original, whose 404 a CDN keeps, waits for all).
                                        finish_in_background(inflight);
                                        return Err(StoreError::not_found(key));
                                    }
                                }
                                StoreError::Integrity { detail, .. } => {
                                    // The region answered: its copy of this object is bad. (The
                                    // verification layer counted it in the metrics.)
                                    permit.success();
                                    self.state.integrity_failures.fetch_add(1, Ordering::Relaxed);
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
                                hedge_deadline = Instant::now() + hedge_after;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(hedge_deadline), if may_hedge && candidates_left(&causes, &inflight, n) => {
                    if let Some(next) = launch(&mut inflight, &mut causes) {
                        if let Some(slow) = last_launched {
                            self.state.hedged_reads.fetch_add(1, Ordering::Relaxed);
                            metrics::hedged_read(&regions[slow].name);
                            tracing::debug!(slow = %regions[slow].name, hedge = %regions[next].name, key, op = op.label(), "hedging the read");
                        }
                        last_launched = Some(next);
                    }
                    hedge_deadline = Instant::now() + hedge_after;
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
}

/// Lets the attempts nobody waits for any more finish (each is bounded by the attempt timeout)
/// so that their regions' breakers learn whether they answer.
fn finish_in_background<T: Send + 'static>(mut inflight: FuturesUnordered<Inflight<T>>) {
    if inflight.is_empty() {
        return;
    }
    tokio::spawn(async move {
        while let Some((_, result, permit)) = inflight.next().await {
            attempt::report_late(&result, permit);
        }
    });
}

/// True when some region has not been tried yet (so a hedge could start).
fn candidates_left<F>(
    causes: &[Option<RegionCause>],
    inflight: &FuturesUnordered<F>,
    n: usize,
) -> bool {
    causes.iter().filter(|c| c.is_some()).count() + inflight.len() < n
}
