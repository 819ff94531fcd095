//! The actor's part of degraded vantage points (the counting is the
//! tracker's, `tracker/degraded.rs`): a `Degraded` verdict gets each
//! failing agent's region from the directory, and an agent that is no
//! longer assigned to the service (it left or died while its failing vote
//! was counted) is dropped at once, so a service is never left `degraded`
//! by an agent that cannot recover it.
//!
//! Muted agents (`crate::mute`) are left out: their results start no
//! round and vote in none (they are not asked), and a mute drops their
//! streaks like leaving does.

use super::EvaluatorActor;
use super::tracker::Effect;
use crate::domain::{AgentId, ServiceId, Verdict};

impl EvaluatorActor {
    pub(super) fn is_muted(&self, agent: &AgentId) -> bool {
        self.muted.borrow().contains_key(agent)
    }

    /// The muted set changed: muted agents' streaks end.
    pub(super) async fn apply_mutes(&mut self) {
        let muted = self.muted.borrow_and_update().clone();
        if muted.is_empty() {
            return;
        }
        let mut all = Vec::new();
        for (service, (tracker, policy)) in &mut self.trackers {
            let mut effects = Vec::new();
            for agent in tracker.streak_agents() {
                if muted.contains_key(&agent) {
                    effects.extend(tracker.drop_agent(&agent, policy));
                }
            }
            if !effects.is_empty() {
                all.push((service.clone(), effects));
            }
        }
        for (service, effects) in all {
            self.apply(&service, effects).await;
        }
    }

    /// `effects` with the regions of `Degraded` verdicts filled in, and
    /// followed by what dropping their unassigned agents decided.
    pub(super) fn place_degraded(
        &mut self,
        service: &ServiceId,
        mut effects: Vec<Effect>,
    ) -> Vec<Effect> {
        let directory = self.directory.borrow().clone();
        let assigned = directory.assigned(service);
        let muted = self.muted.borrow().clone();
        let mut i = 0;
        while i < effects.len() {
            let mut gone = Vec::new();
            if let Effect::Verdict(Verdict::Degraded { agents, .. }) = &mut effects[i] {
                for a in agents.iter_mut() {
                    match assigned.iter().find(|l| l.id == a.agent_id) {
                        Some(link) if !muted.contains_key(&link.id) => {
                            a.region = link.region.clone();
                        }
                        _ => gone.push(a.agent_id.clone()),
                    }
                }
            }
            if let Some((tracker, policy)) = self.trackers.get_mut(service) {
                for agent in gone {
                    effects.extend(tracker.drop_agent(&agent, policy));
                }
            }
            i += 1;
        }
        effects
    }
}
