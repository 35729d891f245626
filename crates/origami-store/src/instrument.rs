//! [`InstrumentedStore`]: per-region timeouts and request metrics, as a layer over any store.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

use crate::blob::Blob;
use crate::error::{CauseKind, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::metrics;
use crate::store::{
    Access, DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, RegionStatus, Store,
    Tombstone,
};

/// The timeouts of an [`InstrumentedStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentConfig {
    /// The timeout of one read (`get`, `head`, `get_derived`; default 2 s).
    pub read_timeout: Duration,
    /// The timeout of one write (`put`, `put_derived`; default 30 s).
    pub write_timeout: Duration,
}

impl Default for InstrumentConfig {
    fn default() -> Self {
        Self {
            read_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Wraps a store (one region) with a timeout on every request and the per-region request
/// metrics, so that any backend, a bare [`S3Store`](crate::S3Store) included, is visible to
/// operators (like `object_store`'s `ThrottledStore`, a layer with one purpose).
///
/// Every request is counted in `origami_region_requests_total{region,op,outcome}` and timed in
/// `origami_region_request_seconds{region,op}`, labelled with the inner store's
/// [`name`](Store::name) and the operation (`get`, `head`, `put`, `get_derived`, `put_derived`).
/// A request that outlives its timeout fails with [`StoreError::Unavailable`] (cause
/// [`CauseKind::Timeout`], outcome `timeout`). Listings are passed through untimed: a listing is
/// a stream of any length. [`FailoverStore`](crate::FailoverStore) puts this layer on each of
/// its regions.
#[derive(Debug, Clone)]
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
    config: InstrumentConfig,
}

impl InstrumentedStore {
    /// Instruments `inner` with `config`'s timeouts.
    pub fn new(inner: Arc<dyn Store>, config: InstrumentConfig) -> Self {
        metrics::describe();
        Self { inner, config }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// The timeouts.
    pub fn config(&self) -> &InstrumentConfig {
        &self.config
    }

    /// Runs `fut`, an operation on the inner store labelled `op` in the metrics, with `timeout`.
    /// The failover layer uses it for the requests it makes for itself (`probe`, `repair_read`,
    /// `repair`), so they are counted per region like the rest.
    pub(crate) async fn run<T>(
        &self,
        op: &'static str,
        timeout: Duration,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let region = self.inner.name();
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(
                region,
                CauseKind::Timeout,
                format!("no answer within {} ms", timeout.as_millis()),
            )),
        };
        metrics::request(region, op, outcome_label(&result), started.elapsed());
        result
    }
}

/// The `outcome` label of a request's result.
fn outcome_label<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(StoreError::NotFound { .. }) => "not_found",
        Err(StoreError::Integrity { .. }) => "integrity",
        Err(StoreError::Unavailable { causes })
            if causes.iter().any(|c| c.kind == CauseKind::Timeout) =>
        {
            "timeout"
        }
        Err(_) => "error",
    }
}

#[async_trait]
impl Store for InstrumentedStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, hash: &ContentHash) -> Result<GetResult> {
        let timeout = self.config.read_timeout;
        self.run("get", timeout, self.inner.get(hash)).await
    }

    async fn check(&self) -> Result<Access> {
        let timeout = self.config.read_timeout;
        self.run("check", timeout, self.inner.check()).await
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        let timeout = self.config.read_timeout;
        self.run("head", timeout, self.inner.head(hash)).await
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        let timeout = self.config.write_timeout;
        self.run("put", timeout, self.inner.put(blob)).await
    }

    fn list(&self) -> ListStream {
        self.inner.list()
    }

    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult> {
        let timeout = self.config.read_timeout;
        self.run("get_derived", timeout, self.inner.get_derived(key))
            .await
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        let timeout = self.config.write_timeout;
        self.run("put_derived", timeout, self.inner.put_derived(key, data))
            .await
    }

    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome> {
        let timeout = self.config.write_timeout;
        self.run("delete", timeout, self.inner.delete(hash)).await
    }

    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>> {
        let timeout = self.config.read_timeout;
        self.run("tombstone", timeout, self.inner.tombstone(hash))
            .await
    }

    async fn restore(&self, hash: &ContentHash) -> Result<()> {
        let timeout = self.config.write_timeout;
        self.run("restore", timeout, self.inner.restore(hash)).await
    }

    fn list_tombstones(&self) -> ListStream {
        self.inner.list_tombstones()
    }

    fn region_status(&self) -> Vec<RegionStatus> {
        self.inner.region_status()
    }

    fn spool_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.spool_dir()
    }
}
