//! The dead-man's switch, pure: which watched agents are overdue.
//!
//! Only `active` agents are watched. Each has a deadline: the last time it
//! was heard from plus `heartbeat_interval × missed_heartbeats`. When the
//! deadline passes it goes `Down` once; hearing from it again brings it
//! `Up`. The liveness actor ([`super::deadman`]) owns the timers and calls
//! [`Deadlines::expire`] when one fires, passing the time in, so this is
//! tested without a runtime.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::AgentId;

/// A liveness change to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The agent missed its deadline: open `[AGENT DOWN]`, move its checks.
    Down(AgentId),
    /// A dead agent was heard from: close its request, give checks back.
    Up(AgentId),
}

#[derive(Debug, Clone)]
struct Entry {
    deadline: Instant,
    dead: bool,
}

/// Deadlines of the watched agents.
#[derive(Debug, Clone)]
pub struct Deadlines {
    window: Duration,
    agents: HashMap<AgentId, Entry>,
}

impl Deadlines {
    /// `window` = heartbeat_interval × missed_heartbeats.
    pub fn new(window: Duration) -> Self {
        Deadlines {
            window,
            agents: HashMap::new(),
        }
    }

    /// A new window (a reload), for every deadline set from now on.
    pub fn set_window(&mut self, window: Duration) {
        self.window = window;
    }

    /// Starts watching an agent with a full window from `now`. `dead`
    /// resumes one that was already down (its request is open).
    pub fn watch(&mut self, agent: &AgentId, dead: bool, now: Instant) -> Instant {
        self.watch_until(agent, dead, now + self.window)
    }

    /// Starts watching an agent with its first deadline at `deadline`
    /// (after a collector start: now + the settle window).
    pub fn watch_until(&mut self, agent: &AgentId, dead: bool, deadline: Instant) -> Instant {
        self.agents.insert(agent.clone(), Entry { deadline, dead });
        deadline
    }

    /// Stops watching (suspended, or no longer active): no alerts.
    pub fn unwatch(&mut self, agent: &AgentId) {
        self.agents.remove(agent);
    }

    pub fn is_watched(&self, agent: &AgentId) -> bool {
        self.agents.contains_key(agent)
    }

    /// The agent was heard from (hello or heartbeat). Returns its new
    /// deadline, and `Up` when it had been declared dead.
    pub fn heard(&mut self, agent: &AgentId, now: Instant) -> Option<(Instant, Option<Change>)> {
        let entry = self.agents.get_mut(agent)?;
        entry.deadline = now + self.window;
        let change = std::mem::replace(&mut entry.dead, false).then(|| Change::Up(agent.clone()));
        Some((entry.deadline, change))
    }

    /// A deadline timer fired. `Down` if the agent is really overdue (a
    /// heartbeat may have moved the deadline since the timer was set).
    pub fn expire(&mut self, agent: &AgentId, now: Instant) -> Option<Change> {
        let entry = self.agents.get_mut(agent)?;
        if entry.dead || now < entry.deadline {
            return None;
        }
        entry.dead = true;
        Some(Change::Down(agent.clone()))
    }

    /// Whether the agent is watched and declared dead.
    #[cfg(test)]
    pub fn is_dead(&self, agent: &AgentId) -> bool {
        self.agents.get(agent).is_some_and(|e| e.dead)
    }

    /// The watched agents declared dead.
    pub fn dead(&self) -> impl Iterator<Item = &AgentId> {
        self.agents.iter().filter(|(_, e)| e.dead).map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> AgentId {
        AgentId::from("a")
    }

    const W: Duration = Duration::from_secs(30);

    #[test]
    fn silent_past_the_window_goes_down_once_and_comes_back() {
        let t0 = Instant::now();
        let mut l = Deadlines::new(W);
        assert_eq!(l.watch(&a(), false, t0), t0 + W);
        assert_eq!(
            l.expire(&a(), t0 + W - Duration::from_millis(1)),
            None,
            "never before the window"
        );
        assert_eq!(l.expire(&a(), t0 + W), Some(Change::Down("a".into())));
        assert!(l.is_dead(&a()));
        assert_eq!(l.expire(&a(), t0 + W * 2), None, "down once");
        let (deadline, change) = l.heard(&a(), t0 + W * 3).expect("watched");
        assert_eq!(change, Some(Change::Up("a".into())));
        assert_eq!(deadline, t0 + W * 4);
        assert!(!l.is_dead(&a()));
    }

    #[test]
    fn heartbeats_push_the_deadline() {
        let t0 = Instant::now();
        let mut l = Deadlines::new(W);
        l.watch(&a(), false, t0);
        for i in 1..=5u32 {
            let (_, change) = l
                .heard(&a(), t0 + Duration::from_secs(10) * i)
                .expect("watched");
            assert_eq!(change, None);
        }
        // The timer set for the first deadline fires late: not overdue.
        assert_eq!(l.expire(&a(), t0 + W), None);
        assert_eq!(
            l.expire(&a(), t0 + Duration::from_secs(50) + W),
            Some(Change::Down("a".into()))
        );
    }

    #[test]
    fn unwatched_agents_never_alert() {
        let t0 = Instant::now();
        let mut l = Deadlines::new(W);
        assert_eq!(l.heard(&AgentId::from("new"), t0), None);
        assert_eq!(l.expire(&AgentId::from("new"), t0 + W * 10), None);
        l.watch(&a(), false, t0);
        l.unwatch(&a());
        assert_eq!(l.expire(&a(), t0 + W * 10), None);
    }

    #[test]
    fn the_settle_window_holds_the_first_deadline_then_heartbeats_use_the_window() {
        let t0 = Instant::now();
        let settle = Duration::from_secs(60);
        let mut l = Deadlines::new(W);
        l.watch_until(&a(), false, t0 + settle);
        assert_eq!(
            l.expire(&a(), t0 + W),
            None,
            "no alert inside the settle window"
        );
        assert_eq!(l.expire(&a(), t0 + settle), Some(Change::Down("a".into())));
        let mut l = Deadlines::new(W);
        l.watch_until(&a(), false, t0 + settle);
        assert_eq!(
            l.heard(&a(), t0 + Duration::from_secs(5)).map(|(d, _)| d),
            Some(t0 + Duration::from_secs(5) + W)
        );
    }

    #[test]
    fn an_agent_down_before_a_restart_stays_down_until_heard() {
        let t0 = Instant::now();
        let mut l = Deadlines::new(W);
        l.watch(&a(), true, t0);
        assert!(l.is_dead(&a()));
        assert_eq!(l.expire(&a(), t0 + W), None, "no second alert");
        assert_eq!(
            l.heard(&a(), t0 + W).map(|(_, c)| c),
            Some(Some(Change::Up("a".into())))
        );
    }
}
