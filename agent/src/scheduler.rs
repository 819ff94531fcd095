//! `Scheduler` actor: owns the current assignment and runs one timer task
//! per check; also runs recheck orders as immediate, separate probes.
//!
//! The link actor sends it messages through a [`SchedulerHandle`]
//! (assignments, rechecks). Probe tasks send their reports straight to the
//! link actor over a bounded channel. The actor itself never sends results,
//! so it never waits on the link actor: there is no cycle of bounded
//! channels.
//!
//! Timing: a check's first probe starts at a random offset in
//! `[0, min(interval, 5s))`, then every `interval` start-to-start. A probe
//! that outlasts its interval delays the next one, which starts as soon as
//! it ends: a check never has two scheduled probes in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::domain::{Check, CheckId, ProbeReport};
use crate::probe::Probe;

/// Upper bound of the first probe's random offset.
pub const MAX_FIRST_OFFSET: Duration = Duration::from_secs(5);

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
    Assign(Vec<Check>),
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
    /// Spawns the actor. Reports go to `results`.
    pub fn spawn<P: Probe>(
        prober: Arc<P>,
        results: mpsc::Sender<ProbeReport>,
        shutdown: CancellationToken,
    ) -> SchedulerHandle {
        let (tx, rx) = mpsc::channel(64);
        let stats = Arc::new(SchedulerStats::default());
        let actor = Scheduler {
            prober,
            results,
            rx,
            cancel: shutdown.child_token(),
            running: HashMap::new(),
            stats: stats.clone(),
        };
        tokio::spawn(actor.run());
        SchedulerHandle { tx, stats }
    }

    /// Replaces the assignment: checks not in `checks` stop, new ones start,
    /// changed ones restart.
    pub async fn assign(&self, checks: Vec<Check>) -> Result<(), SchedulerGone> {
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

struct Running {
    check: Arc<Check>,
    cancel: CancellationToken,
}

struct Scheduler<P> {
    prober: Arc<P>,
    /// Where probe tasks send their reports (the link actor).
    results: mpsc::Sender<ProbeReport>,
    /// Orders from the handles.
    rx: mpsc::Receiver<SchedulerMsg>,
    /// Parent of every check task's token.
    cancel: CancellationToken,
    running: HashMap<CheckId, Running>,
    stats: Arc<SchedulerStats>,
}

impl<P: Probe> Scheduler<P> {
    async fn run(mut self) {
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                msg = self.rx.recv() => match msg {
                    Some(SchedulerMsg::Assign(checks)) => self.assign(checks),
                    Some(SchedulerMsg::Recheck { check_id, round_id }) => self.recheck(check_id, round_id),
                    None => break,
                },
            }
        }
        self.cancel.cancel();
        self.stats.assigned.store(0, Ordering::Relaxed);
    }

    fn assign(&mut self, checks: Vec<Check>) {
        let wanted: HashMap<CheckId, Check> =
            checks.into_iter().map(|c| (c.id.clone(), c)).collect();
        let (mut started, mut stopped) = (0, 0);
        self.running.retain(|id, running| {
            let keep = wanted.get(id).is_some_and(|c| *c == *running.check);
            if !keep {
                running.cancel.cancel();
                debug!(check_id = %id, "check stopped");
                stopped += 1;
            }
            keep
        });
        for (id, check) in wanted {
            if self.running.contains_key(&id) {
                continue;
            }
            let check = Arc::new(check);
            let cancel = self.cancel.child_token();
            let span = info_span!("check", check_id = %id);
            tokio::spawn(
                run_check(
                    check.clone(),
                    self.prober.clone(),
                    self.results.clone(),
                    self.stats.clone(),
                    cancel.clone(),
                )
                .instrument(span),
            );
            debug!(check_id = %id, interval = ?check.interval, "check started");
            started += 1;
            self.running.insert(id, Running { check, cancel });
        }
        self.stats.assigned.store(
            u32::try_from(self.running.len()).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        if started > 0 || stopped > 0 {
            info!(
                checks = self.running.len(),
                started, stopped, "assignment changed"
            );
        }
    }

    fn recheck(&self, check_id: CheckId, round_id: u64) {
        let Some(running) = self.running.get(&check_id) else {
            warn!(%check_id, round_id, "recheck of a check that is not assigned; ignored");
            return;
        };
        let check = running.check.clone();
        let prober = self.prober.clone();
        let results = self.results.clone();
        let stats = self.stats.clone();
        let cancel = self.cancel.child_token();
        tokio::spawn(async move {
            cancel
                .run_until_cancelled(async move {
                    let mut report = counted_probe(&*prober, &check, &stats).await;
                    report.round_id = round_id;
                    let _ = results.send(report).await;
                })
                .await;
        });
    }
}

/// The random offset of a check's first probe.
fn first_offset(interval: Duration) -> Duration {
    let bound = interval.min(MAX_FIRST_OFFSET);
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..nanos))
}

async fn run_check<P: Probe>(
    check: Arc<Check>,
    prober: Arc<P>,
    results: mpsc::Sender<ProbeReport>,
    stats: Arc<SchedulerStats>,
    cancel: CancellationToken,
) {
    cancel
        .run_until_cancelled(async move {
            tokio::time::sleep(first_offset(check.interval)).await;
            let mut last_ok = None;
            loop {
                let start = Instant::now();
                let report = counted_probe(&*prober, &check, &stats).await;
                log_transition(&mut last_ok, &report);
                if results.send(report).await.is_err() {
                    return;
                }
                tokio::time::sleep_until(start + check.interval).await;
            }
        })
        .await;
}

/// Logs a check's outcome at info when it changes, at debug otherwise.
fn log_transition(last_ok: &mut Option<bool>, report: &ProbeReport) {
    let ok = report.ok();
    let detail = report.failure.as_ref().map_or("", |f| f.detail.as_str());
    if *last_ok == Some(ok) {
        debug!(ok, status = report.status_code, detail, duration = ?report.duration, "probed");
    } else if ok {
        info!(status = report.status_code, "check ok");
    } else {
        info!(status = report.status_code, detail, "check failing");
    }
    *last_ok = Some(ok);
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
