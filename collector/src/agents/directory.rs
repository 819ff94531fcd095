//! How live agents are reached: the [`Directory`] the registry publishes
//! (with the configured service ids, which sessions check results
//! against) and the [`DownlinkTx`] each session hands out.
//!
//! Plain data and a channel wrapper, with no store and no actor: the
//! evaluator reads the directory (through a `watch`) to send recheck
//! orders, ingest holds a `DownlinkTx` to ack results. Every sender to an
//! agent is a back-edge against the forward flow, so `DownlinkTx` offers
//! only a non-blocking send: nobody ever waits on a session.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::domain::{AgentId, Downlink, ServiceId};

/// The sending side of one session's downlink; it can only `try_send`.
#[derive(Debug, Clone)]
pub struct DownlinkTx(mpsc::Sender<Downlink>);

/// Why a downlink message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DownlinkError {
    #[error("agent downlink full")]
    Full,
    #[error("agent session ended")]
    Closed,
}

impl DownlinkTx {
    /// A downlink queue of `capacity` messages: the sender and the
    /// session's receiving end.
    pub fn channel(capacity: usize) -> (DownlinkTx, mpsc::Receiver<Downlink>) {
        let (tx, rx) = mpsc::channel(capacity);
        (DownlinkTx(tx), rx)
    }

    /// Queues `msg` if there is room; never waits.
    pub fn try_send(&self, msg: Downlink) -> Result<(), DownlinkError> {
        self.0.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => DownlinkError::Full,
            mpsc::error::TrySendError::Closed(_) => DownlinkError::Closed,
        })
    }
}

/// How a live agent is reached.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    pub id: AgentId,
    pub name: String,
    pub region: String,
    /// The session's downlink.
    pub tx: DownlinkTx,
}

/// Live agents and which of them probe each service.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub agents: HashMap<AgentId, LinkHandle>,
    pub by_service: HashMap<ServiceId, Vec<AgentId>>,
    /// Every configured service, assigned or not (paused, in maintenance);
    /// built once from the settings and shared by every directory.
    pub services: Arc<HashSet<ServiceId>>,
}

impl Directory {
    /// The live agents assigned to `service`.
    pub fn assigned(&self, service: &ServiceId) -> Vec<&LinkHandle> {
        self.by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|id| self.agents.get(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_send_reports_full_and_closed() {
        let (tx, mut rx) = DownlinkTx::channel(1);
        assert_eq!(tx.try_send(Downlink::Ack(1)), Ok(()));
        assert_eq!(tx.try_send(Downlink::Ack(2)), Err(DownlinkError::Full));
        assert!(matches!(rx.try_recv(), Ok(Downlink::Ack(1))));
        drop(rx);
        assert_eq!(tx.try_send(Downlink::Ack(3)), Err(DownlinkError::Closed));
    }

    #[test]
    fn assigned_skips_agents_that_are_not_live() {
        let (tx, _rx) = DownlinkTx::channel(1);
        let link = LinkHandle {
            id: "a1".into(),
            name: "edge-1".into(),
            region: "eu".into(),
            tx,
        };
        let directory = Directory {
            agents: HashMap::from([("a1".into(), link)]),
            by_service: HashMap::from([("shop".into(), vec!["a1".into(), "gone".into()])]),
            services: Arc::new(HashSet::from(["shop".into()])),
        };
        let ids: Vec<&str> = directory
            .assigned(&"shop".into())
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(ids, ["a1"]);
        assert!(directory.assigned(&"other".into()).is_empty());
    }
}
