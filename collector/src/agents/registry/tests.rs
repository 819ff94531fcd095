//! The registry actor over a temp SQLite store. These tests wait on
//! replies, downlink messages and cancellation (each under a deadline that
//! only a failure reaches), never on the clock.

use std::future::Future;

use tokio::sync::mpsc::{self, UnboundedReceiver};

use super::*;
use crate::agents::liveness::Change;
use crate::agents::testing::{Recorder, event_types, hello, settings, store};
use crate::config::settings::LivenessSettings;
use crate::domain::Downlink;

/// How long a test waits for something that should happen at once.
const DEADLINE: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {DEADLINE:?}"))
}

struct Harness {
    agents: AgentsHandle,
    store: Store,
    _changes: UnboundedReceiver<Change>,
    _maintenance: watch::Sender<Arc<MaintenanceSet>>,
    _dir: tempfile::TempDir,
    _cancel: tokio_util::sync::DropGuard,
}

/// One agent's side of a session.
struct Link {
    welcome: Welcome,
    downlink: mpsc::Receiver<Downlink>,
}

async fn start() -> Harness {
    let settings = settings(true);
    let (dir, store) = store(&settings).await;
    let (tx, changes) = mpsc::unbounded_channel();
    let (maintenance, maintenance_rx) = watch::channel(Arc::new(MaintenanceSet::new()));
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let window = Duration::from_secs(3600);
    let liveness_settings = LivenessSettings {
        heartbeat_interval: window,
        missed_heartbeats: 1,
        settle_window: window,
    };
    let liveness = LivenessHandle::spawn(
        Recorder(tx),
        liveness_settings,
        vec![],
        cancel.clone(),
        &tasks,
    );
    let agents = AgentsHandle::spawn(
        store.clone(),
        settings.registry,
        Arc::new(Metrics::new()),
        maintenance_rx,
        liveness,
        cancel.clone(),
        &tasks,
    );
    Harness {
        agents,
        store,
        _changes: changes,
        _maintenance: maintenance,
        _dir: dir,
        _cancel: cancel.drop_guard(),
    }
}

impl Harness {
    async fn connect(&self, hello: Hello, capacity: usize) -> Result<Link, Refusal> {
        let (tx, downlink) = DownlinkTx::channel(capacity);
        let welcome = self
            .agents
            .hello(hello, tx, CancellationToken::new())
            .await?;
        Ok(Link { welcome, downlink })
    }
}

impl Link {
    /// The ids of the next assignment pushed to this agent.
    async fn assignment(&mut self) -> Vec<String> {
        match within("an assignment", self.downlink.recv()).await {
            Some(Downlink::Assignment(checks)) => checks.into_iter().map(|c| c.id).collect(),
            other => panic!("expected an assignment, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_second_connection_with_a_live_id_is_refused_and_recorded() {
    let h = start().await;
    let first = h.connect(hello("a1"), 8).await.expect("first");
    let mut again = hello("a1");
    again.credential = first.welcome.credential.clone().expect("issued");
    assert_eq!(
        h.connect(again, 8).await.err(),
        Some(Refusal::Duplicate("a1".into()))
    );
    assert!(
        event_types(&h.store)
            .await
            .contains(&"agent.duplicate".to_owned())
    );
    assert_eq!(h.agents.live().await, HashSet::from(["a1".to_owned()]));
}

#[tokio::test]
async fn checks_of_a_gone_agent_move_to_another() {
    let h = start().await;
    let mut a1 = h.connect(hello("a1"), 8).await.expect("a1");
    assert_eq!(a1.assignment().await, ["shop"]);
    let mut a2 = h.connect(hello("a2"), 8).await.expect("a2");
    assert_eq!(a2.assignment().await, Vec::<String>::new());
    h.agents.gone("a1".into(), a1.welcome.session).await;
    assert_eq!(a2.assignment().await, ["shop"]);
    let directory = h.agents.directory().borrow().clone();
    assert_eq!(
        directory.by_service.get("shop"),
        Some(&vec!["a2".to_owned()])
    );
    assert!(!directory.agents.contains_key("a1"));
}

#[tokio::test]
async fn a_suspended_agent_gives_its_checks_away() {
    let h = start().await;
    let mut a1 = h.connect(hello("a1"), 8).await.expect("a1");
    assert_eq!(a1.assignment().await, ["shop"]);
    let mut a2 = h.connect(hello("a2"), 8).await.expect("a2");
    assert_eq!(a2.assignment().await, Vec::<String>::new());
    let row = h
        .agents
        .set_state("a1".into(), AgentState::Suspended)
        .await
        .expect("suspended");
    assert_eq!(row.state, AgentState::Suspended);
    assert_eq!(a1.assignment().await, Vec::<String>::new());
    assert_eq!(a2.assignment().await, ["shop"]);
    assert!(matches!(
        h.agents
            .set_state("nobody".into(), AgentState::Active)
            .await,
        Err(StateError::UnknownAgent(_))
    ));
}

#[tokio::test]
async fn a_session_whose_downlink_is_full_is_cancelled() {
    let h = start().await;
    let (tx, _downlink) = DownlinkTx::channel(1);
    tx.try_send(Downlink::Ack(0)).expect("room for one");
    let cancel = CancellationToken::new();
    h.agents
        .hello(hello("a1"), tx, cancel.clone())
        .await
        .expect("welcome");
    within("the session's cancellation", cancel.cancelled()).await;
}
