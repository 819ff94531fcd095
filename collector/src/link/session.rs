//! `Session`: one connected agent's stream, from hello to goodbye.
//!
//! Uplink: results go to ingest (awaiting its bounded queue, so a slow
//! store pushes back to the agent through gRPC flow control), heartbeats to
//! the agents registry. Downlink: domain messages from the registry,
//! evaluator and ingest are converted and written to the stream. When the
//! stream ends, the registry is told so it reassigns the agent's checks.

use picket_proto::agent::v1 as pb;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};
use tracing::{debug, warn};

use super::convert;
use crate::agents::AgentsHandle;
use crate::domain::{AgentId, Downlink, ProbeResult};
use crate::ingest::{IngestHandle, Submission};
use crate::time::now_ms;

pub(super) struct Session {
    pub agent: AgentId,
    pub session: u64,
    pub inbound: Streaming<pb::AgentMessage>,
    /// The gRPC response stream.
    pub outbound: mpsc::Sender<Result<pb::CollectorMessage, Status>>,
    /// Domain messages for this agent (registry, evaluator, ingest acks).
    pub downlink: mpsc::Receiver<Downlink>,
    /// A sender to our own downlink, handed to ingest for acks.
    pub ack: mpsc::Sender<Downlink>,
    pub agents: AgentsHandle,
    pub ingest: IngestHandle,
}

impl Session {
    pub async fn run(mut self, cancel: CancellationToken) {
        let end = loop {
            tokio::select! {
                msg = self.inbound.message() => match msg {
                    Ok(Some(msg)) => {
                        if let Err(reason) = self.uplink(msg).await {
                            let _ = self.outbound.send(Err(Status::invalid_argument(reason.clone()))).await;
                            break reason;
                        }
                    }
                    Ok(None) => break "agent closed the stream".to_owned(),
                    Err(status) => break format!("stream error: {}", status.message()),
                },
                down = self.downlink.recv() => {
                    let Some(down) = down else { break "downlink closed".to_owned() };
                    if self.outbound.send(Ok(convert::downlink(down))).await.is_err() {
                        break "agent went away".to_owned();
                    }
                }
                () = cancel.cancelled() => {
                    let _ = self.outbound.try_send(Err(Status::unavailable("collector is shutting down or dropped this session")));
                    break "session cancelled".to_owned();
                }
            }
        };
        debug!(reason = %end, "session ended");
        self.agents.gone(self.agent.clone(), self.session).await;
    }

    async fn uplink(&mut self, msg: pb::AgentMessage) -> Result<(), String> {
        use pb::agent_message::Msg;
        match msg.msg {
            Some(Msg::Results(batch)) => {
                let received = Instant::now();
                let mut results = Vec::with_capacity(batch.results.len());
                for r in batch.results {
                    match ProbeResult::try_from(r) {
                        Ok(r) => results.push(r),
                        // One bad result is dropped, not the whole batch.
                        Err(e) => warn!(error = %e, "invalid result from agent"),
                    }
                }
                if !results.is_empty() {
                    let submission = Submission {
                        agent: self.agent.clone(),
                        results,
                        received,
                        ack: self.ack.clone(),
                    };
                    if !self.ingest.submit(submission).await {
                        return Err("collector is shutting down".into());
                    }
                }
            }
            Some(Msg::Heartbeat(hb)) => {
                // Liveness uses the collector's clock, not the agent's.
                let stats = hb.stats.map(convert::stats).unwrap_or_default();
                self.agents
                    .heartbeat(self.agent.clone(), now_ms(), stats)
                    .await;
            }
            Some(Msg::Hello(_)) => return Err("hello sent twice".into()),
            None => return Err("empty message".into()),
        }
        Ok(())
    }
}
