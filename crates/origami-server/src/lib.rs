//! Origami's HTTP origin front: the API a CDN calls.
//!
//! - Routes: `GET|HEAD /{ops}/{hash}.{ext}` (the engine's operation grammar, e.g.
//!   `/thumb/400/300/<hash>.webp`; without extension the format is negotiated from `Accept`),
//!   `/original/{hash}[.{ext}]`, `/thumbhash/{hash}[.png]`, `/info/{hash}`, `POST /originals`,
//!   `/healthz`, `/readyz`, `/metrics`. Signed URLs (`/s/{signature}/...`) when
//!   [`ServerConfig::signing_keys`] is set.
//! - Successes are `immutable` with a strong ETag and `X-Origami-Region`; errors are JSON
//!   `{"error","code"}`, `no-store` for 5xx and `public, max-age=60` for 4xx.
//! - A byte-weighed memory cache with coalescing of identical misses, an optional second level in
//!   the store's derived space, and a CPU pool with a bounded queue (503 + `Retry-After` beyond).
//!
//! Build an [`AppState`] over any [`Store`](origami_store::Store) (in production a
//! [`FailoverStore`](origami_store::FailoverStore)), then [`serve`] it (or mount [`router`]
//! yourself).
//!
//! A request's path through the crate: `middleware` (request id, access log + metrics,
//! deadline) -> a handler in `routes` (parse the URL with `path`, check `If-None-Match`) ->
//! [`AppState`] -> the result cache (`cache`: a hit ends here; identical misses coalesce) ->
//! the miss path (`render`: the store's derived space, then admission to the CPU pool (`pool`,
//! `budget`), the original (`originals`), the engine) -> the answer (`routes::respond`).
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::body::Body;
//! use axum::http::{header, Request, StatusCode};
//! use origami_server::{router, AppState, ServerConfig};
//! use origami_store::{LocalStore, Store, StoreExt as _};
//! use tower::ServiceExt as _;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # runtime.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path())?);
//! let photo = include_bytes!("../../../fixtures/baseline.jpg");
//! let hash = store.put_bytes(bytes::Bytes::from_static(photo)).await?.hash;
//!
//! let app = router(AppState::new(store, ServerConfig::default(), None)?);
//! let request = Request::get(format!("/fit/16/16/{hash}.webp")).body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()[header::CONTENT_TYPE], "image/webp");
//! assert_eq!(response.headers()[header::CACHE_CONTROL], origami_server::IMMUTABLE);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

#![deny(missing_docs)]

mod access_info;
mod api_error;
mod budget;
mod cache;
mod cdn_paths;
mod config;
mod connections;
mod cors;
mod error;
mod hit_memo;
pub mod metrics;
mod middleware;
mod original_sends;
mod originals;
mod parse_errors;
mod path;
mod phase;
mod pool;
mod present;
mod render;
mod rendition;
mod routes;
mod state;
mod takedowns;
mod working_copies;

use std::future::Future;
use std::net::SocketAddr;

use axum::routing::{delete, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

pub use access_info::AccessInfo;
pub use api_error::ApiError;
pub use cache::{Cached, Outcome, Stats, StatsSnapshot};
pub use cdn_paths::cdn_paths;
pub use config::{
    ConnectionLimits, ServerConfig, SigningKey, Size, TransformHook,
    DEFAULT_TRANSFORM_MEMORY_PER_WORKER,
};
pub use cors::CorsOrigins;
pub use error::ServerError;
pub use middleware::route_label;
pub use originals::OriginalInfo;
pub use path::{negotiate, parse_file, parse_transform, sign, verify, ImageRequest, SIGNATURE_LEN};
pub use phase::Phase;
pub use pool::{Admission, PoolError, TransformPool};
pub use present::info_json;
pub use rendition::{rendition_etag, rendition_spec, Rendition};
pub use routes::IMMUTABLE;
pub use state::AppState;
pub use working_copies::WorkingCopyConfig;

/// The application's routes, each behind a panic catcher (a panic is a 500, never a dropped
/// connection). What every request passes through before routing (request ids, the hit memo,
/// the deadline, the access log and HTTP metrics) is the front service of `middleware.rs`,
/// which [`serve`] puts in front of it.
pub fn router(state: AppState) -> Router {
    // The public reads, which scripts of other origins may be allowed to read (CORS).
    let reads = Router::new()
        .route("/original/{file}", get(routes::original))
        .route("/thumbhash/{file}", get(routes::thumbhash))
        .route("/info/{hash}", get(routes::info))
        // The signed forms (required when signing keys are set); the handlers verify them.
        .route("/s/{signature}/original/{file}", get(routes::original))
        .route("/s/{signature}/thumbhash/{file}", get(routes::thumbhash))
        .route("/s/{signature}/info/{hash}", get(routes::info))
        .fallback(routes::transform);
    let reads = match state.config().cors.layer() {
        Some(cors) => reads.layer(cors),
        None => reads,
    };
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/originals", post(routes::upload))
        .route("/originals/{hash}", delete(routes::delete_original))
        .merge(reads)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse as _;
            tracing::error!("a handler panicked");
            ApiError::internal("internal error").into_response()
        }))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting, closes idle
/// connections and waits for in-flight requests to finish, up to
/// [`ConnectionLimits::shutdown_grace`]. Connections are held to the configuration's
/// [`ConnectionLimits`] (header-read and idle timeout, a cap on open connections).
pub async fn serve<F>(
    listener: TcpListener,
    state: AppState,
    shutdown: F,
) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, workers = state.pool().workers(), "serving");
    // The exporter keeps every histogram sample until its upkeep drains them into buckets; it
    // runs on a scrape, so an unscraped server would grow by 8 bytes per request without this.
    let upkeep = state.prometheus().cloned().map(|handle| {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(metrics::UPKEEP_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        })
    });
    let checks = tokio::spawn(start_up(state.clone()));
    let limits = state.config().connections;
    let draining = state.clone();
    let shutdown = async move {
        shutdown.await;
        draining.set_phase(Phase::Draining);
    };
    let front = middleware::Front::new(router(state.clone()), state);
    connections::serve(listener, front, limits, shutdown).await;
    checks.abort();
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
    tracing::info!("drained; stopped");
    Ok(())
}

/// The start-up check: every region is checked once ([`Store::check`](origami_store::Store::check));
/// the server is ready once at least one answered, and checks again, backing off up to 10 s,
/// while none does (so a rollout with broken credentials never becomes ready).
async fn start_up(state: AppState) {
    let mut delay = std::time::Duration::from_millis(500);
    loop {
        match state.store().check().await {
            Ok(access) => {
                tracing::info!(can_list = access.can_list, "store checked: ready");
                state.set_phase(Phase::Serving);
                return;
            }
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    retry_in = ?delay,
                    "no region answered the start-up check: not ready yet"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C): pass it to [`serve`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
