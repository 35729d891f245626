//! [`FaultStore`]: a wrapper that injects delays, errors, corruption and outages, for tests.

use std::sync::{Arc, Mutex};

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::blob::Blob;
use crate::error::{CauseKind, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::lock::lock;
use crate::store::{
    Access, DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, RegionStatus, Store,
    Tombstone,
};

/// The faults a [`FaultStore`] injects; a cheap handle that can be changed while the store is in
/// use (like `object_store`'s `ThrottledStore`, plus failure modes).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct FaultState {
    delay: Duration,
    error: bool,
    corrupt: bool,
    stopped: bool,
}

impl Faults {
    fn get(&self) -> FaultState {
        *lock(&self.state)
    }

    fn update(&self, f: impl FnOnce(&mut FaultState)) {
        f(&mut lock(&self.state));
    }

    /// Every operation waits this long before running (zero: no delay).
    pub fn set_delay(&self, delay: Duration) {
        self.update(|s| s.delay = delay);
    }

    /// Every operation fails at once with [`StoreError::Unavailable`].
    pub fn set_error(&self, on: bool) {
        self.update(|s| s.error = on);
    }

    /// Reads return the stored bytes with one byte flipped (or one byte, if empty).
    pub fn set_corrupt(&self, on: bool) {
        self.update(|s| s.corrupt = on);
    }

    /// Operations never complete, like a black-holed network: only the caller's timeout ends them.
    pub fn set_stopped(&self, on: bool) {
        self.update(|s| s.stopped = on);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.update(|s| *s = FaultState::default());
    }
}

/// Wraps a store and injects the faults set on its [`Faults`] handle.
#[derive(Debug)]
pub struct FaultStore {
    inner: Arc<dyn Store>,
    faults: Faults,
}

impl FaultStore {
    /// Wraps `inner`, with no fault set.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            faults: Faults::default(),
        }
    }

    /// The handle controlling the faults (clone it before moving the store into a failover set).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    async fn before(&self) -> Result<FaultState> {
        let state = self.faults.get();
        if state.stopped {
            std::future::pending::<()>().await;
        }
        if !state.delay.is_zero() {
            tokio::time::sleep(state.delay).await;
        }
        if state.error {
            return Err(StoreError::unavailable(
                self.inner.name(),
                CauseKind::Error,
                "injected fault",
            ));
        }
        Ok(state)
    }
}

fn corrupt(mut got: GetResult) -> GetResult {
    got.bytes = if got.bytes.is_empty() {
        Bytes::from_static(b"\0")
    } else {
        let mut out = BytesMut::from(&got.bytes[..]);
        out[0] ^= 0xff;
        out.freeze()
    };
    got
}

#[async_trait]
impl Store for FaultStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, hash: &ContentHash) -> Result<GetResult> {
        let state = self.before().await?;
        let got = self.inner.get(hash).await?;
        Ok(if state.corrupt { corrupt(got) } else { got })
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        self.before().await?;
        self.inner.head(hash).await
    }

    async fn check(&self) -> Result<Access> {
        self.before().await?;
        self.inner.check().await
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        self.before().await?;
        self.inner.put(blob).await
    }

    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome> {
        self.before().await?;
        self.inner.delete(hash).await
    }

    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>> {
        self.before().await?;
        self.inner.tombstone(hash).await
    }

    async fn restore(&self, hash: &ContentHash) -> Result<()> {
        self.before().await?;
        self.inner.restore(hash).await
    }

    fn list_tombstones(&self) -> ListStream {
        self.faulty_listing(self.inner.list_tombstones())
    }

    fn list(&self) -> ListStream {
        self.faulty_listing(self.inner.list())
    }

    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult> {
        let state = self.before().await?;
        let got = self.inner.get_derived(key).await?;
        Ok(if state.corrupt { corrupt(got) } else { got })
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        self.before().await?;
        self.inner.put_derived(key, data).await
    }

    fn region_status(&self) -> Vec<RegionStatus> {
        self.inner.region_status()
    }

    fn spool_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.spool_dir()
    }
}

impl FaultStore {
    /// `inner`, a listing, with the faults applied: stopped (never answers), failing, slowed.
    fn faulty_listing(&self, inner: ListStream) -> ListStream {
        let state = self.faults.get();
        if state.stopped {
            return futures::stream::pending().boxed();
        }
        if state.error {
            let err =
                StoreError::unavailable(self.inner.name(), CauseKind::Error, "injected fault");
            return futures::stream::once(async move { Err(err) }).boxed();
        }
        let delay = state.delay;
        futures::stream::once(tokio::time::sleep(delay))
            .flat_map(move |()| futures::stream::empty())
            .chain(inner)
            .boxed()
    }
}
