//! Test support: tokio's paused clock held still for tests that also wait
//! on other threads, the [`Clock`] that follows it, and real-time deadlines.
//!
//! `#[tokio::test(start_paused = true)]` alone lets tokio jump to the next
//! timer whenever the runtime is idle, e.g. while SQLite works on its own
//! thread: sqlx's acquire timeout then fires, or a window ends while a
//! write is still under way. A [`TestClock`] keeps the runtime busy with a
//! task that only yields, so time moves only when the test calls
//! [`TestClock::advance`]; waits are then bounded in real time by
//! [`within`] (a `tokio::time::timeout` would never fire). Compiled for the
//! crate's own tests and, with the `testing` feature, for the in-process
//! harness of `picket-e2e`.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::time::Clock;

pub mod postgres;

/// 2026-01-01T00:00:00Z, a round base for test clocks.
pub const BASE_MS: i64 = 1_767_225_600_000;

/// How long (real time) [`soon`] waits for something that should happen.
pub const SOON: Duration = Duration::from_secs(10);

/// A wait bounded in real time ran out.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {limit:?} (real time) waiting for {what}")]
pub struct TimedOut {
    pub limit: Duration,
    pub what: String,
}

/// Awaits `fut`, failing when `limit` of real time passes first.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T, TimedOut> {
    let (fire, fired) = oneshot::channel::<()>();
    // Dropping `done` when the wait ends wakes the timer thread early.
    let (done, cancelled) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if cancelled.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = fire.send(());
        }
    });
    let _done = done;
    tokio::select! {
        value = fut => Ok(value),
        _ = fired => Err(TimedOut { limit, what: what.to_owned() }),
    }
}

/// [`within`] [`SOON`], panicking with `what` when it runs out.
pub async fn soon<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within(SOON, what, fut)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Lets the other tasks run what became ready (timers that fired, replies).
pub async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

/// tokio's paused clock, held still until the test advances it, and a
/// wall [`Clock`] following it. Create it inside a
/// `#[tokio::test(start_paused = true)]`; dropping it lets go of the clock.
pub struct TestClock {
    clock: Clock,
    holder: JoinHandle<()>,
}

impl TestClock {
    /// Holds the paused clock; the wall clock reads `base_ms` now.
    pub fn hold(base_ms: i64) -> TestClock {
        let holder = tokio::spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
        TestClock {
            clock: Clock::following_tokio(base_ms),
            holder,
        }
    }

    /// The wall clock to hand to the collector (or one of its parts).
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// The wall time now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Moves the clock forward by `by`, then lets the tasks run what
    /// became due. First waits (real time) until no work the clock watches
    /// is under way ([`Clock::watch_work`]: a store call queued for its
    /// connection would otherwise time out at once).
    pub async fn advance(&self, by: Duration) {
        soon("the store's work under way before the clock moves", async {
            // Quiet twice, a settle apart: a task woken by a connection's
            // return has taken it by the second look.
            while self.clock.work_under_way() || {
                settle().await;
                self.clock.work_under_way()
            } {
                settle().await;
            }
        })
        .await;
        self.advance_over_work(by).await;
    }

    /// [`TestClock::advance`] without waiting for the work under way: for
    /// a test that holds the store on purpose and wants its calls to time
    /// out.
    pub async fn advance_over_work(&self, by: Duration) {
        tokio::time::advance(by).await;
        settle().await;
    }
}

impl Drop for TestClock {
    fn drop(&mut self) {
        self.holder.abort();
    }
}

#[cfg(test)]
pub(crate) use bench::Bench;

#[cfg(test)]
mod bench {
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    use super::{BASE_MS, TestClock, soon};
    use crate::config::settings::Settings;
    use crate::store::Store;

    /// What an actor under test runs with: the agents' test settings, a
    /// temp SQLite store on a held [`TestClock`] starting at [`BASE_MS`],
    /// and a cancellation token and tracker (cancelled on drop).
    pub(crate) struct Bench {
        pub store: Store,
        pub settings: Settings,
        pub time: TestClock,
        pub cancel: CancellationToken,
        pub tasks: TaskTracker,
        _dir: crate::store::testdb::TestDb,
    }

    impl Bench {
        pub async fn new() -> Bench {
            let time = TestClock::hold(BASE_MS);
            let settings = crate::agents::testing::settings(true);
            let (dir, store) = crate::agents::testing::store_on(&settings, time.clock()).await;
            Bench {
                store,
                settings,
                time,
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
                _dir: dir,
            }
        }

        /// Cancels the actors, waits until they have stopped, and readies
        /// a new token and tracker (for a restart over the same store).
        pub async fn stop(&mut self) {
            self.cancel.cancel();
            self.tasks.close();
            soon("the actors to stop", self.tasks.wait()).await;
            self.cancel = CancellationToken::new();
            self.tasks = TaskTracker::new();
        }
    }

    impl Drop for Bench {
        fn drop(&mut self) {
            self.cancel.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Bench, settle, soon, within};
    use crate::domain::{ServiceId, ServiceState};

    /// A write queued behind a busy connection is not timed out by a test
    /// moving the clock an hour: the move waits until it is stored.
    #[tokio::test(start_paused = true)]
    async fn the_clock_moves_only_once_a_queued_store_call_is_done() {
        let bench = Bench::new().await;
        let held = bench.store.hold_write().await;
        let store = bench.store.clone();
        let write = tokio::spawn(async move {
            store
                .set_service_state(&ServiceId::from("shop"), ServiceState::Up)
                .await
        });
        settle().await;
        assert!(bench.time.clock().work_under_way(), "the write is queued");
        tokio::spawn(async move {
            let moment = std::future::pending::<()>();
            let _ = within(Duration::from_millis(50), "a moment", moment).await;
            drop(held);
        });
        bench.time.advance(Duration::from_secs(3600)).await;
        let stored = soon("the write", write).await.expect("joined");
        assert!(stored.is_ok(), "{stored:?}");
        assert!(!bench.time.clock().work_under_way());
    }
}
