//! Degraded vantage points: the agents that keep failing a service while
//! the quorum says it is up.
//!
//! Each agent failing in a round the quorum did not confirm adds one to its
//! streak; a success from it (scheduled or voted) ends its streak. Agents
//! whose streak reached `degraded_after` make the service `degraded`
//! (a `Degraded` verdict when it starts and whenever that set changes;
//! `DegradedEnded` when it empties and the service is `up` again). A
//! confirmed failure, maintenance or lost agents clear every streak, and
//! an agent muted or gone drops its own ([`Tracker::drop_agent`]).
//! Streaks live in memory; after a restart a stored `degraded` service
//! resumes those of its stored failing agents ([`Tracker::restore_streaks`]),
//! so it stays `degraded` until they succeed. A resumed streak waits for
//! its agent to reconnect ([`RESUMED_WAIT`]) before its absence from the
//! directory counts as the agent gone.

use std::collections::BTreeMap;

use super::{Effect, Policy, Tracker};
use crate::domain::{AgentId, DegradedAgent, ServiceState, Verdict, Vote};

#[derive(Debug, Clone)]
struct Streak {
    rounds: u32,
    name: String,
    since_ms: i64,
    error: String,
    /// Resumed after a restart, its agent not seen since: until when its
    /// absence from the directory is a reconnection still to come.
    waiting_until_ms: Option<i64>,
}

/// How long a resumed streak waits for its agent to reconnect after a
/// collector start (agents reconnect within seconds).
pub const RESUMED_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The streaks of one service, boxed in the tracker (most have none).
#[derive(Debug, Clone, Default)]
pub(super) struct Streaks {
    by_agent: BTreeMap<AgentId, Streak>,
    /// The failing agents of the last `Degraded` verdict.
    reported: Vec<AgentId>,
}

impl Tracker {
    fn streaks(&mut self) -> &mut Streaks {
        self.streaks.get_or_insert_with(Default::default)
    }

    /// The agents failing for `degraded_after` rounds or more.
    fn degraded_agents(&self, policy: &Policy) -> Vec<DegradedAgent> {
        let Some(s) = &self.streaks else {
            return Vec::new();
        };
        (s.by_agent.iter())
            .filter(|(_, st)| st.rounds >= policy.degraded_after)
            .map(|(id, st)| DegradedAgent {
                agent_id: id.clone(),
                name: st.name.clone(),
                region: String::new(),
                since_ms: st.since_ms,
                error: st.error.clone(),
            })
            .collect()
    }

    /// The agents with a streak (most services: none).
    pub fn streak_agents(&self) -> Vec<AgentId> {
        (self.streaks.as_ref()).map_or_else(Vec::new, |s| s.by_agent.keys().cloned().collect())
    }

    /// Whether `agent` is one of the failing agents already reported.
    pub(super) fn reported(&self, agent: &AgentId) -> bool {
        self.streaks
            .as_ref()
            .is_some_and(|s| s.reported.contains(agent))
    }

    /// A success from `agent`: its streak ends.
    pub(super) fn reset_streak(&mut self, agent: &AgentId) -> bool {
        let removed = (self.streaks.as_mut()).is_some_and(|s| s.by_agent.remove(agent).is_some());
        if self.streaks.as_ref().is_some_and(|s| s.by_agent.is_empty()) {
            self.streaks = None;
        }
        removed
    }

    /// Resumes a stored `degraded` service's streaks: each of `agents`
    /// as failing for `rounds` rounds (the threshold) and already reported,
    /// waiting for its agent until `now_ms` + [`RESUMED_WAIT`].
    pub fn restore_streaks(&mut self, agents: &[DegradedAgent], rounds: u32, now_ms: i64) {
        if self.state != ServiceState::Degraded || agents.is_empty() {
            return;
        }
        let until = now_ms.saturating_add(RESUMED_WAIT.as_millis() as i64);
        let s = self.streaks();
        for a in agents {
            let streak = Streak {
                rounds,
                name: a.name.clone(),
                since_ms: a.since_ms,
                error: a.error.clone(),
                waiting_until_ms: Some(until),
            };
            s.by_agent.insert(a.agent_id.clone(), streak);
        }
        s.reported = agents.iter().map(|a| a.agent_id.clone()).collect();
    }

    /// Whether `agent`'s streak survives the directory: it is assigned
    /// (which ends a resumed streak's wait), or its streak was resumed and
    /// still waits for it at `now_ms`.
    pub fn streak_stays(&mut self, agent: &AgentId, assigned: bool, now_ms: i64) -> bool {
        let Some(st) = (self.streaks.as_mut()).and_then(|s| s.by_agent.get_mut(agent)) else {
            return false;
        };
        if assigned {
            st.waiting_until_ms = None;
            return true;
        }
        st.waiting_until_ms.is_some_and(|until| now_ms < until)
    }

    /// Forgets every streak (a confirmed failure, maintenance, no agents).
    pub(super) fn clear_streaks(&mut self) {
        self.streaks = None;
    }

    /// Counts a round the quorum did not confirm: failing voters extend
    /// their streaks, succeeding ones end theirs.
    pub(super) fn count_round(&mut self, votes: &[Vote]) {
        for v in votes {
            if v.outcome.ok {
                self.reset_streak(&v.agent);
                continue;
            }
            let error = v.outcome.error.clone().unwrap_or_default();
            let st = self
                .streaks()
                .by_agent
                .entry(v.agent.clone())
                .or_insert_with(|| Streak {
                    rounds: 0,
                    name: v.agent_name.clone(),
                    since_ms: v.time_ms,
                    error: String::new(),
                    waiting_until_ms: None,
                });
            st.rounds += 1;
            st.error = error;
        }
    }

    /// Brings an `up` (or `degraded`, or just recovered `suspect`) service
    /// to `degraded` or `up` as its streaks say.
    pub(super) fn settle(&mut self, policy: &Policy, effects: &mut Vec<Effect>) {
        let agents = self.degraded_agents(policy);
        if agents.is_empty() {
            if let Some(s) = self.streaks.as_mut() {
                s.reported.clear();
            }
            if self.state == ServiceState::Degraded {
                effects.push(Effect::Verdict(Verdict::DegradedEnded));
                self.state = ServiceState::Up;
            } else {
                self.set(ServiceState::Up, effects);
            }
            return;
        }
        let ids: Vec<AgentId> = agents.iter().map(|a| a.agent_id.clone()).collect();
        if self.state == ServiceState::Degraded && self.streaks().reported == ids {
            return;
        }
        effects.push(Effect::Verdict(Verdict::Degraded {
            from: self.state,
            agents,
        }));
        self.state = ServiceState::Degraded;
        self.streaks().reported = ids;
    }

    /// `agent` stops counting (muted, or no longer probing the service):
    /// its streak ends, which may end or change the degradation.
    pub fn drop_agent(&mut self, agent: &AgentId, policy: &Policy) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.reset_streak(agent) && self.state == ServiceState::Degraded && self.idle() {
            self.settle(policy, &mut effects);
        }
        effects
    }
}
