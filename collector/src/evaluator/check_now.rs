//! `CheckNow`: an ad-hoc round in which every live agent assigned to a
//! service probes it at once. Its answers go back to the caller and never
//! count as votes; the round ends when all have answered or at its
//! deadline (the check's timeout plus 2 s), with what came.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{EvaluatorActor, Timer};
use crate::domain::{AgentId, Observation, ProbeOutcome, ServiceId};

/// One agent's answer to `CheckNow`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckNowResult {
    pub agent: AgentId,
    pub agent_name: String,
    pub region: String,
    pub outcome: ProbeOutcome,
    pub time_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckNowError {
    #[error("unknown service {0:?}")]
    UnknownService(ServiceId),
    #[error("no live agent probes service {0:?}")]
    NoAgents(ServiceId),
    #[error("the evaluator stopped")]
    Stopped,
}

pub(super) struct CheckNowRound {
    /// The agents asked, with their name and region.
    pub(super) waiting: BTreeMap<AgentId, (String, String)>,
    pub(super) results: Vec<CheckNowResult>,
    pub(super) reply: oneshot::Sender<Result<Vec<CheckNowResult>, CheckNowError>>,
}

impl EvaluatorActor {
    pub(super) fn start_check_now(
        &mut self,
        service: ServiceId,
        reply: oneshot::Sender<Result<Vec<CheckNowResult>, CheckNowError>>,
    ) {
        let Some(settings) = self.settings.service(&service) else {
            let _ = reply.send(Err(CheckNowError::UnknownService(service)));
            return;
        };
        let timeout = settings.check_timeout + Duration::from_secs(2);
        let round = self.round_id();
        let waiting = self.order_recheck(&service, round);
        if waiting.is_empty() {
            let _ = reply.send(Err(CheckNowError::NoAgents(service)));
            return;
        }
        self.timers.insert(Timer::CheckNowDeadline(round), timeout);
        self.check_now.insert(
            round,
            CheckNowRound {
                waiting,
                results: Vec::new(),
                reply,
            },
        );
    }

    /// Takes `obs` if it answers a `CheckNow` round (finishing the round
    /// once every agent asked has answered); hands it back otherwise.
    pub(super) fn check_now_answer(&mut self, obs: Observation) -> Option<Observation> {
        let Some(round) = self.check_now.get_mut(&obs.round_id) else {
            return Some(obs);
        };
        if let Some((name, region)) = round.waiting.remove(&obs.agent) {
            round.results.push(CheckNowResult {
                agent: obs.agent.clone(),
                agent_name: name,
                region,
                outcome: obs.outcome,
                time_ms: obs.time_ms,
            });
        }
        if round.waiting.is_empty()
            && let Some(r) = self.check_now.remove(&obs.round_id)
        {
            let _ = r.reply.send(Ok(r.results));
        }
        None
    }

    /// The round's deadline: answer with what came.
    pub(super) fn check_now_deadline(&mut self, round: u64) {
        if let Some(r) = self.check_now.remove(&round) {
            let _ = r.reply.send(Ok(r.results));
        }
    }
}
