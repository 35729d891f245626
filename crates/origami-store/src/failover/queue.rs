//! [`RepairQueue`]: the copies regions missed, waiting for the background worker, with backoff.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::RepairConfig;
use crate::hash::ContentHash;
use crate::lock::lock;
use crate::metrics;

/// Copies (hash, region index) waiting to be repaired.
pub(super) struct RepairQueue {
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

/// How one repair of one copy went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RepairOutcome {
    /// The copy is in place.
    Done,
    /// It failed: back off.
    Failed,
    /// The target region's breaker is open and no probe is due: try again later, not counted.
    Deferred(Instant),
}

impl RepairQueue {
    pub(super) fn new(config: RepairConfig) -> Self {
        metrics::repair_pending(0);
        Self {
            config,
            tasks: Mutex::new(HashMap::new()),
            notify: Notify::new(),
            done: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }

    /// Queues the copy of `hash` in region `region` (once; later requests for it are merged).
    pub(super) fn enqueue(&self, hash: ContentHash, region: usize) {
        if !self.config.enabled {
            return;
        }
        let mut tasks = lock(&self.tasks);
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

    pub(super) fn pending(&self) -> usize {
        lock(&self.tasks).len()
    }

    pub(super) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub(super) fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Waits until something is queued (or a wake-up was left by an earlier enqueue).
    pub(super) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Up to `max` due tasks, marked running.
    pub(super) fn take_due(&self, max: usize) -> Vec<(ContentHash, usize)> {
        let now = Instant::now();
        let mut tasks = lock(&self.tasks);
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

    pub(super) fn next_due(&self) -> Option<Instant> {
        lock(&self.tasks)
            .values()
            .filter(|t| !t.running)
            .map(|t| t.due)
            .min()
    }

    /// Records how the repair of `key` went: done, backed off, given up or deferred.
    pub(super) fn finish(&self, key: (ContentHash, usize), outcome: RepairOutcome, region: &str) {
        let mut tasks = lock(&self.tasks);
        match outcome {
            RepairOutcome::Done => {
                tasks.remove(&key);
                self.done.fetch_add(1, Ordering::Relaxed);
                tracing::info!(hash = %key.0, region, "repaired a missing or corrupt copy");
            }
            RepairOutcome::Deferred(until) => {
                if let Some(task) = tasks.get_mut(&key) {
                    task.running = false;
                    task.due = until;
                }
            }
            RepairOutcome::Failed => {
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
