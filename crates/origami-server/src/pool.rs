//! [`TransformPool`]: CPU-bound work on dedicated threads, off the async reactor, with a bounded
//! wait queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::ApiError;
use crate::metrics as m;

/// Runs CPU-bound closures on `workers` dedicated threads, at most `workers` at once, with at
/// most `max_queue` callers waiting for a worker; further callers are refused at once with
/// [`ApiError::saturated`] (503, `Retry-After: 1`), so the server never queues itself to death.
///
/// A running closure keeps its worker until it returns, even when its caller gave up (deadline,
/// disconnect): the limit always reflects real CPU use. A caller that gives up while waiting
/// leaves the queue without running anything.
///
/// Dedicated threads rather than Tokio's blocking pool: that pool grows a thread per concurrent
/// file read, and transforms spread over all of them would leave a per-thread allocator heap
/// holding pixel buffers on each (measured: 67 threads and 1.2 GB peak RSS at c=32, against a
/// few hundred MB with the transforms kept on two threads).
#[derive(Debug, Clone)]
pub struct TransformPool {
    threads: Arc<rayon::ThreadPool>,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    workers: usize,
    max_queue: usize,
}

struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        let depth = self.0.fetch_sub(1, Ordering::SeqCst) - 1;
        m::queue_depth(depth);
    }
}

impl TransformPool {
    /// A pool of `workers` (at least 1) threads with a queue of `max_queue` waiting callers.
    /// Fails only when the threads cannot be started.
    pub fn new(workers: usize, max_queue: usize) -> std::io::Result<Self> {
        let workers = workers.max(1);
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
            permits: Arc::new(Semaphore::new(workers)),
            waiting: Arc::new(AtomicUsize::new(0)),
            workers,
            max_queue,
        })
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Callers waiting for a worker right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Transforms running right now.
    pub fn busy(&self) -> usize {
        self.workers - self.permits.available_permits()
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::Closed) => return Err(ApiError::internal("pool closed")),
            Err(TryAcquireError::NoPermits) => {}
        }
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let guard = Waiting(self.waiting.clone());
        if before >= self.max_queue {
            drop(guard);
            m::rejected("saturated");
            return Err(ApiError::saturated());
        }
        m::queue_depth(before + 1);
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("pool closed"))?;
        drop(guard);
        Ok(permit)
    }

    /// Runs `work` on a worker (waiting in the queue if all are busy and the queue has room).
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.acquire().await?;
        let (done, result) = tokio::sync::oneshot::channel();
        // Holding a permit means a thread is free: the closure starts at once.
        self.threads.spawn(move || {
            let output = work();
            // Free the worker before the caller can see the result, so that a client's next
            // request never finds it still taken.
            drop(permit);
            let _ = done.send(output);
        });
        result
            .await
            .map_err(|_| ApiError::internal("the transform failed unexpectedly"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_the_queue() {
        let pool = TransformPool::new(1, 0).unwrap();
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
        assert_eq!(refused.code, "saturated");
        tx.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 7);
        assert_eq!(pool.run(|| 2).await.unwrap(), 2);
        assert_eq!(pool.queue_depth(), 0);
    }

    #[tokio::test]
    async fn a_panicking_transform_is_an_internal_error_and_frees_its_worker() {
        let pool = TransformPool::new(1, 0).unwrap();
        let failed = pool
            .run(|| -> u8 { panic!("a bug in a codec") })
            .await
            .unwrap_err();
        assert_eq!(failed.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(pool.busy(), 0);
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn queues_up_to_the_limit() {
        let pool = TransformPool::new(1, 1).unwrap();
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
        assert_eq!(pool.run(|| 1).await.unwrap_err().code, "saturated");
        tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 3);
    }
}
