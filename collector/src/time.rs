//! Wall-clock time: the [`Clock`] every stamped time comes from (the store
//! keeps epoch milliseconds) and RFC 3339 for people.
//!
//! The collector reads the wall clock only through a `Clock` handed down
//! from [`crate::run_with_clock`]: the system clock in production, or, in
//! tests, one that follows tokio's (paused) clock from a base time, so that
//! stored times, closing notes and maintenance ends move exactly as far as
//! the test moves the timers.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the collector reads the time; cheap to clone.
#[derive(Debug, Clone)]
pub struct Clock(Source);

#[derive(Debug, Clone)]
enum Source {
    System,
    /// `base_ms` plus the tokio time elapsed since `start`.
    FollowingTokio {
        base_ms: i64,
        start: tokio::time::Instant,
        work: Arc<Work>,
    },
}

/// Probes of the work under way that a test must not move its clock over
/// (see [`Clock::watch_work`]).
#[derive(Default)]
struct Work(Mutex<Vec<Box<dyn Fn() -> bool + Send + Sync>>>);

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let probes = self.0.lock().map_or(0, |p| p.len());
        f.debug_struct("Work").field("probes", &probes).finish()
    }
}

impl Clock {
    /// The system's wall clock (production).
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock that reads `base_ms` now and then moves with tokio's clock:
    /// on a paused runtime, only as far as the test advances it.
    pub fn following_tokio(base_ms: i64) -> Clock {
        Clock(Source::FollowingTokio {
            base_ms,
            start: tokio::time::Instant::now(),
            work: Arc::default(),
        })
    }

    /// Tells a clock that follows tokio about work it must not jump over
    /// while `under_way` says so, e.g. a store's connections in use: their
    /// waits (sqlx's acquire timeout) run on tokio's clock, and a test
    /// moving it by an hour while a write is queued would time that write
    /// out. `testing::TestClock::advance` waits for it first. The
    /// system clock ignores it.
    pub fn watch_work(&self, under_way: impl Fn() -> bool + Send + Sync + 'static) {
        if let Source::FollowingTokio { work, .. } = &self.0
            && let Ok(mut probes) = work.0.lock()
        {
            probes.push(Box::new(under_way));
        }
    }

    /// Whether any work told to [`Clock::watch_work`] is under way now.
    pub fn work_under_way(&self) -> bool {
        match &self.0 {
            Source::System => false,
            Source::FollowingTokio { work, .. } => work
                .0
                .lock()
                .is_ok_and(|probes| probes.iter().any(|under_way| under_way())),
        }
    }

    /// Milliseconds since the Unix epoch, now.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Source::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            Source::FollowingTokio { base_ms, start, .. } => {
                base_ms + start.elapsed().as_millis() as i64
            }
        }
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T06:09:00.123Z`.
pub use picket_proto::contract::text::rfc3339;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(1_614_265_330_123), "2021-02-25T15:02:10.123Z");
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let wall = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let before = wall(SystemTime::now()) as i64;
        let now = Clock::system().now_ms();
        let after = wall(SystemTime::now()) as i64;
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_following_clock_moves_only_with_tokio_time() {
        let clock = Clock::following_tokio(1_000_000);
        let copy = clock.clone();
        assert_eq!(clock.now_ms(), 1_000_000);
        for (advance_ms, expected) in [(0, 1_000_000), (1, 1_000_001), (3_599_999, 4_600_000)] {
            tokio::time::advance(Duration::from_millis(advance_ms)).await;
            assert_eq!(clock.now_ms(), expected, "after +{advance_ms} ms");
            assert_eq!(copy.now_ms(), expected, "a clone reads the same time");
        }
    }
}
