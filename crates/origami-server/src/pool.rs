//! [`TransformPool`]: CPU-bound work off the async reactor, with a bounded wait queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::ApiError;
use crate::metrics as m;

/// Runs CPU-bound closures on Tokio's blocking threads, at most `workers` at once, with at most
/// `max_queue` callers waiting for a worker; further callers are refused at once with
/// [`ApiError::saturated`] (503, `Retry-After: 1`), so the server never queues itself to death.
///
/// A running closure keeps its worker until it returns, even when its caller gave up (deadline,
/// disconnect): the limit always reflects real CPU use.
#[derive(Debug, Clone)]
pub struct TransformPool {
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
    /// A pool of `workers` (at least 1) with a queue of `max_queue` waiting callers.
    pub fn new(workers: usize, max_queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            permits: Arc::new(Semaphore::new(workers)),
            waiting: Arc::new(AtomicUsize::new(0)),
            workers,
            max_queue,
        }
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
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "transform worker failed");
            ApiError::internal("the transform failed unexpectedly")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_the_queue() {
        let pool = TransformPool::new(1, 0);
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
    async fn queues_up_to_the_limit() {
        let pool = TransformPool::new(1, 1);
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
