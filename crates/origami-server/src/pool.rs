//! [`TransformPool`]: CPU-bound work on dedicated threads, off the async reactor, with a bounded
//! wait queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::budget::MemoryBudget;
use crate::metrics as m;

#[cfg(test)]
const MIB: u64 = 1 << 20;

/// Why a [`TransformPool`] did not run a closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full: retry shortly (an HTTP 503).
    #[error("too many transforms in progress; retry shortly")]
    Saturated,
    /// The pool is shutting down.
    #[error("the transform pool is closed")]
    Closed,
    /// The closure panicked; its worker is free again.
    #[error("the transform failed unexpectedly")]
    Failed,
}

/// Runs CPU-bound closures on `workers` dedicated threads, at most `workers` at once, with at
/// most `max_queue` callers waiting for a worker; further callers are refused at once with
/// [`PoolError::Saturated`] (a 503 with `Retry-After: 1`), so the server never queues itself to
/// death.
///
/// A transform is admitted ([`TransformPool::admit`]) before its original is read and runs
/// ([`Admission::run`]) after, and only `2 x workers` admitted callers may be past that point at
/// once: enough to read the next originals while the current ones transform, without every
/// queued request holding its original in memory (measured: at 32 concurrent cold requests the
/// queued originals were the largest part of the peak RSS).
///
/// A running closure keeps its worker until it returns, even when its caller gave up (deadline,
/// disconnect): the limit always reflects real CPU use. A caller that gives up while waiting
/// leaves the queue without running anything.
///
/// Expensive work (estimated at `EXPENSIVE_WORK_MS` or more) runs in a lane of its own: at
/// most half the workers (at least one) at once, waiting in a queue of its own, so that a burst
/// of costly URLs queues behind itself instead of taking every worker and every queue place
/// from ordinary requests (measured in `benches/abuse.sh`). Its memory comes from a budget of
/// its own (the lane's share of `memory_budget`, by its number of workers): costly work is
/// often larger than the whole budget, and such a job runs alone, which in a shared budget would
/// stop every ordinary transform for its duration (measured: ordinary p99 215x the no-flood
/// p99 during a flood of allowed 1-3 s derivatives, against ~1.4x without the shared budget).
/// Transform memory is thus bounded by `memory_budget` plus the lane's share, or plus one
/// expensive job larger than that share (running alone in the lane).
///
/// Dedicated threads rather than Tokio's blocking pool: that pool grows a thread per concurrent
/// file read, and transforms spread over all of them would leave a per-thread allocator heap
/// holding pixel buffers on each (measured: 67 threads and 1.2 GB peak RSS at c=32, against a
/// few hundred MB with the transforms kept on two threads).
#[derive(Debug, Clone)]
pub struct TransformPool {
    threads: Arc<rayon::ThreadPool>,
    /// Callers admitted and not finished: running, holding a stage, or waiting for one.
    admitted: Arc<AtomicUsize>,
    /// Callers allowed to hold their input in memory: `2 x workers`.
    stages: Arc<Semaphore>,
    permits: Arc<Semaphore>,
    /// An ordinary transform reserves its estimated memory here before it starts.
    memory: MemoryBudget,
    /// An expensive one reserves it here: the lane's share of the budget, apart, so that
    /// ordinary work never waits for memory that costly work holds or is waiting for.
    expensive_memory: MemoryBudget,
    /// Expensive callers that left the ordinary queue for the expensive lane, not finished.
    expensive_admitted: Arc<AtomicUsize>,
    /// Workers expensive work may hold at once: half of them, at least one.
    expensive_lane: Arc<Semaphore>,
    workers: usize,
    max_queue: usize,
}

/// A caller's place in a [`TransformPool`]: taken by [`TransformPool::admit`] before the input is
/// read, used by [`Admission::run`]. Dropping it leaves the queue.
#[derive(Debug)]
pub struct Admission {
    pool: TransformPool,
    _stage: OwnedSemaphorePermit,
    _admitted: Admitted,
    /// When the caller asked for its place (the start of its queue wait).
    asked_at: std::time::Instant,
}

#[derive(Debug)]
struct Admitted(TransformPool);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::SeqCst);
        m::queue_depth(self.0.queue_depth());
    }
}

/// A place in the expensive lane's queue, given back on drop.
#[derive(Debug)]
struct InExpensiveLane(Arc<AtomicUsize>);

impl Drop for InExpensiveLane {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Work estimated at this many milliseconds of one core or more runs in the expensive lane
/// (see [`TransformPool`]): ten times an ordinary derivative of a 20 MP photo, a fraction of
/// the default `limits.max_cost`.
pub const EXPENSIVE_WORK_MS: u64 = 400;

/// What a caller holds while its work waits for and runs on a worker (released on drop).
#[derive(Debug)]
enum Place {
    /// An ordinary caller: its admission (a queue place and a stage).
    Ordinary { _admission: Admission },
    /// An expensive one: its place in the expensive lane and one of the lane's workers.
    Expensive {
        _lane: InExpensiveLane,
        _worker: OwnedSemaphorePermit,
    },
}

impl TransformPool {
    /// A pool of `workers` (at least 1) threads with a queue of `max_queue` waiting callers,
    /// running transforms whose estimated memory adds up to at most `memory_budget` bytes
    /// (see [`Admission::run_weighted`]). Fails only when the threads cannot be started.
    pub fn new(workers: usize, max_queue: usize, memory_budget: u64) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let lane_workers = (workers / 2).max(1);
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("origami-transform-{i}"))
            // Without a handler rayon aborts the process when a spawned closure panics; with
            // one the closure's result sender is dropped and that request gets a 500.
            .panic_handler(|_| tracing::error!("a transform panicked"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            threads: Arc::new(threads),
            admitted: Arc::new(AtomicUsize::new(0)),
            stages: Arc::new(Semaphore::new(2 * workers)),
            permits: Arc::new(Semaphore::new(workers)),
            memory: MemoryBudget::new(memory_budget),
            expensive_memory: MemoryBudget::new(
                memory_budget * lane_workers as u64 / workers as u64,
            ),
            expensive_admitted: Arc::new(AtomicUsize::new(0)),
            expensive_lane: Arc::new(Semaphore::new(lane_workers)),
            workers,
            max_queue,
        })
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Callers waiting for a worker right now (admitted, not yet running).
    pub fn queue_depth(&self) -> usize {
        self.admitted
            .load(Ordering::SeqCst)
            .saturating_sub(self.busy())
    }

    /// Bytes of the memory budgets reserved by transforms right now (both lanes).
    pub fn memory_reserved(&self) -> u64 {
        self.memory.reserved() + self.expensive_memory.reserved()
    }

    /// Transforms running right now.
    pub fn busy(&self) -> usize {
        self.workers - self.permits.available_permits()
    }

    /// Takes a place in the queue, or refuses at once with [`PoolError::Saturated`] when
    /// `workers + max_queue` callers are already admitted; then waits (first come, first
    /// served) until this caller may hold its input in memory.
    pub async fn admit(&self) -> Result<Admission, PoolError> {
        let asked_at = std::time::Instant::now();
        self.take_place(&self.admitted)?;
        let admitted = Admitted(self.clone());
        m::queue_depth(self.queue_depth());
        let stage = self
            .stages
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Closed)?;
        Ok(Admission {
            asked_at,
            pool: self.clone(),
            _stage: stage,
            _admitted: admitted,
        })
    }

    /// A place in the expensive lane's queue, or [`PoolError::Saturated`] when `workers +
    /// max_queue` expensive callers already wait or run.
    fn enter_expensive_lane(&self) -> Result<InExpensiveLane, PoolError> {
        self.take_place(&self.expensive_admitted)?;
        Ok(InExpensiveLane(self.expensive_admitted.clone()))
    }

    /// Counts one more caller in `queue` unless `workers + max_queue` are there already
    /// ([`PoolError::Saturated`], counted in `origami_rejected_total`).
    fn take_place(&self, queue: &AtomicUsize) -> Result<(), PoolError> {
        let limit = self.workers + self.max_queue;
        let taken = queue.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < limit).then_some(n + 1)
        });
        if taken.is_err() {
            m::rejected("saturated");
            return Err(PoolError::Saturated);
        }
        Ok(())
    }

    /// Runs `work` on a worker: [`admit`](Self::admit), then [`Admission::run`].
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.admit().await?.run(work).await
    }
}

impl Admission {
    /// Runs `work` on a worker, waiting for one if all are busy (behind at most `workers`
    /// other admitted callers). For work whose memory is negligible; see
    /// [`run_weighted`](Self::run_weighted).
    pub async fn run<T, F>(self, work: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_weighted(0, 0, work).await
    }

    /// Runs `work`, which needs about `memory` bytes and `work_ms` milliseconds of one core,
    /// once that much of the pool's memory budget is free (see
    /// `MemoryBudget`: work over the whole budget runs alone)
    /// and a worker is. Work of `EXPENSIVE_WORK_MS` or more leaves the ordinary queue for the
    /// expensive lane (refused with [`PoolError::Saturated`] when that lane's queue is full).
    pub async fn run_weighted<T, F>(
        self,
        memory: u64,
        work_ms: u64,
        work: F,
    ) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let asked_at = self.asked_at;
        let expensive = work_ms >= EXPENSIVE_WORK_MS;
        let place = if expensive {
            let lane = pool.enter_expensive_lane()?;
            // Out of the ordinary queue before waiting: ordinary callers take its place.
            drop(self);
            let worker = pool
                .expensive_lane
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| PoolError::Closed)?;
            Place::Expensive {
                _lane: lane,
                _worker: worker,
            }
        } else {
            Place::Ordinary { _admission: self }
        };
        let budget = if expensive {
            pool.expensive_memory.reserve(memory).await
        } else {
            pool.memory.reserve(memory).await
        };
        let permit = pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Closed)?;
        m::queue_depth(pool.queue_depth());
        m::queue_wait(expensive, asked_at.elapsed());
        let (done, result) = tokio::sync::oneshot::channel();
        let threads = pool.threads.clone();
        // Holding a permit means a thread is free: the closure starts at once.
        threads.spawn(move || {
            let output = work();
            // Free the worker and the place before the caller can see the result, so that a
            // client's next request never finds them still taken.
            drop(permit);
            drop(budget);
            drop(place);
            let _ = done.send(output);
        });
        result.await.map_err(|_| PoolError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_the_queue() {
        let pool = TransformPool::new(1, 0, MIB).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = rx.recv();
                    7
                })
                .await
            })
        };
        started_rx.await.unwrap();
        assert_eq!(pool.busy(), 1);
        let refused = pool.run(|| 1).await.unwrap_err();
        assert_eq!(refused, PoolError::Saturated);
        tx.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 7);
        assert_eq!(pool.run(|| 2).await.unwrap(), 2);
        assert_eq!(pool.queue_depth(), 0);
    }

    #[tokio::test]
    async fn a_panicking_transform_is_a_failure_and_frees_its_worker() {
        let pool = TransformPool::new(1, 0, MIB).unwrap();
        let failed = pool
            .run(|| -> u8 { panic!("a bug in a codec") })
            .await
            .unwrap_err();
        assert_eq!(failed, PoolError::Failed);
        assert_eq!(pool.busy(), 0);
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }

    /// Runs a job of `work_ms` on `pool` that holds its worker until `release` is dropped;
    /// returns once it runs.
    async fn hold_worker(
        pool: &TransformPool,
        memory: u64,
        work_ms: u64,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), PoolError>>,
    ) {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let pool = pool.clone();
        let job = tokio::spawn(async move {
            let admission = pool.admit().await?;
            admission
                .run_weighted(memory, work_ms, move || {
                    let _ = started_tx.send(());
                    let _ = held.recv();
                })
                .await
        });
        started_rx.await.unwrap();
        (release, job)
    }

    #[tokio::test]
    async fn expensive_work_leaves_a_worker_and_the_queue_to_ordinary_work() {
        // Two workers, no ordinary queue: an ordinary job beyond two would be refused.
        let pool = TransformPool::new(2, 0, MIB).unwrap();
        let (release_first, first) = hold_worker(&pool, 0, EXPENSIVE_WORK_MS).await;
        // A second expensive job waits in its own lane for the first, out of the ordinary
        // queue: it holds neither a worker nor an ordinary place.
        let second = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.admit()
                    .await?
                    .run_weighted(0, EXPENSIVE_WORK_MS * 10, || 2)
                    .await
            })
        };
        while pool.expensive_admitted.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.busy(), 1);
        // Ordinary work still gets the other worker at once, and a queue place.
        let ordinary = tokio::time::timeout(std::time::Duration::from_secs(5), pool.run(|| 1))
            .await
            .expect("ordinary work must not wait behind expensive work");
        assert_eq!(ordinary, Ok(1));
        assert!(
            !second.is_finished(),
            "one expensive job at a time on two workers"
        );
        release_first.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(pool.expensive_admitted.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn expensive_work_over_the_budget_does_not_hold_ordinary_memory() {
        let pool = TransformPool::new(2, 4, MIB).unwrap();
        // Far over the whole budget: it runs alone, but alone in its lane's budget.
        let (release, expensive) = hold_worker(&pool, 100 * MIB, EXPENSIVE_WORK_MS).await;
        let ordinary = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            pool.admit().await.unwrap().run_weighted(MIB / 2, 1, || 1),
        )
        .await
        .expect("ordinary work must not wait for the expensive job's memory");
        assert_eq!(ordinary, Ok(1));
        release.send(()).unwrap();
        expensive.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn queues_up_to_the_limit() {
        let pool = TransformPool::new(1, 1, MIB).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = rx.recv();
                })
                .await
            })
        };
        started_rx.await.unwrap();
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 3).await })
        };
        while pool.queue_depth() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 1).await.unwrap_err(), PoolError::Saturated);
        tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 3);
    }
}
