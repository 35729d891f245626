//! The accept loop: HTTP/1.1 connections with a header-read deadline (which also closes idle
//! keep-alive connections), a send timeout for clients that stop reading, a cap on open
//! connections, and a graceful shutdown that closes idle
//! connections at once and waits for in-flight requests only up to a grace period.
//!
//! `axum::serve` has none of these: a silent or half-open connection stays open for ever, and
//! enough of them exhaust the process's file descriptors.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;

use crate::config::ConnectionLimits;
use crate::metrics as m;
use crate::middleware::Front;
use crate::parse_errors::ShapedErrors;

/// Serves `front` (the router behind it) on `listener` under `limits` until `shutdown`
/// completes.
pub(crate) async fn serve(
    listener: TcpListener,
    front: Front,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Out of file descriptors, most likely: let some connections end first.
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            // Closed at once: the client learns now, not after a timeout.
            m::rejected("connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // A write pending for `send_timeout` fails with `TimedOut`, which ends the connection.
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.send_timeout));
        let stream = TokioIo::new(ShapedErrors::new(Box::pin(stream)));
        let service = TowerToHyperService::new(front.clone());
        let connection = graceful.watch(builder.serve_connection(stream, service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(
                grace = ?limits.shutdown_grace,
                "requests still in flight after the shutdown grace period: dropping them"
            );
        }
    }
}
