//! `Tracker`: one service's verdict state machine, pure.
//!
//! It sees observations (scheduled results and recheck votes), round
//! starts, round deadlines and maintenance changes, and answers with
//! [`Effect`]s for the actor to carry out: round timers to arm and
//! [`Verdict`]s for the lifecycle. No IO, no clock: the actor owns
//! timers and passes in what happened.
//!
//! ```text
//!  unknown ──ok──▶ up ──fail──▶ suspect ──round: quorum fails (×failures_before_down)──▶ down
//!     ▲              ▲             │                                                     │
//!     │              └─round: no quorum (local_failure of the failing agents)            │
//!     │              └──────────────────────────round: quorum ok ◀──ok── (recovery round)┘
//!  maintenance ◀──── any state (rounds cancelled); ends ──▶ unknown
//!  unknown ◀──── any state when its last live agent is gone
//!  unknown ──fail──▶ suspect;  unknown with an open request ──ok──▶ a round: up, or down again
//! ```
//!
//! A request closed by hand while the service is not `up` leaves it
//! *held*: no request is opened (a confirmed failure records `down` and
//! nothing else) until a round finds it recovered; `held` lives through
//! maintenance and lost agents like an open request does.
//!
//! Rounds start only when scheduled: a start timer that outlived its
//! round (cancelled by maintenance or lost agents) starts nothing.
//! `props.rs` checks every verdict against this graph under generated
//! input orders.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::domain::{AgentId, ProbeOutcome, Quorum, ServiceState, Verdict, Vote};

/// The rules of one service's double-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    pub recheck_delay: Duration,
    pub recheck_timeout: Duration,
    pub quorum: Quorum,
    pub failures_before_down: u32,
    /// A certificate expiring within this is passed on as a warning
    /// (`cert_expiry_warning`; see `cert.rs`).
    pub cert_expiry_warning: Duration,
    /// Rounds one agent fails below the quorum before the service is
    /// `degraded` (`degraded.rs`).
    pub degraded_after: u32,
}

/// What the actor must do after a tracker step.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a recheck round after `delay`.
    ScheduleRound { delay: Duration },
    /// Hand a verdict to the lifecycle actor.
    Verdict(Verdict),
}

#[derive(Debug, Clone)]
struct Round {
    id: u64,
    /// Agents asked to vote, with their names.
    voters: BTreeMap<AgentId, String>,
    votes: Vec<Vote>,
}

/// A service's verdict state.
#[derive(Debug, Clone)]
pub struct Tracker {
    state: ServiceState,
    /// Consecutive confirmed failing rounds.
    confirmed: u32,
    has_open_request: bool,
    /// Its request was closed by hand and it has not recovered since: a
    /// confirmed failure opens nothing.
    held: bool,
    /// A round is scheduled (its timer runs) but has not started.
    round_scheduled: bool,
    /// Boxed: most trackers have no round, and a million of them should
    /// not each carry a round's room.
    round: Option<Box<Round>>,
    /// How the last round ended, until the actor takes it.
    concluded: Option<RoundOutcome>,
    /// Agents failing below the quorum (`degraded.rs`); boxed like `round`.
    streaks: Option<Box<degraded::Streaks>>,
}

impl Tracker {
    /// A tracker resuming from the stored state.
    pub fn new(state: ServiceState, has_open_request: bool) -> Self {
        let state = match state {
            // A round in flight did not survive the restart.
            ServiceState::Suspect => ServiceState::Unknown,
            s => s,
        };
        Tracker {
            state,
            confirmed: 0,
            has_open_request,
            held: false,
            round_scheduled: false,
            round: None,
            concluded: None,
            streaks: None,
        }
    }

    pub fn state(&self) -> ServiceState {
        self.state
    }

    /// Whether a request closed by hand holds back a new one (see the
    /// module's doc).
    pub fn held(&self) -> bool {
        self.held
    }

    /// The service's open request was closed by hand: unless the service
    /// is `up`, it opens no new request until it has recovered.
    pub fn closed_by_hand(&mut self) {
        self.held = self.state != ServiceState::Up;
        self.has_open_request = false;
    }

    /// A recovery must be confirmed by a round (to close the open request,
    /// or to end a hold).
    fn awaits_recovery(&self) -> bool {
        self.has_open_request || self.held
    }

    /// How the round that just concluded ended, once (`None`: no round
    /// with votes concluded since the last call).
    pub fn take_concluded(&mut self) -> Option<RoundOutcome> {
        self.concluded.take()
    }

    /// The running round's id, if any.
    pub fn round_id(&self) -> Option<u64> {
        self.round.as_ref().map(|r| r.id)
    }

    /// No round is scheduled or running.
    fn idle(&self) -> bool {
        !self.round_scheduled && self.round.is_none()
    }

    fn suppressed(&self) -> bool {
        matches!(self.state, ServiceState::Maintenance | ServiceState::Paused)
    }

    fn schedule(&mut self, policy: &Policy, effects: &mut Vec<Effect>) {
        if !self.round_scheduled && self.round.is_none() {
            self.round_scheduled = true;
            effects.push(Effect::ScheduleRound {
                delay: policy.recheck_delay,
            });
        }
    }

    fn set(&mut self, to: ServiceState, effects: &mut Vec<Effect>) {
        if self.state != to {
            effects.push(Effect::Verdict(Verdict::State {
                from: self.state,
                to,
            }));
            self.state = to;
        }
    }

    /// A scheduled probe result from `agent`: a success ends its streak
    /// (which may end the degradation); a failure from an agent already
    /// reported as failing starts no round.
    pub fn observe_from(&mut self, agent: &AgentId, ok: bool, policy: &Policy) -> Vec<Effect> {
        let mut effects = Vec::new();
        if ok && self.reset_streak(agent) && self.state == ServiceState::Degraded && self.idle() {
            self.settle(policy, &mut effects);
            return effects;
        }
        if !ok && self.state == ServiceState::Degraded && self.reported(agent) {
            return effects;
        }
        self.observe(ok, policy)
    }

    /// A scheduled probe result (`round_id == 0`) from any assigned agent.
    pub fn observe(&mut self, ok: bool, policy: &Policy) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.suppressed() || self.round_scheduled || self.round.is_some() {
            return effects;
        }
        use ServiceState::*;
        match (self.state, ok) {
            (Up, true) | (Down, false) => {}
            // Resumed `degraded` without streaks (after a restart): up.
            (Degraded, true) => self.settle(policy, &mut effects),
            // Another agent fails: a round decides (the state stays).
            (Degraded, false) => self.schedule(policy, &mut effects),
            (Unknown, true) if !self.awaits_recovery() => self.set(Up, &mut effects),
            // Recovery, or a verdict between confirmed rounds: a round decides.
            (Unknown, true) | (Down, true) | (Suspect, _) => self.schedule(policy, &mut effects),
            (Up, false) | (Unknown, false) => {
                self.set(Suspect, &mut effects);
                self.schedule(policy, &mut effects);
            }
            (Maintenance | Paused, _) => {}
        }
        effects
    }

    /// Whether a scheduled round is due to start: false for a stale timer
    /// (its round was cancelled by maintenance or lost agents).
    pub fn round_due(&self) -> bool {
        self.round_scheduled && !self.suppressed()
    }

    /// The scheduled round starts: `voters` (id → name) were asked to recheck.
    /// A round nobody scheduled (a stale timer) does not start.
    pub fn start_round(
        &mut self,
        id: u64,
        voters: BTreeMap<AgentId, String>,
        policy: &Policy,
    ) -> Vec<Effect> {
        if !self.round_due() {
            self.round_scheduled = false;
            return Vec::new();
        }
        self.round_scheduled = false;
        self.round = Some(Box::new(Round {
            id,
            voters,
            votes: Vec::new(),
        }));
        if self.round.as_ref().is_some_and(|r| r.voters.is_empty()) {
            return self.conclude(policy);
        }
        Vec::new()
    }

    /// A recheck answer. Concludes the round when every voter answered.
    pub fn vote(
        &mut self,
        round_id: u64,
        agent: &AgentId,
        outcome: ProbeOutcome,
        time_ms: i64,
        policy: &Policy,
    ) -> Vec<Effect> {
        let Some(round) = self.round.as_mut().filter(|r| r.id == round_id) else {
            return Vec::new();
        };
        let Some(name) = round.voters.get(agent) else {
            return Vec::new();
        };
        if round.votes.iter().any(|v| &v.agent == agent) {
            return Vec::new();
        }
        round.votes.push(Vote {
            agent: agent.clone(),
            agent_name: name.clone(),
            outcome,
            time_ms,
        });
        if round.votes.len() == round.voters.len() {
            return self.conclude(policy);
        }
        Vec::new()
    }

    /// The round's `recheck_timeout` passed: count the votes received.
    pub fn round_deadline(&mut self, round_id: u64, policy: &Policy) -> Vec<Effect> {
        if self.round_id() == Some(round_id) {
            self.conclude(policy)
        } else {
            Vec::new()
        }
    }

    fn conclude(&mut self, policy: &Policy) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(round) = self.round.take() else {
            return effects;
        };
        let answered = round.votes.len();
        let failing: Vec<Vote> = round
            .votes
            .iter()
            .filter(|v| !v.outcome.ok)
            .cloned()
            .collect();
        let ok_count = answered - failing.len();
        if answered > 0 {
            self.concluded = Some(if policy.quorum.reached(failing.len(), answered) {
                RoundOutcome::Confirmed
            } else if failing.is_empty() {
                RoundOutcome::Recovered
            } else {
                RoundOutcome::Local
            });
        }
        use ServiceState::*;
        if answered == 0 {
            // No live agent answered: no verdict on the service itself.
            if self.state == Suspect {
                self.confirmed = 0;
                self.set(Unknown, &mut effects);
            }
            return effects;
        }
        if policy.quorum.reached(failing.len(), answered) {
            if self.state == Down {
                return effects;
            }
            self.clear_streaks();
            self.confirmed += 1;
            if self.confirmed >= policy.failures_before_down && self.held {
                // Closed by hand and never recovered: the same outage.
                self.set(Down, &mut effects);
            } else if self.confirmed >= policy.failures_before_down {
                effects.push(Effect::Verdict(Verdict::Down {
                    from: self.state,
                    votes: failing,
                }));
                self.state = Down;
                self.has_open_request = true;
            } else {
                self.set(Suspect, &mut effects);
            }
            return effects;
        }
        if self.state == Down && !policy.quorum.reached(ok_count, answered) {
            return effects;
        }
        if !failing.is_empty() {
            effects.push(Effect::Verdict(Verdict::LocalFailure { votes: failing }));
        }
        let had_request = self.awaits_recovery();
        self.count_round(&round.votes);
        let ok_votes = round.votes.into_iter().filter(|v| v.outcome.ok).collect();
        if self.state == Down || had_request {
            effects.push(Effect::Verdict(Verdict::Up {
                from: self.state,
                had_request,
                votes: ok_votes,
            }));
            self.state = Up;
        }
        self.settle(policy, &mut effects);
        self.confirmed = 0;
        self.has_open_request = false;
        self.held = false;
        effects
    }

    /// No live agent probes the service any more: no verdict is possible,
    /// so it is `unknown` (never `down`). An open request stays open.
    pub fn agents_gone(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.suppressed() {
            return effects;
        }
        self.round = None;
        self.round_scheduled = false;
        self.confirmed = 0;
        self.clear_streaks();
        self.set(ServiceState::Unknown, &mut effects);
        effects
    }

    /// Maintenance of the service's equipment began (`true`) or ended.
    pub fn set_maintenance(&mut self, on: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        if on {
            self.round = None;
            self.round_scheduled = false;
            self.confirmed = 0;
            self.clear_streaks();
            self.set(ServiceState::Maintenance, &mut effects);
        } else if self.state == ServiceState::Maintenance {
            self.set(ServiceState::Unknown, &mut effects);
        }
        effects
    }
}

mod degraded;
mod outcome;
pub use outcome::RoundOutcome;
#[cfg(test)]
mod degraded_tests;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
