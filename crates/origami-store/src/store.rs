//! The [`Store`] trait, its value types and the [`StoreExt`] conveniences.

use std::fmt;
use std::future::Future;
use std::io;
use std::ops::Deref;
use std::sync::Arc;
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

/// What a read ([`Store::get`], [`Store::get_derived`]) returns: the bytes, and where they came
/// from (like `object_store`'s `GetResult`).
///
/// It dereferences to the bytes and compares equal to byte slices, so code that only wants the
/// content can use it as it used [`Bytes`]; [`GetResult::into_bytes`] takes them out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetResult {
    /// The content.
    pub bytes: Bytes,
    /// The region that served it: a backend's own [`Store::name`], or for a
    /// [`FailoverStore`](crate::FailoverStore) the region the read was served from (the value of
    /// `X-Origami-Region`).
    pub region: Arc<str>,
    /// The media type the object was stored with, when the backend records one (S3's
    /// `Content-Type`); `None` for backends that store bare bytes ([`LocalStore`](crate::LocalStore)).
    pub content_type: Option<String>,
}

impl GetResult {
    /// Bytes served by `region`, with no known content type.
    pub fn new(bytes: Bytes, region: impl Into<Arc<str>>) -> Self {
        Self {
            bytes,
            region: region.into(),
            content_type: None,
        }
    }

    /// The same result, with the media type the backend reported.
    pub fn with_content_type(mut self, content_type: Option<String>) -> Self {
        self.content_type = content_type;
        self
    }

    /// The content's size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The content, dropping the metadata.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

impl Deref for GetResult {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for GetResult {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<GetResult> for Bytes {
    fn from(result: GetResult) -> Self {
        result.bytes
    }
}

impl PartialEq<[u8]> for GetResult {
    fn eq(&self, other: &[u8]) -> bool {
        self.bytes == other
    }
}

impl PartialEq<&[u8]> for GetResult {
    fn eq(&self, other: &&[u8]) -> bool {
        self.bytes == *other
    }
}

impl PartialEq<Bytes> for GetResult {
    fn eq(&self, other: &Bytes) -> bool {
        self.bytes == other
    }
}

impl PartialEq<Vec<u8>> for GetResult {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.bytes == other
    }
}

/// What [`Store::delete`] did: the original taken down, where, and what else went with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteOutcome {
    /// The original's hash.
    pub hash: ContentHash,
    /// Whether a region that confirmed the delete held the original.
    pub had_original: bool,
    /// The specs of the derived objects removed with it (every region's, sorted, no duplicates):
    /// what a CDN may still cache.
    pub derived: Vec<String>,
    /// The regions that recorded the tombstone and removed their copies.
    pub deleted_in: Vec<String>,
    /// The regions that did not confirm it, and why. A [`FailoverStore`](crate::FailoverStore)
    /// queues the delete for them and retries it like a repair; `origami sync` finishes it too.
    pub pending: Vec<RegionCause>,
}

impl DeleteOutcome {
    /// The outcome of a delete in the single store `region`.
    pub fn single(
        hash: ContentHash,
        region: impl Into<String>,
        had_original: bool,
        derived: Vec<String>,
    ) -> Self {
        Self {
            hash,
            had_original,
            derived,
            deleted_in: vec![region.into()],
            pending: vec![],
        }
    }

    /// True when every region confirmed the delete.
    pub fn is_complete(&self) -> bool {
        self.pending.is_empty()
    }
}

/// The record that an original was taken down ([`Store::delete`]): reads of it answer
/// [`StoreError::Deleted`](crate::StoreError::Deleted) and uploads of the same bytes are
/// refused until [`Store::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The original's hash.
    pub hash: ContentHash,
    /// When it was recorded, when the backend says.
    pub deleted_at: Option<SystemTime>,
}

/// A region's health as a store sees it ([`Store::region_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionStatus {
    /// The region's name.
    pub name: String,
    /// False while its circuit breaker is open (always true for a store without one).
    pub up: bool,
    /// Its consecutive failures so far (always 0 for a store without a breaker).
    pub consecutive_failures: u32,
    /// What its latest [`Store::check`] found.
    pub check: RegionCheck,
}

/// The outcome of a region's latest [`Store::check`], as [`Store::region_status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionCheck {
    /// Not checked yet (or by a store that does not keep track).
    NotYet,
    /// It answered, with these rights.
    Answered(Access),
    /// It could not be checked: the reason.
    Failed(String),
}

/// What [`Store::check`] found a store's credentials may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Access {
    /// Whether they may list the originals. Without it (no `s3:ListBucket`) S3 answers a read
    /// of a missing key with 403, not 404, and the store then takes a 403 for "not found"
    /// rather than a failure of the region.
    pub can_list: bool,
}

impl Access {
    /// Full access: reads, writes and listing.
    pub const FULL: Self = Self { can_list: true };

    /// Access without listing.
    pub const WITHOUT_LIST: Self = Self { can_list: false };
}

/// A stream of the hashes of every original in a store, in no particular order.
pub type ListStream = BoxStream<'static, Result<ContentHash>>;

/// Content-addressed storage for originals, plus a key space for derived objects.
///
/// Modelled on `object_store`: one object-safe trait (hold it as `Arc<dyn Store>`) implemented by
/// backends ([`LocalStore`](crate::LocalStore), [`S3Store`](crate::S3Store)) and by composable
/// wrappers: the single-purpose layers [`InstrumentedStore`](crate::InstrumentedStore) (timeouts
/// and metrics), [`VerifiedStore`](crate::VerifiedStore) (hash verification) and
/// [`FaultStore`](crate::FaultStore) (fault injection), and [`FailoverStore`](crate::FailoverStore)
/// over N regions.
///
/// Originals are keyed by the BLAKE3 hash of their bytes, so writing the same content twice is
/// harmless and every copy is interchangeable. Backends return what they hold; the verification
/// layer (which the failover store puts on every region) checks every original read against its
/// hash.
#[async_trait]
pub trait Store: fmt::Debug + Send + Sync + 'static {
    /// The store's name: the region label in metrics, logs and `X-Origami-Region`.
    fn name(&self) -> &str;

    /// Reads the original `hash`, with the region that served it.
    /// [`StoreError::NotFound`](crate::StoreError::NotFound) when absent.
    async fn get(&self, hash: &ContentHash) -> Result<GetResult>;

    /// The size and date of the original `hash`, without reading it.
    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta>;

    /// Writes `blob` under its hash. Writing content that is already stored rewrites it (which is
    /// how a corrupt copy is repaired); concurrent writers of the same content are safe.
    async fn put(&self, blob: &Blob) -> Result<PutOutcome>;

    /// Every original's hash (for `origami sync`). Keys that are not hashes are skipped.
    fn list(&self) -> ListStream;

    /// Reads the derived object `key`, with the region that served it.
    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult>;

    /// Writes the derived object `key`, replacing any previous version.
    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()>;

    /// Takes the original `hash` down in this store: records a tombstone first (so that a crash
    /// midway leaves the original refused, never served), then removes the original and every
    /// derived object of it. Idempotent: deleting again finishes what an interrupted delete
    /// left, and deleting a hash never stored records its tombstone all the same (so its upload
    /// is refused), with [`DeleteOutcome::had_original`] false.
    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome>;

    /// The tombstone of `hash` in this store, if it was deleted.
    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>>;

    /// Whether `hash` was deleted. Backends read their tombstone; a
    /// [`FailoverStore`](crate::FailoverStore) asks every region and remembers the answer for
    /// [`FailoverConfig::tombstone_recheck`](crate::FailoverConfig::tombstone_recheck).
    async fn is_deleted(&self, hash: &ContentHash) -> Result<bool> {
        Ok(self.tombstone(hash).await?.is_some())
    }

    /// Removes the tombstone of `hash`, so that its bytes may be uploaded again. Removing a
    /// tombstone that does not exist succeeds.
    async fn restore(&self, hash: &ContentHash) -> Result<()>;

    /// Every tombstoned hash (for `origami sync`), in no particular order.
    fn list_tombstones(&self) -> ListStream;

    /// The health of the regions behind this store (`/readyz`). A plain backend has no breaker:
    /// it reports itself, up, with no failures. Wrappers forward their inner store's status and
    /// [`FailoverStore`](crate::FailoverStore) reports each region's circuit breaker.
    fn region_status(&self) -> Vec<RegionStatus> {
        vec![RegionStatus {
            name: self.name().to_owned(),
            up: true,
            consecutive_failures: 0,
            check: RegionCheck::NotYet,
        }]
    }

    /// Checks that the store answers with its credentials and finds what they may do: one
    /// cheap request (S3: a one-key listing of the originals' prefix), made at start-up and
    /// before readiness. An error means the store cannot serve (unreachable, missing bucket,
    /// rejected credentials). The default, for stores with nothing to check: full access.
    async fn check(&self) -> Result<Access> {
        Ok(Access::FULL)
    }

    /// A directory for spooling bodies on their way into this store (see
    /// [`BlobOptions::spool_dir`](crate::BlobOptions::spool_dir)), which the store cleans of
    /// leftovers when it opens, so a crash mid-upload leaves nothing behind for good. `None`
    /// (the default, and S3): the system's temporary directory.
    fn spool_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
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
