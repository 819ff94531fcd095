//! Ingest over a temp SQLite store: results and heartbeats are written in
//! its batches, and results are acked only after the commit.

use std::collections::HashMap;

use tokio::sync::watch;

use super::*;
use crate::agents::testing::{hello, settings, store};
use crate::domain::{HostStats, ProbeOutcome};
use crate::lifecycle::LifecycleHandle;
use crate::maintenance::MaintenanceSet;

#[tokio::test]
async fn heartbeats_are_written_in_the_batch_before_the_ack() {
    let settings = settings(true);
    let (_dir, store) = store(&settings).await;
    let enrollment = &settings.registry.enrollment;
    crate::agents::enroll::authenticate(&store, enrollment, &hello("a1"), crate::testing::BASE_MS)
        .await
        .expect("enrolled");
    let cancel = CancellationToken::new();
    let _guard = cancel.clone().drop_guard();
    let tasks = TaskTracker::new();
    let (_maintenance, maintenance) = watch::channel(Arc::new(MaintenanceSet::new()));
    let (_directory, directory) = watch::channel(Arc::default());
    let (lifecycle, _verdicts) = LifecycleHandle::channel();
    let metrics = Arc::new(Metrics::new());
    let evaluator = EvaluatorHandle::spawn(
        settings.evaluator,
        crate::evaluator::Start {
            services: HashMap::new(),
            first_round: 1000,
            clock: crate::time::Clock::following_tokio(crate::testing::BASE_MS),
        },
        directory,
        maintenance,
        lifecycle,
        metrics.clone(),
        cancel.clone(),
        &tasks,
    );
    let ingest = IngestHandle::spawn(store.clone(), metrics, evaluator, cancel, &tasks);
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
    let result = ProbeResult {
        seq: 7,
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
    };
    let results = Submission {
        agent: "a1".into(),
        results: vec![result],
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
