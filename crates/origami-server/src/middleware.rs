//! Cross-cutting middleware, each with the narrow state it needs: the per-request deadline
//! (a duration) and the access log + HTTP metrics (the metric handles).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access_info::AccessInfo;
use crate::api_error::ApiError;
use crate::metrics::HttpMetrics;

/// The `route` label of a path: a small fixed set, so metrics stay bounded.
pub fn route_label(method: &Method, path: &str) -> &'static str {
    // A signed path is labelled by what it signs: `/s/{signature}/original/...` is `original`.
    let path = match path.strip_prefix("/s/").and_then(|signed| signed.find('/')) {
        Some(at) => &path[3 + at..],
        None => path,
    };
    match path {
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        "/originals" => "upload",
        _ if path.starts_with("/original/") => "original",
        _ if path.starts_with("/thumbhash/") => "thumbhash",
        _ if path.starts_with("/info/") => "info",
        _ if method == Method::GET || method == Method::HEAD => "transform",
        _ => "other",
    }
}

/// The longest path written to the access log, in bytes; a client can send 64 KB of path, and
/// the log should not grow by that much per request.
const MAX_LOGGED_PATH: usize = 256;

/// `path` as the access log writes it: cut after [`MAX_LOGGED_PATH`] bytes (at a character
/// boundary), marked with `...`.
fn logged_path(path: &str) -> String {
    if path.len() <= MAX_LOGGED_PATH {
        return path.to_owned();
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &path[..end])
}

/// Cancels a request (other than an upload) that runs past `timeout`
/// ([`ServerConfig::request_timeout`](crate::ServerConfig::request_timeout)): 503 +
/// `Retry-After`.
pub(crate) async fn deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?timeout, "request deadline exceeded");
            ApiError::timeout().into_response()
        }
    }
}

/// Writes one access-log line per request (status, route, bytes, region, cache outcome,
/// duration) and records `origami_http_requests_total` / `origami_http_request_seconds`.
pub(crate) async fn access_log(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = route_label(request.method(), request.uri().path());
    // The line's fields are copied only when it will be written: with the access log filtered
    // out (`RUST_LOG=warn`) a cache hit pays for the metrics alone.
    let line = tracing::enabled!(target: "origami::access", tracing::Level::INFO).then(|| {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default();
        (
            request.method().clone(),
            logged_path(request.uri().path()),
            request_id,
        )
    });
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status();
    metrics.record(route, status, elapsed);
    if let Some((method, path, request_id)) = line {
        let bytes = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let info = response.extensions().get::<AccessInfo>();
        let region = info.and_then(|i| i.region.as_deref()).unwrap_or("-");
        let cache = info.and_then(|i| i.cache).unwrap_or("-");
        tracing::info!(
            target: "origami::access",
            %method,
            path = %path,
            status = status.as_u16(),
            route,
            bytes,
            region,
            cache,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            request_id = %request_id,
            "request"
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_are_logged_cut() {
        assert_eq!(logged_path("/thumb/1/1/x.jpg"), "/thumb/1/1/x.jpg");
        let long = format!("/{}", "é".repeat(40_000));
        let logged = logged_path(&long);
        assert!(logged.len() <= MAX_LOGGED_PATH + 3, "{}", logged.len());
        assert!(logged.ends_with("...") && long.starts_with(logged.trim_end_matches("...")));
    }

    #[test]
    fn every_route_label_has_metric_handles() {
        let paths = [
            "/healthz",
            "/readyz",
            "/metrics",
            "/originals",
            "/original/x",
            "/thumbhash/x",
            "/info/x",
            "/thumb/1/1/x.jpg",
            "/s/signature/original/x",
            "/",
        ];
        for method in [Method::GET, Method::HEAD, Method::POST, Method::DELETE] {
            for path in paths {
                let label = route_label(&method, path);
                assert!(crate::metrics::ROUTES.contains(&label), "{label}");
            }
        }
        assert_eq!(crate::metrics::ROUTES.last(), Some(&"other"));
        assert_eq!(route_label(&Method::GET, "/s/sig/original/x"), "original");
        assert_eq!(
            route_label(&Method::GET, "/s/sig/thumb/1/1/x.jpg"),
            "transform"
        );
    }
}
