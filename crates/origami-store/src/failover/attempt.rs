//! One attempt on one region: the region's layers and breaker, the permit an attempt needs, and
//! what an attempt's outcome tells the breaker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::breaker::{Breaker, Permit};
use super::config::FailoverConfig;
use crate::error::{CauseKind, RegionCause, Result, StoreError};
use crate::instrument::InstrumentedStore;
use crate::store::{RegionCheck, Store};
use crate::verify::VerifiedStore;

/// One region of a failover store.
pub(super) struct Region {
    /// Its name ([`Store::name`]): the label in metrics, logs and `X-Origami-Region`.
    pub(super) name: Arc<str>,
    /// The store as configured, without layers (for [`FailoverStore::regions`](super::FailoverStore::regions)
    /// and for requests the failover layer labels itself).
    pub(super) store: Arc<dyn Store>,
    /// The store every attempt goes through: instrumented (timeout, metrics) over verified.
    pub(super) layered: Arc<InstrumentedStore>,
    /// Its circuit breaker.
    pub(super) breaker: Arc<Breaker>,
    /// What its latest check found ([`Store::check`]).
    pub(super) check: std::sync::Mutex<RegionCheck>,
}

impl Region {
    /// `store` with the layers and the breaker `config` asks for.
    pub(super) fn new(store: Arc<dyn Store>, config: &FailoverConfig) -> Self {
        let name: Arc<str> = Arc::from(store.name());
        let verified: Arc<dyn Store> = Arc::new(VerifiedStore::new(store.clone()));
        let layered = Arc::new(InstrumentedStore::new(verified, config.instrument()));
        let breaker = Breaker::new(
            name.to_string(),
            config.breaker_failures,
            config.breaker_probe,
        );
        Self {
            name,
            store,
            layered,
            breaker: Arc::new(breaker),
            check: std::sync::Mutex::new(RegionCheck::NotYet),
        }
    }

    /// The cause recorded for this region when its breaker kept a request away.
    pub(super) fn circuit_open(&self) -> RegionCause {
        RegionCause::new(
            &*self.name,
            CauseKind::CircuitOpen,
            "circuit breaker open: region skipped",
        )
    }
}

/// One attempt's work, made by the read or write path for one region.
pub(super) type AttemptFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// An attempt under way: resolves to its region's index, its result and the breaker permit the
/// result is to be reported to.
pub(super) type Inflight<T> = Pin<Box<dyn Future<Output = (usize, Result<T>, Permit)> + Send>>;

/// Pairs the attempt `fut` on region `idx` with its `permit`.
pub(super) fn start<T: Send + 'static>(
    idx: usize,
    permit: Permit,
    fut: AttemptFuture<T>,
) -> Inflight<T> {
    Box::pin(async move { (idx, fut.await, permit) })
}

/// Reports the outcome of an attempt nobody waits for any more (a hedge loser, a write past the
/// quorum) to its region's breaker, so that a region that never answers still trips it.
pub(super) fn report_late<T>(result: &Result<T>, permit: Permit) {
    match result {
        Ok(_) | Err(StoreError::NotFound { .. } | StoreError::Integrity { .. }) => permit.success(),
        Err(err) => permit.failure(&err.to_string()),
    }
}
