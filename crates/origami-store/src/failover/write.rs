//! The write path: every region at once, a quorum, stragglers finished in the background.

use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::time::Instant;

use super::attempt::{self, AttemptFuture, Inflight, Region};
use super::config::FailoverConfig;
use super::queue::RepairQueue;
use crate::error::{CauseKind, RegionCause};
use crate::hash::ContentHash;

/// Who acknowledged a write and who missed it (region indexes, in order), and why.
pub(super) struct Written {
    /// The regions that stored it.
    pub(super) stored: Vec<usize>,
    /// The regions that missed it, with the cause.
    pub(super) missed: Vec<(usize, RegionCause)>,
}

/// Everything one write needs, borrowed from the failover store.
pub(super) struct Writer<'a> {
    pub(super) regions: &'a [Region],
    pub(super) config: &'a FailoverConfig,
    /// Shared with the stragglers' background task, hence the `Arc`.
    pub(super) repair: &'a Arc<RepairQueue>,
}

impl Writer<'_> {
    /// Runs `write` on every admitted region at once and returns who acknowledged and who
    /// missed. Once the quorum is reached, stragglers get `attempt_timeout` more; those still
    /// writing after that finish in the background (feeding their breaker, and queued for repair
    /// of `repair_hash` if they fail) and are reported as missed.
    pub(super) async fn write_all<F>(
        &self,
        op: &'static str,
        repair_hash: Option<ContentHash>,
        write: F,
    ) -> Written
    where
        F: Fn(&Region) -> AttemptFuture<()>,
    {
        let regions = self.regions;
        let mut missed = Vec::new();
        let mut inflight: FuturesUnordered<Inflight<()>> = FuturesUnordered::new();
        for (idx, region) in regions.iter().enumerate() {
            match region.breaker.admit() {
                Some(permit) => inflight.push(attempt::start(idx, permit, write(region))),
                None => missed.push((idx, region.circuit_open())),
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
                    let cause = err.into_cause(&regions[idx].name);
                    permit.failure(&cause.message);
                    tracing::warn!(region = %regions[idx].name, op, error = %cause.message, "write to region failed");
                    missed.push((idx, cause));
                }
            }
        }
        if !inflight.is_empty() {
            for (idx, region) in regions.iter().enumerate() {
                if !stored.contains(&idx) && !missed.iter().any(|(i, _)| *i == idx) {
                    missed.push((
                        idx,
                        RegionCause::new(
                            &*region.name,
                            CauseKind::Timeout,
                            "still writing after the quorum was reached (finishing in the background)",
                        ),
                    ));
                }
            }
            let repair = Arc::clone(self.repair);
            tokio::spawn(async move {
                while let Some((idx, result, permit)) = inflight.next().await {
                    if result.is_err() {
                        if let Some(hash) = repair_hash {
                            repair.enqueue(hash, idx);
                        }
                    }
                    attempt::report_late(&result, permit);
                }
            });
        }
        stored.sort_unstable();
        missed.sort_unstable_by_key(|(idx, _)| *idx);
        Written { stored, missed }
    }
}
