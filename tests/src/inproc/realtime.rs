//! Time in tests whose tokio clock is paused: real-time deadlines and the
//! held clock, from the collector's own test support
//! (`picket_collector::testing`), so both test suites share one version.
//!
//! In-process scenarios run on a paused clock that only the test moves
//! ([`super::Harness::advance`]); a `tokio::time::timeout` would then never
//! fire. [`within`] bounds a wait in wall-clock time instead, with a timer
//! thread, so a scenario that waits for something that never happens fails
//! with a message naming it rather than hanging.
//!
//! [`TestClock`] keeps the runtime from auto-advancing its paused clock
//! while it waits on other threads (SQLite's worker, the kernel): without
//! it tokio would jump to the next timer whenever it is idle, and a round
//! deadline could pass while a vote is still being committed. Its
//! [`TestClock::clock`] is the wall clock the collector runs on.

pub use picket_collector::testing::{TestClock, TimedOut, within};

/// A time of the client API in epoch milliseconds, to compare with
/// [`super::Harness::now_ms`].
pub fn epoch_ms(t: Option<&picket_proto::prost_types::Timestamp>) -> Option<i64> {
    t.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}
