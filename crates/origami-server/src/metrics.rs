//! The server's metrics (through the `metrics` facade) and the Prometheus exporter.

use std::time::Duration;

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
}

pub(crate) fn http_request(route: &'static str, status: u16, elapsed: Duration) {
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => status.to_string()).increment(1);
    metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route).record(elapsed.as_secs_f64());
}

pub(crate) fn cache(outcome: &'static str) {
    metrics::counter!(CACHE, "outcome" => outcome).increment(1);
}

pub(crate) fn transform(op: &'static str, format: &'static str, elapsed: Duration) {
    metrics::histogram!(TRANSFORM_SECONDS, "op" => op, "format" => format)
        .record(elapsed.as_secs_f64());
}

pub(crate) fn queue_depth(depth: usize) {
    metrics::gauge!(QUEUE_DEPTH).set(depth as f64);
}

pub(crate) fn rejected(reason: &'static str) {
    metrics::counter!(REJECTED, "reason" => reason).increment(1);
}
