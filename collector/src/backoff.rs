//! [`Backoff`]: the growing delay between the attempts of a write the
//! collector retries until it is stored (a batch of results, a verdict,
//! a held outage's release, a missed check-in).

use std::time::Duration;

/// A delay that starts at `first` and doubles after each use, up to
/// `most`; [`Backoff::reset`] starts it over.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    most: Duration,
    next: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, most: Duration) -> Backoff {
        Backoff {
            first,
            most,
            next: first,
        }
    }

    /// The delay to wait now; the next one is twice as long (at most
    /// `most`).
    pub fn delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (now * 2).min(self.most);
        now
    }

    /// The next delay is `first` again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// 100 ms, doubling, at most 10 s: what the actors' writes wait between
/// attempts.
impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_its_most_and_starts_over_on_reset() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(50), ms(300));
        let delays: Vec<_> = (0..5).map(|_| b.delay()).collect();
        assert_eq!(delays, [ms(50), ms(100), ms(200), ms(300), ms(300)]);
        b.reset();
        assert_eq!(b.delay(), ms(50));
    }
}
