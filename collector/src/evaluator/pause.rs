//! Paused services: what pausing and resuming a service does to the
//! evaluator's trackers, at start (here) and on a live reload
//! (`reconfigure.rs`, which uses the same transitions).
//!
//! A paused service (`active = false`) has no tracker: nothing probes it
//! (the assignment skips it), so nothing is observed, no round runs, no
//! `service.*` event is written and no request opens; its stored state is
//! `paused` (a `State` verdict, so the lifecycle stays the one writer) and
//! an open request stays open. Resuming gives it a fresh tracker in
//! `unknown` that knows whether it has an open request, so that request
//! closes as usual when the service recovers.

use std::collections::HashMap;
use std::sync::Arc;

use super::start::Start;
use super::tracker::{Policy, Tracker};
use crate::config::settings::{EvaluatorService, EvaluatorSettings};
use crate::domain::{ServiceId, ServiceMap, ServiceState, Verdict, service_map};

/// Each tracked (active) service's tracker and rules (shared: most
/// services run with the same rules).
pub(super) type Trackers = ServiceMap<(Tracker, Arc<Policy>)>;

/// Hands out one shared [`Policy`] per distinct set of rules.
#[derive(Default)]
pub(super) struct Policies(HashMap<Policy, Arc<Policy>>);

impl Policies {
    /// The rules of `s`'s double-check, shared with every service that has
    /// the same.
    pub fn of(&mut self, s: &EvaluatorService) -> Arc<Policy> {
        self.0
            .entry(policy(s))
            .or_insert_with_key(|p| Arc::new(*p))
            .clone()
    }
}

/// The rules of `s`'s double-check.
pub fn policy(s: &EvaluatorService) -> Policy {
    Policy {
        recheck_delay: s.recheck_delay,
        recheck_timeout: s.recheck_timeout,
        quorum: s.quorum,
        failures_before_down: s.failures_before_down,
        cert_expiry_warning: s.cert_expiry_warning,
        degraded_after: s.degraded_after,
    }
}

/// The verdict that records a pause of a service in state `from` (none
/// when it is already paused).
pub fn paused(from: ServiceState) -> Option<Verdict> {
    (from != ServiceState::Paused).then_some(Verdict::State {
        from,
        to: ServiceState::Paused,
    })
}

/// A resumed service's tracker, in `unknown` and knowing whether it has an
/// open request, and the verdict that records `unknown` (from `from`).
pub fn resumed(from: ServiceState, open_request: bool) -> (Tracker, Option<Verdict>) {
    let tracker = Tracker::new(ServiceState::Unknown, open_request);
    let verdict = (from != ServiceState::Unknown).then_some(Verdict::State {
        from,
        to: ServiceState::Unknown,
    });
    (tracker, verdict)
}

/// The trackers to start with, and the verdicts that bring the stored
/// states in line: active services resume from their stored state (a
/// stored `paused` one resumes in `unknown`); paused ones get no tracker
/// and their state becomes `paused`.
pub(super) fn start_trackers(
    settings: &EvaluatorSettings,
    start: &Start,
) -> (Trackers, Vec<(ServiceId, Verdict)>) {
    let mut trackers = service_map(settings.services.len());
    let mut policies = Policies::default();
    let mut verdicts = Vec::new();
    for s in &settings.services {
        let (state, open) = start
            .services
            .get(&s.id)
            .copied()
            .unwrap_or((ServiceState::Unknown, false));
        if !s.active {
            verdicts.extend(paused(state).map(|v| (s.id.clone(), v)));
            continue;
        }
        let tracker = if state == ServiceState::Paused {
            let (tracker, verdict) = resumed(state, open);
            verdicts.extend(verdict.map(|v| (s.id.clone(), v)));
            tracker
        } else {
            let mut tracker = Tracker::new(state, open);
            if let Some(agents) = start.degraded.get(&s.id) {
                tracker.restore_streaks(agents, s.degraded_after, start.clock.now_ms());
            }
            tracker
        };
        trackers.insert(s.id.clone(), (tracker, policies.of(s)));
    }
    (trackers, verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::tracker::Effect;

    #[test]
    fn pausing_records_paused_once() {
        assert_eq!(
            paused(ServiceState::Down),
            Some(Verdict::State {
                from: ServiceState::Down,
                to: ServiceState::Paused
            })
        );
        assert_eq!(paused(ServiceState::Paused), None);
    }

    /// A resumed service with an open request is `unknown`, and an ok probe
    /// does not make it `up` without a round (which closes the request).
    #[test]
    fn resuming_starts_unknown_and_knows_the_open_request() {
        let (mut tracker, verdict) = resumed(ServiceState::Paused, true);
        assert_eq!(tracker.state(), ServiceState::Unknown);
        assert_eq!(
            verdict,
            Some(Verdict::State {
                from: ServiceState::Paused,
                to: ServiceState::Unknown
            })
        );
        let policy = Policy {
            recheck_delay: std::time::Duration::from_secs(2),
            recheck_timeout: std::time::Duration::from_secs(12),
            quorum: crate::domain::Quorum::Majority,
            failures_before_down: 1,
            cert_expiry_warning: std::time::Duration::from_secs(14 * 86_400),
            degraded_after: 3,
        };
        let effects = tracker.observe(true, &policy);
        assert!(
            matches!(effects.as_slice(), [Effect::ScheduleRound { .. }]),
            "{effects:?}"
        );
    }
}
