//! Against two real S3 servers (s3s on loopback): failover of the origin reads.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use origami_server::ServerConfig;
use origami_store::testing::S3TestServer;
use origami_store::{ContentHash, FailoverConfig, FailoverStore, Store, StoreExt};
use reqwest::StatusCode;

async fn two_regions() -> (S3TestServer, S3TestServer, FailoverStore) {
    let east = S3TestServer::start_with_buckets(&["origami-east"])
        .await
        .unwrap();
    let west = S3TestServer::start_with_buckets(&["origami-west"])
        .await
        .unwrap();
    let regions: Vec<Arc<dyn Store>> = vec![
        Arc::new(east.s3_store("east", "origami-east").await.unwrap()),
        Arc::new(west.s3_store("west", "origami-west").await.unwrap()),
    ];
    let config = FailoverConfig {
        attempt_timeout: Duration::from_secs(1),
        hedge_after: Duration::from_millis(200),
        ..FailoverConfig::default()
    };
    let store = FailoverStore::new(regions, config).unwrap();
    (east, west, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_region_fails_over_and_all_stopped_is_503() {
    let (east, west, store) = two_regions().await;
    let put = store
        .put_bytes(fixture("baseline.jpg").into())
        .await
        .unwrap();
    assert_eq!(put.stored_in.len(), 2);
    let hash = put.hash;
    let config = ServerConfig {
        persist_derivatives: true,
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();

    let first = http
        .get(server.url(&format!("/thumb/64/48/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let region = header(&first, "x-origami-region").unwrap().to_owned();
    assert!(region == "east" || region == "west", "{region}");

    let missing = ContentHash::of(b"in no region");
    let not_found = http
        .get(server.url(&format!("/thumb/64/48/{missing}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_found.status(),
        StatusCode::NOT_FOUND,
        "only after every region said so"
    );

    // East goes down mid-test: every new rendition is served by west.
    east.stop();
    for size in 30..36 {
        let response = http
            .get(server.url(&format!("/thumb/{size}/{size}/{hash}.jpg")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "size {size}");
        assert_eq!(
            header(&response, "x-origami-region"),
            Some("west"),
            "size {size}"
        );
        assert_eq!(
            header(&response, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // Both down: 503, never cached.
    west.stop();
    let response = http
        .get(server.url(&format!("/thumb/50/50/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    assert!(header(&response, "retry-after").is_some());
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "unavailable");
    // What is in memory is still served.
    let cached = http
        .get(server.url(&format!("/thumb/64/48/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::OK);
    assert_eq!(header(&cached, "x-origami-region"), Some("cache"));
    // Once the breakers open, readiness says so.
    for size in 51..56 {
        let _ = http
            .get(server.url(&format!("/thumb/{size}/{size}/{hash}.jpg")))
            .send()
            .await
            .unwrap();
    }
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&ready, "cache-control"), Some("no-store"));
}
