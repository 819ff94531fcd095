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
//! Streaks live in memory only: after a restart a stored `degraded`
//! service counts its rounds again (and is `up` until they add up).

use std::collections::BTreeMap;

use super::{Effect, Policy, Tracker};
use crate::domain::{AgentId, DegradedAgent, ServiceState, Verdict, Vote};

#[derive(Debug, Clone)]
struct Streak {
    rounds: u32,
    name: String,
    since_ms: i64,
    error: String,
}

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
