//! The server's metrics (through the `metrics` facade) and the Prometheus exporter.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::StatusCode;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::ServerError;

/// `origami_http_requests_total{route,status}`.
pub const HTTP_REQUESTS: &str = "origami_http_requests_total";
/// `origami_http_request_seconds{route}`.
pub const HTTP_REQUEST_SECONDS: &str = "origami_http_request_seconds";
/// `origami_cache_total{outcome}`: result-cache lookups by outcome (`hit`, `miss`, `coalesced`,
/// `derived`).
pub const CACHE: &str = "origami_cache_total";
/// `origami_transform_seconds{op,format}`: time spent in the engine per transform.
pub const TRANSFORM_SECONDS: &str = "origami_transform_seconds";
/// `origami_queue_depth`: transforms waiting for a worker.
pub const QUEUE_DEPTH: &str = "origami_queue_depth";
/// `origami_rejected_total{reason}`: requests refused by back-pressure (`saturated`, `timeout`).
pub const REJECTED: &str = "origami_rejected_total";

/// `origami_working_copies_total{source}`: working copies obtained, by where from (`stored`:
/// read back from the derived space, `made`: decoded from the original, `upload`: made by an
/// upload, `damaged`: a stored copy that failed its checks and was made again).
pub const WORKING_COPIES: &str = "origami_working_copies_total";

/// `origami_queue_wait_seconds{lane}`: from a transform asking for its place to its start on a
/// worker (`ordinary` or `expensive` lane; reading the original is part of the wait).
pub const QUEUE_WAIT_SECONDS: &str = "origami_queue_wait_seconds";
/// `origami_workers`: transform workers (threads) of this process.
pub const WORKERS: &str = "origami_workers";
/// `origami_workers_busy`: workers running a transform (read at each scrape).
pub const WORKERS_BUSY: &str = "origami_workers_busy";
/// `origami_transform_memory_reserved_bytes`: estimated memory reserved by running transforms.
pub const TRANSFORM_MEMORY_RESERVED: &str = "origami_transform_memory_reserved_bytes";
/// `origami_transform_memory_budget_bytes`: what they may reserve (`transform_memory_bytes`).
pub const TRANSFORM_MEMORY_BUDGET: &str = "origami_transform_memory_budget_bytes";
/// `origami_cache_bytes{cache}`: bytes held by the result cache (`results`) and the decoded
/// working copies (`working_copies`).
pub const CACHE_BYTES: &str = "origami_cache_bytes";
/// `origami_cache_entries{cache}`: entries of those caches.
pub const CACHE_ENTRIES: &str = "origami_cache_entries";
/// `origami_cache_evictions_total`: result-cache entries evicted to stay within the byte bound.
pub const CACHE_EVICTIONS: &str = "origami_cache_evictions_total";
/// `origami_process_resident_bytes`: the process's resident memory (Linux; read at each scrape).
pub const PROCESS_RESIDENT_BYTES: &str = "origami_process_resident_bytes";
/// `origami_build_info{version,engine}`: 1, labelled with the build's version and engine version.
pub const BUILD_INFO: &str = "origami_build_info";

/// How often [`serve`](crate::serve) drains histogram samples into their buckets (the
/// exporter's own default when it runs its upkeep itself).
pub(crate) const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs a Prometheus recorder as the process's global `metrics` recorder and returns the
/// handle `/metrics` renders. Call it once per process, before building the store.
pub fn install_prometheus() -> Result<PrometheusHandle, ServerError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])
        .map_err(|e| ServerError::Metrics(e.to_string()))?
        .install_recorder()
        .map_err(|e| ServerError::Metrics(e.to_string()))?;
    describe();
    origami_store::metrics::describe();
    Ok(handle)
}

/// Registers the descriptions of the server's metrics with the installed recorder.
pub fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests by route and status");
    metrics::describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "HTTP request latency by route"
    );
    metrics::describe_counter!(CACHE, "Result cache lookups by outcome");
    metrics::describe_histogram!(
        TRANSFORM_SECONDS,
        Unit::Seconds,
        "Engine time per transform"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Transforms waiting for a worker");
    metrics::describe_counter!(REJECTED, "Requests refused by back-pressure");
    metrics::describe_counter!(WORKING_COPIES, "Working copies obtained, by source");
    metrics::describe_histogram!(
        QUEUE_WAIT_SECONDS,
        Unit::Seconds,
        "From a transform asking for its place to its start on a worker, by lane"
    );
    metrics::describe_gauge!(WORKERS, "Transform workers of this process");
    metrics::describe_gauge!(WORKERS_BUSY, "Workers running a transform");
    metrics::describe_gauge!(
        TRANSFORM_MEMORY_RESERVED,
        Unit::Bytes,
        "Estimated memory reserved by running transforms"
    );
    metrics::describe_gauge!(
        TRANSFORM_MEMORY_BUDGET,
        Unit::Bytes,
        "Memory running transforms may reserve"
    );
    metrics::describe_gauge!(CACHE_BYTES, Unit::Bytes, "Bytes held by a memory cache");
    metrics::describe_gauge!(CACHE_ENTRIES, "Entries of a memory cache");
    metrics::describe_counter!(
        CACHE_EVICTIONS,
        "Result-cache entries evicted to stay within the byte bound"
    );
    metrics::describe_gauge!(
        PROCESS_RESIDENT_BYTES,
        Unit::Bytes,
        "Resident memory of the process"
    );
    metrics::describe_gauge!(
        BUILD_INFO,
        "1, labelled with the version and engine version"
    );
    metrics::gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "engine" => origami_engine::ENGINE_VERSION.to_string()
    )
    .set(1.0);
}

/// The `route` label values of the HTTP metrics (see [`crate::route_label`]).
pub(crate) const ROUTES: [&str; 9] = [
    "healthz",
    "readyz",
    "metrics",
    "upload",
    "original",
    "thumbhash",
    "info",
    "transform",
    "other",
];

/// The statuses this server answers with; others are counted too, just not through a cached
/// handle.
const STATUSES: [u16; 15] = [
    200, 201, 304, 400, 401, 403, 404, 405, 408, 413, 415, 422, 500, 503, 504,
];

/// The handles of `origami_http_requests_total` / `origami_http_request_seconds`, looked up in
/// the recorder once per (route, status) rather than on every request (a registry lookup that
/// builds and hashes the labels: measured at ~3 % of a cache hit's CPU). A counter is registered
/// on first use, so series that never happen are not exported as zeros.
pub(crate) struct HttpMetrics {
    seconds: [Histogram; ROUTES.len()],
    requests: [[OnceLock<Counter>; STATUSES.len()]; ROUTES.len()],
}

impl HttpMetrics {
    /// Registers the histograms with the recorder installed now.
    pub(crate) fn new() -> Self {
        Self {
            seconds: ROUTES
                .map(|route| metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route)),
            requests: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }

    /// Records one request. `route` is one of [`ROUTES`] (what [`crate::route_label`] returns;
    /// anything else is counted as `other`).
    pub(crate) fn record(&self, route: &'static str, status: StatusCode, elapsed: Duration) {
        let r = ROUTES
            .iter()
            .position(|&known| known == route)
            .unwrap_or(ROUTES.len() - 1);
        self.seconds[r].record(elapsed.as_secs_f64());
        let register = || metrics::counter!(HTTP_REQUESTS, "route" => ROUTES[r], "status" => status.as_u16().to_string());
        match STATUSES.iter().position(|&s| s == status.as_u16()) {
            Some(s) => self.requests[r][s].get_or_init(register).increment(1),
            None => register().increment(1),
        }
    }
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

/// Counts a request hyper could not parse and answered by itself (see
/// [`crate::parse_errors`]), under the route `unparsed`.
pub(crate) fn unparsed_request(status: u16) {
    metrics::counter!(HTTP_REQUESTS, "route" => "unparsed", "status" => status.to_string())
        .increment(1);
}

/// The handle of `origami_cache_total{outcome}`.
pub(crate) fn cache_counter(outcome: &'static str) -> metrics::Counter {
    metrics::counter!(CACHE, "outcome" => outcome)
}

pub(crate) fn transform(op: &'static str, format: &'static str, elapsed: Duration) {
    metrics::histogram!(TRANSFORM_SECONDS, "op" => op, "format" => format)
        .record(elapsed.as_secs_f64());
}

pub(crate) fn queue_depth(depth: usize) {
    metrics::gauge!(QUEUE_DEPTH).set(depth as f64);
}

pub(crate) fn queue_wait(expensive: bool, waited: Duration) {
    let lane = if expensive { "expensive" } else { "ordinary" };
    metrics::histogram!(QUEUE_WAIT_SECONDS, "lane" => lane).record(waited.as_secs_f64());
}

pub(crate) fn cache_evicted() {
    metrics::counter!(CACHE_EVICTIONS).increment(1);
}

/// What the gauges read at each scrape say now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gauges {
    pub(crate) workers: usize,
    pub(crate) workers_busy: usize,
    pub(crate) memory_reserved: u64,
    pub(crate) memory_budget: u64,
    pub(crate) results: (u64, u64),
    pub(crate) working_copies: (u64, u64),
}

/// Sets the scrape-time gauges (the caches' sizes, the busy workers, the process's memory).
pub(crate) fn set_gauges(g: Gauges) {
    metrics::gauge!(WORKERS).set(g.workers as f64);
    metrics::gauge!(WORKERS_BUSY).set(g.workers_busy as f64);
    metrics::gauge!(TRANSFORM_MEMORY_RESERVED).set(g.memory_reserved as f64);
    metrics::gauge!(TRANSFORM_MEMORY_BUDGET).set(g.memory_budget as f64);
    for (cache, (bytes, entries)) in [("results", g.results), ("working_copies", g.working_copies)]
    {
        metrics::gauge!(CACHE_BYTES, "cache" => cache).set(bytes as f64);
        metrics::gauge!(CACHE_ENTRIES, "cache" => cache).set(entries as f64);
    }
    if let Some(bytes) = resident_bytes() {
        metrics::gauge!(PROCESS_RESIDENT_BYTES).set(bytes as f64);
    }
}

/// The process's resident set size (`VmRSS` in `/proc/self/status`, in KiB whatever the page
/// size), on Linux; `None` elsewhere or when it cannot be read.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) fn rejected(reason: &'static str) {
    metrics::counter!(REJECTED, "reason" => reason).increment(1);
}

pub(crate) fn working_copy(source: &'static str) {
    metrics::counter!(WORKING_COPIES, "source" => source).increment(1);
}
