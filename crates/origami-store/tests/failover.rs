//! Failover over real S3 servers on loopback that are really stopped, slowed or failing.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{test_config, unique, TwoRegions};
use origami_store::metrics::{HEDGED_READS, INTEGRITY_FAILURES, REGION_REQUESTS, REGION_UP};
use origami_store::testing::MetricsCapture;
use origami_store::{
    sync, CauseKind, ContentHash, DerivedKey, FailoverConfig, FailoverStore, FaultStore,
    LocalStore, RepairConfig, Store, StoreError, StoreExt, SyncOptions,
};

fn metrics() -> &'static MetricsCapture {
    MetricsCapture::global()
}

fn up_gauge(region: &str) -> Option<f64> {
    metrics().gauge(REGION_UP, &[("region", region)])
}

fn image(seed: u8) -> Bytes {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    data.extend((0..20_000u32).map(|i| (i as u8).wrapping_mul(13) ^ seed));
    data.into()
}

fn is_up(store: &FailoverStore, idx: usize) -> bool {
    store.region_status()[idx].up
}

/// Reads until region `idx`'s breaker opens (reads rotate, so about half start at it).
async fn read_until_down(two: &TwoRegions, hash: &ContentHash, data: &Bytes, idx: usize) {
    for _ in 0..20 {
        assert_eq!(
            &two.failover.get(hash).await.unwrap(),
            data,
            "reads keep succeeding"
        );
        if !is_up(&two.failover, idx) {
            return;
        }
    }
    panic!(
        "breaker of region {idx} never opened: {:?}",
        two.failover.region_status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_down_reads_and_writes_still_succeed() {
    metrics();
    let two = TwoRegions::start(test_config()).await;
    let data = image(1);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    assert_eq!(up_gauge(&two.names[0]), Some(1.0));

    two.servers[0].stop();
    read_until_down(&two, &hash, &data, 0).await;
    assert_eq!(
        up_gauge(&two.names[0]),
        Some(0.0),
        "region-up gauge drops to 0"
    );
    assert_eq!(up_gauge(&two.names[1]), Some(1.0));
    assert!(
        metrics().counter(
            REGION_REQUESTS,
            &[
                ("region", &two.names[0]),
                ("op", "get"),
                ("outcome", "error")
            ]
        ) >= 3,
        "failures counted per region"
    );

    // Writes succeed on the surviving region; the missed copy is queued.
    let other = image(2);
    let out = two.failover.put_bytes(other.clone()).await.unwrap();
    assert_eq!(out.stored_in, vec![two.names[1].clone()]);
    assert_eq!(out.missed.len(), 1);
    assert_eq!(out.missed[0].region, two.names[0]);
    assert_eq!(two.failover.repair_pending(), 1);
    for _ in 0..4 {
        assert_eq!(two.failover.get(&out.hash).await.unwrap(), other);
    }
    // Derived objects too.
    let key = DerivedKey::new(hash, "thumb/10/10.png").unwrap();
    two.failover
        .put_derived(&key, Bytes::from_static(b"rendition"))
        .await
        .unwrap();
    assert_eq!(
        two.failover.get_derived(&key).await.unwrap(),
        &b"rendition"[..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_recovers_breaker_closes_and_repair_queue_catches_up() {
    metrics();
    let config = test_config();
    let probe = config.breaker_probe;
    let two = TwoRegions::start(config).await;
    let data = image(3);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    two.servers[0].stop();
    read_until_down(&two, &hash, &data, 0).await;

    // A write during the outage lands in region b only.
    let during = image(4);
    let out = two.failover.put_bytes(during.clone()).await.unwrap();
    assert_eq!(out.stored_in, vec![two.names[1].clone()]);
    assert!(matches!(
        two.stores[0].get(&out.hash).await,
        Err(StoreError::Unavailable { .. })
    ));
    assert_eq!(two.failover.repair_pending(), 1);

    // The region comes back: with no traffic at all, the background probe closes the breaker
    // (the probe interval is 300 ms; the bound below only guards against hanging).
    two.servers[0].restart().await.unwrap();
    let took = TwoRegions::wait_for(Duration::from_secs(10), || is_up(&two.failover, 0)).await;
    let took =
        took.unwrap_or_else(|| panic!("breaker never closed: {:?}", two.failover.region_status()));
    eprintln!("breaker closed {took:?} after the restart (probe interval {probe:?})");
    assert_eq!(
        up_gauge(&two.names[0]),
        Some(1.0),
        "region-up gauge back to 1"
    );

    // The repair queue copies the missed write into the recovered region.
    let repaired = TwoRegions::wait_for(Duration::from_secs(10), || {
        two.failover.repair_pending() == 0
    })
    .await;
    assert!(repaired.is_some(), "repair queue never drained");
    assert_eq!(two.stores[0].get(&out.hash).await.unwrap(), during);
    assert_eq!(two.failover.stats().repairs_done, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_region_is_hedged() {
    metrics();
    let config = FailoverConfig {
        hedge_after: Duration::from_millis(50),
        attempt_timeout: Duration::from_secs(30),
        ..test_config()
    };
    let two = TwoRegions::start(config).await;
    let data = image(5);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;

    let slow = Duration::from_secs(5);
    two.servers[0].set_delay(slow);
    // Reads rotate, so one of these two starts at the slow region and must be hedged.
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(two.failover.get(&hash).await.unwrap(), data);
        let took = started.elapsed();
        assert!(
            took < slow - Duration::from_secs(1),
            "read took {took:?}: it waited for the slow region"
        );
    }
    assert_eq!(two.failover.stats().hedged_reads, 1);
    assert_eq!(
        metrics().counter(HEDGED_READS, &[("region", &two.names[0])]),
        1,
        "hedge counted against the slow region"
    );
    assert!(
        is_up(&two.failover, 0),
        "a cancelled hedge is not a failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_region_without_hedging_times_out_and_fails_over() {
    metrics();
    let config = FailoverConfig {
        hedge_after: Duration::ZERO,
        attempt_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let two = TwoRegions::start(config).await;
    let data = image(6);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    two.servers[1].set_delay(Duration::from_secs(5));
    for _ in 0..2 {
        assert_eq!(two.failover.get(&hash).await.unwrap(), data);
    }
    assert_eq!(two.failover.stats().hedged_reads, 0);
    assert_eq!(
        metrics().counter(
            REGION_REQUESTS,
            &[("region", &two.names[1]), ("outcome", "timeout")]
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erroring_region_fails_over_and_opens_breaker() {
    metrics();
    let two = TwoRegions::start(test_config()).await;
    let data = image(7);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    two.servers[1].set_failing(true);
    read_until_down(&two, &hash, &data, 1).await;
    assert_eq!(up_gauge(&two.names[1]), Some(0.0));
    two.servers[1].set_failing(false);
    assert!(
        TwoRegions::wait_for(Duration::from_secs(10), || is_up(&two.failover, 1))
            .await
            .is_some()
    );
    assert_eq!(up_gauge(&two.names[1]), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_missing_from_one_region_is_served_from_the_other() {
    metrics();
    let two = TwoRegions::start(test_config()).await;
    let data = image(8);
    // Written to region b only, behind the failover store's back (replication lag).
    let hash = two.stores[1].put_bytes(data.clone()).await.unwrap().hash;
    for _ in 0..2 {
        assert_eq!(two.failover.get(&hash).await.unwrap(), data);
    }
    assert!(
        two.failover.region_status().iter().all(|r| r.up),
        "NotFound is not a region failure"
    );
    // Read repair: the region that lacked it gets a copy.
    assert!(
        TwoRegions::wait_for(Duration::from_secs(10), || two.failover.repair_pending()
            == 0)
        .await
        .is_some()
    );
    assert_eq!(two.stores[0].get(&hash).await.unwrap(), data);

    // NotFound only when every region says so.
    let nowhere = ContentHash::of(b"nowhere");
    assert!(matches!(
        two.failover.get(&nowhere).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_copy_is_detected_counted_and_served_from_the_other_region() {
    metrics();
    let config = FailoverConfig {
        repair: RepairConfig {
            enabled: false,
            ..RepairConfig::default()
        },
        ..test_config()
    };
    let two = TwoRegions::start(config).await;
    let data = image(9);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    // Flip bytes in region a's file behind S3's back (same length).
    let path = two.servers[0].object_path(common::BUCKET, &two.stores[0].key_of(&hash));
    let mut bad = std::fs::read(&path).unwrap();
    bad[100] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    // (S3 stored a CRC32 with the object: the SDK notices the mismatch before BLAKE3 does.)
    assert!(matches!(
        two.stores[0].get(&hash).await,
        Err(StoreError::Integrity { .. })
    ));

    for _ in 0..2 {
        assert_eq!(
            two.failover.get(&hash).await.unwrap(),
            data,
            "never serves the corrupt copy"
        );
    }
    assert_eq!(two.failover.stats().integrity_failures, 1);
    assert_eq!(
        metrics().counter(INTEGRITY_FAILURES, &[("region", &two.names[0])]),
        1
    );
    assert!(
        is_up(&two.failover, 0),
        "one bad object does not take the region down"
    );

    // `origami sync --verify` finds and repairs it.
    let regions = two.failover.regions();
    let report = sync(
        &regions,
        &SyncOptions {
            verify: true,
            ..SyncOptions::default()
        },
        &|_| {},
    )
    .await;
    assert_eq!(
        (report.corrupt, report.repaired, report.failed),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let again = sync(
        &regions,
        &SyncOptions {
            verify: true,
            ..SyncOptions::default()
        },
        &|_| {},
    )
    .await;
    assert_eq!(
        (again.corrupt, again.repaired, again.copied),
        (0, 0, 0),
        "idempotent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_regions_down_is_unavailable() {
    metrics();
    let two = TwoRegions::start(test_config()).await;
    let hash = two.failover.put_bytes(image(10)).await.unwrap().hash;
    two.servers[0].stop();
    two.servers[1].stop();
    match two.failover.get(&hash).await {
        Err(StoreError::Unavailable { causes }) => {
            assert_eq!(causes.len(), 2, "{causes:?}");
            assert!(
                causes.iter().all(|c| c.kind == CauseKind::Error),
                "{causes:?}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        two.failover.put_bytes(image(11)).await,
        Err(StoreError::Unavailable { .. })
    ));
    // Once the breakers are open, requests fail fast with the breaker as the cause.
    for _ in 0..6 {
        let _ = two.failover.get(&hash).await;
    }
    assert!(two.failover.region_status().iter().all(|r| !r.up));
    match two.failover.get(&hash).await {
        Err(StoreError::Unavailable { causes }) => {
            assert!(
                causes.iter().all(|c| c.kind == CauseKind::CircuitOpen),
                "{causes:?}"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_quorum_not_met_is_an_error_but_the_copy_is_kept_and_queued() {
    metrics();
    let two = TwoRegions::start(FailoverConfig {
        write_quorum: 2,
        ..test_config()
    })
    .await;
    two.servers[0].stop();
    let data = image(12);
    let err = two.failover.put_bytes(data.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert_eq!(
        two.stores[1].get(&ContentHash::of(&data)).await.unwrap(),
        data
    );
    assert_eq!(two.failover.repair_pending(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_copies_writes_missed_during_an_outage() {
    metrics();
    let config = FailoverConfig {
        repair: RepairConfig {
            enabled: false,
            ..RepairConfig::default()
        },
        ..test_config()
    };
    let two = TwoRegions::start(config).await;
    let before = two.failover.put_bytes(image(13)).await.unwrap().hash;
    two.servers[0].stop();
    let during: Vec<ContentHash> =
        futures::future::join_all((14..17).map(|s| two.failover.put_bytes(image(s))))
            .await
            .into_iter()
            .map(|r| r.unwrap().hash)
            .collect();
    let regions = two.failover.regions();

    // While region a is down, sync reports it and copies nothing there.
    let report = sync(&regions, &SyncOptions::default(), &|_| {}).await;
    assert_eq!(report.unlisted.len(), 1);
    assert!(!report.is_clean());

    two.servers[0].restart().await.unwrap();
    let dry = sync(
        &regions,
        &SyncOptions {
            dry_run: true,
            ..SyncOptions::default()
        },
        &|_| {},
    )
    .await;
    assert_eq!((dry.objects, dry.copied), (4, 3), "{dry:?}");
    assert!(
        matches!(
            two.stores[0].get(&during[0]).await,
            Err(StoreError::NotFound { .. })
        ),
        "dry run writes nothing"
    );

    let events = std::sync::Mutex::new(0);
    let report = sync(
        &regions,
        &SyncOptions {
            concurrency: 2,
            ..SyncOptions::default()
        },
        &|_| {
            *events.lock().unwrap() += 1;
        },
    )
    .await;
    assert_eq!(
        (
            report.objects,
            report.examined,
            report.copied,
            report.failed
        ),
        (4, 3, 3, 0),
        "{report:?}"
    );
    assert!(report.is_clean());
    assert!(*events.lock().unwrap() >= 3 + 1 + 2);
    for hash in during.iter().chain([&before]) {
        assert_eq!(
            two.stores[0].get(hash).await.unwrap().bytes,
            two.stores[1].get(hash).await.unwrap().bytes
        );
    }
    let again = sync(&regions, &SyncOptions::default(), &|_| {}).await;
    assert_eq!((again.examined, again.copied), (0, 0), "idempotent");
}

/// Fault injection without S3: a black-holed region (never answers) is cut off by the attempt
/// timeout; a corrupting one by verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_store_blackhole_and_corruption() {
    metrics();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = FaultStore::new(Arc::new(
        LocalStore::with_name(unique("fault-a"), dirs[0].path()).unwrap(),
    ));
    let b = FaultStore::new(Arc::new(
        LocalStore::with_name(unique("fault-b"), dirs[1].path()).unwrap(),
    ));
    let (fa, fb) = (a.faults(), b.faults());
    let config = FailoverConfig {
        hedge_after: Duration::ZERO,
        attempt_timeout: Duration::from_millis(200),
        ..test_config()
    };
    let store = FailoverStore::new(vec![Arc::new(a), Arc::new(b)], config).unwrap();
    let data = image(20);
    let hash = store.put_bytes(data.clone()).await.unwrap().hash;

    fa.set_stopped(true);
    for _ in 0..2 {
        assert_eq!(store.get(&hash).await.unwrap(), data);
    }
    fa.clear();
    fb.set_corrupt(true);
    for _ in 0..2 {
        assert_eq!(store.get(&hash).await.unwrap(), data);
    }
    assert_eq!(store.stats().integrity_failures, 1);
    fb.clear();
    fa.set_error(true);
    fb.set_error(true);
    assert!(matches!(
        store.get(&hash).await,
        Err(StoreError::Unavailable { .. })
    ));
}

/// A region that never answers, with hedging on: every read is won by the hedge, yet the
/// abandoned attempts still time out in the background and open the breaker; writes return
/// after the quorum plus a grace period instead of the (long) write timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_region_with_hedging_still_trips_the_breaker() {
    metrics();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = FaultStore::new(Arc::new(
        LocalStore::with_name(unique("hole-a"), dirs[0].path()).unwrap(),
    ));
    let b = FaultStore::new(Arc::new(
        LocalStore::with_name(unique("hole-b"), dirs[1].path()).unwrap(),
    ));
    let fa = a.faults();
    let config = FailoverConfig {
        hedge_after: Duration::from_millis(20),
        attempt_timeout: Duration::from_millis(200),
        write_timeout: Duration::from_secs(60),
        breaker_probe: Duration::from_secs(60),
        ..test_config()
    };
    let store = FailoverStore::new(vec![Arc::new(a), Arc::new(b)], config).unwrap();
    let data = image(30);
    let hash = store.put_bytes(data.clone()).await.unwrap().hash;
    fa.set_stopped(true);
    for _ in 0..6 {
        assert_eq!(store.get(&hash).await.unwrap(), data);
    }
    let down = TwoRegions::wait_for(Duration::from_secs(10), || !is_up(&store, 0)).await;
    assert!(
        down.is_some(),
        "breaker never opened: {:?}",
        store.region_status()
    );

    // Writes: a black-holed region that is not yet known to be down.
    let dirs2 = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = FaultStore::new(Arc::new(
        LocalStore::with_name(unique("hole-c"), dirs2[0].path()).unwrap(),
    ));
    let b = FaultStore::new(Arc::new(
        LocalStore::with_name(unique("hole-d"), dirs2[1].path()).unwrap(),
    ));
    a.faults().set_stopped(true);
    let config = FailoverConfig {
        attempt_timeout: Duration::from_millis(200),
        write_timeout: Duration::from_secs(60),
        ..test_config()
    };
    let store = FailoverStore::new(vec![Arc::new(a), Arc::new(b)], config).unwrap();
    let started = Instant::now();
    let out = store.put_bytes(image(31)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the write timeout"
    );
    assert_eq!(out.stored_in.len(), 1);
    assert_eq!(out.missed[0].kind, CauseKind::Timeout);
}

/// Originals and derived objects rotate separately: the server reads the derived space and then
/// the original for every new rendition, and with one shared rotation over two regions every
/// original would come from the same region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_derived_and_original_reads_each_rotate_over_every_region() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let names = [unique("rot-a"), unique("rot-b")];
    let regions: Vec<Arc<dyn Store>> = names
        .iter()
        .zip(&dirs)
        .map(|(name, dir)| {
            Arc::new(LocalStore::with_name(name.clone(), dir.path()).unwrap()) as Arc<dyn Store>
        })
        .collect();
    let store = FailoverStore::new(regions, test_config()).unwrap();
    let data = image(30);
    let hash = store.put_bytes(data.clone()).await.unwrap().hash;
    let mut served = std::collections::HashMap::<String, usize>::new();
    for i in 0..8 {
        let key = DerivedKey::new(hash, format!("thumb-{i}.jpg")).unwrap();
        assert!(store.get_derived(&key).await.unwrap_err().is_not_found());
        let got = store.get(&hash).await.unwrap();
        assert_eq!(got.bytes, data);
        *served.entry(got.region.to_string()).or_default() += 1;
    }
    assert_eq!(served.get(&names[0]), Some(&4), "{served:?}");
    assert_eq!(served.get(&names[1]), Some(&4), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_derived_object_is_not_found_without_waiting_for_a_slow_region() {
    let two = TwoRegions::start(test_config()).await;
    // Far slower than the attempt timeout (5 s): waiting for it would end in "unavailable".
    two.servers[0].set_delay(Duration::from_secs(30));
    let key = DerivedKey::new(ContentHash::of(b"never derived"), "v1/thumb/10/10.jpg").unwrap();
    for _ in 0..2 {
        // Whichever region the rotation asks first, the fast one's "not found" ends the read.
        let result = tokio::time::timeout(Duration::from_secs(20), two.failover.get_derived(&key))
            .await
            .expect("the read ends");
        assert!(
            matches!(&result, Err(err) if err.is_not_found()),
            "{result:?}"
        );
    }
    two.servers[0].set_delay(Duration::ZERO);
}

/// The takedown of an original while region a is down: region b records the tombstone and
/// drops its copies; nothing serves the original any more, not even a fresh store (another
/// server) reading region a's stale copy once it is back; the queued delete then empties a.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_during_an_outage_is_queued_and_the_stale_copy_is_never_served() {
    metrics();
    let two = TwoRegions::start(test_config()).await;
    let data = image(40);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    let key = DerivedKey::new(hash, "v1/thumb/10/10.png").unwrap();
    two.failover
        .put_derived(&key, Bytes::from_static(b"rendition"))
        .await
        .unwrap();

    two.servers[0].stop();
    let started = Instant::now();
    let outcome = two.failover.delete(&hash).await.unwrap();
    eprintln!(
        "delete with one of two regions down took {:?}",
        started.elapsed()
    );
    assert!(outcome.had_original);
    assert_eq!(outcome.deleted_in, [two.names[1].clone()]);
    assert_eq!(outcome.pending.len(), 1);
    assert_eq!(outcome.pending[0].region, two.names[0]);
    assert_eq!(outcome.derived, ["v1/thumb/10/10.png"]);
    assert!(!outcome.is_complete());
    assert_eq!(two.failover.repair_pending(), 1, "the delete is queued");

    // Refused at once by this store: reads, derived reads and uploads of the same bytes.
    assert!(matches!(
        two.failover.get(&hash).await,
        Err(StoreError::Deleted { .. })
    ));
    assert!(matches!(
        two.failover.get_derived(&key).await,
        Err(StoreError::Deleted { .. })
    ));
    assert!(matches!(
        two.failover.put_bytes(data.clone()).await,
        Err(StoreError::Deleted { .. })
    ));

    // Region a comes back with its copy. A fresh store over the same regions (another
    // server, with nothing remembered) refuses it on every read, wherever the read starts.
    two.servers[0].restart().await.unwrap();
    assert_eq!(two.stores[0].get(&hash).await.unwrap(), data);
    let regions: Vec<Arc<dyn Store>> = vec![
        Arc::new(two.stores[0].clone()),
        Arc::new(two.stores[1].clone()),
    ];
    let other = FailoverStore::new(regions, test_config()).unwrap();
    for _ in 0..4 {
        assert!(matches!(
            other.get(&hash).await,
            Err(StoreError::Deleted { .. })
        ));
        assert!(matches!(
            other.get_derived(&key).await,
            Err(StoreError::Deleted { .. })
        ));
    }

    // The queued delete reaches region a once its breaker lets requests through.
    let started = Instant::now();
    let done = TwoRegions::wait_for(Duration::from_secs(20), || {
        two.failover.stats().deletes_done == 1
    })
    .await;
    assert!(
        done.is_some(),
        "queued delete never made: {:?}",
        two.failover.stats()
    );
    eprintln!(
        "the queued delete reached the restarted region {:?} after its restart",
        started.elapsed()
    );
    assert_eq!(two.failover.repair_pending(), 0);
    assert!(matches!(
        two.stores[0].get(&hash).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(two.stores[0].tombstone(&hash).await.unwrap().is_some());
    assert!(matches!(
        two.stores[0].get_derived(&key).await,
        Err(StoreError::NotFound { .. })
    ));

    // Restored: uploads work again and the hash is served.
    two.failover.restore(&hash).await.unwrap();
    two.failover.put_bytes(data.clone()).await.unwrap();
    assert_eq!(two.failover.get(&hash).await.unwrap(), data);
    for store in &two.stores {
        assert_eq!(store.tombstone(&hash).await.unwrap(), None);
    }
}

/// When the process that took a delete is gone (its queue with it), `origami sync` finishes it:
/// it deletes the copy a region kept, records the tombstone there, and copies nothing back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_deletes_stragglers_instead_of_copying_them_back() {
    metrics();
    let two = TwoRegions::start(test_config()).await;
    let data = image(41);
    let hash = two.failover.put_bytes(data.clone()).await.unwrap().hash;
    let live = two.failover.put_bytes(image(42)).await.unwrap().hash;
    let key = DerivedKey::new(hash, "v1/fit/5/5.jpg").unwrap();
    two.stores[0]
        .put_derived(&key, Bytes::from_static(b"stale"))
        .await
        .unwrap();

    two.servers[0].stop();
    {
        // A store that takes the delete and goes away before region a is back.
        let regions = two.failover.regions();
        let config = FailoverConfig {
            write_timeout: Duration::from_secs(2),
            ..test_config()
        };
        let short_lived = FailoverStore::new(regions, config).unwrap();
        let outcome = short_lived.delete(&hash).await.unwrap();
        assert_eq!(outcome.pending.len(), 1);
    }
    two.servers[0].restart().await.unwrap();
    assert_eq!(two.stores[0].get(&hash).await.unwrap(), data);

    let regions = two.failover.regions();
    let dry = sync(
        &regions,
        &SyncOptions {
            dry_run: true,
            ..SyncOptions::default()
        },
        &|_| {},
    )
    .await;
    assert_eq!((dry.deleted, dry.copied), (1, 0), "{dry:?}");
    assert_eq!(two.stores[0].get(&hash).await.unwrap(), data, "dry run");

    let report = sync(&regions, &SyncOptions::default(), &|_| {}).await;
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.deleted, report.copied), (1, 0), "{report:?}");
    for store in &two.stores {
        assert!(matches!(
            store.get(&hash).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.tombstone(&hash).await.unwrap().is_some());
        assert!(store.get(&live).await.is_ok(), "other originals stay");
    }
    assert!(matches!(
        two.stores[0].get_derived(&key).await,
        Err(StoreError::NotFound { .. })
    ));
    // Nothing left to do.
    let again = sync(&regions, &SyncOptions::default(), &|_| {}).await;
    assert_eq!((again.deleted, again.copied, again.failed), (0, 0, 0));
}
