//! [`Front`]: what every request passes through before and after the router (request ids, the
//! hit memo, the deadline, the access log and HTTP metrics), and the route labels of the
//! metrics.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::Service;

use crate::access_info::AccessInfo;
use crate::api_error::ApiError;
use crate::metrics::HttpMetrics;
use crate::routes;
use crate::state::AppState;

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

/// The header carrying a request's id: the client's when it sent one, else a new UUID v4.
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: a UUID v4 (`uuid`'s `fast-rng`: a thread-local CSPRNG, not a syscall).
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// What every request passes through, around the router, in one service: its request id
/// (`x-request-id`, the client's or a new one, echoed in the answer), the hit memo
/// ([`routes::remembered`]: a rendition URL answered before goes to the result cache without
/// routing), the deadline of every request but uploads
/// ([`ServerConfig::request_timeout`](crate::ServerConfig::request_timeout): 503 +
/// `Retry-After` past it), and the access log with the HTTP metrics.
///
/// One hand-written service rather than tower-http's request-id layers and two
/// `axum::middleware::from_fn`s: axum applies layers to each route after routing, each cloning
/// a boxed service and boxing a future per request, which the hit memo exists to skip.
#[derive(Clone)]
pub(crate) struct Front {
    router: Router,
    state: AppState,
    timeout: Duration,
    metrics: Arc<HttpMetrics>,
}

impl Front {
    /// `router` behind the front, with `state`'s configuration, memo and metrics.
    pub(crate) fn new(router: Router, state: AppState) -> Self {
        Self {
            router,
            timeout: state.config().request_timeout,
            metrics: state.http_metrics(),
            state,
        }
    }

    /// The answer: remembered, or routed (within the deadline unless it is an upload).
    async fn respond(&self, request: Request) -> Response {
        let remembered = routes::remembered(
            &self.state,
            request.method(),
            request.uri(),
            request.headers(),
        );
        if let Some(response) = remembered.await {
            return response;
        }
        let upload = request.method() == Method::POST;
        let mut router = self.router.clone();
        let routed = router.call(request);
        if upload {
            return routed.await.unwrap_or_else(|never| match never {});
        }
        match tokio::time::timeout(self.timeout, routed).await {
            Ok(response) => response.unwrap_or_else(|never| match never {}),
            Err(_) => {
                tracing::warn!(timeout = ?self.timeout, "request deadline exceeded");
                ApiError::timeout().into_response()
            }
        }
    }
}

impl<B> Service<axum::http::Request<B>> for Front
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let mut request = request.map(Body::new);
        let request_id = match request.headers().get(&X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                request
                    .headers_mut()
                    .insert(X_REQUEST_ID.clone(), id.clone());
                id
            }
        };
        let route = route_label(request.method(), request.uri().path());
        // The line's fields are copied only when it will be written: with the access log
        // filtered out (`RUST_LOG=warn`) a cache hit pays for the metrics alone.
        let line = tracing::enabled!(target: "origami::access", tracing::Level::INFO)
            .then(|| (request.method().clone(), logged_path(request.uri().path())));
        let front = self.clone();
        Box::pin(async move {
            let mut response = front.respond(request).await;
            let elapsed = start.elapsed();
            let status = response.status();
            front.metrics.record(route, status, elapsed);
            if let Some((method, path)) = line {
                log_access(&method, &path, &response, route, elapsed, &request_id);
            }
            if !response.headers().contains_key(&X_REQUEST_ID) {
                response
                    .headers_mut()
                    .insert(X_REQUEST_ID.clone(), request_id);
            }
            Ok(response)
        })
    }
}

/// Writes one access-log line: status, route, bytes, region, cache outcome, duration.
fn log_access(
    method: &Method,
    path: &str,
    response: &Response,
    route: &'static str,
    elapsed: Duration,
    request_id: &HeaderValue,
) {
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
        status = response.status().as_u16(),
        route,
        bytes,
        region,
        cache,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = request_id.to_str().unwrap_or("-"),
        "request"
    );
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
