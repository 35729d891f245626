//! [`VerifiedStore`]: checks every original read against its hash, as a layer over any store.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::blob::Blob;
use crate::error::{CauseKind, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::metrics;
use crate::store::{
    Access, DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, RegionStatus, Store,
    Tombstone,
};

/// Above this size an original is hashed on the blocking pool, not on an async worker thread
/// (BLAKE3 runs at a few GB/s: a megabyte is under a millisecond, a large original much more).
const INLINE_HASH_LIMIT: usize = 1 << 20;

/// Wraps a store so that every original it reads is checked against its BLAKE3 hash: a copy
/// whose bytes hash to something else fails with [`StoreError::Integrity`] instead of being
/// served.
///
/// Every integrity failure the layer sees, its own or one the inner store reported (S3 checks a
/// stored checksum, and a derived object's digest), is counted in
/// `origami_integrity_failures_total{region}`. Derived objects have no content hash to check
/// here; everything else passes through. [`FailoverStore`](crate::FailoverStore) puts this layer
/// on each of its regions.
#[derive(Debug, Clone)]
pub struct VerifiedStore {
    inner: Arc<dyn Store>,
}

impl VerifiedStore {
    /// Verifies the originals read from `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        metrics::describe();
        Self { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    fn count<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(StoreError::Integrity { .. }) = &result {
            metrics::integrity_failure(self.inner.name());
        }
        result
    }
}

/// Checks that `data`, read from `region`, hashes to `hash` (off the async threads for large
/// objects). Counts nothing: the caller decides whether the failure is worth a metric.
pub(crate) async fn check(region: &str, hash: &ContentHash, data: Bytes) -> Result<Bytes> {
    let (data, actual) = if data.len() > INLINE_HASH_LIMIT {
        tokio::task::spawn_blocking(move || {
            let actual = ContentHash::of(&data);
            (data, actual)
        })
        .await
        .map_err(|e| {
            StoreError::unavailable(region, CauseKind::Error, format!("hashing task: {e}"))
        })?
    } else {
        let actual = ContentHash::of(&data);
        (data, actual)
    };
    if actual == *hash {
        Ok(data)
    } else {
        Err(StoreError::Integrity {
            region: region.to_owned(),
            key: hash.to_string(),
            detail: format!("content hashes to {actual}"),
        })
    }
}

#[async_trait]
impl Store for VerifiedStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, hash: &ContentHash) -> Result<GetResult> {
        let result = async {
            let mut got = self.inner.get(hash).await?;
            got.bytes = check(self.inner.name(), hash, got.bytes).await?;
            Ok(got)
        }
        .await;
        self.count(result)
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        self.inner.head(hash).await
    }

    async fn check(&self) -> Result<Access> {
        self.inner.check().await
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        self.inner.put(blob).await
    }

    fn list(&self) -> ListStream {
        self.inner.list()
    }

    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult> {
        let result = self.inner.get_derived(key).await;
        self.count(result)
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        self.inner.put_derived(key, data).await
    }

    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome> {
        self.inner.delete(hash).await
    }

    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>> {
        self.inner.tombstone(hash).await
    }

    async fn restore(&self, hash: &ContentHash) -> Result<()> {
        self.inner.restore(hash).await
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
