//! One conformance suite, run against every `Store`: local, S3, failover over S3, failover over a
//! local directory plus S3, a single-region failover over a local directory (the production
//! default), and each layer (instrumentation, verification, the fault wrapper with no fault set)
//! over a local directory.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashSet;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use origami_store::{
    BlobOptions, ContentHash, DerivedKey, FaultStore, InstrumentConfig, InstrumentedStore, Store,
    StoreError, StoreExt, VerifiedStore,
};

fn sample(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn list_all(store: &dyn Store) -> HashSet<ContentHash> {
    let mut out = HashSet::new();
    let mut stream = store.list();
    while let Some(item) = stream.next().await {
        out.insert(item.unwrap());
    }
    out
}

pub async fn roundtrip(store: &dyn Store) {
    let data = sample(10_000, 1);
    let out = store.put_bytes(data.clone()).await.unwrap();
    assert_eq!(out.hash, ContentHash::of(&data));
    assert_eq!(out.size, 10_000);
    assert!(!out.stored_in.is_empty());
    assert!(out.missed.is_empty(), "{:?}", out.missed);
    let got = store.get(&out.hash).await.unwrap();
    assert_eq!(got.bytes, data);
    assert_eq!(got.size(), 10_000);
    assert!(
        out.stored_in.iter().any(|r| **r == *got.region),
        "served by {} although stored in {:?}",
        got.region,
        out.stored_in
    );
    let meta = store.head(&out.hash).await.unwrap();
    assert_eq!((meta.hash, meta.size), (out.hash, 10_000));
    let status = store.region_status();
    assert!(!status.is_empty());
    assert!(
        status.iter().all(|r| r.up && r.consecutive_failures == 0),
        "{status:?}"
    );
}

pub async fn empty_body(store: &dyn Store) {
    let out = store.put_bytes(Bytes::new()).await.unwrap();
    assert_eq!(out.hash, ContentHash::of(b""));
    assert_eq!(store.get(&out.hash).await.unwrap(), Bytes::new());
    assert_eq!(store.head(&out.hash).await.unwrap().size, 0);
}

pub async fn missing(store: &dyn Store) {
    let hash = ContentHash::of(b"never stored");
    assert!(matches!(
        store.get(&hash).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.head(&hash).await,
        Err(StoreError::NotFound { .. })
    ));
    let key = DerivedKey::new(hash, "w/10.png").unwrap();
    assert!(matches!(
        store.get_derived(&key).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn idempotent_put(store: &dyn Store) {
    let data = sample(5_000, 2);
    let a = store.put_bytes(data.clone()).await.unwrap();
    let b = store.put_bytes(data.clone()).await.unwrap();
    assert_eq!(a.hash, b.hash);
    assert_eq!(store.get(&a.hash).await.unwrap(), data);
    assert_eq!(list_all(store).await, HashSet::from([a.hash]));
}

pub async fn streamed_put(store: &dyn Store) {
    // Larger than the memory limit: spooled to a temporary file while hashing.
    let data = sample(1 << 20, 3);
    let chunks: Vec<io::Result<Bytes>> = data
        .chunks(64 << 10)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let options = BlobOptions {
        memory_limit: 100 << 10,
        ..BlobOptions::default()
    };
    let out = store
        .put_stream(futures::stream::iter(chunks), &options)
        .await
        .unwrap();
    assert_eq!(out.hash, ContentHash::of(&data));
    assert_eq!(store.get(&out.hash).await.unwrap(), data);

    let small = sample(3_000, 4);
    let out = store.put_reader(&small[..], &options).await.unwrap();
    assert_eq!(store.get(&out.hash).await.unwrap(), small);
}

pub async fn failed_body_stores_nothing(store: &dyn Store) {
    let chunks = vec![
        Ok(Bytes::from_static(b"partial")),
        Err(io::Error::other("client went away")),
    ];
    let err = store
        .put_stream(futures::stream::iter(chunks), &BlobOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Body(_)), "{err}");
    let options = BlobOptions {
        max_len: Some(100),
        ..BlobOptions::default()
    };
    let err = store.put_reader(&[7u8; 101][..], &options).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))));
    assert!(list_all(store).await.is_empty());
}

pub async fn concurrent_writers(store: &dyn Store) {
    let data = sample(200_000, 5);
    let puts = (0..8).map(|_| store.put_bytes(data.clone()));
    for out in futures::future::join_all(puts).await {
        assert_eq!(out.unwrap().hash, ContentHash::of(&data));
    }
    assert_eq!(store.get(&ContentHash::of(&data)).await.unwrap(), data);
    assert_eq!(list_all(store).await.len(), 1);
}

pub async fn list(store: &dyn Store) {
    let mut expected = HashSet::new();
    for seed in 0..5 {
        expected.insert(
            store
                .put_bytes(sample(100 + usize::from(seed), seed))
                .await
                .unwrap()
                .hash,
        );
    }
    let key = DerivedKey::new(*expected.iter().next().unwrap(), "thumb/10/10.webp").unwrap();
    store
        .put_derived(&key, Bytes::from_static(b"derived bytes"))
        .await
        .unwrap();
    assert_eq!(
        list_all(store).await,
        expected,
        "derived objects are not originals"
    );
}

pub async fn derived(store: &dyn Store) {
    let original = store.put_bytes(sample(1_000, 6)).await.unwrap().hash;
    let a = DerivedKey::new(original, "thumb/400/300/q/75.webp").unwrap();
    let b = DerivedKey::new(original, "thumb/400/300/q/80.webp").unwrap();
    store
        .put_derived(&a, Bytes::from_static(b"version one"))
        .await
        .unwrap();
    store
        .put_derived(&b, Bytes::from_static(b"other spec"))
        .await
        .unwrap();
    let got = store.get_derived(&a).await.unwrap();
    assert_eq!(got, &b"version one"[..]);
    assert!(!got.region.is_empty());
    store
        .put_derived(&a, Bytes::from_static(b"version two"))
        .await
        .unwrap();
    assert_eq!(store.get_derived(&a).await.unwrap(), &b"version two"[..]);
    assert_eq!(store.get_derived(&b).await.unwrap(), &b"other spec"[..]);
    // The original is untouched.
    assert_eq!(store.get(&original).await.unwrap(), sample(1_000, 6));
}

async fn list_tombstones(store: &dyn Store) -> HashSet<ContentHash> {
    let mut out = HashSet::new();
    let mut stream = store.list_tombstones();
    while let Some(item) = stream.next().await {
        out.insert(item.unwrap());
    }
    out
}

/// A delete records a tombstone, removes the original and every derived object (reporting
/// their specs), and leaves other originals alone; it is idempotent; a restore lifts it.
pub async fn delete_and_restore(store: &dyn Store) {
    let data = sample(2_000, 7);
    let hash = store.put_bytes(data.clone()).await.unwrap().hash;
    let kept = store.put_bytes(sample(2_000, 8)).await.unwrap().hash;
    for spec in ["v1/thumb/400/300.webp", "v1/working-copy/2048.ogwc"] {
        let key = DerivedKey::new(hash, spec).unwrap();
        store
            .put_derived(&key, Bytes::from_static(b"derived"))
            .await
            .unwrap();
    }
    let kept_key = DerivedKey::new(kept, "v1/fit/10/10.png").unwrap();
    store
        .put_derived(&kept_key, Bytes::from_static(b"kept"))
        .await
        .unwrap();
    assert_eq!(store.tombstone(&hash).await.unwrap(), None);
    assert!(!store.is_deleted(&hash).await.unwrap());

    let deleted = store.delete(&hash).await.unwrap();
    assert_eq!(deleted.hash, hash);
    assert!(deleted.had_original);
    assert_eq!(
        deleted.derived,
        ["v1/thumb/400/300.webp", "v1/working-copy/2048.ogwc"]
    );
    assert!(deleted.is_complete(), "{:?}", deleted.pending);
    assert!(!deleted.deleted_in.is_empty());
    let tombstone = store.tombstone(&hash).await.unwrap().expect("a tombstone");
    assert_eq!(tombstone.hash, hash);
    assert!(store.is_deleted(&hash).await.unwrap());
    assert!(list_tombstones(store).await.contains(&hash));
    assert!(!list_all(store).await.contains(&hash));
    for result in [
        store.get(&hash).await.map(drop),
        store
            .get_derived(&DerivedKey::new(hash, "v1/thumb/400/300.webp").unwrap())
            .await
            .map(drop),
    ] {
        assert!(
            matches!(
                result,
                Err(StoreError::NotFound { .. } | StoreError::Deleted { .. })
            ),
            "{result:?}"
        );
    }
    // Others untouched.
    assert_eq!(store.get(&kept).await.unwrap(), sample(2_000, 8));
    assert_eq!(store.get_derived(&kept_key).await.unwrap(), &b"kept"[..]);
    assert!(!store.is_deleted(&kept).await.unwrap());

    // Again: nothing left to remove, still tombstoned.
    let again = store.delete(&hash).await.unwrap();
    assert!(!again.had_original);
    assert!(again.derived.is_empty());
    assert!(store.tombstone(&hash).await.unwrap().is_some());

    // Restored: no tombstone, and the bytes can be stored and read again.
    store.restore(&hash).await.unwrap();
    store.restore(&hash).await.unwrap();
    assert_eq!(store.tombstone(&hash).await.unwrap(), None);
    assert!(!store.is_deleted(&hash).await.unwrap());
    assert!(!list_tombstones(store).await.contains(&hash));
    store.put_bytes(data.clone()).await.unwrap();
    assert_eq!(store.get(&hash).await.unwrap(), data);

    // A hash never stored: tombstoned all the same, reported as not held.
    let never = ContentHash::of(b"never stored anywhere");
    let outcome = store.delete(&never).await.unwrap();
    assert!(!outcome.had_original);
    assert!(store.tombstone(&never).await.unwrap().is_some());
}

macro_rules! conformance {
    ($($module:ident => $fixture:expr;)*) => {$(
        mod $module {
            use super::*;
            conformance!(@tests $fixture; roundtrip, empty_body, missing, idempotent_put, streamed_put,
                failed_body_stores_nothing, concurrent_writers, list, derived, delete_and_restore);
        }
    )*};
    (@tests $fixture:expr; $($test:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let fixture = $fixture.await;
            super::$test(&*fixture.store).await;
        }
    )*};
}

async fn fault_passthrough() -> common::Fixture {
    let mut inner = common::local().await;
    let store: Arc<dyn Store> = Arc::new(FaultStore::new(inner.store.clone()));
    inner.store = store;
    inner
}

async fn instrumented() -> common::Fixture {
    let mut inner = common::local().await;
    inner.store = Arc::new(InstrumentedStore::new(
        inner.store.clone(),
        InstrumentConfig::default(),
    ));
    inner
}

async fn verified() -> common::Fixture {
    let mut inner = common::local().await;
    inner.store = Arc::new(VerifiedStore::new(inner.store.clone()));
    inner
}

conformance! {
    local => common::local();
    s3 => common::s3();
    failover_s3 => common::failover_s3();
    failover_local_and_s3 => common::failover_mixed();
    failover_single_local => common::failover_local();
    fault_wrapper => fault_passthrough();
    instrumented_local => instrumented();
    verified_local => verified();
}
