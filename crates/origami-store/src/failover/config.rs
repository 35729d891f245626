//! How a [`FailoverStore`](super::FailoverStore) behaves: [`FailoverConfig`], [`RepairConfig`].

use std::time::Duration;

use crate::instrument::InstrumentConfig;

/// How a [`FailoverStore`](crate::FailoverStore) behaves. Every knob has the default documented
/// on its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverConfig {
    /// The timeout of one read attempt on one region (default 2 s). On expiry the region counts
    /// as failed for that request and the next one is tried.
    pub attempt_timeout: Duration,
    /// The timeout of one write to one region (default 30 s).
    pub write_timeout: Duration,
    /// Start the same read on the next region when the current one has not answered within this
    /// delay, and take the first valid answer (default 100 ms; zero disables hedging).
    pub hedge_after: Duration,
    /// Consecutive failures that open a region's circuit breaker (default 3).
    pub breaker_failures: u32,
    /// While a breaker is open, one probe is let through (or sent by the background worker) every
    /// this often; its success closes the breaker (default 5 s).
    pub breaker_probe: Duration,
    /// Regions that must acknowledge a write for it to succeed (default 1).
    pub write_quorum: usize,
    /// How long an answer to "was this original deleted?" is remembered before the regions'
    /// tombstones are asked again (default 60 s): a delete (or a restore) made through another
    /// server is honoured here within this delay, and a hash read often costs its tombstone
    /// lookups once per interval.
    pub tombstone_recheck: Duration,
    /// The background repair of copies that regions missed.
    pub repair: RepairConfig,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(30),
            hedge_after: Duration::from_millis(100),
            breaker_failures: 3,
            breaker_probe: Duration::from_secs(5),
            write_quorum: 1,
            tombstone_recheck: Duration::from_secs(60),
            repair: RepairConfig::default(),
        }
    }
}

impl FailoverConfig {
    /// The timeouts of the [`InstrumentedStore`](crate::InstrumentedStore) put on each region.
    pub(super) fn instrument(&self) -> InstrumentConfig {
        InstrumentConfig {
            read_timeout: self.attempt_timeout,
            write_timeout: self.write_timeout,
        }
    }
}

/// The background repair queue: copies a region missed (a failed write, or a read that found it
/// missing or corrupt) are copied from a verified good copy, and deletes a region missed are
/// made again, with exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairConfig {
    /// Whether missed copies are queued at all (default true). `origami sync` repairs the rest.
    pub enabled: bool,
    /// The wait before the second attempt (default 1 s); it doubles on each failure.
    pub initial_backoff: Duration,
    /// The longest wait between attempts (default 5 min).
    pub max_backoff: Duration,
    /// Attempts after which a repair is given up and left to `origami sync` (default 20).
    pub max_attempts: u32,
    /// Copies queued at most; further ones are dropped with a warning (default 100 000).
    pub max_pending: usize,
    /// Repairs run at once (default 4).
    pub concurrency: usize,
}

impl Default for RepairConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_attempts: 20,
            max_pending: 100_000,
            concurrency: 4,
        }
    }
}
