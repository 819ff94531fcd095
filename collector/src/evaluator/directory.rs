//! The evaluator's view of the directory: services whose last live agent
//! left become `unknown`, and agents no longer assigned to a service stop
//! counting toward its `degraded` state (after a restart, those its
//! resumed streaks name get `RESUMED_WAIT`, in `tracker/degraded.rs`, to
//! reconnect).

use super::EvaluatorActor;

impl EvaluatorActor {
    /// Services whose last live agent left become `unknown`. Only a change
    /// from some agents to none counts, so the empty directory right after
    /// a collector start (agents still reconnecting) changes nothing.
    pub(super) async fn apply_directory(&mut self) {
        let directory = self.directory.borrow_and_update().clone();
        let now = self.clock.now_ms();
        let mut all = Vec::new();
        for (service, (tracker, policy)) in &mut self.trackers {
            let assigned = directory.assigned(service);
            let has = !assigned.is_empty();
            // Agents gone from the service stop counting toward `degraded`
            // (one a restart resumed gets time to reconnect).
            let mut effects = Vec::new();
            for agent in tracker.streak_agents() {
                let present = assigned.iter().any(|l| l.id == agent);
                if !tracker.streak_stays(&agent, present, now) {
                    effects.extend(tracker.drop_agent(&agent, policy));
                }
            }
            if !effects.is_empty() {
                all.push((service.clone(), effects));
            }
            let had = std::mem::replace(self.observed.entry(service.clone()).or_insert(false), has);
            if had && !has {
                let effects = tracker.agents_gone();
                if !effects.is_empty() {
                    all.push((service.clone(), effects));
                }
            }
        }
        for (service, effects) in all {
            self.apply(&service, effects).await;
        }
    }
}
