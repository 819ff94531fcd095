//! `CheckNow`: an ad-hoc round whose votes count for nothing; the
//! evaluator orders every live agent assigned to the service to probe it
//! now and answers with what came back before the check's timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{EvaluatorActor, Timer};
use crate::domain::{AgentId, ProbeOutcome, ServiceId};

/// One agent's answer to `CheckNow`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckNowResult {
    pub agent: AgentId,
    pub agent_name: String,
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
    pub(super) waiting: BTreeMap<AgentId, String>,
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
}
