//! The actor's part of degraded vantage points (the counting is the
//! tracker's, `tracker/degraded.rs`): a `Degraded` verdict gets each
//! failing agent's region from the directory, and an agent that is no
//! longer assigned to the service (it left or died while its failing vote
//! was counted) is dropped at once, so a service is never left `degraded`
//! by an agent that cannot recover it.

use super::EvaluatorActor;
use super::tracker::Effect;
use crate::domain::{ServiceId, Verdict};

impl EvaluatorActor {
    /// `effects` with the regions of `Degraded` verdicts filled in, and
    /// followed by what dropping their unassigned agents decided.
    pub(super) fn place_degraded(
        &mut self,
        service: &ServiceId,
        mut effects: Vec<Effect>,
    ) -> Vec<Effect> {
        let directory = self.directory.borrow().clone();
        let assigned = directory.assigned(service);
        let mut i = 0;
        while i < effects.len() {
            let mut gone = Vec::new();
            if let Effect::Verdict(Verdict::Degraded { agents, .. }) = &mut effects[i] {
                for a in agents.iter_mut() {
                    match assigned.iter().find(|l| l.id == a.agent_id) {
                        Some(link) => a.region = link.region.clone(),
                        None => gone.push(a.agent_id.clone()),
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
