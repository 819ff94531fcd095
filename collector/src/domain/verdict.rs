//! `Verdict`: what the double-check decided about one service, and the
//! `Vote`s behind it.
//!
//! The evaluator's trackers produce verdicts; the lifecycle actor turns
//! them into stored states, requests and events. Both sides name only
//! these types, so the lifecycle imports nothing from the evaluator.

use super::{AgentId, ProbeOutcome, ServiceState};

/// One agent's answer in a recheck round.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    pub agent: AgentId,
    /// The agent's display name, for request descriptions.
    pub agent_name: String,
    pub outcome: ProbeOutcome,
    pub time_ms: i64,
}

/// A decision on one service, in the order the evaluator made it.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A state change that opens and closes nothing.
    State {
        from: ServiceState,
        to: ServiceState,
    },
    /// Confirmed down: open a request unless one is open.
    Down {
        from: ServiceState,
        /// The failing votes of the confirming round.
        votes: Vec<Vote>,
    },
    /// Back up: close the open request, if any.
    Up {
        from: ServiceState,
        had_request: bool,
        /// The succeeding votes of the recovery round.
        votes: Vec<Vote>,
    },
    /// Some agents failed, the quorum did not: their network is suspect.
    LocalFailure { votes: Vec<Vote> },
    /// A result showed a certificate expiring soon (see
    /// [`super::cert`]) that the evaluator has not passed on before: warn
    /// (`service.cert_expiring`) unless the store marked it warned already.
    CertExpiring {
        /// The service's state when the result came.
        state: ServiceState,
        not_after_ms: i64,
    },
    /// Some agents keep failing below the quorum (`degraded_after` rounds):
    /// the service is `degraded` (it was `from`), or its set of failing
    /// agents changed (`from` is `degraded`).
    Degraded {
        from: ServiceState,
        agents: Vec<DegradedAgent>,
    },
    /// Every failing agent recovered (or stopped counting): `up` again.
    DegradedEnded,
}

/// One agent that keeps failing a service below the quorum.
#[derive(Debug, Clone, PartialEq)]
pub struct DegradedAgent {
    pub agent_id: AgentId,
    pub name: String,
    /// Filled in by the evaluator from the directory (empty when unknown).
    pub region: String,
    /// When its first failure of the streak was voted (epoch ms).
    pub since_ms: i64,
    /// Its last failure's label.
    pub error: String,
}

impl Verdict {
    /// The service state storing this verdict leaves (`None`: a local
    /// failure or a certificate warning changes no state).
    pub fn stored_state(&self) -> Option<ServiceState> {
        match self {
            Verdict::State { to, .. } => Some(*to),
            Verdict::Down { .. } => Some(ServiceState::Down),
            Verdict::Up { .. } => Some(ServiceState::Up),
            Verdict::Degraded { .. } => Some(ServiceState::Degraded),
            Verdict::DegradedEnded => Some(ServiceState::Up),
            Verdict::LocalFailure { .. } | Verdict::CertExpiring { .. } => None,
        }
    }
}
