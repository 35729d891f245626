//! The [`Store`] trait, its value types and the [`StoreExt`] conveniences.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::Stream;
use tokio::io::AsyncRead;

use crate::blob::{Blob, BlobOptions};
use crate::error::{RegionCause, Result};
use crate::hash::ContentHash;
use crate::key::DerivedKey;

/// What a store knows about an original without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The original's hash (its key).
    pub hash: ContentHash,
    /// Its size in bytes.
    pub size: u64,
    /// When this copy was written, when the backend says.
    pub last_modified: Option<SystemTime>,
}

/// What a [`Store::put`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// The content's hash: its key from now on.
    pub hash: ContentHash,
    /// The content's size in bytes.
    pub size: u64,
    /// The regions that acknowledged the write (a single store reports its own name).
    pub stored_in: Vec<String>,
    /// The regions that missed it, and why; a failover store queues them for repair.
    pub missed: Vec<RegionCause>,
}

/// A stream of the hashes of every original in a store, in no particular order.
pub type ListStream = BoxStream<'static, Result<ContentHash>>;

/// Content-addressed storage for originals, plus a key space for derived objects.
///
/// Modelled on `object_store`: one object-safe trait (hold it as `Arc<dyn Store>`) implemented by
/// backends ([`LocalStore`](crate::LocalStore), [`S3Store`](crate::S3Store)) and by composable
/// wrappers ([`FailoverStore`](crate::FailoverStore), [`FaultStore`](crate::FaultStore)).
///
/// Originals are keyed by the BLAKE3 hash of their bytes, so writing the same content twice is
/// harmless and every copy is interchangeable. Backends return what they hold; the failover
/// wrapper verifies every original it reads against its hash.
#[async_trait]
pub trait Store: fmt::Debug + Send + Sync + 'static {
    /// The store's name: the region label in metrics, logs and `X-Origami-Region`.
    fn name(&self) -> &str;

    /// Reads the original `hash`. [`StoreError::NotFound`](crate::StoreError::NotFound) when absent.
    async fn get(&self, hash: &ContentHash) -> Result<Bytes>;

    /// The size and date of the original `hash`, without reading it.
    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta>;

    /// Writes `blob` under its hash. Writing content that is already stored rewrites it (which is
    /// how a corrupt copy is repaired); concurrent writers of the same content are safe.
    async fn put(&self, blob: &Blob) -> Result<PutOutcome>;

    /// Every original's hash (for `origami sync`). Keys that are not hashes are skipped.
    fn list(&self) -> ListStream;

    /// Reads the derived object `key`.
    async fn get_derived(&self, key: &DerivedKey) -> Result<Bytes>;

    /// Writes the derived object `key`, replacing any previous version.
    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()>;
}

/// Conveniences over [`Store::put`] for the ways a body arrives.
pub trait StoreExt: Store {
    /// Stores an in-memory body.
    fn put_bytes(&self, data: Bytes) -> impl Future<Output = Result<PutOutcome>> + Send {
        async move { self.put(&Blob::from_bytes(data)).await }
    }

    /// Stores a streamed body, hashing it as it arrives (see [`Blob::from_stream`]).
    fn put_stream<S>(
        &self,
        stream: S,
        options: &BlobOptions,
    ) -> impl Future<Output = Result<PutOutcome>> + Send
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        async move {
            let blob = Blob::from_stream(stream, options).await?;
            self.put(&blob).await
        }
    }

    /// Stores a body read from `reader`, hashing it as it is read (see [`Blob::from_reader`]).
    fn put_reader<R>(
        &self,
        reader: R,
        options: &BlobOptions,
    ) -> impl Future<Output = Result<PutOutcome>> + Send
    where
        R: AsyncRead + Send,
    {
        async move {
            let blob = Blob::from_reader(reader, options).await?;
            self.put(&blob).await
        }
    }
}

impl<T: Store + ?Sized> StoreExt for T {}
