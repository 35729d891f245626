//! Content-addressed storage for Origami, with active-active multi-region failover.
//!
//! Originals are keyed by the BLAKE3 hash of their bytes ([`ContentHash`]), so every copy in every
//! region is interchangeable and verifiable. One object-safe trait, [`Store`], is implemented by
//! the backends ([`LocalStore`], [`S3Store`]) and by composable wrappers: [`FailoverStore`]
//! (N regions, no primary: rotating reads, hedging, circuit breakers, verified reads, quorum
//! writes and background repair) and [`FaultStore`] (fault injection for tests). [`sync()`]
//! brings every region up to date (`origami sync`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), origami_store::StoreError> {
//! use std::sync::Arc;
//! use origami_store::{FailoverConfig, FailoverStore, LocalStore, Store, StoreExt};
//!
//! let a: Arc<dyn Store> = Arc::new(LocalStore::with_name("a", "/tmp/a").map_err(|e| origami_store::StoreError::InvalidInput(e.to_string()))?);
//! let b: Arc<dyn Store> = Arc::new(LocalStore::with_name("b", "/tmp/b").map_err(|e| origami_store::StoreError::InvalidInput(e.to_string()))?);
//! let store = FailoverStore::new(vec![a, b], FailoverConfig::default())?;
//! let put = store.put_bytes(bytes::Bytes::from_static(b"hello")).await?;
//! assert_eq!(store.get(&put.hash).await?, &b"hello"[..]);
//! # Ok(()) }
//! ```

mod blob;
mod error;
mod failover;
mod fault;
mod hash;
mod key;
mod local;
pub mod metrics;
mod s3;
mod sniff;
mod store;
mod sync;
#[cfg(feature = "test-support")]
pub mod testing;

pub use blob::{Blob, BlobOptions};
pub use error::{CauseKind, RegionCause, Result, StoreError};
pub use failover::{FailoverConfig, FailoverStats, FailoverStore, RegionStatus, RepairConfig};
pub use fault::{FaultStore, Faults};
pub use hash::{ContentHash, ParseHashError};
pub use key::DerivedKey;
pub use local::LocalStore;
pub use s3::{S3Config, S3Store, StaticCredentials, CACHE_CONTROL};
pub use sniff::content_type as sniff_content_type;
pub use store::{ListStream, ObjectMeta, PutOutcome, Store, StoreExt};
pub use sync::{sync, ObjectReport, SyncEvent, SyncOptions, SyncReport};
