//! Backend specifics: S3 object headers and key layout, local directory layout.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use bytes::Bytes;
use futures::StreamExt;
use origami_store::testing::S3TestServer;
use origami_store::{
    Access, Blob, ContentHash, DerivedKey, FailoverStore, LocalStore, RegionCheck, S3Store, Store,
    StoreError, StoreExt, CACHE_CONTROL,
};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_carry_content_type_and_cache_control() {
    let server = S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let store = server.s3_store("s3-headers", common::BUCKET).await.unwrap();
    // The content type is the caller's: the store never sniffs.
    let png_blob = Blob::from_bytes(Bytes::from_static(PNG)).with_content_type("image/png");
    let png = store.put(&png_blob).await.unwrap().hash;
    let other = store
        .put_bytes(Bytes::from_static(b"not an image"))
        .await
        .unwrap()
        .hash;
    let unnamed = store
        .put_bytes(Bytes::from_static(b"\xff\xd8\xff unnamed jpeg"))
        .await
        .unwrap()
        .hash;
    assert_eq!(store.key_of(&png), format!("originals/{png}"));
    assert!(server
        .object_path(common::BUCKET, &format!("originals/{png}"))
        .is_file());

    for (hash, mime) in [
        (png, "image/png"),
        (other, "application/octet-stream"),
        (unnamed, "application/octet-stream"),
    ] {
        let head = store
            .client()
            .head_object()
            .bucket(common::BUCKET)
            .key(store.key_of(&hash))
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_type(), Some(mime));
        assert_eq!(head.cache_control(), Some(CACHE_CONTROL));
        // Reads report what was stored, and where from.
        let got = store.get(&hash).await.unwrap();
        assert_eq!(got.content_type.as_deref(), Some(mime));
        assert_eq!(&*got.region, "s3-headers");
    }

    let key = DerivedKey::new(png, "thumb/1/1.png").unwrap();
    store
        .put_derived(&key, Bytes::from_static(PNG))
        .await
        .unwrap();
    assert!(server
        .object_path(common::BUCKET, &format!("derived/{png}/thumb/1/1.png"))
        .is_file());
    let head = store
        .client()
        .head_object()
        .bucket(common::BUCKET)
        .key(store.derived_key_of(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.cache_control(), Some(CACHE_CONTROL));
    assert_eq!(
        head.metadata().unwrap().get("blake3"),
        Some(&ContentHash::of(PNG).to_string())
    );
    // A derived object's type is its spec's extension, whatever its bytes.
    let json = DerivedKey::new(png, "meta.json").unwrap();
    store
        .put_derived(&json, Bytes::from_static(PNG))
        .await
        .unwrap();
    let got = store.get_derived(&json).await.unwrap();
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.size(), PNG.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_custom_prefix_and_corrupt_derived_object() {
    let server = S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let mut config = server.s3_config("s3-prefix", common::BUCKET);
    config.key_prefix = "o/".into();
    let store = S3Store::new(config).await.unwrap();
    let hash = store
        .put_bytes(Bytes::from_static(b"abc"))
        .await
        .unwrap()
        .hash;
    assert!(server
        .object_path(common::BUCKET, &format!("o/{hash}"))
        .is_file());

    let key = DerivedKey::new(hash, "meta.json").unwrap();
    store
        .put_derived(&key, Bytes::from_static(b"{\"w\":1}"))
        .await
        .unwrap();
    std::fs::write(
        server.object_path(common::BUCKET, &store.derived_key_of(&key)),
        b"{\"w\":2}",
    )
    .unwrap();
    assert!(matches!(
        store.get_derived(&key).await,
        Err(StoreError::Integrity { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_config_is_validated_and_dead_regions_fail_with_a_cause() {
    let server = S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let bad = server.s3_config("s3-bad", "ab");
    assert!(matches!(
        S3Store::new(bad).await,
        Err(StoreError::InvalidInput(_))
    ));

    let store = server.s3_store("s3-dead", common::BUCKET).await.unwrap();
    let hash = store
        .put_bytes(Bytes::from_static(b"x"))
        .await
        .unwrap()
        .hash;
    server.stop();
    match store.get(&hash).await {
        Err(StoreError::Unavailable { causes }) => {
            assert_eq!(causes.len(), 1);
            assert_eq!(causes[0].region, "s3-dead");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    server.restart().await.unwrap();
    assert_eq!(store.get(&hash).await.unwrap(), &b"x"[..]);
    // A missing bucket is an error, not an empty region. (s3s-fs answers GET in a missing bucket
    // with NoSuchKey, unlike S3, so this checks LIST, which says NoSuchBucket.)
    let missing = server
        .s3_store("s3-nobucket", "no-such-bucket")
        .await
        .unwrap();
    let mut list = missing.list();
    assert!(matches!(
        list.next().await,
        Some(Err(StoreError::Unavailable { .. }))
    ));
}

#[tokio::test]
async fn local_layout_is_sharded_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let hash = store.put_bytes(Bytes::from_static(PNG)).await.unwrap().hash;
    let hex = hash.to_string();
    assert_eq!(
        store.path_of(&hash),
        dir.path().join(&hex[..2]).join(&hex[2..4]).join(&hex)
    );
    assert_eq!(std::fs::read(store.path_of(&hash)).unwrap(), PNG);
    let got = store.get(&hash).await.unwrap();
    assert_eq!((&*got.region, got.content_type), ("local", None));
    let key = DerivedKey::new(hash, "w/10.webp").unwrap();
    store
        .put_derived(&key, Bytes::from_static(b"d"))
        .await
        .unwrap();
    assert!(dir
        .path()
        .join("derived")
        .join(&hex)
        .join("w/10.webp")
        .is_file());
    assert_eq!(
        std::fs::read_dir(dir.path().join(".tmp")).unwrap().count(),
        0
    );

    // Junk in the tree is not listed.
    std::fs::write(
        dir.path().join(&hex[..2]).join(&hex[2..4]).join("junk"),
        b"",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("zz/zz")).unwrap();
    let wrong_shard = ContentHash::of(b"elsewhere");
    std::fs::write(
        dir.path()
            .join(&hex[..2])
            .join(&hex[2..4])
            .join(wrong_shard.to_string()),
        b"",
    )
    .unwrap();
    let listed: Vec<_> = store.list().map(|r| r.unwrap()).collect().await;
    assert_eq!(listed, vec![hash]);
}

#[tokio::test]
async fn local_spool_files_live_in_the_store_and_crash_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let spool_dir = store
        .spool_dir()
        .expect("a local store spools in its own directory");
    assert_eq!(spool_dir, dir.path().join(".tmp"));

    // A body over the memory limit is spooled there, through the failover layer too.
    let failover = origami_store::FailoverStore::new(
        vec![std::sync::Arc::new(store.clone()) as std::sync::Arc<dyn Store>],
        origami_store::FailoverConfig::default(),
    )
    .unwrap();
    assert_eq!(failover.spool_dir(), Some(spool_dir.clone()));
    let options = origami_store::BlobOptions {
        memory_limit: 16,
        spool_dir: failover.spool_dir(),
        ..Default::default()
    };
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 1000]))]);
    let blob = Blob::from_stream(body, &options).await.unwrap();
    assert!(blob.spool_path().unwrap().starts_with(&spool_dir));
    failover.put(&blob).await.unwrap();
    drop(blob);

    // What a process killed mid-upload leaves: an hour-old spool file. The next open removes it.
    let leftover = spool_dir.join(".origami-spool-crashed");
    let file = std::fs::File::create(&leftover).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    file.set_modified(two_hours_ago).unwrap();
    drop(file);
    let fresh = spool_dir.join(".origami-spool-in-use");
    std::fs::write(&fresh, b"another process's upload").unwrap();
    LocalStore::new(dir.path()).unwrap();
    assert!(
        !leftover.exists(),
        "crash leftovers are removed when the store opens"
    );
    assert!(fresh.exists(), "a spool file in use is left alone");
}

#[tokio::test]
async fn new_shard_directories_are_created_with_their_parents() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let put = store
        .put_bytes(Bytes::from_static(b"sharded"))
        .await
        .unwrap();
    let path = store.path_of(&put.hash);
    assert!(path.is_file());
    let key = DerivedKey::new(put.hash, "v1/a/b/c.webp").unwrap();
    store
        .put_derived(&key, Bytes::from_static(b"d"))
        .await
        .unwrap();
    assert!(store.derived_path_of(&key).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_list_rights_a_403_for_a_missing_key_is_not_found_not_a_failing_region() {
    let server = S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let s3 = server.s3_store("s3-nolist", common::BUCKET).await.unwrap();
    let stored = s3
        .put_bytes(Bytes::from_static(b"kept"))
        .await
        .unwrap()
        .hash;
    let missing = ContentHash::of(b"never stored");
    server.set_list_denied(true);
    // Before the check the store cannot know: S3's 403 is a failure.
    assert!(matches!(
        s3.get(&missing).await,
        Err(StoreError::Unavailable { .. })
    ));
    let failover =
        FailoverStore::new(vec![std::sync::Arc::new(s3)], common::test_config()).unwrap();
    assert_eq!(failover.region_status()[0].check, RegionCheck::NotYet);
    assert_eq!(failover.check().await.unwrap(), Access::WITHOUT_LIST);
    assert_eq!(
        failover.region_status()[0].check,
        RegionCheck::Answered(Access::WITHOUT_LIST)
    );
    // Now many reads of missing originals are "not found" and leave the breaker closed
    // (it opens after 3 failures in this configuration).
    for _ in 0..6 {
        assert!(failover.get(&missing).await.unwrap_err().is_not_found());
        assert!(failover.head(&missing).await.unwrap_err().is_not_found());
    }
    let status = &failover.region_status()[0];
    assert!(status.up, "{status:?}");
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(failover.get(&stored).await.unwrap(), &b"kept"[..]);

    // With list rights the check says so, and a 403 would again be a failure.
    server.set_list_denied(false);
    assert_eq!(failover.check().await.unwrap(), Access::FULL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_with_rejected_credentials_or_no_bucket_fails_its_check() {
    let server = S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let mut wrong = server.s3_config("s3-wrong-key", common::BUCKET);
    if let Some(credentials) = wrong.credentials.as_mut() {
        credentials.secret_access_key = "not-the-secret".to_owned();
    }
    let wrong = S3Store::new(wrong).await.unwrap();
    let no_bucket = server
        .s3_store("s3-no-bucket", "no-such-bucket")
        .await
        .unwrap();
    let good = server.s3_store("s3-good", common::BUCKET).await.unwrap();
    assert!(
        wrong.check().await.is_err(),
        "a bad signature is not 'cannot list'"
    );
    assert!(no_bucket.check().await.is_err());
    let failover = FailoverStore::new(
        vec![
            std::sync::Arc::new(wrong),
            std::sync::Arc::new(no_bucket),
            std::sync::Arc::new(good),
        ],
        common::test_config(),
    )
    .unwrap();
    // One region answering is enough for the whole store.
    assert_eq!(failover.check().await.unwrap(), Access::FULL);
    let checks: Vec<_> = failover
        .region_status()
        .into_iter()
        .map(|r| r.check)
        .collect();
    assert!(matches!(checks[0], RegionCheck::Failed(_)), "{checks:?}");
    assert!(matches!(checks[1], RegionCheck::Failed(_)), "{checks:?}");
    assert_eq!(checks[2], RegionCheck::Answered(Access::FULL));
    server.stop();
    assert!(matches!(
        failover.check().await,
        Err(StoreError::Unavailable { causes }) if causes.len() == 3
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_server_can_fail_a_share_of_requests_with_500() {
    let server = S3TestServer::start_with_buckets(&[common::BUCKET])
        .await
        .unwrap();
    let s3 = server.s3_store("s3-flaky", common::BUCKET).await.unwrap();
    let hash = s3
        .put_bytes(Bytes::from_static(b"flaky"))
        .await
        .unwrap()
        .hash;
    server.set_failing_percent(30);
    let mut failed = 0;
    for _ in 0..100 {
        match s3.get(&hash).await {
            Ok(got) => assert_eq!(got, &b"flaky"[..]),
            Err(StoreError::Unavailable { causes }) => {
                assert!(causes[0].message.contains("InternalError"), "{causes:?}");
                failed += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(failed, 30, "30 of every 100 requests");
    server.set_failing_percent(0);
    assert!(s3.get(&hash).await.is_ok());
}
