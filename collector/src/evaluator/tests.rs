//! The evaluator actor with tokio's paused clock: rounds start exactly
//! `recheck_delay` after the failing result was received, and close at
//! `recheck_timeout` when an agent does not answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::agents::directory::{Directory, DownlinkTx, LinkHandle};
use crate::domain::{ErrorKind, ProbeOutcome, ServiceState, Verdict};
use crate::lifecycle::{LifecycleHandle, ServiceVerdict};

const CONFIG: &str = r#"
[collector]
database = "sqlite://unused.db"
[agents]
enrollment_token = "t"
[defaults]
recheck_delay = "2s"
timeout = "1s"
[[equipment]]
id = "e"
[[services]]
id = "shop"
equipment = "e"
url = "http://shop.test"
"#;

struct Harness {
    evaluator: EvaluatorHandle,
    verdicts: mpsc::Receiver<ServiceVerdict>,
    downlink: mpsc::Receiver<Downlink>,
    directory: watch::Sender<Arc<Directory>>,
    _maintenance: watch::Sender<Arc<MaintenanceSet>>,
    /// Shuts the evaluator down (as `run` does at shutdown).
    cancel: CancellationToken,
    _cancel: tokio_util::sync::DropGuard,
}

fn start() -> Harness {
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let (tx, downlink) = DownlinkTx::channel(16);
    let link = LinkHandle {
        id: "a1".into(),
        name: "edge-1".into(),
        region: "eu".into(),
        tx,
    };
    let directory = Directory {
        agents: HashMap::from([("a1".into(), link)]),
        by_service: HashMap::from([("shop".into(), vec!["a1".into()])]),
        services: Arc::new(["shop".into()].into()),
    };
    let (dir_tx, dir_rx) = watch::channel(Arc::new(directory));
    let (maint_tx, maint_rx) = watch::channel(Arc::new(MaintenanceSet::new()));
    let (lifecycle, verdicts) = LifecycleHandle::channel();
    let cancel = CancellationToken::new();
    let evaluator = EvaluatorHandle::spawn(
        (&config).into(),
        Start {
            services: [("shop".into(), (ServiceState::Up, false))]
                .into_iter()
                .collect(),
            degraded: Default::default(),
            first_round: 1000,
            clock: crate::time::Clock::following_tokio(crate::testing::BASE_MS),
        },
        dir_rx,
        maint_rx,
        watch::channel(Arc::default()).1,
        lifecycle,
        Arc::new(crate::metrics::Metrics::new()),
        cancel.clone(),
        &TaskTracker::new(),
    );
    Harness {
        evaluator,
        verdicts,
        downlink,
        directory: dir_tx,
        _maintenance: maint_tx,
        cancel: cancel.clone(),
        _cancel: cancel.drop_guard(),
    }
}

fn observation(ok: bool, round_id: u64, received: Instant) -> Observation {
    Observation {
        agent: "a1".into(),
        service: "shop".into(),
        round_id,
        time_ms: 0,
        outcome: ProbeOutcome {
            ok,
            status_code: Some(if ok { 200 } else { 503 }),
            error_kind: (!ok).then_some(ErrorKind::HttpStatus),
            error: (!ok).then(|| "HTTP 503".to_owned()),
            duration_us: 1,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
        received,
    }
}

/// Longest virtual wait for an effect: far beyond every timer here, so a
/// missing effect fails instead of hanging.
const WITHIN: Duration = Duration::from_secs(600);

async fn next_verdict(h: &mut Harness) -> Verdict {
    tokio::time::timeout(WITHIN, h.verdicts.recv())
        .await
        .expect("no verdict came")
        .expect("evaluator alive")
        .verdict
}

async fn next_recheck(h: &mut Harness) -> u64 {
    let order = tokio::time::timeout(WITHIN, h.downlink.recv())
        .await
        .expect("no recheck order came");
    match order.expect("evaluator alive") {
        Downlink::Recheck { service, round_id } => {
            assert_eq!(service, "shop");
            round_id
        }
        other => panic!("expected a recheck order, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn recheck_delay_counts_from_receipt_and_a_second_failure_opens() {
    let mut h = start();
    let received = Instant::now();
    // The result sat in ingest for 500ms before reaching the evaluator.
    tokio::time::advance(Duration::from_millis(500)).await;
    assert!(
        h.evaluator
            .observe(vec![observation(false, 0, received)])
            .await
    );
    assert_eq!(
        next_verdict(&mut h).await,
        Verdict::State {
            from: ServiceState::Up,
            to: ServiceState::Suspect
        }
    );
    let round = next_recheck(&mut h).await;
    assert_eq!(
        received.elapsed(),
        Duration::from_secs(2),
        "the order goes out recheck_delay after receipt"
    );
    assert!(
        h.evaluator
            .observe(vec![observation(false, round, Instant::now())])
            .await
    );
    match next_verdict(&mut h).await {
        Verdict::Down {
            from: ServiceState::Suspect,
            votes,
        } => {
            assert_eq!(votes.len(), 1);
            assert_eq!(votes[0].agent_name, "edge-1");
        }
        other => panic!("expected down, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_round_closes_at_recheck_timeout_without_a_verdict_on_the_service() {
    let mut h = start();
    assert!(
        h.evaluator
            .observe(vec![observation(false, 0, Instant::now())])
            .await
    );
    next_verdict(&mut h).await;
    let _round = next_recheck(&mut h).await;
    let asked = Instant::now();
    // No answer: recheck_timeout = timeout (1s) + 2s.
    assert_eq!(
        next_verdict(&mut h).await,
        Verdict::State {
            from: ServiceState::Suspect,
            to: ServiceState::Unknown
        }
    );
    assert_eq!(asked.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn check_now_collects_every_agent_and_counts_for_nothing() {
    let mut h = start();
    let evaluator = h.evaluator.clone();
    let ask = tokio::spawn(async move { evaluator.check_now("shop".into()).await });
    let round = next_recheck(&mut h).await;
    assert!(
        h.evaluator
            .observe(vec![observation(false, round, Instant::now())])
            .await
    );
    let results = ask.await.expect("task").expect("results");
    assert_eq!(results.len(), 1);
    assert!(!results[0].outcome.ok);
    assert!(
        h.verdicts.try_recv().is_err(),
        "a CheckNow failure changes no state"
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_whose_last_agent_leaves_becomes_unknown() {
    let mut h = start();
    // Any answer proves the actor took the initial directory as its baseline.
    assert!(h.evaluator.check_now("nope".into()).await.is_err());
    h.directory.send_replace(Arc::new(Directory::default()));
    assert_eq!(
        next_verdict(&mut h).await,
        Verdict::State {
            from: ServiceState::Up,
            to: ServiceState::Unknown
        }
    );
}

/// At shutdown the sessions end and the directory empties after the token
/// fired: that stores nothing (it is not agents leaving). Both arrive in
/// the same tick, so the actor sees both ready: repeated so that a select
/// that took the directory first would be caught.
#[tokio::test(start_paused = true)]
async fn agents_leaving_at_shutdown_store_no_verdict() {
    for _ in 0..32 {
        let mut h = start();
        assert!(h.evaluator.check_now("nope".into()).await.is_err());
        h.cancel.cancel();
        h.directory.send_replace(Arc::new(Directory::default()));
        let after = tokio::time::timeout(WITHIN, h.verdicts.recv()).await;
        assert!(
            matches!(after, Ok(None)),
            "a verdict on the way out: {:?}",
            after.map(|v| v.map(|v| v.verdict))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn round_ids_are_numbered_from_the_clock() {
    let clock = crate::time::Clock::following_tokio(crate::testing::BASE_MS);
    tokio::time::advance(Duration::from_millis(5)).await;
    let start = Start::new(Default::default(), &clock);
    assert_eq!(
        start.first_round,
        (crate::testing::BASE_MS as u64 + 5) * 1000
    );
}
