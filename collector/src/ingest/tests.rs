//! Ingest over a temp SQLite store: results and heartbeats are written in
//! its batches, and results are acked only after the commit; over a
//! [`Gate`] that holds or fails commits: no ack before a commit or after a
//! failed one, and one commit (the linger gathering several agents) acks
//! each agent once.

use tokio::sync::watch;

use super::*;
use crate::agents::testing::{hello, settings, store};
use crate::domain::{HostStats, ProbeOutcome};
use crate::lifecycle::LifecycleHandle;
use crate::maintenance::MaintenanceSet;

/// An evaluator with no services, and what keeps it running.
struct TestEvaluator {
    handle: EvaluatorHandle,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    _maintenance: watch::Sender<Arc<MaintenanceSet>>,
    _directory: watch::Sender<Arc<crate::agents::Directory>>,
    _guard: tokio_util::sync::DropGuard,
}

fn test_evaluator() -> TestEvaluator {
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let (_maintenance, maintenance) = watch::channel(Arc::new(MaintenanceSet::new()));
    let (_directory, directory) = watch::channel(Arc::default());
    let (lifecycle, _verdicts) = LifecycleHandle::channel();
    let metrics = Arc::new(Metrics::new());
    let handle = EvaluatorHandle::spawn(
        settings(true).evaluator,
        crate::evaluator::Start {
            services: Default::default(),
            degraded: Default::default(),
            first_round: 1000,
            clock: crate::time::Clock::following_tokio(crate::testing::BASE_MS),
        },
        directory,
        maintenance,
        watch::channel(Arc::default()).1,
        lifecycle,
        metrics.clone(),
        cancel.clone(),
        &tasks,
    );
    TestEvaluator {
        handle,
        metrics,
        _guard: cancel.clone().drop_guard(),
        cancel,
        tasks,
        _maintenance,
        _directory,
    }
}

/// A successful probe of `shop` with sequence number `seq`.
fn probe(seq: u64) -> ProbeResult {
    ProbeResult {
        seq,
        service: "shop".into(),
        round_id: 0,
        started_at_ms: 4_000,
        outcome: ProbeOutcome {
            ok: true,
            status_code: Some(200),
            error_kind: None,
            error: None,
            duration_us: 1000,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
    }
}

#[tokio::test]
async fn heartbeats_are_written_in_the_batch_before_the_ack() {
    let settings = settings(true);
    let (_dir, store) = store(&settings).await;
    let enrollment = &settings.registry.enrollment;
    crate::agents::enroll::authenticate(&store, enrollment, &hello("a1"), crate::testing::BASE_MS)
        .await
        .expect("enrolled");
    let evaluator = test_evaluator();
    let ingest = IngestHandle::spawn(
        store.clone(),
        evaluator.metrics.clone(),
        evaluator.handle.clone(),
        evaluator.cancel.clone(),
        &evaluator.tasks,
    );
    let (ack, mut downlink) = DownlinkTx::channel(8);
    let stats = HostStats {
        cpu_percent: 12.5,
        ..Default::default()
    };
    let heartbeat = Submission {
        agent: "a1".into(),
        results: Vec::new(),
        heartbeat: Some(HeartbeatRecord {
            agent: "a1".into(),
            time_ms: 5_000,
            stats: stats.clone(),
        }),
        received: Instant::now(),
        ack: ack.clone(),
    };
    let results = Submission {
        agent: "a1".into(),
        results: vec![probe(7)],
        heartbeat: None,
        received: Instant::now(),
        ack,
    };
    assert!(ingest.submit(heartbeat).await && ingest.submit(results).await);
    let acked = tokio::time::timeout(Duration::from_secs(10), downlink.recv()).await;
    assert!(matches!(acked, Ok(Some(Downlink::Ack(7)))), "{acked:?}");
    let agent = store
        .get_agent(&"a1".into())
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (agent.last_seen_ms, agent.stats),
        (Some(5_000), Some(stats))
    );
    assert_eq!(agent.last_seq, 7);
    let history = store
        .agent_heartbeats(&"a1".into(), 0)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert!(downlink.try_recv().is_err(), "heartbeats are not acked");
}

/// A recorder that reports each commit it is asked for (the agent and seq
/// of every result) and holds it until the test says how it ends.
struct Gate {
    calls: mpsc::UnboundedSender<Vec<(AgentId, u64)>>,
    verdicts: tokio::sync::Mutex<mpsc::UnboundedReceiver<bool>>,
}

impl Recorder for Gate {
    async fn record(
        &self,
        results: &[ResultRef<'_>],
        _heartbeats: &[HeartbeatRecord],
    ) -> store::Result<Recorded> {
        let seen = results
            .iter()
            .map(|r| (r.agent.clone(), r.result.seq))
            .collect();
        let _ = self.calls.send(seen);
        if self.verdicts.lock().await.recv().await.unwrap_or(false) {
            Ok(Recorded {
                stored: vec![true; results.len()],
                statements: 0,
            })
        } else {
            Err(store::StoreError::NotFound("the test's commit".into()))
        }
    }
}

/// Ingest over a [`Gate`]: the handle, the commits asked for, and the
/// switch that ends each one (true: committed).
struct Gated {
    ingest: IngestHandle,
    calls: mpsc::UnboundedReceiver<Vec<(AgentId, u64)>>,
    verdicts: mpsc::UnboundedSender<bool>,
    _evaluator: TestEvaluator,
}

async fn gated() -> Gated {
    let (calls_tx, calls) = mpsc::unbounded_channel();
    let (verdicts, verdicts_rx) = mpsc::unbounded_channel();
    let gate = Gate {
        calls: calls_tx,
        verdicts: tokio::sync::Mutex::new(verdicts_rx),
    };
    let evaluator = test_evaluator();
    let ingest = IngestHandle::spawn_with(
        gate,
        evaluator.metrics.clone(),
        evaluator.handle.clone(),
        evaluator.cancel.clone(),
        &evaluator.tasks,
    );
    Gated {
        ingest,
        calls,
        verdicts,
        _evaluator: evaluator,
    }
}

fn results(agent: &str, seqs: &[u64], ack: &DownlinkTx) -> Submission {
    Submission {
        agent: agent.into(),
        results: seqs.iter().map(|&seq| probe(seq)).collect(),
        heartbeat: None,
        received: Instant::now(),
        ack: ack.clone(),
    }
}

#[tokio::test(start_paused = true)]
async fn no_ack_before_the_commit_nor_after_a_failed_one() {
    let mut gated = gated().await;
    let (ack, mut downlink) = DownlinkTx::channel(8);
    assert!(gated.ingest.submit(results("a1", &[7], &ack)).await);

    let first = gated.calls.recv().await.expect("a commit");
    assert_eq!(first, vec![("a1".into(), 7)]);
    assert!(downlink.try_recv().is_err(), "acked while the commit ran");
    gated.verdicts.send(false).expect("gate");

    let retry = gated.calls.recv().await.expect("a retry");
    assert_eq!(retry, first);
    assert!(downlink.try_recv().is_err(), "acked after a failed commit");
    gated.verdicts.send(true).expect("gate");

    let acked = downlink.recv().await;
    assert!(matches!(acked, Some(Downlink::Ack(7))), "{acked:?}");
}

#[tokio::test(start_paused = true)]
async fn one_commit_acks_several_agents_once_each() {
    let mut gated = gated().await;
    let (ack1, mut downlink1) = DownlinkTx::channel(8);
    let (ack2, mut downlink2) = DownlinkTx::channel(8);
    assert!(gated.ingest.submit(results("a1", &[1, 2], &ack1)).await);
    // The ingest task takes that one and yields (its linger); these come
    // in meanwhile and join the same batch.
    tokio::task::yield_now().await;
    assert!(gated.ingest.submit(results("a2", &[5], &ack2)).await);
    assert!(gated.ingest.submit(results("a1", &[3], &ack1)).await);

    let commit = gated.calls.recv().await.expect("a commit");
    let seqs: Vec<u64> = commit.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(seqs, [1, 2, 5, 3], "one transaction for both agents");
    gated.verdicts.send(true).expect("gate");

    let (a1, a2) = (downlink1.recv().await, downlink2.recv().await);
    assert!(matches!(a1, Some(Downlink::Ack(3))), "{a1:?}");
    assert!(matches!(a2, Some(Downlink::Ack(5))), "{a2:?}");
    assert!(
        downlink1.try_recv().is_err(),
        "one cumulative ack per agent"
    );
    assert!(gated.calls.try_recv().is_err(), "one commit");
}
