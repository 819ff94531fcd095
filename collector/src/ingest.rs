//! `IngestActor`: persists results and heartbeats in batches and
//! acknowledges results.
//!
//! Sessions submit what their agents sent; the actor takes whatever is
//! queued (up to `MAX_BATCH` results and heartbeats), writes it in one
//! transaction (heartbeats: last seen, host stats, history), and
//! only after the commit acks each agent (cumulative seq, `try_send` on the
//! downlink: a back-edge) and forwards the new observations to the
//! evaluator (a bounded send: the forward path pushes back to the agents).
//! Only results the store newly stored are forwarded: a replay (after a
//! reconnect or a collector restart) is acked but not evaluated twice.
//! No per-result transaction, no per-result log line. What was stored
//! also goes to the `/metrics` probe table (the latest probe of each
//! service and agent) and the batch's duration to
//! `picket_ingest_batch_seconds`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, warn};

use crate::agents::DownlinkTx;
use crate::domain::{AgentId, Downlink, Observation, ProbeResult};
use crate::evaluator::EvaluatorHandle;
use crate::metrics::Metrics;
use crate::store::{HeartbeatRecord, ResultRecord, Store};

/// Results and heartbeats written per transaction, at most.
const MAX_BATCH: usize = 5000;

/// One agent message's worth of results, or a heartbeat.
pub struct Submission {
    pub agent: AgentId,
    pub results: Vec<ProbeResult>,
    /// A heartbeat (stamped with the collector's clock); not acked.
    pub heartbeat: Option<HeartbeatRecord>,
    pub received: Instant,
    /// Where the ack goes (the agent's session downlink).
    pub ack: DownlinkTx,
}

impl Submission {
    fn weight(&self) -> usize {
        self.results.len() + usize::from(self.heartbeat.is_some())
    }
}

/// Handle to the ingest actor.
#[derive(Clone)]
pub struct IngestHandle {
    tx: mpsc::Sender<Submission>,
}

impl IngestHandle {
    pub fn spawn(
        store: Store,
        metrics: Arc<Metrics>,
        evaluator: EvaluatorHandle,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> IngestHandle {
        let (tx, inbox) = mpsc::channel(1024);
        tasks.spawn(run(store, metrics, evaluator, inbox, cancel));
        IngestHandle { tx }
    }

    /// Queues results (or a heartbeat); waits when ingest is behind
    /// (backpressure).
    pub async fn submit(&self, submission: Submission) -> bool {
        self.tx.send(submission).await.is_ok()
    }
}

async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    evaluator: EvaluatorHandle,
    mut inbox: mpsc::Receiver<Submission>,
    cancel: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            s = inbox.recv() => s,
            () = cancel.cancelled() => {
                inbox.close();
                inbox.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        let mut count = batch[0].weight();
        while count < MAX_BATCH {
            match inbox.try_recv() {
                Ok(s) => {
                    count += s.weight();
                    batch.push(s);
                }
                Err(_) => break,
            }
        }
        let records: Vec<ResultRecord> = batch
            .iter()
            .flat_map(|s| {
                s.results.iter().map(|r| ResultRecord {
                    agent: s.agent.clone(),
                    result: r.clone(),
                })
            })
            .collect();
        let heartbeats: Vec<HeartbeatRecord> =
            batch.iter().filter_map(|s| s.heartbeat.clone()).collect();
        let mut delay = Duration::from_millis(50);
        let recorded = loop {
            let started = Instant::now();
            let e = match store.record_batch(&records, &heartbeats).await {
                Ok(recorded) => {
                    metrics.ingest_batch.observe(started.elapsed());
                    break recorded;
                }
                Err(e) => e,
            };
            if cancel.is_cancelled() {
                // Not acked: the agents keep these and replay them.
                error!(results = records.len(), heartbeats = heartbeats.len(), error = %e, "results and heartbeats not stored at shutdown");
                return;
            }
            warn!(results = records.len(), heartbeats = heartbeats.len(), error = %e, "cannot store results and heartbeats; retrying");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        };

        metrics.results_ingested.inc_by(records.len() as u64);
        let mut observations = Vec::with_capacity(records.len());
        let mut stored = recorded.stored.into_iter();
        for s in batch {
            let Some(max) = s.results.iter().map(|r| r.seq).max() else {
                continue;
            };
            for r in s.results {
                if stored.next().unwrap_or(false) {
                    metrics
                        .probes
                        .record(&r.service, &s.agent, r.started_at_ms, &r.outcome);
                    observations.push(Observation {
                        agent: s.agent.clone(),
                        service: r.service,
                        round_id: r.round_id,
                        time_ms: r.started_at_ms,
                        outcome: r.outcome,
                        received: s.received,
                    });
                }
            }
            // Acks are cumulative; a dropped one is covered by the next.
            // Sent after the probe table has the results, so whoever saw
            // the ack finds them in `/metrics`.
            let _ = s.ack.try_send(Downlink::Ack(max));
        }
        if !observations.is_empty() && !evaluator.observe(observations).await {
            break;
        }
    }
}

#[cfg(test)]
mod tests;
