//! `Scheduler` actor: owns the current assignment (a [`plan::Plan`]: the
//! checks and one min-heap of their next runs) and spawns a probe task only
//! when a probe is due; also runs recheck orders as immediate, separate
//! probes.
//!
//! The link actor sends it messages through a [`SchedulerHandle`]
//! (assignments, rechecks). Probe tasks send their reports straight to the
//! link actor over a bounded channel. The actor itself never sends results,
//! so it never waits on the link actor: there is no cycle of bounded
//! channels.
//!
//! Timing: each check has a stable phase within its interval, from a hash
//! of the agent and check ids (`phase.rs`), and runs at the epoch-aligned
//! slots `t mod interval == phase` of the wall clock read once at start.
//! So probes spread evenly over the interval, and a check keeps its times
//! across restarts, reconnects and reassignments; a new check (or one whose
//! definition changed) runs first at its next slot, within one interval; a
//! new interval gives a new phase within it. A probe that outlasts its
//! interval makes the check skip the slots that come while it runs: the
//! next run is the first slot after it ends (and after its report is handed
//! to the link), so a check never has two scheduled probes in flight.
//! Runs are started in batches: the actor wakes [`BATCH`] after the
//! earliest due run and starts every run due by then, so a probe starts at
//! most `BATCH` late and an agent with many checks wakes about 100 times a
//! second rather than once per probe (a wake-up from idle costs more CPU
//! than a loopback HTTP probe: bench/blackbox.sh).
//! Rechecks are not scheduled: they start at once, even beside a running
//! probe. There is no cap on concurrent probes: at most one scheduled probe
//! per check runs, each bounded by its timeout.

pub mod phase;
pub mod plan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::domain::{AgentId, Check, CheckId, ProbeReport};
use crate::probe::Probe;
use phase::Timeline;
use plan::{Plan, Slot};

/// How late a scheduled probe may start so that it shares a wake-up with
/// the probes due just after it.
pub const BATCH: std::time::Duration = std::time::Duration::from_millis(10);

/// Live counters the scheduler exposes for heartbeats.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    assigned: AtomicU32,
    in_flight: AtomicU32,
}

impl SchedulerStats {
    /// Checks currently assigned.
    pub fn assigned(&self) -> u32 {
        self.assigned.load(Ordering::Relaxed)
    }

    /// Probes currently running (scheduled and rechecks).
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// The scheduler is gone (shutting down).
#[derive(Debug, thiserror::Error)]
#[error("scheduler stopped")]
pub struct SchedulerGone;

enum SchedulerMsg {
    Assign(Vec<Arc<Check>>),
    Recheck { check_id: CheckId, round_id: u64 },
}

/// Handle to the scheduler actor; the actor stops when the last handle is
/// dropped or the shutdown token is cancelled.
#[derive(Clone)]
pub struct SchedulerHandle {
    /// Orders for the actor.
    tx: mpsc::Sender<SchedulerMsg>,
    stats: Arc<SchedulerStats>,
}

impl SchedulerHandle {
    /// Spawns the actor for agent `agent_id` (its phases depend on it),
    /// with slots on the system clock, started in batches of [`BATCH`].
    /// Reports go to `results`.
    pub fn spawn<P: Probe>(
        prober: Arc<P>,
        results: mpsc::Sender<ProbeReport>,
        agent_id: AgentId,
        shutdown: CancellationToken,
    ) -> SchedulerHandle {
        Self::spawn_on(prober, results, agent_id, Timeline::now(), BATCH, shutdown)
    }

    /// Like [`SchedulerHandle::spawn`], with slots reckoned on `timeline`
    /// and runs started up to `batch` late (zero: each at its slot).
    pub fn spawn_on<P: Probe>(
        prober: Arc<P>,
        results: mpsc::Sender<ProbeReport>,
        agent_id: AgentId,
        timeline: Timeline,
        batch: std::time::Duration,
        shutdown: CancellationToken,
    ) -> SchedulerHandle {
        let (tx, rx) = mpsc::channel(64);
        let stats = Arc::new(SchedulerStats::default());
        let actor = Scheduler {
            prober,
            results,
            rx,
            cancel: shutdown.child_token(),
            plan: Plan::new(agent_id, timeline),
            batch,
            stats: stats.clone(),
        };
        tokio::spawn(actor.run());
        SchedulerHandle { tx, stats }
    }

    /// Whether the actor still runs (its channel is open).
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Replaces the assignment: checks not in `checks` stop, new ones start,
    /// changed ones restart.
    pub async fn assign(&self, checks: Vec<Check>) -> Result<(), SchedulerGone> {
        self.assign_shared(checks.into_iter().map(Arc::new).collect())
            .await
    }

    /// Like [`SchedulerHandle::assign`], with checks the caller shares (the
    /// link's assembly): the plan keeps the pointers, not copies.
    pub async fn assign_shared(&self, checks: Vec<Arc<Check>>) -> Result<(), SchedulerGone> {
        self.tx
            .send(SchedulerMsg::Assign(checks))
            .await
            .map_err(|_| SchedulerGone)
    }

    /// Probes `check_id` now and tags the report with `round_id`.
    pub async fn recheck(&self, check_id: CheckId, round_id: u64) -> Result<(), SchedulerGone> {
        self.tx
            .send(SchedulerMsg::Recheck { check_id, round_id })
            .await
            .map_err(|_| SchedulerGone)
    }

    /// The live counters.
    pub fn stats(&self) -> &SchedulerStats {
        &self.stats
    }
}

struct Scheduler<P> {
    prober: Arc<P>,
    /// Where probe tasks send their reports (the link actor).
    results: mpsc::Sender<ProbeReport>,
    /// Orders from the handles.
    rx: mpsc::Receiver<SchedulerMsg>,
    /// Stops every probe task (clones, not children: no per-check token).
    cancel: CancellationToken,
    /// The assigned checks and their next runs.
    plan: Plan,
    /// How late a run may start to share a wake-up.
    batch: std::time::Duration,
    stats: Arc<SchedulerStats>,
}

impl<P: Probe> Scheduler<P> {
    async fn run(mut self) {
        let mut due = Vec::new();
        loop {
            let next = self.plan.next_due();
            // Sleep `batch` past the earliest run: the runs due by then
            // start together, on one wake-up of the runtime.
            let wake = next.map_or_else(tokio::time::Instant::now, |t| t + self.batch);
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                msg = self.rx.recv() => match msg {
                    Some(SchedulerMsg::Assign(checks)) => self.assign(checks),
                    Some(SchedulerMsg::Recheck { check_id, round_id }) => self.recheck(check_id, round_id),
                    None => break,
                },
                _ = tokio::time::sleep_until(wake), if next.is_some() => {
                    self.plan.take_due(tokio::time::Instant::now(), &mut due);
                    for slot in due.drain(..) {
                        self.start(slot);
                    }
                }
            }
        }
        self.cancel.cancel();
        self.stats.assigned.store(0, Ordering::Relaxed);
    }

    fn assign(&mut self, checks: Vec<Arc<Check>>) {
        let changes = self.plan.assign(checks, tokio::time::Instant::now());
        self.stats.assigned.store(
            u32::try_from(self.plan.len()).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        if changes.started > 0 || changes.stopped > 0 {
            info!(
                checks = self.plan.len(),
                started = changes.started,
                stopped = changes.stopped,
                "assignment changed"
            );
        }
    }

    /// Spawns the scheduled probe of `slot` (already marked busy).
    fn start(&self, slot: Arc<Slot>) {
        struct Busy(Arc<AtomicBool>);
        impl Drop for Busy {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let busy = Busy(slot.busy.clone());
        let prober = self.prober.clone();
        let results = self.results.clone();
        let stats = self.stats.clone();
        let cancel = self.cancel.clone();
        let span = info_span!("check", check_id = %slot.check.id);
        tokio::spawn(
            async move {
                let _busy = busy;
                cancel
                    .run_until_cancelled(async move {
                        let report = counted_probe(&*prober, &slot.check, &stats).await;
                        if slot.live.load(Ordering::Relaxed) {
                            log_transition(&slot, &report);
                            let _ = results.send(report).await;
                        }
                    })
                    .await;
            }
            .instrument(span),
        );
    }

    fn recheck(&self, check_id: CheckId, round_id: u64) {
        let Some(slot) = self.plan.get(&check_id).cloned() else {
            warn!(%check_id, round_id, "recheck of a check that is not assigned; ignored");
            return;
        };
        let prober = self.prober.clone();
        let results = self.results.clone();
        let stats = self.stats.clone();
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            cancel
                .run_until_cancelled(async move {
                    let mut report = counted_probe(&*prober, &slot.check, &stats).await;
                    report.round_id = round_id;
                    let _ = results.send(report).await;
                })
                .await;
        });
    }
}

/// Logs a check's outcome at info when it changes, at debug otherwise.
fn log_transition(slot: &Slot, report: &ProbeReport) {
    let ok = report.ok();
    let detail = report.failure.as_ref().map_or("", |f| f.detail.as_str());
    let now = if ok { 1 } else { 2 };
    if slot.last_ok.swap(now, Ordering::Relaxed) == now {
        debug!(ok, status = report.status_code, detail, duration = ?report.duration, "probed");
    } else if ok {
        info!(status = report.status_code, "check ok");
    } else {
        info!(status = report.status_code, detail, "check failing");
    }
}

/// Runs one probe, counting it in flight while it runs (even if cancelled).
async fn counted_probe<P: Probe>(prober: &P, check: &Check, stats: &SchedulerStats) -> ProbeReport {
    struct InFlight<'a>(&'a AtomicU32);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let _guard = InFlight(&stats.in_flight);
    prober.probe(check).await
}

#[cfg(test)]
mod tests;
