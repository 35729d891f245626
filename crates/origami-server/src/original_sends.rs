//! [`OriginalSends`]: a bound on the memory held by `/original/` responses on their way to
//! clients, whatever the clients' speed.
//!
//! An original is read into memory whole (the store API returns bytes, and the memory cache
//! shares them). A client that reads slowly keeps its response, and so those bytes, alive;
//! without a bound, 60 slow clients over 9 originals of 60 MB held 2.5 GB. Each `GET
//! /original/` now reserves its original's size from a budget before reading it (the most
//! an original may be, `limits.max_input_bytes`, until its size is known) and holds the
//! reservation until its response body is dropped; a request that finds the budget spent
//! waits, within its deadline (then `503 timeout`, `Retry-After`).
//!
//! The body hands the original to the connection in [`CHUNK`] copies rather than slices of
//! the original's buffer, so once the body is dropped nothing of the whole original is left
//! in the connection's write buffer: the bound is the budget plus one chunk per connection.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::budget::{MemoryBudget, Reservation};

/// Bytes handed to the connection at a time.
pub(crate) const CHUNK: usize = 256 << 10;

/// The budget of `/original/` bytes in flight. Cloning is cheap and shares it.
#[derive(Debug, Clone)]
pub(crate) struct OriginalSends {
    budget: MemoryBudget,
}

impl OriginalSends {
    /// A budget of `total` bytes.
    pub(crate) fn new(total: u64) -> Self {
        Self {
            budget: MemoryBudget::new(total),
        }
    }

    /// Waits until `bytes` (an original's size, or an upper bound of it) may be held, and
    /// reserves them; an original larger than the whole budget is sent alone.
    pub(crate) async fn reserve(&self, bytes: u64) -> Reservation {
        self.budget.reserve(bytes).await
    }
}

/// The body of a `GET /original/` answer: `bytes` in [`CHUNK`]-sized copies, holding
/// `reservation` until it is dropped.
pub(crate) fn body(bytes: Bytes, mut reservation: Reservation) -> Body {
    reservation.shrink_to(bytes.len() as u64);
    Body::new(ChunkedOriginal {
        bytes,
        sent: 0,
        _reservation: reservation,
    })
}

struct ChunkedOriginal {
    bytes: Bytes,
    sent: usize,
    _reservation: Reservation,
}

impl http_body::Body for ChunkedOriginal {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let start = self.sent;
        if start >= self.bytes.len() {
            return Poll::Ready(None);
        }
        let end = (start + CHUNK).min(self.bytes.len());
        self.sent = end;
        let chunk = Bytes::copy_from_slice(&self.bytes[start..end]);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.bytes.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.bytes.len() - self.sent) as u64)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn sends_the_bytes_in_chunks_and_frees_the_budget_when_dropped() {
        let sends = OriginalSends::new(10 << 20);
        let original = Bytes::from((0..(CHUNK * 2 + 7)).map(|i| i as u8).collect::<Vec<_>>());
        let reservation = sends.reserve(10 << 20).await;
        let mut body = body(original.clone(), reservation);
        assert_eq!(sends.budget.free(), (10 << 20) - original.len() as u64);
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= CHUNK);
            got.extend_from_slice(&data);
            frames += 1;
        }
        assert_eq!((got.as_slice(), frames), (&original[..], 3));
        drop(body);
        assert_eq!(sends.budget.free(), 10 << 20);
    }
}
