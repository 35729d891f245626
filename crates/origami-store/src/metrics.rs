//! The metrics the store's layers emit, through the `metrics` facade: the request metrics from
//! [`InstrumentedStore`](crate::InstrumentedStore), integrity failures from
//! [`VerifiedStore`](crate::VerifiedStore), the rest from [`FailoverStore`](crate::FailoverStore).
//!
//! Nothing is exported here: the binary installs a recorder (the HTTP layer's Prometheus exporter).
//! Every emission looks its handle up again, so a recorder installed after the store was built
//! still sees everything.

use std::time::Duration;

/// `origami_region_up{region}`: 1 while the region's circuit breaker is closed, 0 while open.
pub const REGION_UP: &str = "origami_region_up";
/// `origami_region_requests_total{region,op,outcome}`: requests to a region, by outcome
/// (`ok`, `not_found`, `error`, `timeout`, `integrity`).
pub const REGION_REQUESTS: &str = "origami_region_requests_total";
/// `origami_region_request_seconds{region,op}`: how long requests to a region took.
pub const REGION_REQUEST_SECONDS: &str = "origami_region_request_seconds";
/// `origami_integrity_failures_total{region}`: copies read whose bytes did not match their hash.
pub const INTEGRITY_FAILURES: &str = "origami_integrity_failures_total";
/// `origami_hedged_reads_total{region}`: hedge requests started because `region` (the region
/// being waited on) had not answered within the hedge delay.
pub const HEDGED_READS: &str = "origami_hedged_reads_total";
/// `origami_region_check{region}`: 1 when the region's latest check (at start-up, see
/// [`Store::check`](crate::Store::check)) found it answering, 0 when it failed.
pub const REGION_CHECK: &str = "origami_region_check";
/// `origami_repair_pending`: region copies queued for background repair.
pub const REPAIR_PENDING: &str = "origami_repair_pending";

/// Registers the descriptions and units of every metric above with the installed recorder.
pub fn describe() {
    use metrics::Unit;
    metrics::describe_gauge!(
        REGION_UP,
        "1 while the region's circuit breaker is closed, 0 while it is open"
    );
    metrics::describe_counter!(
        REGION_REQUESTS,
        "Requests made to a region, by operation and outcome"
    );
    metrics::describe_histogram!(
        REGION_REQUEST_SECONDS,
        Unit::Seconds,
        "Latency of requests to a region"
    );
    metrics::describe_counter!(
        INTEGRITY_FAILURES,
        "Copies read from a region whose bytes did not hash to their key"
    );
    metrics::describe_counter!(
        HEDGED_READS,
        "Hedge requests started because the region had not answered in time"
    );
    metrics::describe_gauge!(REPAIR_PENDING, "Region copies queued for background repair");
    metrics::describe_gauge!(
        REGION_CHECK,
        "1 when the region's latest check found it answering, 0 when it failed"
    );
}

pub(crate) fn region_check(region: &str, answered: bool) {
    metrics::gauge!(REGION_CHECK, "region" => region.to_owned()).set(if answered {
        1.0
    } else {
        0.0
    });
}

pub(crate) fn request(region: &str, op: &'static str, outcome: &'static str, elapsed: Duration) {
    metrics::counter!(REGION_REQUESTS, "region" => region.to_owned(), "op" => op, "outcome" => outcome).increment(1);
    metrics::histogram!(REGION_REQUEST_SECONDS, "region" => region.to_owned(), "op" => op)
        .record(elapsed.as_secs_f64());
}

pub(crate) fn region_up(region: &str, up: bool) {
    metrics::gauge!(REGION_UP, "region" => region.to_owned()).set(if up { 1.0 } else { 0.0 });
}

pub(crate) fn integrity_failure(region: &str) {
    metrics::counter!(INTEGRITY_FAILURES, "region" => region.to_owned()).increment(1);
}

pub(crate) fn hedged_read(region: &str) {
    metrics::counter!(HEDGED_READS, "region" => region.to_owned()).increment(1);
}

pub(crate) fn repair_pending(count: usize) {
    metrics::gauge!(REPAIR_PENDING).set(count as f64);
}
