//! Test support (feature `test-support`): a real S3 server inside the test process.
//!
//! [`S3TestServer`] runs `s3s` over `s3s-fs` (objects are plain files under a temporary
//! directory) on `127.0.0.1:<random port>`, checks SigV4 signatures with fixed credentials, and
//! can be really stopped (listener closed, connections dropped), restarted on the same port,
//! slowed, or made to answer every request with `503 Service Unavailable`. Clients talk to it with
//! the same `aws-sdk-s3` code as production, through [`S3TestServer::s3_config`].

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::Result;
use crate::lock::lock;
use crate::s3::{S3Config, S3Store, StaticCredentials};

/// The access key id the test servers accept.
pub const ACCESS_KEY_ID: &str = "origami-test-key";
/// The secret access key the test servers accept.
pub const SECRET_ACCESS_KEY: &str = "origami-test-secret-0123456789";
/// The AWS region test clients sign for.
pub const REGION: &str = "us-east-1";

/// A real S3 server (s3s + s3s-fs) on loopback, for tests. Stopped when dropped.
pub struct S3TestServer {
    addr: SocketAddr,
    root: tempfile::TempDir,
    service: S3Service,
    control: Arc<Control>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Control {
    delay_ms: AtomicU64,
    failing: AtomicBool,
    /// See [`S3TestServer::set_list_denied`].
    list_denied: AtomicBool,
    /// See [`S3TestServer::set_failing_percent`].
    failing_percent: AtomicU64,
    /// Requests seen, for the failing percentage.
    requests: AtomicU64,
}

/// The server's authorization: signed requests only, and, while listing is denied, what AWS
/// does for credentials without `s3:ListBucket`.
struct TestAccess {
    root: PathBuf,
    control: Arc<Control>,
}

#[async_trait::async_trait]
impl s3s::access::S3Access for TestAccess {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3s::s3_error!(AccessDenied, "Signature is required"));
        }
        if !self.control.list_denied.load(Ordering::SeqCst) {
            return Ok(());
        }
        let denied = match (cx.s3_op().name(), cx.s3_path()) {
            ("ListObjects" | "ListObjectsV2" | "ListBuckets" | "HeadBucket", _) => true,
            // AWS hides whether a key exists from those who may not list: 403, not 404.
            ("GetObject" | "HeadObject", s3s::path::S3Path::Object { bucket, key }) => {
                !self.root.join(&**bucket).join(&**key).is_file()
            }
            _ => false,
        };
        if denied {
            return Err(s3s::s3_error!(AccessDenied, "Access Denied"));
        }
        Ok(())
    }
}

impl std::fmt::Debug for S3TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3TestServer")
            .field("addr", &self.addr)
            .field("root", &self.root.path())
            .finish()
    }
}

impl S3TestServer {
    /// Starts a server with no bucket, on a random loopback port.
    pub async fn start() -> io::Result<Self> {
        let root = tempfile::Builder::new().prefix("origami-s3-").tempdir()?;
        let fs =
            s3s_fs::FileSystem::new(root.path()).map_err(|e| io::Error::other(format!("{e:?}")))?;
        let control = Arc::<Control>::default();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        builder.set_access(TestAccess {
            root: root.path().to_owned(),
            control: control.clone(),
        });
        let service = builder.build();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = Self {
            addr,
            root,
            service,
            control,
            accept: Mutex::new(None),
        };
        server.serve(listener);
        Ok(server)
    }

    /// Starts a server holding the given (empty) buckets.
    pub async fn start_with_buckets(buckets: &[&str]) -> io::Result<Self> {
        let server = Self::start().await?;
        for bucket in buckets {
            server.create_bucket(bucket)?;
        }
        Ok(server)
    }

    /// Creates an empty bucket (a directory under the server's root). Names are 3-63 characters.
    pub fn create_bucket(&self, bucket: &str) -> io::Result<()> {
        std::fs::create_dir_all(self.root.path().join(bucket))
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The directory holding the buckets.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The file holding object `key` of `bucket` (write to it to corrupt a copy behind S3's back).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// A region configuration pointing at this server: endpoint, test credentials, and short
    /// timeouts (500 ms connect, 2 s per read attempt, 10 s per write).
    pub fn s3_config(&self, name: &str, bucket: &str) -> S3Config {
        let mut config = S3Config::new(name, bucket, REGION);
        config.endpoint = Some(self.endpoint());
        config.credentials = Some(StaticCredentials {
            access_key_id: ACCESS_KEY_ID.to_owned(),
            secret_access_key: SECRET_ACCESS_KEY.to_owned(),
        });
        config.connect_timeout = Duration::from_millis(500);
        config.read_timeout = Duration::from_secs(2);
        config.write_timeout = Duration::from_secs(10);
        config
    }

    /// An [`S3Store`] over `bucket` on this server (see [`S3TestServer::s3_config`]).
    pub async fn s3_store(&self, name: &str, bucket: &str) -> Result<S3Store> {
        S3Store::new(self.s3_config(name, bucket)).await
    }

    /// Every request first waits this long (zero: no delay).
    pub fn set_delay(&self, delay: Duration) {
        self.control.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Every request is answered `503 Service Unavailable` (an S3 `ServiceUnavailable` error).
    pub fn set_failing(&self, failing: bool) {
        self.control.failing.store(failing, Ordering::SeqCst);
    }

    /// Answers `percent` % of requests (every request whose sequence number modulo 100 is
    /// below it: deterministic, spread evenly) with `500 Internal Server Error` (an S3
    /// `InternalError`); 0 stops it.
    pub fn set_failing_percent(&self, percent: u8) {
        self.control
            .failing_percent
            .store(u64::from(percent.min(100)), Ordering::SeqCst);
    }

    /// Makes the server treat the test credentials as AWS treats credentials without
    /// `s3:ListBucket`: listing (and `HeadBucket`) is `403 AccessDenied`, and so is a read of a
    /// key that does not exist, where a full-access client would get 404.
    pub fn set_list_denied(&self, denied: bool) {
        self.control.list_denied.store(denied, Ordering::SeqCst);
    }

    /// True while the server accepts connections.
    pub fn is_running(&self) -> bool {
        lock(&self.accept)
            .as_ref()
            .is_some_and(|task| !task.is_finished())
    }

    /// Stops the server for real: closes the listener (new connections are refused) and drops
    /// every open connection, in-flight requests included. The data stays.
    pub fn stop(&self) {
        if let Some(task) = lock(&self.accept).take() {
            task.abort();
        }
    }

    /// Starts the server again on the same port, with the same data.
    pub async fn restart(&self) -> io::Result<()> {
        self.stop();
        // The aborted task releases the listener when it is dropped, which may take a moment.
        let mut last_err = None;
        for _ in 0..100 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    self.serve(listener);
                    return Ok(());
                }
                Err(err) => {
                    last_err = Some(err);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("could not rebind")))
    }

    fn serve(&self, listener: TcpListener) {
        let service = self.service.clone();
        let control = self.control.clone();
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting the task drops them all.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let service = service.clone();
                        let control = control.clone();
                        connections.spawn(async move {
                            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                                let service = service.clone();
                                let control = control.clone();
                                async move {
                                    let delay = control.delay_ms.load(Ordering::SeqCst);
                                    if delay > 0 {
                                        tokio::time::sleep(Duration::from_millis(delay)).await;
                                    }
                                    if control.failing.load(Ordering::SeqCst) {
                                        return Ok(error_response(503, "ServiceUnavailable"));
                                    }
                                    let percent = control.failing_percent.load(Ordering::SeqCst);
                                    let n = control.requests.fetch_add(1, Ordering::SeqCst);
                                    if n % 100 < percent {
                                        return Ok(error_response(500, "InternalError"));
                                    }
                                    service.call(req.map(s3s::Body::from)).await
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        *lock(&self.accept) = Some(task);
    }
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An S3 error answer with `status` and `code`, as an injected fault.
fn error_response(status: u16, code: &str) -> s3s::HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected fault</Message></Error>"
    );
    let mut response = hyper::Response::new(s3s::Body::from(body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    response
}

/// A `metrics` recorder that keeps every value, for asserting on metrics in tests.
///
/// Unlike `metrics-util`'s debugging recorder, reading never resets anything, so tests running in
/// parallel in one process can share it: give each test's regions distinct names and filter by
/// label. Install it with [`MetricsCapture::global`] before the code under test emits.
#[derive(Debug, Default)]
pub struct MetricsCapture {
    counters: Mutex<Vec<(metrics::Key, Arc<std::sync::atomic::AtomicU64>)>>,
    gauges: Mutex<Vec<(metrics::Key, Arc<std::sync::atomic::AtomicU64>)>>,
    histograms: Mutex<Vec<(metrics::Key, Arc<Samples>)>>,
}

/// The values recorded into one histogram.
#[derive(Debug, Default)]
struct Samples(Mutex<Vec<f64>>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        lock(&self.0).push(value);
    }
}

static CAPTURE: std::sync::OnceLock<&'static MetricsCapture> = std::sync::OnceLock::new();

struct CaptureRecorder(&'static MetricsCapture);

fn handle<T: Default>(list: &Mutex<Vec<(metrics::Key, Arc<T>)>>, key: &metrics::Key) -> Arc<T> {
    let mut list = lock(list);
    if let Some((_, h)) = list.iter().find(|(k, _)| k == key) {
        return h.clone();
    }
    let h = Arc::new(T::default());
    list.push((key.clone(), h.clone()));
    h
}

impl metrics::Recorder for CaptureRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(handle(&self.0.counters, key))
    }

    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(handle(&self.0.gauges, key))
    }

    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::from_arc(handle(&self.0.histograms, key))
    }
}

fn matches(key: &metrics::Key, name: &str, labels: &[(&str, &str)]) -> bool {
    key.name() == name
        && labels
            .iter()
            .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
}

impl MetricsCapture {
    /// The process-wide capture, installed as the global `metrics` recorder on first call. (If
    /// another global recorder was installed first, it sees nothing.)
    pub fn global() -> &'static MetricsCapture {
        CAPTURE.get_or_init(|| {
            let capture: &'static MetricsCapture = Box::leak(Box::default());
            let _ = metrics::set_global_recorder(CaptureRecorder(capture));
            capture
        })
    }

    /// The sum of the counters named `name` whose labels include `labels`.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let list = lock(&self.counters);
        list.iter()
            .filter(|(k, _)| matches(k, name, labels))
            .map(|(_, v)| v.load(Ordering::SeqCst))
            .sum()
    }

    /// The value of the first gauge named `name` whose labels include `labels`.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let list = lock(&self.gauges);
        list.iter()
            .find(|(k, _)| matches(k, name, labels))
            .map(|(_, v)| f64::from_bits(v.load(Ordering::SeqCst)))
    }

    /// The samples of the histograms named `name` whose labels include `labels`.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let list = lock(&self.histograms);
        list.iter()
            .filter(|(k, _)| matches(k, name, labels))
            .flat_map(|(_, v)| lock(&v.0).clone())
            .collect()
    }
}
