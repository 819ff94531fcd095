//! The check-ins' dead-man's switch, pure: which watched heartbeats are
//! overdue.
//!
//! Only `active` heartbeats are watched, each with its own window
//! (`period + grace`). A watched heartbeat has a deadline: its last ping
//! plus its window (or, before its first ping, its approval or the
//! collector's start plus its window). When the deadline passes it goes
//! `Missed` once; its next ping brings it back (`Resumed`). The actor
//! ([`super::actor`]) owns the timers and passes the time in, so this is
//! tested without a runtime.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::HeartbeatId;

/// A liveness change to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Silent past its deadline: open `[NO CHECK-IN]`.
    Missed(HeartbeatId),
    /// A late heartbeat pinged: close its request.
    Resumed(HeartbeatId),
}

#[derive(Debug, Clone)]
struct Entry {
    window: Duration,
    deadline: Instant,
    late: bool,
}

/// Deadlines of the watched heartbeats.
#[derive(Debug, Clone, Default)]
pub struct Deadlines {
    entries: HashMap<HeartbeatId, Entry>,
}

impl Deadlines {
    /// Watches `id` with `window`, its first deadline at `deadline`; `late`
    /// resumes one whose request is open (no second alert).
    pub fn watch_until(
        &mut self,
        id: &HeartbeatId,
        window: Duration,
        late: bool,
        deadline: Instant,
    ) -> Instant {
        self.entries.insert(
            id.clone(),
            Entry {
                window,
                deadline,
                late,
            },
        );
        deadline
    }

    /// A new window (a reload) for the deadlines set from now on.
    pub fn set_window(&mut self, id: &HeartbeatId, window: Duration) {
        if let Some(e) = self.entries.get_mut(id) {
            e.window = window;
        }
    }

    /// Stops watching (suspended, removed): no alerts.
    pub fn unwatch(&mut self, id: &HeartbeatId) {
        self.entries.remove(id);
    }

    pub fn is_watched(&self, id: &HeartbeatId) -> bool {
        self.entries.contains_key(id)
    }

    pub fn is_late(&self, id: &HeartbeatId) -> bool {
        self.entries.get(id).is_some_and(|e| e.late)
    }

    /// A ping: the new deadline, and `Resumed` when it was late.
    pub fn pinged(&mut self, id: &HeartbeatId, now: Instant) -> Option<(Instant, Option<Change>)> {
        let e = self.entries.get_mut(id)?;
        e.deadline = now + e.window;
        let change = std::mem::replace(&mut e.late, false).then(|| Change::Resumed(id.clone()));
        Some((e.deadline, change))
    }

    /// A timer fired: `Missed` when really overdue (a ping may have moved
    /// the deadline since the timer was set), once.
    pub fn expire(&mut self, id: &HeartbeatId, now: Instant) -> Option<Change> {
        let e = self.entries.get_mut(id)?;
        if e.late || now < e.deadline {
            return None;
        }
        e.late = true;
        Some(Change::Missed(id.clone()))
    }
}

/// The first deadline after a collector start: a full window from the
/// start (a ping refused while no collector led does not count against
/// the heartbeat), never earlier than its stored deadline.
pub fn first_deadline(start: Instant, window: Duration) -> Instant {
    start + window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> HeartbeatId {
        HeartbeatId::from("backup")
    }

    const W: Duration = Duration::from_secs(360);

    #[test]
    fn silent_past_period_and_grace_is_missed_once_then_resumes_on_a_ping() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        d.watch_until(&b(), W, false, t0 + W);
        assert_eq!(d.expire(&b(), t0 + W - Duration::from_millis(1)), None);
        assert_eq!(d.expire(&b(), t0 + W), Some(Change::Missed(b())));
        assert_eq!(d.expire(&b(), t0 + W * 2), None, "missed once");
        assert!(d.is_late(&b()));
        let (deadline, change) = d.pinged(&b(), t0 + W * 3).expect("watched");
        assert_eq!((deadline, change), (t0 + W * 4, Some(Change::Resumed(b()))));
        assert!(!d.is_late(&b()));
    }

    #[test]
    fn pings_push_the_deadline_and_windows_are_per_heartbeat() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let other = HeartbeatId::from("cron");
        d.watch_until(&b(), W, false, t0 + W);
        d.watch_until(&other, W * 2, false, t0 + W * 2);
        let (deadline, change) = d.pinged(&b(), t0 + W / 2).expect("watched");
        assert_eq!((deadline, change), (t0 + W / 2 + W, None));
        assert_eq!(d.expire(&b(), t0 + W), None, "the ping moved it");
        assert_eq!(d.expire(&other, t0 + W), None, "its own window");
        assert_eq!(d.expire(&other, t0 + W * 2), Some(Change::Missed(other)));
    }

    #[test]
    fn unwatched_heartbeats_never_alert_and_a_late_one_stays_late_after_a_restart() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        assert_eq!(d.pinged(&b(), t0), None);
        assert_eq!(d.expire(&b(), t0 + W * 10), None);
        d.watch_until(&b(), W, false, t0 + W);
        d.unwatch(&b());
        assert_eq!(d.expire(&b(), t0 + W * 10), None);
        d.watch_until(&b(), W, true, first_deadline(t0, W));
        assert_eq!(d.expire(&b(), t0 + W), None, "no second alert");
        assert_eq!(
            d.pinged(&b(), t0 + W).map(|(_, c)| c),
            Some(Some(Change::Resumed(b())))
        );
    }
}
