//! Shared fixtures: stores over temp dirs and in-process S3 servers.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use origami_store::testing::S3TestServer;
use origami_store::{FailoverConfig, FailoverStore, LocalStore, RepairConfig, S3Store, Store};

/// A store plus whatever must stay alive for it (temp dirs, servers).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub keep: Vec<Box<dyn Any + Send + Sync>>,
}

/// A name unique in this process, for region labels (metrics are process-wide).
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

pub const BUCKET: &str = "origami-test";

pub async fn local() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::with_name(unique("local"), dir.path()).unwrap();
    Fixture {
        store: Arc::new(store),
        keep: vec![Box::new(dir)],
    }
}

pub async fn s3() -> Fixture {
    let server = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
    let store = server.s3_store(&unique("s3"), BUCKET).await.unwrap();
    Fixture {
        store: Arc::new(store),
        keep: vec![Box::new(server)],
    }
}

/// A fast-reacting failover configuration for tests.
pub fn test_config() -> FailoverConfig {
    FailoverConfig {
        attempt_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(10),
        hedge_after: Duration::from_millis(100),
        breaker_failures: 3,
        breaker_probe: Duration::from_millis(300),
        write_quorum: 1,
        tombstone_recheck: Duration::from_secs(60),
        repair: RepairConfig {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(300),
            ..RepairConfig::default()
        },
    }
}

pub async fn failover_s3() -> Fixture {
    let two = TwoRegions::start(test_config()).await;
    Fixture {
        store: Arc::new(two.failover.clone()),
        keep: vec![Box::new(two)],
    }
}

/// The production default: one local directory behind a single-region failover store.
pub async fn failover_local() -> Fixture {
    let mut local = local().await;
    local.store = Arc::new(FailoverStore::new(vec![local.store], test_config()).unwrap());
    local
}

pub async fn failover_mixed() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn Store> =
        Arc::new(LocalStore::with_name(unique("mixed-local"), dir.path()).unwrap());
    let server = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
    let s3: Arc<dyn Store> = Arc::new(server.s3_store(&unique("mixed-s3"), BUCKET).await.unwrap());
    let store = FailoverStore::new(vec![local, s3], test_config()).unwrap();
    Fixture {
        store: Arc::new(store),
        keep: vec![Box::new(dir), Box::new(server)],
    }
}

/// Two S3 regions, each its own server, behind one failover store.
pub struct TwoRegions {
    pub servers: [S3TestServer; 2],
    pub stores: [S3Store; 2],
    pub names: [String; 2],
    pub failover: FailoverStore,
}

impl TwoRegions {
    pub async fn start(config: FailoverConfig) -> Self {
        let a = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
        let b = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
        let names = [unique("region-a"), unique("region-b")];
        let sa = a.s3_store(&names[0], BUCKET).await.unwrap();
        let sb = b.s3_store(&names[1], BUCKET).await.unwrap();
        let regions: Vec<Arc<dyn Store>> = vec![Arc::new(sa.clone()), Arc::new(sb.clone())];
        let failover = FailoverStore::new(regions, config).unwrap();
        Self {
            servers: [a, b],
            stores: [sa, sb],
            names,
            failover,
        }
    }

    /// Polls `cond` every 20 ms until it holds, for at most `limit`; returns how long it took.
    pub async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cond().then(|| start.elapsed())
    }
}
