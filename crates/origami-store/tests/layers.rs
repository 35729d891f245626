//! The single-purpose layers on their own: instrumentation and verification over a bare store,
//! and the metadata reads carry through them.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::unique;
use origami_store::metrics::{INTEGRITY_FAILURES, REGION_REQUESTS, REGION_REQUEST_SECONDS};
use origami_store::testing::MetricsCapture;
use origami_store::{
    sync, Blob, CauseKind, ContentHash, FailoverStore, FaultStore, InstrumentConfig,
    InstrumentedStore, LocalStore, Store, StoreError, StoreExt, SyncOptions, VerifiedStore,
};

fn metrics() -> &'static MetricsCapture {
    MetricsCapture::global()
}

fn requests(region: &str, op: &str, outcome: &str) -> u64 {
    metrics().counter(
        REGION_REQUESTS,
        &[("region", region), ("op", op), ("outcome", outcome)],
    )
}

/// A bare store (here a local directory; an `S3Store` the same) made visible to operators: every
/// request counted and timed under the store's name, and cut off at its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumentation_counts_times_and_cuts_off_any_store() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("bare");
    let local = Arc::new(LocalStore::with_name(name.clone(), dir.path()).unwrap());
    let fault = FaultStore::new(local);
    let faults = fault.faults();
    let store = InstrumentedStore::new(
        Arc::new(fault),
        InstrumentConfig {
            read_timeout: Duration::from_millis(200),
            write_timeout: Duration::from_secs(5),
        },
    );
    assert_eq!(store.name(), name);
    let hash = store
        .put_bytes(Bytes::from_static(b"x"))
        .await
        .unwrap()
        .hash;
    assert_eq!(store.get(&hash).await.unwrap(), &b"x"[..]);
    assert!(store
        .get(&ContentHash::of(b"absent"))
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(requests(&name, "put", "ok"), 1);
    assert_eq!(requests(&name, "get", "ok"), 1);
    assert_eq!(requests(&name, "get", "not_found"), 1);
    assert_eq!(
        metrics()
            .histogram(REGION_REQUEST_SECONDS, &[("region", &name), ("op", "get")])
            .len(),
        2
    );

    faults.set_stopped(true);
    match store.head(&hash).await {
        Err(StoreError::Unavailable { causes }) => {
            assert_eq!(causes[0].kind, CauseKind::Timeout);
            assert_eq!(causes[0].region, name);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(requests(&name, "head", "timeout"), 1);
    // No breaker here: the store reports itself up.
    assert!(store.region_status()[0].up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_refuses_and_counts_a_corrupt_copy() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("verified");
    let fault = FaultStore::new(Arc::new(
        LocalStore::with_name(name.clone(), dir.path()).unwrap(),
    ));
    let faults = fault.faults();
    let store = VerifiedStore::new(Arc::new(fault));
    // Large enough to be hashed off the async threads.
    let data = Bytes::from(vec![5u8; (1 << 20) + 1]);
    let hash = store.put_bytes(data.clone()).await.unwrap().hash;
    assert_eq!(store.get(&hash).await.unwrap(), data);
    faults.set_corrupt(true);
    match store.get(&hash).await {
        Err(StoreError::Integrity { region, key, .. }) => {
            assert_eq!((region, key), (name.clone(), hash.to_string()));
        }
        other => panic!("expected Integrity, got {other:?}"),
    }
    assert_eq!(
        metrics().counter(INTEGRITY_FAILURES, &[("region", &name)]),
        1
    );
}

/// Copies made by `sync` and by the repair queue keep the media type the source recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_keep_the_source_content_type() {
    let server = origami_store::testing::S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let a = server
        .s3_store(&unique("ct-a"), common::BUCKET)
        .await
        .unwrap();
    let mut config = server.s3_config(&unique("ct-b"), common::BUCKET);
    config.key_prefix = "b/".into();
    let b = origami_store::S3Store::new(config).await.unwrap();
    let mut config = server.s3_config(&unique("ct-c"), common::BUCKET);
    config.key_prefix = "c/".into();
    let c = origami_store::S3Store::new(config).await.unwrap();

    let blob = Blob::from_bytes(Bytes::from_static(b"GIF89a...")).with_content_type("image/gif");
    let hash = a.put(&blob).await.unwrap().hash;

    // `origami sync` copies it to b.
    let regions: Vec<Arc<dyn Store>> = vec![Arc::new(a.clone()), Arc::new(b.clone())];
    let report = sync(&regions, &SyncOptions::default(), &|_| {}).await;
    assert_eq!(report.copied, 1, "{report:?}");
    let got = b.get(&hash).await.unwrap();
    assert_eq!(got.content_type.as_deref(), Some("image/gif"));

    // A read through a failover store finds c lacking it; the repair copies it there.
    let failover = FailoverStore::new(
        vec![Arc::new(a), Arc::new(c.clone())],
        common::test_config(),
    )
    .unwrap();
    for _ in 0..2 {
        let got = failover.get(&hash).await.unwrap();
        assert_eq!(got.content_type.as_deref(), Some("image/gif"));
    }
    let repaired =
        common::TwoRegions::wait_for(Duration::from_secs(10), || failover.repair_pending() == 0)
            .await;
    assert!(repaired.is_some());
    let got = c.get(&hash).await.unwrap();
    assert_eq!(got.content_type.as_deref(), Some("image/gif"));
}
