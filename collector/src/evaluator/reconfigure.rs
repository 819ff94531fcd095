//! A configuration reload as the evaluator applies it: the trackers follow
//! the new service list, in an order that keeps the lifecycle consistent.
//!
//! 1. Services that left the file, and those paused (`active = false`),
//!    lose their tracker (pending round timers find none and do nothing);
//!    a paused one is stored `paused` first (a `State` verdict), its open
//!    request untouched.
//! 2. The lifecycle's part ([`lifecycle::Reconfigure`]: its new texts and
//!    the catalog to store) is queued behind every verdict sent so far, so
//!    nothing sent after step 1 concerns a removed service, and the rows
//!    of new services exist before step 3 can produce a verdict on them.
//! 3. Kept trackers take their new policy (quorum, delays, failures before
//!    down); new and resumed services get a tracker in state `unknown`,
//!    knowing whether they have an open request, and enter maintenance at
//!    once if their equipment is in it.
//!
//! The registry assigns the new services after this step (see
//! `crate::reload`), so their first results find a tracker.

use std::collections::HashMap;

use tokio::sync::oneshot;

use super::EvaluatorActor;
use super::pause::{Policies, paused, resumed};
use crate::config::settings::EvaluatorSettings;
use crate::domain::{ServiceId, ServiceState};
use crate::lifecycle;

/// The evaluator's part of a reload.
pub struct Reconfigure {
    pub settings: EvaluatorSettings,
    /// For each service that gains a tracker and has a row: its stored
    /// state and whether it has an open request (a resumed service may).
    pub stored: HashMap<ServiceId, (ServiceState, bool)>,
    /// Forwarded to the lifecycle between steps 1 and 3.
    pub lifecycle: lifecycle::Reconfigure,
    /// Answered once the trackers follow the new settings.
    pub reply: oneshot::Sender<()>,
}

impl EvaluatorActor {
    pub(super) async fn reconfigure(&mut self, r: Reconfigure) {
        let new = r.settings;
        // By id: a reload of a million services makes no linear lookups.
        let by_id: HashMap<&ServiceId, bool> =
            new.services.iter().map(|s| (&s.id, s.active)).collect();
        let active = |id: &ServiceId| by_id.get(id).copied().unwrap_or(false);
        // 1. Removed and paused services leave.
        let leaving: Vec<ServiceId> = self
            .trackers
            .keys()
            .filter(|id| !active(id))
            .cloned()
            .collect();
        for id in leaving {
            let Some((tracker, _)) = self.trackers.remove(&id) else {
                continue;
            };
            self.observed.remove(&id);
            let from = tracker.state();
            if by_id.contains_key(&id)
                && let Some(verdict) = paused(from)
            {
                self.lifecycle.verdict(id, verdict).await;
            }
        }
        // 2. The lifecycle takes its settings behind those verdicts.
        self.lifecycle.reconfigure(r.lifecycle).await;
        // 3. New policies, new and resumed trackers.
        let maintenance = self.maintenance.borrow().clone();
        let mut effects = Vec::new();
        let mut policies = Policies::default();
        for s in new.services.iter().filter(|s| s.active) {
            if let Some((_, p)) = self.trackers.get_mut(&s.id) {
                *p = policies.of(s);
                continue;
            }
            let (stored, open) = r
                .stored
                .get(&s.id)
                .copied()
                .unwrap_or((ServiceState::Unknown, false));
            // Resumed (stored `paused`), or back in the file with a state
            // from before: it starts over from `unknown`.
            let (mut tracker, verdict) = resumed(stored, open);
            if let Some(verdict) = verdict {
                self.lifecycle.verdict(s.id.clone(), verdict).await;
            }
            effects.push((
                s.id.clone(),
                tracker.set_maintenance(crate::maintenance::paused(&maintenance, &s.equipment)),
            ));
            self.trackers
                .insert(s.id.clone(), (tracker, policies.of(s)));
        }
        self.certs.reconfigure(&new);
        self.settings = new;
        for (service, effects) in effects {
            self.apply(&service, effects).await;
        }
        let _ = r.reply.send(());
    }
}
