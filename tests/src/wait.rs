//! Waiting on predicates with deadlines: the only way an e2e test waits.
//!
//! [`wait_until`] polls an async probe every [`POLL`] until it reports ready,
//! reports a violation, or the deadline passes. The probe says what it saw
//! through [`Observation`]: a `bool`, an `Option<T>`, a [`Seen<T>`], or a
//! `Result` of any of those (an error counts as "not yet" and is remembered
//! as the last observation, so a collector that is restarting is simply
//! polled again).

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How often [`wait_until`] polls.
pub const POLL: Duration = Duration::from_millis(50);

/// One observation of a probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen<T> {
    /// The awaited condition holds; the wait returns this value.
    Ready(T),
    /// Not yet; the text describes what was observed (shown on timeout).
    Pending(String),
    /// An invariant the wait watches was broken: fail now, do not poll on.
    Violated(String),
}

/// What a probe may return.
pub trait Observation {
    /// What the wait returns once ready.
    type Value;
    fn into_seen(self) -> Seen<Self::Value>;
}

impl<T> Observation for Seen<T> {
    type Value = T;
    fn into_seen(self) -> Seen<T> {
        self
    }
}

impl Observation for bool {
    type Value = ();
    fn into_seen(self) -> Seen<()> {
        if self {
            Seen::Ready(())
        } else {
            Seen::Pending(String::from("false"))
        }
    }
}

impl<T> Observation for Option<T> {
    type Value = T;
    fn into_seen(self) -> Seen<T> {
        match self {
            Some(value) => Seen::Ready(value),
            None => Seen::Pending(String::from("None")),
        }
    }
}

impl<O: Observation, E: Display> Observation for Result<O, E> {
    type Value = O::Value;
    fn into_seen(self) -> Seen<O::Value> {
        match self {
            Ok(observation) => observation.into_seen(),
            Err(e) => Seen::Pending(format!("error: {e:#}")),
        }
    }
}

/// Polls `probe` until it is ready and returns its value.
///
/// Fails when the deadline `within` passes (naming `what`, the last
/// observation and the tails of all live process logs), or at once when the
/// probe reports [`Seen::Violated`].
pub async fn wait_until<F, O>(
    within: Duration,
    what: &str,
    mut probe: F,
) -> anyhow::Result<O::Value>
where
    F: AsyncFnMut() -> O,
    O: Observation,
{
    let started = Instant::now();
    let deadline = started + within;
    let mut polls: u64 = 0;
    loop {
        polls += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        // A probe that hangs (e.g. a stuck picketctl) must not outlive the
        // deadline by much; give it the rest of the time plus a little.
        let seen = match tokio::time::timeout(remaining + Duration::from_secs(1), probe()).await {
            Ok(observation) => observation.into_seen(),
            Err(_) => Seen::Pending(String::from("the probe itself did not finish in time")),
        };
        match seen {
            Seen::Ready(value) => return Ok(value),
            Seen::Violated(why) => anyhow::bail!(
                "while waiting for {what}: {why} (after {:.1?}){}",
                started.elapsed(),
                logs_section()
            ),
            Seen::Pending(last) => {
                if Instant::now() >= deadline {
                    anyhow::bail!(
                        "timed out after {within:?} ({polls} polls) waiting for {what}; \
                         last observed: {last}{}",
                        logs_section()
                    );
                }
            }
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

fn logs_section() -> String {
    format!("\nprocess logs:{}", crate::log_tails())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_value_once_ready() {
        let calls = AtomicU32::new(0);
        let value = wait_until(Duration::from_secs(5), "third call", async || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            (n >= 3).then_some(n)
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn timeout_names_what_and_the_last_observation() {
        let err = wait_until(Duration::from_millis(120), "the impossible", async || {
            Err::<bool, _>("boom 42")
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("the impossible"), "{err}");
        assert!(err.contains("boom 42"), "{err}");
    }

    #[tokio::test]
    async fn violation_fails_at_once() {
        let started = Instant::now();
        let err = wait_until(Duration::from_secs(30), "never", async || {
            Seen::<()>::Violated(String::from("two requests"))
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("two requests"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
