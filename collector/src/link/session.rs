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
//!
//! What the agent may send is judged by a [`Guard`] (results for checks it
//! does not run, sequence numbers); a message that cannot be used ends the
//! session ([`refusal`] says with which code). Either way the reason is counted in
//! `picket_link_rejected_total` and logged once per session.

use std::sync::Arc;

use picket_proto::contract::RefusalKind;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{debug, warn};

use super::convert::{ConvertError, UplinkError, UplinkStream};
use super::guard::{Guard, Judged, Reason};
use crate::agents::{AgentsHandle, Directory, DownlinkTx};
use crate::domain::{AgentId, Downlink, ProbeResult, Uplink};
use crate::ingest::{IngestHandle, Submission};
use crate::metrics::Metrics;
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
    /// What this agent may send; fed the assignments forwarded.
    pub guard: Guard,
    /// The configured services, to tell an unknown check from one not
    /// assigned.
    pub directory: watch::Receiver<Arc<Directory>>,
    pub metrics: Arc<Metrics>,
}

/// How a session refused on the agent's account travels: the same data
/// would be refused again after a reconnect (an oversized message, a seq
/// out of reach), so `INVALID_ARGUMENT` stops the agent for good; anything
/// else unusable (a second Hello, an empty message) is `ABORTED`, retried.
fn refusal(reason: Reason) -> RefusalKind {
    match reason {
        Reason::TooLarge | Reason::SeqJump => RefusalKind::Invalid,
        _ => RefusalKind::Protocol,
    }
}

/// Why the session stops reading its agent.
enum Stop {
    /// The agent sent something unusable: `INVALID_ARGUMENT` with the text.
    Refused(Reason, String),
    /// Ingest is gone.
    ShuttingDown,
}

impl Session {
    pub async fn run(mut self, cancel: CancellationToken) {
        let end = loop {
            tokio::select! {
                msg = self.inbound.next() => {
                    let handled = match msg {
                        Some(Ok(msg)) => self.uplink(msg).await,
                        Some(Err(UplinkError::Malformed(e))) => {
                            let reason = match e {
                                ConvertError::Hello(_) => Reason::SecondHello,
                                _ => Reason::Malformed,
                            };
                            Err(Stop::Refused(reason, e.to_string()))
                        }
                        Some(Err(e @ UplinkError::TooLarge(_))) => {
                            Err(Stop::Refused(Reason::TooLarge, e.to_string()))
                        }
                        Some(Err(e @ UplinkError::Stream(_))) => break e.to_string(),
                        None => break "agent closed the stream".to_owned(),
                    };
                    match handled {
                        Ok(()) => {}
                        Err(Stop::ShuttingDown) => break "collector is shutting down".to_owned(),
                        Err(Stop::Refused(reason, why)) => {
                            self.metrics.link_rejected(reason.as_str());
                            warn!(reason = reason.as_str(), %why, "agent stream refused");
                            let _ = self.outbound.send(Err(refusal(reason).status(why.clone()))).await;
                            break why;
                        }
                    }
                }
                down = self.downlink.recv() => {
                    let Some(down) = down else { break "downlink closed".to_owned() };
                    if let Downlink::Assignment(part) = &down {
                        self.guard.part(part, Instant::now());
                    }
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

    async fn uplink(&mut self, msg: Uplink) -> Result<(), Stop> {
        match msg {
            Uplink::Results { results, rejected } => {
                let received = Instant::now();
                // One bad result is dropped, not the whole batch.
                for error in rejected {
                    self.dropped(Reason::InvalidResult, || error);
                }
                let results = self.judge(results, received)?;
                if !results.is_empty() {
                    self.submit(results, None, received).await?;
                }
            }
            Uplink::Heartbeat(stats) => {
                // Liveness uses the collector's clock, not the agent's.
                self.agents.heard(self.agent.clone()).await;
                let heartbeat = HeartbeatRecord {
                    agent: self.agent.clone(),
                    time_ms: self.clock.now_ms(),
                    stats,
                };
                self.submit(Vec::new(), Some(heartbeat), Instant::now())
                    .await?;
            }
            Uplink::Hello(_) => {
                return Err(Stop::Refused(
                    Reason::SecondHello,
                    "hello sent twice".into(),
                ));
            }
        }
        Ok(())
    }

    /// The results the guard accepts; a refusal stops the whole batch.
    fn judge(&mut self, results: Vec<ProbeResult>, now: Instant) -> Result<Vec<ProbeResult>, Stop> {
        let directory = self.directory.borrow().clone();
        let known = |s: &_| directory.services.contains(s);
        let mut accepted = Vec::with_capacity(results.len());
        for r in results {
            match self.guard.judge(&r, known, now) {
                Judged::Accept => accepted.push(r),
                Judged::Drop(reason) => {
                    self.dropped(reason, || {
                        format!("result {} for check {}", r.seq, r.service)
                    });
                }
                Judged::Refuse(why) => return Err(Stop::Refused(Reason::SeqJump, why)),
            }
        }
        Ok(accepted)
    }

    async fn submit(
        &mut self,
        results: Vec<ProbeResult>,
        heartbeat: Option<HeartbeatRecord>,
        received: Instant,
    ) -> Result<(), Stop> {
        let submission = Submission {
            agent: self.agent.clone(),
            results,
            heartbeat,
            received,
            ack: self.ack.clone(),
        };
        if self.ingest.submit(submission).await {
            Ok(())
        } else {
            Err(Stop::ShuttingDown)
        }
    }

    /// Counts a dropped result; logs the first of each reason (the detail
    /// is written only then: a flood of drops builds no text).
    fn dropped(&mut self, reason: Reason, detail: impl FnOnce() -> String) {
        self.metrics.link_rejected(reason.as_str());
        if self.guard.first(reason) {
            warn!(
                reason = reason.as_str(),
                detail = detail(),
                "dropped a result from the agent (further ones in this session are only counted)"
            );
        }
    }
}
