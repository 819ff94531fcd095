//! The scheduler on a paused clock: first offsets, start-to-start timing, no overlap, reassignment and rechecks.

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
