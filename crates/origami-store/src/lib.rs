//! Content-addressed storage for Origami, with active-active multi-region failover.
//!
//! Originals are keyed by the BLAKE3 hash of their bytes ([`ContentHash`]), so every copy in every
//! region is interchangeable and verifiable. One object-safe trait, [`Store`], is implemented by
//! the backends ([`LocalStore`], [`S3Store`]) and by composable wrappers, each with one purpose:
//!
//! * [`InstrumentedStore`]: a timeout on every request and the per-region request metrics;
//! * [`VerifiedStore`]: every original read is checked against its hash;
//! * [`FailoverStore`]: N regions (each wrapped in the two layers above), no primary: rotating
//!   reads, hedging, circuit breakers, quorum writes and background repair;
//! * [`FaultStore`]: fault injection, for tests.
//!
//! Reads return a [`GetResult`]: the bytes, the region that served them and, when the backend
//! records one, their media type. The store never sniffs content: callers name the media type of
//! what they write ([`Blob::with_content_type`]). [`sync()`] brings every region up to date
//! (`origami sync`).
//!
//! ```
//! use std::sync::Arc;
//! use origami_store::{FailoverConfig, FailoverStore, LocalStore, Store, StoreExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     // The production default: one local directory behind the failover layer.
//!     let local: Arc<dyn Store> = Arc::new(LocalStore::with_name("local", dir.path())?);
//!     let store = FailoverStore::new(vec![local], FailoverConfig::default())?;
//!
//!     let put = store.put_bytes(bytes::Bytes::from_static(b"hello")).await?;
//!     assert_eq!(put.stored_in, ["local"]);
//!
//!     let got = store.get(&put.hash).await?;
//!     assert_eq!(got.bytes, &b"hello"[..]);
//!     assert_eq!(&*got.region, "local");
//!     assert_eq!(got.size(), 5);
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })
//! # }
//! ```

#![deny(missing_docs)]

mod blob;
mod error;
mod failover;
mod fault;
mod hash;
mod instrument;
mod key;
mod local;
mod lock;
mod media;
pub mod metrics;
mod s3;
mod store;
mod sync;
#[cfg(feature = "test-support")]
pub mod testing;
mod verify;

pub use blob::{Blob, BlobOptions};
pub use error::{CauseKind, RegionCause, Result, StoreError};
pub use failover::{FailoverConfig, FailoverStats, FailoverStore, RepairConfig};
pub use fault::{FaultStore, Faults};
pub use hash::{ContentHash, ParseHashError};
pub use instrument::{InstrumentConfig, InstrumentedStore};
pub use key::DerivedKey;
pub use local::LocalStore;
pub use s3::{S3Config, S3Store, StaticCredentials, CACHE_CONTROL};
pub use store::{
    Access, DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, RegionCheck,
    RegionStatus, Store, StoreExt, Tombstone,
};
pub use sync::{sync, ObjectReport, SyncEvent, SyncOptions, SyncReport};
pub use verify::VerifiedStore;
