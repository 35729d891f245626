//! JSON bodies for the errors hyper answers by itself.
//!
//! When a request cannot be parsed (a malformed request line or header, raw non-ASCII bytes
//! in the path, a URI over 64 KiB, headers over hyper's buffer or header count), hyper writes
//! an automatic `400`, `414` or `431` with an empty body and closes the connection; no service
//! or layer ever sees the request, and hyper has no hook to shape that answer. [`ShapedErrors`]
//! wraps the connection's write half and, when it sees such an automatic head go out, sends
//! the documented error shape in its place: a JSON `{"error", "code"}` body, `Cache-Control:
//! no-store` (the error depends on the request's bytes, not on its URL alone, so a CDN must not
//! keep it for the URL) and `Connection: close` (hyper closes the connection after it anyway).
//!
//! Telling hyper's heads from the service's is exact: hyper writes them only before anything
//! else of the response (its `Writing::Init` state), so the head starts the write, and they carry
//! no `Content-Type`, while every error the service answers with is JSON and has one.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::metrics as m;

/// A connection whose automatic parse-error answers are rewritten to the JSON error shape.
#[derive(Debug)]
pub(crate) struct ShapedErrors<S> {
    inner: S,
    /// A replacement answer still to be written, and how much of it has been.
    pending: Vec<u8>,
    written: usize,
}

impl<S> ShapedErrors<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// What hyper answers by itself, and how it is explained.
fn replacement_for(status: u16) -> Option<(&'static str, &'static str)> {
    match status {
        400 => Some((
            "bad_request",
            "the request could not be parsed: a malformed request line or header, or bytes \
             in the path that must be percent-encoded",
        )),
        414 => Some((
            "uri_too_long",
            "the request's URI is too long; Origami's URLs are far shorter than 64 KiB",
        )),
        431 => Some((
            "headers_too_large",
            "the request's headers are too large or too many (at most 100 headers in about \
             400 KiB)",
        )),
        _ => None,
    }
}

/// If `buf` starts with one of hyper's automatic error heads, the length of that head and the
/// complete answer to send instead.
fn rewrite(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    let (code, message) = replacement_for(status)?;
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = &buf[..head_len];
    let has_content_type = head
        .split(|&b| b == b'\n')
        .any(|line| line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"content-type:"));
    if has_content_type {
        return None;
    }
    let body = serde_json::json!({ "error": message, "code": code }).to_string();
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         cache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tracing::info!(status, code, "answered a request that could not be parsed");
    m::unparsed_request(status);
    Some((head_len, answer.into_bytes()))
}

impl<S: AsyncWrite + Unpin> ShapedErrors<S> {
    /// Writes what is left of a replacement answer; ready once nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Starts a replacement if `first` begins with an automatic error head; returns how much
    /// of `first` the replacement stands for.
    fn intercept(&mut self, first: &[u8]) -> Option<usize> {
        let (head_len, answer) = rewrite(first)?;
        self.pending = answer;
        self.written = 0;
        Some(head_len)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ShapedErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ShapedErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(consumed) = this.intercept(buf) {
            // Reported as written: the replacement goes out on the next write or flush.
            return Poll::Ready(Ok(consumed));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if let Some(consumed) = this.intercept(first) {
                return Poll::Ready(Ok(consumed));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_automatic_heads_are_replaced_and_the_services_answers_are_not() {
        let hyper_head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 02:00:00 GMT\r\n\r\n";
        let (consumed, answer) = rewrite(hyper_head).expect("rewritten");
        assert_eq!(consumed, hyper_head.len());
        let answer = String::from_utf8(answer).expect("utf-8");
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(answer.contains("cache-control: no-store\r\n"));
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["code"], "headers_too_large");

        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n";
        assert!(rewrite(ours).is_none(), "the service's own errors pass");
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(ok).is_none());
        assert!(
            rewrite(b"HTTP/1.1 414 URI Too Long\r\ncontent-le").is_none(),
            "no whole head"
        );
    }
}
