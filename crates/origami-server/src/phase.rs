//! [`Phase`]: where a server is in its life (`/readyz`).

/// Where a server is in its life, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Its store's regions have not all been checked yet, or none answered: not ready.
    Starting,
    /// Ready, and it stays ready while it runs: a store outage after start-up leaves cache
    /// hits to serve, and an outage with a shared cause (credentials, egress) would otherwise
    /// take every replica out of its load balancer at once.
    Serving,
    /// Shutting down: not ready, so load balancers stop sending new requests.
    Draining,
}

impl Phase {
    /// Its name in `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Serving => "serving",
            Self::Draining => "draining",
        }
    }
}
