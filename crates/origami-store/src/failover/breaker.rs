//! A per-region circuit breaker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::lock::lock;
use crate::metrics;

/// Opens after `threshold` consecutive failures; while open, admits one probe every `probe`
/// interval and closes on its success. Logs and exports (`origami_region_up`) each change once.
#[derive(Debug)]
pub(super) struct Breaker {
    region: String,
    threshold: u32,
    probe: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    consecutive_failures: u32,
    open: bool,
    next_probe: Instant,
    probe_in_flight: bool,
}

/// Leave to send one request to the region. Report how it went with [`Permit::success`] or
/// [`Permit::failure`]; dropping it unreported (a cancelled hedge) changes nothing.
#[derive(Debug)]
pub(super) struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
}

impl Breaker {
    pub(super) fn new(region: String, threshold: u32, probe: Duration) -> Self {
        metrics::region_up(&region, true);
        Self {
            region,
            threshold: threshold.max(1),
            probe,
            state: Mutex::new(State {
                consecutive_failures: 0,
                open: false,
                next_probe: Instant::now(),
                probe_in_flight: false,
            }),
        }
    }

    /// A permit when the breaker is closed, or open with a probe due and none in flight.
    pub(super) fn admit(self: &Arc<Self>) -> Option<Permit> {
        let mut state = lock(&self.state);
        if !state.open {
            return Some(Permit {
                breaker: self.clone(),
                probe: false,
            });
        }
        let now = Instant::now();
        if state.probe_in_flight || now < state.next_probe {
            return None;
        }
        state.probe_in_flight = true;
        state.next_probe = now + self.probe;
        Some(Permit {
            breaker: self.clone(),
            probe: true,
        })
    }

    /// True while the breaker is closed.
    pub(super) fn is_up(&self) -> bool {
        !lock(&self.state).open
    }

    /// Consecutive failures so far.
    pub(super) fn consecutive_failures(&self) -> u32 {
        lock(&self.state).consecutive_failures
    }

    /// When the next probe may go, while the breaker is open and no probe is in flight.
    pub(super) fn next_probe_at(&self) -> Option<Instant> {
        let state = lock(&self.state);
        (state.open && !state.probe_in_flight).then_some(state.next_probe)
    }

    fn on_success(&self, probe: bool) {
        let mut state = lock(&self.state);
        if probe {
            state.probe_in_flight = false;
        }
        state.consecutive_failures = 0;
        if state.open {
            state.open = false;
            drop(state);
            tracing::info!(region = %self.region, "region is back up: circuit breaker closed");
            metrics::region_up(&self.region, true);
        }
    }

    fn on_failure(&self, probe: bool, cause: &str) {
        let mut state = lock(&self.state);
        if probe {
            state.probe_in_flight = false;
        }
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.open {
            // A failed probe (or a request admitted before the breaker opened): keep waiting.
            if probe {
                state.next_probe = Instant::now() + self.probe;
            }
            return;
        }
        if state.consecutive_failures >= self.threshold {
            state.open = true;
            state.next_probe = Instant::now() + self.probe;
            let failures = state.consecutive_failures;
            drop(state);
            tracing::warn!(
                region = %self.region,
                failures,
                probe_secs = self.probe.as_secs_f64(),
                last_error = %cause,
                "region is down: circuit breaker opened"
            );
            metrics::region_up(&self.region, false);
        }
    }
}

impl Permit {
    /// The region answered (an object, or "not found").
    pub(super) fn success(mut self) {
        self.breaker.on_success(self.probe);
        self.probe = false;
    }

    /// The region failed or timed out.
    pub(super) fn failure(mut self, cause: &str) {
        self.breaker.on_failure(self.probe, cause);
        self.probe = false;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe {
            // Cancelled before it reported: free the probe slot for the next request.
            let mut state = lock(&self.breaker.state);
            state.probe_in_flight = false;
            state.next_probe = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_probes_and_closes() {
        let b = Arc::new(Breaker::new("r".into(), 3, Duration::from_secs(5)));
        let fail = |b: &Arc<Breaker>| b.admit().expect("admitted").failure("boom");
        fail(&b);
        fail(&b);
        assert!(b.is_up());
        b.admit().expect("admitted").success();
        assert_eq!(b.consecutive_failures(), 0);
        for _ in 0..3 {
            fail(&b);
        }
        assert!(!b.is_up());
        assert!(b.admit().is_none(), "open: skipped");
        tokio::time::advance(Duration::from_secs(5)).await;
        let probe = b.admit().expect("probe due");
        assert!(probe.probe);
        assert!(b.admit().is_none(), "one probe at a time");
        probe.failure("still down");
        assert!(!b.is_up());
        assert!(b.admit().is_none(), "failed probe: wait another interval");
        tokio::time::advance(Duration::from_secs(5)).await;
        // A cancelled probe frees the slot at once.
        drop(b.admit().expect("probe due"));
        b.admit().expect("probe slot freed").success();
        assert!(b.is_up());
    }
}
