//! Coalescing: N concurrent identical misses run the transform once. (Its own test binary, so
//! the process-wide `/metrics` counters it checks see only this test.)

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use origami_server::ServerConfig;
use reqwest::StatusCode;

fn counter(metrics: &str, line_prefix: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_concurrent_misses_transform_once() {
    const N: usize = 12;
    let (store, _dirs) = local_store(&["coalesce"]);
    let hash = put_fixture(&store, "progressive.jpg").await;
    let gate = Gate::new();
    let config = ServerConfig {
        transform_hook: Some(gate.hook()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    let url = server.url(&format!("/thumb/120/90/g/smart/{hash}.webp"));

    gate.hold("thumb/120/90");
    let requests: Vec<_> = (0..N)
        .map(|_| tokio::spawn(http.get(&url).send()))
        .collect();
    gate.entered(1).await;
    // Let every request reach the cache before the one transform finishes.
    for _ in 0..2000 {
        if server.state.stats().lookups >= N as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    gate.release();
    let mut bodies = Vec::new();
    let mut regions = Vec::new();
    for request in requests {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        regions.push(header(&response, "x-origami-region").unwrap().to_owned());
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "everyone gets the same bytes"
    );
    assert!(
        regions.iter().all(|r| r == "coalesce" || r == "cache"),
        "{regions:?}"
    );

    let stats = server.state.stats();
    assert_eq!(stats.transforms, 1, "{stats:?}");
    assert_eq!(stats.misses, 1, "{stats:?}");
    assert_eq!(stats.coalesced + stats.hits, N as u64 - 1, "{stats:?}");
    assert!(stats.coalesced >= 1, "{stats:?}");

    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        counter(&metrics, "origami_cache_total{outcome=\"miss\"}"),
        1,
        "{metrics}"
    );
    assert_eq!(
        counter(&metrics, "origami_cache_total{outcome=\"coalesced\"}"),
        stats.coalesced
    );
    let transforms = counter(
        &metrics,
        "origami_transform_seconds_count{op=\"thumb\",format=\"webp\"}",
    );
    assert_eq!(transforms, 1, "{metrics}");
}
