//! `Session`: one connected agent's stream, from hello to goodbye.
//!
//! Uplink: results and heartbeats go to ingest (awaiting its bounded
//! queue, so a slow store pushes back to the agent through gRPC flow
//! control); heartbeats also tell the dead-man's switch at once.
//! Downlink: domain messages from the registry, evaluator and ingest are
//! written to the stream. Both directions are
//! already converted at the edge (`convert::uplinks`, `convert::downlinks`):
//! the session sees domain messages only. When the stream ends, the
//! registry is told so it reassigns the agent's checks.

use picket_proto::contract::RefusalKind;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{debug, warn};

use super::convert::{UplinkError, UplinkStream};
use crate::agents::{AgentsHandle, DownlinkTx};
use crate::domain::{AgentId, Downlink, Uplink};
use crate::ingest::{IngestHandle, Submission};
use crate::store::HeartbeatRecord;
use crate::time::Clock;

pub(super) struct Session {
    pub agent: AgentId,
    pub session: u64,
    /// The agent's messages after the hello.
    pub inbound: UplinkStream,
    /// The gRPC response stream (the welcome already went out).
    pub outbound: mpsc::Sender<Result<Downlink, Status>>,
    /// Domain messages for this agent (registry, evaluator, ingest acks).
    pub downlink: mpsc::Receiver<Downlink>,
    /// A sender to our own downlink, handed to ingest for acks.
    pub ack: DownlinkTx,
    pub agents: AgentsHandle,
    pub ingest: IngestHandle,
    /// Stamps heartbeats with the collector's time.
    pub clock: Clock,
}

impl Session {
    pub async fn run(mut self, cancel: CancellationToken) {
        let end = loop {
            tokio::select! {
                msg = self.inbound.next() => {
                    let handled = match msg {
                        Some(Ok(msg)) => self.uplink(msg).await,
                        Some(Err(UplinkError::Malformed(e))) => Err(e.to_string()),
                        Some(Err(e @ UplinkError::Stream(_))) => break e.to_string(),
                        None => break "agent closed the stream".to_owned(),
                    };
                    if let Err(reason) = handled {
                        let _ = self.outbound.send(Err(RefusalKind::Protocol.status(reason.clone()))).await;
                        break reason;
                    }
                }
                down = self.downlink.recv() => {
                    let Some(down) = down else { break "downlink closed".to_owned() };
                    if self.outbound.send(Ok(down)).await.is_err() {
                        break "agent went away".to_owned();
                    }
                }
                () = cancel.cancelled() => {
                    let _ = self.outbound.try_send(Err(RefusalKind::Unavailable.status("collector is shutting down or dropped this session")));
                    break "session cancelled".to_owned();
                }
            }
        };
        debug!(reason = %end, "session ended");
        self.agents.gone(self.agent.clone(), self.session).await;
    }

    async fn uplink(&mut self, msg: Uplink) -> Result<(), String> {
        match msg {
            Uplink::Results { results, rejected } => {
                let received = Instant::now();
                // One bad result is dropped, not the whole batch.
                for error in rejected {
                    warn!(%error, "invalid result from agent");
                }
                if !results.is_empty() {
                    let submission = Submission {
                        agent: self.agent.clone(),
                        results,
                        heartbeat: None,
                        received,
                        ack: self.ack.clone(),
                    };
                    if !self.ingest.submit(submission).await {
                        return Err("collector is shutting down".into());
                    }
                }
            }
            Uplink::Heartbeat(stats) => {
                // Liveness uses the collector's clock, not the agent's.
                self.agents.heard(self.agent.clone()).await;
                let submission = Submission {
                    agent: self.agent.clone(),
                    results: Vec::new(),
                    heartbeat: Some(HeartbeatRecord {
                        agent: self.agent.clone(),
                        time_ms: self.clock.now_ms(),
                        stats,
                    }),
                    received: Instant::now(),
                    ack: self.ack.clone(),
                };
                if !self.ingest.submit(submission).await {
                    return Err("collector is shutting down".into());
                }
            }
            Uplink::Hello(_) => return Err("hello sent twice".into()),
        }
        Ok(())
    }
}
