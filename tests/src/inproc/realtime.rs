//! Real-time deadlines for tests whose tokio clock is paused.
//!
//! In-process scenarios run on a paused clock that only the test moves
//! ([`super::Harness::advance`]); a `tokio::time::timeout` would then never
//! fire. [`within`] bounds a wait in wall-clock time instead, with a timer
//! thread, so a scenario that waits for something that never happens fails
//! with a message naming it rather than hanging.
//!
//! [`hold_the_clock`] keeps the runtime from auto-advancing its paused
//! clock while it waits on other threads (SQLite's worker, the kernel):
//! without it tokio would jump to the next timer whenever it is idle, and a
//! round deadline could pass while a vote is still being committed.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;

/// Awaits `fut`, failing when `limit` of real time passes first.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> anyhow::Result<T> {
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
        _ = fired => anyhow::bail!("timed out after {limit:?} (real time) waiting for {what}"),
    }
}

/// Spawns a task that keeps the current-thread runtime busy, so a paused
/// clock moves only when the test advances it. Abort the handle to stop.
pub fn hold_the_clock() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        loop {
            tokio::task::yield_now().await;
        }
    })
}
