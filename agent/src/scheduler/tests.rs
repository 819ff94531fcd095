//! The scheduler on a paused clock: runs at stable phase slots (kept across
//! a restart, different per agent), spread within 2× the mean rate at 10k
//! checks, no overlap, reassignment, removal, rechecks and counters.

use super::*;
use crate::domain::Method;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

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

impl Fake {
    fn starts(&self) -> Vec<(String, Instant)> {
        self.starts.lock().unwrap().clone()
    }
}

const AGENT: &str = "5f0c7a52-8e1b-4d7a-9c43-2b6e1d9f0a17";

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

/// A timeline whose wall clock is a whole number of seconds at tokio's now.
fn timeline() -> Timeline {
    Timeline::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000))
}

fn spawn_on(
    fake: &Arc<Fake>,
    agent: &str,
    timeline: Timeline,
    capacity: usize,
) -> (
    SchedulerHandle,
    mpsc::Receiver<ProbeReport>,
    CancellationToken,
) {
    spawn_batched(fake, agent, timeline, capacity, Duration::ZERO)
}

fn spawn_batched(
    fake: &Arc<Fake>,
    agent: &str,
    timeline: Timeline,
    capacity: usize,
    batch: Duration,
) -> (
    SchedulerHandle,
    mpsc::Receiver<ProbeReport>,
    CancellationToken,
) {
    let (tx, rx) = mpsc::channel(capacity);
    let token = CancellationToken::new();
    let handle = SchedulerHandle::spawn_on(
        fake.clone(),
        tx,
        agent.into(),
        timeline,
        batch,
        token.clone(),
    );
    (handle, rx, token)
}

fn setup(probe_time: Duration) -> (Arc<Fake>, SchedulerHandle, mpsc::Receiver<ProbeReport>) {
    let fake = Arc::new(Fake {
        duration: probe_time,
        ..Default::default()
    });
    let (handle, rx, _token) = spawn_on(&fake, AGENT, timeline(), 16);
    (fake, handle, rx)
}

async fn next(rx: &mut mpsc::Receiver<ProbeReport>, within: Duration) -> ProbeReport {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("no report within the deadline")
        .expect("results channel closed")
}

/// Where `at` falls within `interval` on `timeline`'s wall clock.
fn offset(timeline: &Timeline, at: Instant, interval: Duration) -> Duration {
    let ns = timeline.wall_ns(at) % interval.as_nanos();
    Duration::from_nanos(u64::try_from(ns).unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_new_check_runs_at_its_phase_within_one_interval() {
    for interval in [Duration::from_secs(60), Duration::from_secs(2)] {
        let (fake, handle, mut rx) = setup(Duration::ZERO);
        let tl = timeline();
        let t0 = Instant::now();
        handle.assign(vec![check("a", interval)]).await.unwrap();
        next(&mut rx, interval).await;
        assert_eq!(handle.stats().assigned(), 1);
        let started = fake.starts()[0].1;
        assert!(
            started - t0 < interval,
            "{:?} >= {interval:?}",
            started - t0
        );
        let expected = phase::phase(&AGENT.into(), &"a".into(), interval);
        assert_eq!(offset(&tl, started, interval), expected);
        // Then every interval, start-to-start, at the same phase.
        next(&mut rx, interval + Duration::from_millis(1)).await;
        assert_eq!(fake.starts()[1].1 - started, interval);
    }
}

/// The wall-clock offsets within the interval of the first run of each of
/// `ids` on agent `agent`, scheduled on `timeline`.
async fn first_offsets(agent: &str, timeline: Timeline, ids: &[String]) -> Vec<Duration> {
    let interval = Duration::from_secs(60);
    let fake = Arc::new(Fake::default());
    let (handle, mut rx, token) = spawn_on(&fake, agent, timeline, ids.len());
    let checks = ids.iter().map(|id| check(id, interval)).collect();
    handle.assign(checks).await.unwrap();
    for _ in ids {
        next(&mut rx, interval).await;
    }
    token.cancel();
    let starts = fake.starts();
    ids.iter()
        .map(|id| {
            let url = format!("http://{id}.test/");
            let (_, at) = starts.iter().find(|(u, _)| *u == url).unwrap();
            offset(&timeline, *at, interval)
        })
        .collect()
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("shop-eu-{i:03}-checkout")).collect()
}

#[tokio::test(start_paused = true)]
async fn phases_survive_a_restart_of_the_scheduler() {
    let wall0 = SystemTime::UNIX_EPOCH + Duration::from_millis(1_750_000_012_345);
    let before = first_offsets(AGENT, Timeline::at(wall0), &ids(20)).await;
    // The agent restarts 97.5 s later: a new scheduler reads the clock anew.
    let (t0, gap) = (Instant::now(), Duration::from_millis(97_500));
    tokio::time::sleep(gap).await;
    let wall1 = wall0 + (Instant::now() - t0);
    let after = first_offsets(AGENT, Timeline::at(wall1), &ids(20)).await;
    assert_eq!(before, after);
    // And they are spread, not all in the first seconds of the minute.
    assert!(before.iter().any(|o| *o > Duration::from_secs(30)));
}

#[tokio::test(start_paused = true)]
async fn different_agents_get_different_phases_for_one_check() {
    let other = "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f";
    let ours = first_offsets(AGENT, timeline(), &ids(20)).await;
    let theirs = first_offsets(other, timeline(), &ids(20)).await;
    let same = ours.iter().zip(&theirs).filter(|(a, b)| a == b).count();
    assert!(
        same <= 1,
        "{same} of 20 checks have the same phase on both agents"
    );
}

/// The most entries of sorted `starts` within any window of `width`.
fn busiest_window(starts: &[Instant], width: Duration) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..starts.len() {
        while starts[hi] - starts[lo] >= width {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_checks_stay_within_twice_the_mean_rate_in_any_second() {
    let fake = Arc::new(Fake {
        duration: Duration::from_millis(150),
        ..Default::default()
    });
    let (handle, mut rx, _token) = spawn_batched(&fake, AGENT, Timeline::now(), 1024, BATCH);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let teams = ["payments", "search", "auth", "catalog", "shipping"];
    let mix = [(15, 1), (30, 2), (60, 5), (120, 2)]; // seconds, share
    let checks: Vec<Check> = (0..10_000)
        .map(|i| {
            let team = teams[i % teams.len()];
            let slot = i % 10;
            let secs = mix
                .iter()
                .scan(0, |acc, &(s, share)| {
                    *acc += share;
                    Some((s, *acc))
                })
                .find(|&(_, acc)| slot < acc)
                .map_or(60, |(s, _)| s);
            check(
                &format!("{team}-api-{i:05}.eu-west-1"),
                Duration::from_secs(secs),
            )
        })
        .collect();
    let mean: f64 = checks.iter().map(|c| 1.0 / c.interval.as_secs_f64()).sum();
    let t0 = Instant::now();
    handle.assign(checks).await.unwrap();
    let span = Duration::from_secs(240); // two of the longest interval
    tokio::time::sleep(span).await;
    let mut starts: Vec<Instant> = fake
        .starts()
        .into_iter()
        .map(|(_, at)| at)
        .filter(|at| *at - t0 < span)
        .collect();
    starts.sort();
    let expected = mean * span.as_secs_f64();
    let total = starts.len() as f64;
    assert!(
        (total - expected).abs() <= 10_000.0,
        "{total} starts, {expected} expected"
    );
    let busiest = busiest_window(&starts, Duration::from_secs(1));
    assert!(
        (busiest as f64) <= 2.0 * mean,
        "{busiest} probes in one second; mean {mean:.1}/s"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_probes_never_overlap_and_resume_at_the_next_slot() {
    let (fake, handle, mut rx) = setup(Duration::from_millis(2_500));
    let interval = Duration::from_secs(1);
    handle.assign(vec![check("a", interval)]).await.unwrap();
    for _ in 0..4 {
        next(&mut rx, Duration::from_secs(10)).await;
    }
    assert_eq!(fake.max_active.load(Ordering::SeqCst), 1);
    let starts = fake.starts();
    for pair in starts.windows(2) {
        // Slots come every second; the two during the probe are skipped.
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
async fn reassignment_keeps_the_slots_and_a_new_interval_gets_a_new_phase() {
    let (fake, handle, mut rx) = setup(Duration::ZERO);
    let tl = timeline();
    let minute = Duration::from_secs(60);
    let a = check("a", minute);
    handle.assign(vec![a.clone()]).await.unwrap();
    next(&mut rx, minute).await;
    let first = fake.starts()[0].1;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Same definition, then a changed URL: both keep the slot one minute on.
    handle.assign(vec![a.clone()]).await.unwrap();
    let changed = Check {
        url: "http://changed.test/".into(),
        ..a.clone()
    };
    handle.assign(vec![changed]).await.unwrap();
    next(&mut rx, minute).await;
    let starts = fake.starts();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        starts[1],
        ("http://changed.test/".to_owned(), first + minute)
    );

    // A new interval: the phase within it, reached within one interval.
    let ten = Duration::from_secs(10);
    let t = Instant::now();
    handle.assign(vec![check("a", ten)]).await.unwrap();
    next(&mut rx, ten).await;
    let at = fake.starts()[2].1;
    assert!(at - t < ten);
    assert_eq!(
        offset(&tl, at, ten),
        phase::phase(&AGENT.into(), &"a".into(), ten)
    );
}

#[tokio::test(start_paused = true)]
async fn rechecks_run_now_with_their_round() {
    let (_fake, handle, mut rx) = setup(Duration::ZERO);
    handle
        .assign(vec![check("a", Duration::from_secs(60))])
        .await
        .unwrap();
    next(&mut rx, Duration::from_secs(60)).await;
    handle.recheck("a".into(), 7).await.unwrap();
    let report = next(&mut rx, Duration::from_millis(1)).await;
    assert_eq!(report.round_id, 7);
    assert_eq!(report.check_id, "a");
    // Unknown checks are ignored.
    handle.recheck("zzz".into(), 8).await.unwrap();
    let none = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert!(none.is_err());
}

#[tokio::test(start_paused = true)]
async fn stats_count_assigned_checks_and_running_probes() {
    let fake = Arc::new(Fake {
        duration: Duration::from_secs(1),
        ..Default::default()
    });
    let (handle, mut rx, _token) = spawn_on(&fake, AGENT, timeline(), 16);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let checks = (0..200)
        .map(|i| check(&format!("svc-{i}"), Duration::from_secs(10)))
        .collect();
    let t0 = Instant::now();
    handle.assign(checks).await.unwrap();
    // Slots fall on whole milliseconds; look between two of them.
    for at in [3_000_500, 12_345_500, 17_999_500] {
        tokio::time::sleep_until(t0 + Duration::from_micros(at)).await;
        let now = Instant::now();
        let running = fake
            .starts()
            .iter()
            .filter(|(_, s)| *s <= now && now - *s < fake.duration)
            .count();
        assert!(running > 0);
        assert_eq!(handle.stats().in_flight() as usize, running);
        assert_eq!(handle.stats().assigned(), 200);
    }
}

/// With batching, runs due within `BATCH` of each other start on one
/// wake-up: 1000 checks a second start at no more than 100 distinct
/// instants a second (about 630 without), each at most `BATCH` after its
/// slot.
#[tokio::test(start_paused = true)]
async fn runs_due_within_a_batch_start_together_at_most_a_batch_late() {
    let fake = Arc::new(Fake::default());
    let tl = timeline();
    let (handle, mut rx, _token) = spawn_batched(&fake, AGENT, tl, 1024, BATCH);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let interval = Duration::from_secs(1);
    let checks: Vec<Check> = (0..1000)
        .map(|i| check(&format!("c{i}"), interval))
        .collect();
    handle.assign(checks).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let starts = fake.starts();
    assert!(starts.len() >= 2000, "{} starts", starts.len());
    for (url, at) in &starts {
        let id = url.trim_start_matches("http://").trim_end_matches(".test/");
        let phase = phase::phase(&AGENT.into(), &id.into(), interval);
        let late = (offset(&tl, *at, interval) + interval - phase).as_nanos() % interval.as_nanos();
        assert!(
            late <= BATCH.as_nanos(),
            "{id} started {late} ns after its slot"
        );
    }
    let mut instants: Vec<Instant> = starts.iter().map(|(_, at)| *at).collect();
    instants.sort();
    instants.dedup();
    assert!(
        instants.len() <= 3 * 100 + 3,
        "{} distinct start instants in 3 s",
        instants.len()
    );
}
