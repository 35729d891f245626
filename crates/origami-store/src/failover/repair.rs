//! The background worker: repairs copies regions missed, and probes regions whose breaker is open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{timed, verify, Inner, RepairConfig};
use crate::blob::Blob;
use crate::error::{CauseKind, StoreError};
use crate::hash::ContentHash;
use crate::metrics;

/// Copies (hash, region index) waiting to be repaired.
pub(crate) struct RepairQueue {
    config: RepairConfig,
    tasks: Mutex<HashMap<(ContentHash, usize), Task>>,
    notify: Notify,
    done: AtomicU64,
    abandoned: AtomicU64,
}

#[derive(Debug)]
struct Task {
    attempts: u32,
    due: Instant,
    running: bool,
}

/// How one repair attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The copy is in place.
    Done,
    /// It failed: back off.
    Failed,
    /// The target region's breaker is open and no probe is due: try again later, not counted.
    Deferred(Instant),
}

impl RepairQueue {
    pub(crate) fn new(config: RepairConfig) -> Self {
        metrics::repair_pending(0);
        Self {
            config,
            tasks: Mutex::new(HashMap::new()),
            notify: Notify::new(),
            done: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(ContentHash, usize), Task>> {
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues the copy of `hash` in region `region` (once; later requests for it are merged).
    pub(crate) fn enqueue(&self, hash: ContentHash, region: usize) {
        if !self.config.enabled {
            return;
        }
        let mut tasks = self.lock();
        if tasks.contains_key(&(hash, region)) {
            return;
        }
        if tasks.len() >= self.config.max_pending {
            drop(tasks);
            self.abandoned.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%hash, region, "repair queue full: copy left to `origami sync`");
            return;
        }
        tasks.insert(
            (hash, region),
            Task {
                attempts: 0,
                due: Instant::now(),
                running: false,
            },
        );
        metrics::repair_pending(tasks.len());
        drop(tasks);
        self.notify.notify_one();
    }

    pub(crate) fn pending(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub(crate) fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Up to `max` due tasks, marked running.
    fn take_due(&self, max: usize) -> Vec<(ContentHash, usize)> {
        let now = Instant::now();
        let mut tasks = self.lock();
        let mut due: Vec<_> = tasks
            .iter()
            .filter(|(_, t)| !t.running && t.due <= now)
            .map(|(k, t)| (*k, t.due))
            .collect();
        due.sort_by_key(|(_, at)| *at);
        due.truncate(max);
        for (key, _) in &due {
            if let Some(task) = tasks.get_mut(key) {
                task.running = true;
            }
        }
        due.into_iter().map(|(k, _)| k).collect()
    }

    fn next_due(&self) -> Option<Instant> {
        self.lock()
            .values()
            .filter(|t| !t.running)
            .map(|t| t.due)
            .min()
    }

    fn finish(&self, key: (ContentHash, usize), attempt: Attempt, region: &str) {
        let mut tasks = self.lock();
        match attempt {
            Attempt::Done => {
                tasks.remove(&key);
                self.done.fetch_add(1, Ordering::Relaxed);
                tracing::info!(hash = %key.0, region, "repaired a missing or corrupt copy");
            }
            Attempt::Deferred(until) => {
                if let Some(task) = tasks.get_mut(&key) {
                    task.running = false;
                    task.due = until;
                }
            }
            Attempt::Failed => {
                let Some(task) = tasks.get_mut(&key) else {
                    return;
                };
                task.running = false;
                task.attempts += 1;
                if task.attempts >= self.config.max_attempts {
                    tasks.remove(&key);
                    self.abandoned.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(hash = %key.0, region, "repair given up after {} attempts: left to `origami sync`", self.config.max_attempts);
                } else {
                    let factor = 1u32 << (task.attempts - 1).min(20);
                    let backoff = self
                        .config
                        .initial_backoff
                        .saturating_mul(factor)
                        .min(self.config.max_backoff);
                    task.due = Instant::now() + backoff;
                }
            }
        }
        metrics::repair_pending(tasks.len());
    }
}

/// Aborts the worker when the last [`FailoverStore`](super::FailoverStore) clone goes.
pub(crate) struct WorkerGuard(tokio::task::AbortHandle);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The hash probed on a region whose breaker is open: any answer, found or not, means it is up.
fn probe_hash() -> ContentHash {
    ContentHash::of(b"origami region probe")
}

pub(crate) fn spawn_worker(handle: &tokio::runtime::Handle, inner: Weak<Inner>) -> WorkerGuard {
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
            futures::future::join_all(due.into_iter().map(|(hash, region)| async move {
                let attempt = inner_ref.repair_copy(hash, region).await;
                inner_ref
                    .repair
                    .finish((hash, region), attempt, &inner_ref.regions[region].name);
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
            _ = inner.repair.notify.notified() => {}
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
                let store = region.store.clone();
                let fut = Box::pin(async move { store.head(&hash).await });
                let result = timed(
                    region.name.clone(),
                    "probe",
                    self.config.attempt_timeout,
                    fut,
                )
                .await;
                match result {
                    Ok(_) | Err(StoreError::NotFound { .. }) => permit.success(),
                    Err(err) => permit.failure(&err.to_string()),
                }
            });
        futures::future::join_all(probes).await;
    }

    /// Copies `hash` into region `target` from a verified copy in another region.
    async fn repair_copy(&self, hash: ContentHash, target: usize) -> Attempt {
        let region = &self.regions[target];
        let Some(permit) = region.breaker.admit() else {
            let retry = region
                .breaker
                .next_probe_at()
                .unwrap_or_else(|| Instant::now() + self.config.breaker_probe);
            return Attempt::Deferred(retry);
        };
        let mut source = None;
        for (idx, other) in self.regions.iter().enumerate() {
            if idx == target || !other.breaker.is_up() {
                continue;
            }
            let (store, name) = (other.store.clone(), other.name.clone());
            let fut = Box::pin(async move {
                let data = store.get(&hash).await?;
                verify(&name, &hash, data).await
            });
            let timeout = self.config.attempt_timeout;
            match timed(other.name.clone(), "repair_read", timeout, fut).await {
                Ok(data) => {
                    source = Some(data);
                    break;
                }
                Err(err) => {
                    tracing::debug!(%hash, region = %other.name, error = %err, "no usable source copy here")
                }
            }
        }
        let Some(data) = source else {
            tracing::debug!(%hash, region = %region.name, "repair: no verified source copy reachable yet");
            return Attempt::Failed;
        };
        let blob = Blob::from_bytes(data);
        let started = Instant::now();
        let result =
            match tokio::time::timeout(self.config.write_timeout, region.store.put(&blob)).await {
                Ok(r) => r.map(drop),
                Err(_) => Err(StoreError::unavailable(
                    &region.name,
                    CauseKind::Timeout,
                    "repair write timed out",
                )),
            };
        metrics::request(
            &region.name,
            "repair",
            super::outcome_label(&result),
            started.elapsed(),
        );
        match result {
            Ok(()) => {
                permit.success();
                Attempt::Done
            }
            Err(err) => {
                let message = err.to_string();
                permit.failure(&message);
                tracing::debug!(%hash, region = %region.name, error = %message, "repair write failed");
                Attempt::Failed
            }
        }
    }
}
