//! The background worker: repairs the copies regions missed (from the [`RepairQueue`](super::queue::RepairQueue)), and
//! probes regions whose breaker is open.

use std::sync::Weak;
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::Permit;
use super::queue::{RepairOutcome, TaskKind};
use super::shared::Inner;
use crate::blob::Blob;
use crate::error::StoreError;
use crate::hash::ContentHash;
use crate::verify;

/// Aborts the worker when the last [`FailoverStore`](crate::FailoverStore) clone goes.
pub(super) struct WorkerGuard(tokio::task::AbortHandle);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The hash probed on a region whose breaker is open: any answer, found or not, means it is up.
fn probe_hash() -> ContentHash {
    ContentHash::of(b"origami region probe")
}

pub(super) fn spawn_worker(handle: &tokio::runtime::Handle, inner: Weak<Inner>) -> WorkerGuard {
    WorkerGuard(handle.spawn(worker(inner)).abort_handle())
}

async fn worker(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        inner.probe_due_regions().await;
        let due = inner
            .repair
            .take_due(inner.config.repair.concurrency.max(1));
        if !due.is_empty() {
            let inner_ref = &inner;
            futures::future::join_all(due.into_iter().map(|((hash, region), kind)| async move {
                let outcome = match kind {
                    TaskKind::Copy => inner_ref.repair_copy(hash, region).await,
                    TaskKind::Delete => inner_ref.delete_copy(hash, region).await,
                };
                inner_ref.repair.finish(
                    (hash, region),
                    kind,
                    outcome,
                    &inner_ref.regions[region].name,
                );
            }))
            .await;
            continue;
        }
        // Sleep until a repair is due, a probe is due, or something is queued; and look again at
        // least every quarter probe interval, in case a breaker opened meanwhile.
        let now = Instant::now();
        let tick = (inner.config.breaker_probe / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(5));
        let mut wake = now + tick;
        if let Some(due) = inner.repair.next_due() {
            wake = wake.min(due);
        }
        for region in &inner.regions {
            if let Some(at) = region.breaker.next_probe_at() {
                wake = wake.min(at);
            }
        }
        // (The guard aborts this task when the store goes, so holding `inner` here is fine.)
        tokio::select! {
            _ = inner.repair.notified() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

impl Inner {
    /// Sends one probe to each region whose breaker is open and due for one.
    async fn probe_due_regions(&self) {
        let now = Instant::now();
        let probes = self
            .regions
            .iter()
            .filter(|r| r.breaker.next_probe_at().is_some_and(|at| at <= now))
            .map(|region| async move {
                let Some(permit) = region.breaker.admit() else {
                    return;
                };
                let hash = probe_hash();
                let timeout = self.config.attempt_timeout;
                let result = region
                    .layered
                    .run("probe", timeout, region.store.head(&hash))
                    .await;
                match result {
                    Ok(_) | Err(StoreError::NotFound { .. }) => permit.success(),
                    Err(err) => permit.failure(&err.to_string()),
                }
            });
        futures::future::join_all(probes).await;
    }

    /// Makes in region `target` the delete of `hash` it missed.
    async fn delete_copy(&self, hash: ContentHash, target: usize) -> RepairOutcome {
        let region = &self.regions[target];
        let Some(permit) = region.breaker.admit() else {
            return self.deferred(target);
        };
        let timeout = self.config.write_timeout;
        let result = region
            .layered
            .run("delete", timeout, region.store.delete(&hash))
            .await;
        written(result, permit, hash, &region.name, "queued delete")
    }

    /// A task put off until region `target`'s breaker lets a probe through.
    fn deferred(&self, target: usize) -> RepairOutcome {
        let retry = self.regions[target]
            .breaker
            .next_probe_at()
            .unwrap_or_else(|| Instant::now() + self.config.breaker_probe);
        RepairOutcome::Deferred(retry)
    }

    /// Copies `hash` into region `target` from a verified copy in another region, keeping the
    /// source's content type when its backend reports one. Skipped when the original was
    /// deleted (asked of the regions now, not remembered): repair must not bring it back.
    async fn repair_copy(&self, hash: ContentHash, target: usize) -> RepairOutcome {
        let region = &self.regions[target];
        if !region.breaker.is_up()
            && region
                .breaker
                .next_probe_at()
                .is_some_and(|at| at > Instant::now())
        {
            return self.deferred(target);
        }
        match self.tombstones.is_deleted_now(&self.regions, hash).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::debug!(%hash, region = %region.name, "repair skipped: the original was deleted");
                return RepairOutcome::Skipped;
            }
            Err(err) => {
                tracing::debug!(%hash, error = %err, "repair put off: no region answered for tombstones");
                return RepairOutcome::Failed;
            }
        }
        let Some(permit) = region.breaker.admit() else {
            return self.deferred(target);
        };
        let mut source = None;
        for (idx, other) in self.regions.iter().enumerate() {
            if idx == target || !other.breaker.is_up() {
                continue;
            }
            // Verified like any read, but not counted as an integrity failure in the metrics:
            // those count the copies that requests ran into.
            let read = async {
                let mut got = other.store.get(&hash).await?;
                got.bytes = verify::check(&other.name, &hash, got.bytes).await?;
                Ok(got)
            };
            let timeout = self.config.attempt_timeout;
            match other.layered.run("repair_read", timeout, read).await {
                Ok(got) => {
                    source = Some(got);
                    break;
                }
                Err(err) => {
                    tracing::debug!(%hash, region = %other.name, error = %err, "no usable source copy here")
                }
            }
        }
        let Some(got) = source else {
            tracing::debug!(%hash, region = %region.name, "repair: no verified source copy reachable yet");
            return RepairOutcome::Failed;
        };
        let mut blob = Blob::from_bytes(got.bytes);
        if let Some(content_type) = got.content_type {
            blob = blob.with_content_type(content_type);
        }
        let timeout = self.config.write_timeout;
        let result = region
            .layered
            .run("repair", timeout, region.store.put(&blob))
            .await;
        written(result, permit, hash, &region.name, "repair write")
    }
}

/// The outcome of a background write (`what`) of `hash` to `region`, reported to its breaker.
fn written<T>(
    result: Result<T, StoreError>,
    permit: Permit,
    hash: ContentHash,
    region: &str,
    what: &str,
) -> RepairOutcome {
    match result {
        Ok(_) => {
            permit.success();
            RepairOutcome::Done
        }
        Err(err) => {
            let message = err.to_string();
            permit.failure(&message);
            tracing::debug!(%hash, region, error = %message, "{what} failed");
            RepairOutcome::Failed
        }
    }
}
