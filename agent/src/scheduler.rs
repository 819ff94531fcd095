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

use crate::domain::{Check, ProbeReport};
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
    Recheck { check_id: String, round_id: u64 },
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
    pub async fn recheck(&self, check_id: String, round_id: u64) -> Result<(), SchedulerGone> {
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
    running: HashMap<String, Running>,
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
        let wanted: HashMap<String, Check> =
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

    fn recheck(&self, check_id: String, round_id: u64) {
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
mod tests {
    use super::*;
    use crate::domain::Method;
    use std::sync::Mutex;
    use std::time::SystemTime;

    /// A prober that takes `duration`, records start times and concurrency.
    #[derive(Default)]
    struct Fake {
        duration: Duration,
        active: AtomicU32,
        max_active: AtomicU32,
        starts: Mutex<Vec<(String, Instant)>>,
    }

    impl Probe for Fake {
        async fn probe(&self, check: &Check) -> ProbeReport {
            let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_active.fetch_max(now, Ordering::SeqCst);
            self.starts
                .lock()
                .unwrap()
                .push((check.url.clone(), Instant::now()));
            tokio::time::sleep(self.duration).await;
            self.active.fetch_sub(1, Ordering::SeqCst);
            ProbeReport {
                check_id: check.id.clone(),
                round_id: 0,
                started_at: SystemTime::now(),
                duration: self.duration,
                status_code: 200,
                failure: None,
                phases: Default::default(),
                cert_not_after: None,
            }
        }
    }

    fn check(id: &str, interval: Duration) -> Check {
        Check {
            id: id.into(),
            url: format!("http://{id}.test/"),
            method: Method::Get,
            headers: Default::default(),
            basic_auth: None,
            expected_status: vec![200],
            body_contains: String::new(),
            follow_redirects: true,
            max_redirects: 10,
            timeout: Duration::from_secs(10),
            interval,
            max_body_bytes: 1024,
            reuse_connections: false,
        }
    }

    fn setup(probe_time: Duration) -> (Arc<Fake>, SchedulerHandle, mpsc::Receiver<ProbeReport>) {
        let fake = Arc::new(Fake {
            duration: probe_time,
            ..Default::default()
        });
        let (tx, rx) = mpsc::channel(16);
        let handle = SchedulerHandle::spawn(fake.clone(), tx, CancellationToken::new());
        (fake, handle, rx)
    }

    async fn next(rx: &mut mpsc::Receiver<ProbeReport>, within: Duration) -> ProbeReport {
        tokio::time::timeout(within, rx.recv())
            .await
            .expect("no report within the deadline")
            .expect("results channel closed")
    }

    #[tokio::test(start_paused = true)]
    async fn first_probe_within_min_of_interval_and_5s() {
        for interval in [Duration::from_secs(60), Duration::from_secs(2)] {
            let (_fake, handle, mut rx) = setup(Duration::ZERO);
            let t0 = Instant::now();
            handle.assign(vec![check("a", interval)]).await.unwrap();
            next(&mut rx, Duration::from_secs(60)).await;
            let bound = interval.min(MAX_FIRST_OFFSET);
            assert!(t0.elapsed() < bound, "{:?} >= {bound:?}", t0.elapsed());
            assert_eq!(handle.stats().assigned(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn probes_run_start_to_start() {
        let (fake, handle, mut rx) = setup(Duration::from_millis(300));
        handle
            .assign(vec![check("a", Duration::from_secs(1))])
            .await
            .unwrap();
        for _ in 0..4 {
            next(&mut rx, Duration::from_secs(10)).await;
        }
        let starts = fake.starts.lock().unwrap().clone();
        for pair in starts.windows(2) {
            assert_eq!(pair[1].1 - pair[0].1, Duration::from_secs(1));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_probes_never_overlap() {
        let (fake, handle, mut rx) = setup(Duration::from_secs(3));
        handle
            .assign(vec![check("a", Duration::from_secs(1))])
            .await
            .unwrap();
        for _ in 0..4 {
            next(&mut rx, Duration::from_secs(10)).await;
        }
        assert_eq!(fake.max_active.load(Ordering::SeqCst), 1);
        let starts = fake.starts.lock().unwrap().clone();
        for pair in starts.windows(2) {
            // The next probe starts right after the slow one ends.
            assert_eq!(pair[1].1 - pair[0].1, Duration::from_secs(3));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn removal_stops_the_check() {
        let (_fake, handle, mut rx) = setup(Duration::ZERO);
        handle
            .assign(vec![check("a", Duration::from_secs(2))])
            .await
            .unwrap();
        next(&mut rx, Duration::from_secs(10)).await;
        handle.assign(vec![]).await.unwrap();
        let more = tokio::time::timeout(Duration::from_secs(600), rx.recv()).await;
        assert!(more.is_err(), "a removed check still reported: {more:?}");
        assert_eq!(handle.stats().assigned(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn changed_definition_restarts_and_unchanged_keeps_running() {
        let (fake, handle, mut rx) = setup(Duration::ZERO);
        let a = check("a", Duration::from_secs(60));
        handle.assign(vec![a.clone()]).await.unwrap();
        next(&mut rx, Duration::from_secs(10)).await;

        // Same definition: no restart, so nothing within 5s.
        handle.assign(vec![a.clone()]).await.unwrap();
        let none = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(none.is_err(), "unchanged check restarted");

        // Changed URL: restarts with a new first offset (< 5s).
        let changed = Check {
            url: "http://changed.test/".into(),
            ..a
        };
        handle.assign(vec![changed]).await.unwrap();
        next(&mut rx, MAX_FIRST_OFFSET).await;
        let starts = fake.starts.lock().unwrap().clone();
        assert_eq!(starts.last().unwrap().0, "http://changed.test/");
    }

    #[tokio::test(start_paused = true)]
    async fn rechecks_run_now_with_their_round() {
        let (_fake, handle, mut rx) = setup(Duration::ZERO);
        handle
            .assign(vec![check("a", Duration::from_secs(60))])
            .await
            .unwrap();
        next(&mut rx, Duration::from_secs(10)).await;
        handle.recheck("a".into(), 7).await.unwrap();
        let report = next(&mut rx, Duration::from_millis(1)).await;
        assert_eq!(report.round_id, 7);
        assert_eq!(report.check_id, "a");
        // Unknown checks are ignored.
        handle.recheck("zzz".into(), 8).await.unwrap();
        let none = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        assert!(none.is_err());
    }
}
