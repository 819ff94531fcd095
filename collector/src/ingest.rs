//! `IngestActor`: persists results and heartbeats in batches (group
//! commit) and acknowledges results.
//!
//! Sessions submit what their agents sent; the actor takes the first
//! submission and whatever is queued behind it, then yields to the runtime
//! up to `LINGER_YIELDS` times, taking what the sessions that were ready
//! submitted meanwhile (up to `MAX_BATCH` results and heartbeats: a full
//! batch goes at once). So one transaction carries the results of many
//! agents: what arrives while a commit runs (an fsync) waits for the next
//! one. The linger is counted in yields, not time: no timer, so a held
//! paused clock (the in-process scenarios) cannot stall it, and an idle
//! collector commits a lone result at once. It
//! writes the batch in one transaction (heartbeats: last seen, host stats,
//! history) and only after the commit sends each agent one cumulative ack
//! (its highest seq in the batch, `try_send` on the downlink: a back-edge)
//! and forwards the new observations to the evaluator in one message (a
//! bounded send: the forward path pushes back to the agents).
//! Only results the store newly stored are forwarded: a replay (after a
//! reconnect or a collector restart) is acked but not evaluated twice.
//! The results are lent to the store, not copied, and then moved into the
//! observations; no per-result transaction, message or log line. What was
//! stored also goes to the `/metrics` probe table (the latest probe of
//! each service and agent) and the batch's duration to
//! `picket_ingest_batch_seconds`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, warn};

use crate::agents::DownlinkTx;
use crate::backoff::Backoff;
use crate::domain::{AgentId, Downlink, Observation, ProbeResult};
use crate::evaluator::EvaluatorHandle;
use crate::metrics::Metrics;
use crate::store::{self, HeartbeatRecord, Recorded, ResultRef, Store};

/// Results and heartbeats written per transaction, at most.
const MAX_BATCH: usize = 5000;

/// How many times a batch yields to the runtime for more submissions
/// after its first (unless it is full).
pub const LINGER_YIELDS: usize = 4;

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

/// Where batches are written: the store, or a test double that holds or
/// fails the commit.
pub(crate) trait Recorder: Send + Sync + 'static {
    /// Writes the batch in one transaction; acks may go out once it
    /// returns `Ok`.
    fn record(
        &self,
        results: &[ResultRef<'_>],
        heartbeats: &[HeartbeatRecord],
    ) -> impl Future<Output = store::Result<Recorded>> + Send;
}

impl Recorder for Store {
    async fn record(
        &self,
        results: &[ResultRef<'_>],
        heartbeats: &[HeartbeatRecord],
    ) -> store::Result<Recorded> {
        self.record_refs(results, heartbeats).await
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
        Self::spawn_with(store, metrics, evaluator, cancel, tasks)
    }

    /// [`IngestHandle::spawn`] writing to any [`Recorder`].
    pub(crate) fn spawn_with(
        recorder: impl Recorder,
        metrics: Arc<Metrics>,
        evaluator: EvaluatorHandle,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> IngestHandle {
        let (tx, inbox) = mpsc::channel(1024);
        tasks.spawn(run(recorder, metrics, evaluator, inbox, cancel));
        IngestHandle { tx }
    }

    /// Queues results (or a heartbeat); waits when ingest is behind
    /// (backpressure).
    pub async fn submit(&self, submission: Submission) -> bool {
        self.tx.send(submission).await.is_ok()
    }
}

async fn run(
    recorder: impl Recorder,
    metrics: Arc<Metrics>,
    evaluator: EvaluatorHandle,
    mut inbox: mpsc::Receiver<Submission>,
    cancel: CancellationToken,
) {
    while let Some(batch) = gather(&mut inbox, &cancel).await {
        let Some(recorded) = commit(&recorder, &metrics, &batch, &cancel).await else {
            return;
        };
        let observations = acknowledge(batch, recorded.stored, &metrics);
        if !observations.is_empty() && !evaluator.observe(observations).await {
            break;
        }
    }
}

/// The next batch: a first submission, what is queued behind it and what
/// ready tasks submit while it yields `LINGER_YIELDS` times, up to
/// `MAX_BATCH`. At shutdown: what is queued, without waiting; `None` once
/// the inbox is closed and empty.
async fn gather(
    inbox: &mut mpsc::Receiver<Submission>,
    cancel: &CancellationToken,
) -> Option<Vec<Submission>> {
    let first = tokio::select! {
        s = inbox.recv() => s,
        () = cancel.cancelled() => {
            inbox.close();
            inbox.recv().await
        }
    }?;
    let mut count = first.weight();
    let mut batch = vec![first];
    let mut yields = 0;
    while count < MAX_BATCH {
        match inbox.try_recv() {
            Ok(s) => {
                count += s.weight();
                batch.push(s);
            }
            Err(mpsc::error::TryRecvError::Empty)
                if yields < LINGER_YIELDS && !cancel.is_cancelled() =>
            {
                yields += 1;
                tokio::task::yield_now().await;
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Writes `batch` in one transaction, retrying with backoff until it
/// commits; `None` when shutdown came first (nothing acked: the agents
/// keep these and replay them).
async fn commit(
    recorder: &impl Recorder,
    metrics: &Metrics,
    batch: &[Submission],
    cancel: &CancellationToken,
) -> Option<Recorded> {
    let results: Vec<ResultRef<'_>> = batch
        .iter()
        .flat_map(|s| {
            s.results.iter().map(|result| ResultRef {
                agent: &s.agent,
                result,
            })
        })
        .collect();
    let heartbeats: Vec<HeartbeatRecord> =
        batch.iter().filter_map(|s| s.heartbeat.clone()).collect();
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        let started = Instant::now();
        // Shutdown does not wait for a database that does not answer (the
        // pool waits for a connection): the transaction rolls back, or it
        // committed and the agents' replay finds the results stored.
        let recorded = tokio::select! {
            r = recorder.record(&results, &heartbeats) => r,
            () = cancel.cancelled() => {
                error!(results = results.len(), heartbeats = heartbeats.len(), "results and heartbeats not stored at shutdown");
                return None;
            }
        };
        let e = match recorded {
            Ok(recorded) => {
                metrics.ingest_batch.observe(started.elapsed());
                metrics.results_ingested.inc_by(results.len() as u64);
                return Some(recorded);
            }
            Err(e) => e,
        };
        if cancel.is_cancelled() {
            error!(results = results.len(), heartbeats = heartbeats.len(), error = %e, "results and heartbeats not stored at shutdown");
            return None;
        }
        warn!(results = results.len(), heartbeats = heartbeats.len(), error = %e, "cannot store results and heartbeats; retrying");
        tokio::select! {
            () = tokio::time::sleep(backoff.delay()) => {}
            () = cancel.cancelled() => {}
        }
    }
}

/// After the commit: the stored results into the probe table and the
/// observations, and one cumulative ack per agent (its highest seq in the
/// batch; a dropped ack is covered by the next). Acks go after the probe
/// table has the results, so whoever saw one finds them in `/metrics`.
fn acknowledge(batch: Vec<Submission>, stored: Vec<bool>, metrics: &Metrics) -> Vec<Observation> {
    let mut observations = Vec::with_capacity(stored.len());
    let mut stored = stored.into_iter();
    let mut acks: HashMap<AgentId, (u64, DownlinkTx)> = HashMap::new();
    for s in batch {
        let Some(max) = s.results.iter().map(|r| r.seq).max() else {
            continue;
        };
        for r in s.results {
            if !stored.next().unwrap_or(false) {
                continue;
            }
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
        match acks.get_mut(&s.agent) {
            // A later session of the agent gets the ack.
            Some((seq, ack)) => {
                *seq = (*seq).max(max);
                *ack = s.ack;
            }
            None => {
                acks.insert(s.agent, (max, s.ack));
            }
        }
    }
    for (seq, ack) in acks.into_values() {
        let _ = ack.try_send(Downlink::Ack(seq));
    }
    observations
}

#[cfg(test)]
mod tests;
