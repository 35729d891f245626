//! Shared helpers of the HTTP tests: a real server on loopback, stores, fixtures, a client.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use origami_server::{AppState, ServerConfig, TransformHook};
use origami_store::{ContentHash, FailoverConfig, FailoverStore, LocalStore, Store, StoreExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The process-wide Prometheus recorder (installed once per test binary).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| origami_server::metrics::install_prometheus().expect("install recorder"))
        .clone()
}

/// A server running on 127.0.0.1:<random port>.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    pub handle: Option<JoinHandle<Result<(), origami_server::ServerError>>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Triggers graceful shutdown and returns the serving task.
    pub fn shutdown(&mut self) -> JoinHandle<Result<(), origami_server::ServerError>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().expect("running")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the server on loopback over `store`.
pub async fn spawn_server(config: ServerConfig, store: FailoverStore) -> TestServer {
    let state = AppState::new(Arc::new(store), config, Some(prometheus())).expect("transform pool");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(origami_server::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        state,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

/// A failover store over local directories named `names` (kept alive by the returned dirs).
pub fn local_store(names: &[&str]) -> (FailoverStore, Vec<tempfile::TempDir>) {
    let mut dirs = Vec::new();
    let mut regions: Vec<Arc<dyn Store>> = Vec::new();
    for name in names {
        let dir = tempfile::tempdir().expect("tempdir");
        regions.push(Arc::new(
            LocalStore::with_name(*name, dir.path()).expect("local store"),
        ));
        dirs.push(dir);
    }
    let store = FailoverStore::new(regions, FailoverConfig::default()).expect("failover store");
    (store, dirs)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Stores fixture `name` and returns its hash.
pub async fn put_fixture(store: &FailoverStore, name: &str) -> ContentHash {
    store
        .put_bytes(fixture(name).into())
        .await
        .expect("put")
        .hash
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A gate the transform hook can wait on: `hold(key)` makes transforms of keys containing `key`
/// block until `release()`; `entered()` waits until one is blocked.
#[derive(Default)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    hold: Option<String>,
    blocked: usize,
}

impl Gate {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn hook(self: &Arc<Self>) -> TransformHook {
        let gate = self.clone();
        Arc::new(move |key: &str| gate.pass(key))
    }

    fn pass(&self, key: &str) {
        let mut state = self.state.lock().unwrap();
        if !state.hold.as_deref().is_some_and(|h| key.contains(h)) {
            return;
        }
        state.blocked += 1;
        self.changed.notify_all();
        while state.hold.as_deref().is_some_and(|h| key.contains(h)) {
            state = self.changed.wait(state).unwrap();
        }
        state.blocked -= 1;
        self.changed.notify_all();
    }

    pub fn hold(&self, key: &str) {
        self.state.lock().unwrap().hold = Some(key.to_owned());
    }

    pub fn release(&self) {
        self.state.lock().unwrap().hold = None;
        self.changed.notify_all();
    }

    /// Waits (on a blocking thread) until `n` transforms are held.
    pub async fn entered(self: &Arc<Self>, n: usize) {
        let gate = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut state = gate.state.lock().unwrap();
            while state.blocked < n {
                let (s, timeout) = gate
                    .changed
                    .wait_timeout(state, Duration::from_secs(20))
                    .unwrap();
                assert!(!timeout.timed_out(), "no transform reached the gate");
                state = s;
            }
        })
        .await
        .unwrap();
    }
}
