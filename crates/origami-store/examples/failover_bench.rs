//! Measures the failover layer against two real S3 servers (s3s) on loopback. Not a test.
//!
//! ```text
//! cargo run --release -p origami-store --features test-support --example failover_bench
//! cargo run --release -p origami-store --features test-support --example failover_bench -- --serve DIR [SECS]
//! ```
//!
//! The first form prints read latency (median, p99) with both regions up and with one stopped
//! (before and after its breaker opens), then put/get throughput. `--serve DIR` starts two servers,
//! writes `DIR/origami.toml` for them and keeps them up for SECS seconds (default 300), to time
//! the `origami` command against them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use origami_store::testing::{S3TestServer, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use origami_store::{ContentHash, FailoverConfig, FailoverStore, Store, StoreExt};

const BUCKET: &str = "origami-bench";

fn data(seed: u64, len: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn latencies(store: &FailoverStore, hash: &ContentHash, n: usize) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        store.get(hash).await.expect("read");
        samples.push(started.elapsed());
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

async fn two_regions(config: FailoverConfig) -> ([S3TestServer; 2], FailoverStore) {
    let a = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
    let b = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
    let sa: Arc<dyn Store> = Arc::new(a.s3_store("a", BUCKET).await.unwrap());
    let sb: Arc<dyn Store> = Arc::new(b.s3_store("b", BUCKET).await.unwrap());
    let store = FailoverStore::new(vec![sa, sb], config).unwrap();
    ([a, b], store)
}

async fn serve(dir: &str, secs: u64) {
    let a = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
    let b = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
    let config = format!(
        "[[store.s3]]\nname = \"region-a\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\n\
         [[store.s3]]\nname = \"region-b\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n",
        a.endpoint(),
        b.endpoint()
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/origami.toml"), config).unwrap();
    println!("wrote {dir}/origami.toml; run with AWS_ACCESS_KEY_ID={ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY={SECRET_ACCESS_KEY}");
    println!("serving for {secs} s");
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        let dir = args.get(2).expect("--serve DIR [SECS]");
        let secs = args.get(3).map_or(300, |s| s.parse().expect("seconds"));
        return serve(dir, secs).await;
    }
    let n = 2000;
    let object = data(1, 64 << 10);

    // 1. Read latency: both up, then one stopped.
    let ([a, _b], store) = two_regions(FailoverConfig::default()).await;
    let hash = store.put_bytes(object.clone()).await.unwrap().hash;
    latencies(&store, &hash, 200).await; // warm up connections
    let (up_p50, up_p99) = latencies(&store, &hash, n).await;
    a.stop();
    let (down_p50, down_p99) = latencies(&store, &hash, n).await;
    println!("read 64 KiB, {n} sequential reads, default config (hedge 100 ms, breaker 3 failures / 5 s):");
    println!("  both regions up:               p50 {up_p50:>10.3?}  p99 {up_p99:>10.3?}");
    println!("  one region stopped (breaker):  p50 {down_p50:>10.3?}  p99 {down_p99:>10.3?}");
    println!("  breaker state: {:?}", store.region_status());
    drop(store);

    // The same outage with the breaker never opening: every other read tries the dead region
    // first (connection refused) and fails over.
    let no_breaker = FailoverConfig {
        breaker_failures: u32::MAX,
        ..FailoverConfig::default()
    };
    let ([a, _b], store) = two_regions(no_breaker).await;
    let hash = store.put_bytes(object.clone()).await.unwrap().hash;
    latencies(&store, &hash, 200).await;
    a.stop();
    let (nb_p50, nb_p99) = latencies(&store, &hash, n).await;
    println!("  one region stopped, no breaker: p50 {nb_p50:>10.3?}  p99 {nb_p99:>10.3?}  (every other read hits the dead region first)");
    drop(store);

    // 2. Throughput against two regions.
    let ([_a, _b], store) = two_regions(FailoverConfig::default()).await;
    for (size, count) in [(64usize << 10, 1000usize), (1 << 20, 200)] {
        let objects: Vec<Bytes> = (0..count).map(|i| data(1000 + i as u64, size)).collect();
        let total = (size * count) as f64 / (1 << 20) as f64;
        let started = Instant::now();
        let hashes: Vec<ContentHash> = futures::stream::iter(objects.iter().cloned())
            .map(|o| store.put_bytes(o))
            .buffer_unordered(8)
            .map(|r| r.unwrap().hash)
            .collect()
            .await;
        let put = started.elapsed();
        let started = Instant::now();
        let read: usize = futures::stream::iter(hashes.iter())
            .map(|h| store.get(h))
            .buffer_unordered(8)
            .map(|r| r.unwrap().bytes.len())
            .fold(0, |acc, n| async move { acc + n })
            .await;
        let get = started.elapsed();
        assert_eq!(read, size * count);
        println!(
            "{count} x {} KiB, 8 at a time: put (to both regions) {:.0} objects/s {:.1} MiB/s; get (verified) {:.0} objects/s {:.1} MiB/s",
            size >> 10,
            count as f64 / put.as_secs_f64(),
            total / put.as_secs_f64(),
            count as f64 / get.as_secs_f64(),
            total / get.as_secs_f64(),
        );
    }
}
