//! [`RepairQueue`]: the copies and deletes regions missed, waiting for the background worker,
//! with backoff.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::RepairConfig;
use crate::hash::ContentHash;
use crate::lock::lock;
use crate::metrics;

/// Copies and deletes, by (hash, region index), waiting for the background worker.
pub(super) struct RepairQueue {
    config: RepairConfig,
    tasks: Mutex<HashMap<(ContentHash, usize), Task>>,
    notify: Notify,
    done: AtomicU64,
    deletes_done: AtomicU64,
    abandoned: AtomicU64,
}

/// What the worker is to do for one (hash, region).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskKind {
    /// Copy the original into the region from a verified copy elsewhere.
    Copy,
    /// Take the original down in the region (tombstone, original, derived objects).
    Delete,
}

#[derive(Debug)]
struct Task {
    kind: TaskKind,
    attempts: u32,
    due: Instant,
    running: bool,
}

/// How one repair of one copy went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RepairOutcome {
    /// The copy is in place (or the delete made).
    Done,
    /// Nothing to do after all: the original was deleted meanwhile.
    Skipped,
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
            deletes_done: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }

    /// Queues the copy of `hash` in region `region` (once; later requests for it are merged,
    /// and a delete queued for it wins).
    pub(super) fn enqueue(&self, hash: ContentHash, region: usize) {
        self.enqueue_task(hash, region, TaskKind::Copy);
    }

    /// Queues the delete of `hash` in region `region`, replacing a copy queued for it. Queued
    /// even when repair is disabled: a takedown is not optional.
    pub(super) fn enqueue_delete(&self, hash: ContentHash, region: usize) {
        self.enqueue_task(hash, region, TaskKind::Delete);
    }

    /// Drops every task for `hash` (it was restored: a queued delete must not undo the upload
    /// that follows).
    pub(super) fn forget(&self, hash: &ContentHash) {
        let mut tasks = lock(&self.tasks);
        tasks.retain(|(h, _), _| h != hash);
        metrics::repair_pending(tasks.len());
    }

    fn enqueue_task(&self, hash: ContentHash, region: usize, kind: TaskKind) {
        if !self.config.enabled && kind == TaskKind::Copy {
            return;
        }
        let mut tasks = lock(&self.tasks);
        if let Some(task) = tasks.get_mut(&(hash, region)) {
            if kind == TaskKind::Delete && task.kind == TaskKind::Copy {
                task.kind = TaskKind::Delete;
                task.attempts = 0;
            }
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
                kind,
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

    pub(super) fn deletes_done(&self) -> u64 {
        self.deletes_done.load(Ordering::Relaxed)
    }

    pub(super) fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Waits until something is queued (or a wake-up was left by an earlier enqueue).
    pub(super) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Up to `max` due tasks, marked running.
    pub(super) fn take_due(&self, max: usize) -> Vec<((ContentHash, usize), TaskKind)> {
        let now = Instant::now();
        let mut tasks = lock(&self.tasks);
        let mut due: Vec<_> = tasks
            .iter()
            .filter(|(_, t)| !t.running && t.due <= now)
            .map(|(k, t)| (*k, t.kind, t.due))
            .collect();
        due.sort_by_key(|(_, _, at)| *at);
        due.truncate(max);
        for (key, _, _) in &due {
            if let Some(task) = tasks.get_mut(key) {
                task.running = true;
            }
        }
        due.into_iter().map(|(k, kind, _)| (k, kind)).collect()
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        lock(&self.tasks)
            .values()
            .filter(|t| !t.running)
            .map(|t| t.due)
            .min()
    }

    /// Records how the `ran` task of `key` went: done, backed off, given up or deferred.
    pub(super) fn finish(
        &self,
        key: (ContentHash, usize),
        ran: TaskKind,
        outcome: RepairOutcome,
        region: &str,
    ) {
        let mut tasks = lock(&self.tasks);
        if let Some(task) = tasks.get_mut(&key) {
            if task.kind != ran {
                // A delete replaced the copy while it ran: the delete is still to be made.
                task.running = false;
                task.due = Instant::now();
                drop(tasks);
                self.notify.notify_one();
                return;
            }
        }
        match outcome {
            RepairOutcome::Done => match tasks.remove(&key).map(|t| t.kind) {
                Some(TaskKind::Delete) => {
                    self.deletes_done.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(hash = %key.0, region, "finished a delete the region missed");
                }
                _ => {
                    self.done.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(hash = %key.0, region, "repaired a missing or corrupt copy");
                }
            },
            RepairOutcome::Skipped => {
                tasks.remove(&key);
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
