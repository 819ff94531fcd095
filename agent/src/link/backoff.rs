//! Reconnect delays of the link: exponential backoff with full jitter,
//! capped (by default at the contract's `AGENT_MAX_BACKOFF`), reset after a
//! session that got past Welcome.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter.
#[derive(Debug)]
pub(super) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays bounded by `initial`, doubling per attempt up to `max`.
    pub(super) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            attempt: 0,
        }
    }

    /// The next delay: uniform in zero to the current bound.
    pub(super) fn next_delay(&mut self) -> Duration {
        let cap = self
            .initial
            .saturating_mul(2u32.saturating_pow(self.attempt))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1).min(31);
        let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }

    /// Back to the first bound (after a session that got past Welcome).
    pub(super) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let caps = [1, 2, 4, 8, 16, 30, 30, 30];
        for cap in caps {
            let d = b.next_delay();
            assert!(d <= Duration::from_secs(cap), "{d:?} > {cap}s");
        }
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
