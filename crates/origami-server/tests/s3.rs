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
    for size in 51..56 {
        let _ = http
            .get(server.url(&format!("/thumb/{size}/{size}/{hash}.jpg")))
            .send()
            .await
            .unwrap();
    }
    // Once the breakers open, readiness stays (cache hits still serve, and an outage with a
    // shared cause must not empty every replica's load balancer) and says which are down.
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(header(&ready, "cache-control"), Some("no-store"));
    let ready: serde_json::Value = serde_json::from_slice(&ready.bytes().await.unwrap()).unwrap();
    assert_eq!(ready["phase"], "serving");
    assert_eq!(ready["regions_up"], 0, "{ready}");
}

/// Polls `/readyz` until its status is `want` (at most 20 s): the JSON it last answered.
async fn readiness_becomes(server: &TestServer, want: StatusCode) -> serde_json::Value {
    let http = client();
    for _ in 0..200 {
        let ready = http.get(server.url("/readyz")).send().await.unwrap();
        let status = ready.status();
        let body: serde_json::Value =
            serde_json::from_slice(&ready.bytes().await.unwrap()).unwrap();
        if status == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_a_region_to_answer_then_holds_through_outages_until_draining() {
    let (east, west, store) = two_regions().await;
    east.stop();
    west.stop();
    let mut server = spawn_server(ServerConfig::default(), store).await;
    // Starting: no region answered its check, so not ready (a rollout with broken
    // credentials or egress never goes through).
    let http = client();
    let starting = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(starting.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(header(&starting, "retry-after").is_some());
    let starting: serde_json::Value =
        serde_json::from_slice(&starting.bytes().await.unwrap()).unwrap();
    assert_eq!(starting["phase"], "starting");
    assert_eq!(starting["ready"], false);
    // One region back: ready once the check, retried, finds it.
    west.restart().await.unwrap();
    let ready = readiness_becomes(&server, StatusCode::OK).await;
    assert_eq!(ready["phase"], "serving");
    let checks: Vec<_> = ready["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["check"].as_str().unwrap().to_owned())
        .collect();
    assert!(checks.contains(&"ok".to_owned()), "{ready}");
    // Both down after start-up: still ready.
    west.stop();
    let still = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    // Draining: not ready.
    let state = server.state.clone();
    server.shutdown().await.unwrap().unwrap();
    assert_eq!(state.phase(), origami_server::Phase::Draining);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_three_shares_derivatives_through_two_s3_regions() {
    let east = S3TestServer::start_with_buckets(&["fleet-east"])
        .await
        .unwrap();
    let west = S3TestServer::start_with_buckets(&["fleet-west"])
        .await
        .unwrap();
    // Each replica has its own clients and breakers over the same two regions, as separate
    // processes would.
    let replica_store = || async {
        let regions: Vec<Arc<dyn Store>> = vec![
            Arc::new(east.s3_store("east", "fleet-east").await.unwrap()),
            Arc::new(west.s3_store("west", "fleet-west").await.unwrap()),
        ];
        FailoverStore::new(regions, FailoverConfig::default()).unwrap()
    };
    let config = ServerConfig {
        persist_derivatives: true,
        ..ServerConfig::default()
    };
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(spawn_server(config.clone(), replica_store().await).await);
    }
    let hash = replica_store()
        .await
        .put_bytes(fixture("baseline.jpg").into())
        .await
        .unwrap()
        .hash;
    let http = client();
    let path = format!("/thumb/120/90/{hash}.webp");
    let made = http.get(fleet[0].url(&path)).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    let etag = header(&made, "etag").unwrap().to_owned();
    let made = made.bytes().await.unwrap();
    assert_eq!(fleet[0].state.stats().transforms, 1);
    // The background write reaches the regions (both: every write goes to every region)...
    let key = origami_store::DerivedKey::new(
        hash,
        format!("v{}/thumb/120/90.webp", origami_engine::ENGINE_VERSION),
    )
    .unwrap();
    let reader = replica_store().await;
    let mut written = false;
    for _ in 0..200 {
        if reader.get_derived(&key).await.is_ok() {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(written, "the derivative reaches the derived space");
    // ...and the other replicas serve it from there, byte for byte, without a transform.
    for replica in &fleet[1..] {
        let response = http.get(replica.url(&path)).send().await.unwrap();
        assert_eq!(header(&response, "x-origami-region"), Some("derived"));
        assert_eq!(header(&response, "etag"), Some(etag.as_str()));
        assert_eq!(response.bytes().await.unwrap(), made);
        assert_eq!(replica.state.stats().transforms, 0);
    }
}

/// A takedown over two real S3 regions, one of them stopped: the original and its renditions
/// are gone from this server at once, its upload is refused, another server that had a
/// rendition in memory drops it within its recheck interval, and once the stopped region is
/// back with its stale copy, a fresh server never serves it. A restore lets it in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takedown_with_a_region_down_is_honoured_everywhere() {
    let (east, _west, store) = two_regions().await;
    let token = "delete-secret";
    let config = ServerConfig {
        persist_derivatives: true,
        upload_token: Some(token.to_owned()),
        takedown_recheck: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = spawn_server(config.clone(), store.clone()).await;
    let other_store = FailoverStore::new(store.regions(), store.config().clone()).unwrap();
    let other = spawn_server(config.clone(), other_store).await;
    let http = client();
    let bytes = fixture("baseline.jpg");
    let uploaded = http
        .post(server.url("/originals"))
        .bearer_auth(token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let hash = ContentHash::of(&bytes);
    let thumb = format!("/thumb/64/48/{hash}.jpg");
    for server in [&server, &other] {
        let response = http.get(server.url(&thumb)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // The other server now answers from memory.
    let hit = http.get(other.url(&thumb)).send().await.unwrap();
    assert_eq!(header(&hit, "x-origami-region"), Some("cache"));

    // Who may delete, and what.
    let delete = |path: String, token: Option<&str>| {
        let mut request = http.delete(server.url(&path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let path = format!("/originals/{hash}");
    assert_eq!(
        delete(path.clone(), None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        delete(path.clone(), Some("wrong")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete("/originals/nothex".into(), Some(token))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let never = ContentHash::of(b"never uploaded");
    assert_eq!(
        delete(format!("/originals/{never}"), Some(token))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    east.stop();
    let started = std::time::Instant::now();
    let response = delete(path.clone(), Some(token)).await.unwrap();
    eprintln!(
        "DELETE with one of two regions down answered in {:?}",
        started.elapsed()
    );
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "partial: east is down"
    );
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["deleted_in"], serde_json::json!(["west"]));
    assert_eq!(body["pending"][0]["region"], "east");
    assert_eq!(body["had_original"], true);
    let paths: Vec<String> = serde_json::from_value(body["cdn_paths"].clone()).unwrap();
    for expected in [
        thumb.clone(),
        format!("/thumb/64/48/{hash}"),
        format!("/original/{hash}"),
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:?}");
    }

    // Gone from this server at once: memory, the store, every route.
    for route in [
        thumb.clone(),
        format!("/original/{hash}"),
        format!("/thumb/30/30/{hash}.png"),
    ] {
        let response = http.get(server.url(&route)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{route}");
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["code"], "deleted", "{route}");
    }
    // Uploading the same bytes is refused.
    let again = http
        .post(server.url("/originals"))
        .bearer_auth(token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::GONE);

    // The other server had the rendition in memory: it stops serving it once its recheck
    // interval (200 ms here) passed and the background lookup found the tombstone.
    let mut dropped = false;
    for _ in 0..100 {
        let response = http.get(other.url(&thumb)).send().await.unwrap();
        if response.status() == StatusCode::NOT_FOUND {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dropped, "the other server kept serving a deleted original");

    // East comes back with its stale copy: a fresh server never serves it.
    east.restart().await.unwrap();
    let fresh_store = FailoverStore::new(store.regions(), store.config().clone()).unwrap();
    let fresh = spawn_server(config, fresh_store).await;
    for route in [thumb.clone(), format!("/original/{hash}")] {
        for _ in 0..3 {
            let response = http.get(fresh.url(&route)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{route}");
        }
    }

    // Restored on purpose (a restore needs every region: a tombstone left in one would still
    // refuse the original), once east's breaker let it back in: accepted and served again.
    for _ in 0..200 {
        if store.region_status().iter().all(|region| region.up) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restored = http
        .post(server.url("/originals?restore=true"))
        .bearer_auth(token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(restored.status().is_success(), "{}", restored.status());
    let response = http.get(server.url(&thumb)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
