//! The registry actor over a temp SQLite store, on tokio's paused clock
//! held still ([`crate::testing::TestClock`]): time moves only where a test advances it, so
//! the times it stamps and the liveness deadlines are exact. Waits on
//! replies and downlink messages are bounded in real time ([`soon`]).

use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver};

use super::*;
use crate::agents::deadlines::Change;
use crate::agents::testing::{Recorder, event_types, hello};
use crate::domain::{AssignmentKind, AssignmentPart, Downlink, ServiceId};

mod updates;
use crate::testing::{BASE_MS, Bench, settle, soon};

/// The liveness window of the test settings (heartbeat interval 10 s ×
/// 3 missed).
const WINDOW: Duration = Duration::from_secs(30);

struct Harness {
    agents: AgentsHandle,
    bench: Bench,
    /// What the dead-man's switch asked for.
    changes: UnboundedReceiver<Change>,
    _maintenance: watch::Sender<Arc<MaintenanceSet>>,
}

/// One agent's side of a session.
struct Link {
    welcome: Welcome,
    downlink: mpsc::Receiver<Downlink>,
    /// The set as the agent would have it after the updates taken so far.
    set: std::collections::BTreeSet<ServiceId>,
}

/// One assignment update as received: its parts and the set after it.
#[derive(Debug)]
struct Update {
    parts: Vec<AssignmentPart>,
    set: Vec<ServiceId>,
}

async fn start() -> Harness {
    let bench = Bench::new().await;
    assert_eq!(bench.settings.liveness.dead_after(), WINDOW);
    let (tx, changes) = mpsc::unbounded_channel();
    let (maintenance, maintenance_rx) = watch::channel(Arc::new(MaintenanceSet::new()));
    let liveness = LivenessHandle::spawn(
        Recorder(tx),
        bench.settings.liveness,
        vec![],
        bench.cancel.clone(),
        &bench.tasks,
    );
    let agents = AgentsHandle::spawn(
        bench.store.clone(),
        bench.settings.registry.clone(),
        Arc::new(Metrics::new()),
        maintenance_rx,
        liveness,
        bench.cancel.clone(),
        &bench.tasks,
    );
    Harness {
        agents,
        bench,
        changes,
        _maintenance: maintenance,
    }
}

impl Harness {
    async fn connect(&self, hello: Hello, capacity: usize) -> Result<Link, Refusal> {
        let (tx, downlink) = DownlinkTx::channel(capacity);
        let welcome = soon(
            "a welcome",
            self.agents.hello(hello, tx, CancellationToken::new()),
        )
        .await?;
        Ok(Link {
            welcome,
            downlink,
            set: Default::default(),
        })
    }

    async fn row(&self, agent: &str) -> AgentRow {
        self.bench
            .store
            .get_agent(&agent.into())
            .await
            .expect("get")
            .expect("registered")
    }

    async fn live(&self) -> HashSet<AgentId> {
        soon("the live agents", self.agents.live()).await
    }
}

impl Link {
    /// The ids of the set after the next assignment update.
    async fn assignment(&mut self) -> Vec<ServiceId> {
        self.update().await.set
    }

    /// The next assignment update, all its parts, applied to `set`.
    async fn update(&mut self) -> Update {
        let mut parts = Vec::new();
        loop {
            let part = match soon("an assignment", self.downlink.recv()).await {
                Some(Downlink::Assignment(part)) => part,
                other => panic!("expected an assignment, got {other:?}"),
            };
            if parts.is_empty() && part.kind == AssignmentKind::Full {
                self.set.clear();
            }
            self.set.extend(part.checks.iter().map(|c| c.id.clone()));
            for id in &part.removed {
                self.set.remove(id);
            }
            let last = part.last;
            parts.push(part);
            if last {
                break;
            }
        }
        Update {
            parts,
            set: self.set.iter().cloned().collect(),
        }
    }
}

#[tokio::test(start_paused = true)]
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
        event_types(&h.bench.store)
            .await
            .contains(&"agent.duplicate".to_owned())
    );
    assert_eq!(h.live().await, HashSet::from(["a1".into()]));
}

#[tokio::test(start_paused = true)]
async fn registration_and_connections_are_stamped_with_the_clock() {
    let h = start().await;
    let first = h.connect(hello("a1"), 8).await.expect("first");
    let row = h.row("a1").await;
    assert_eq!((row.created_ms, row.last_seen_ms), (BASE_MS, Some(BASE_MS)));

    h.bench.time.advance(Duration::from_secs(60)).await;
    h.agents.gone("a1".into(), first.welcome.session).await;
    let mut again = hello("a1");
    again.credential = first.welcome.credential.clone().expect("issued");
    h.connect(again, 8).await.expect("reconnected");
    let row = h.row("a1").await;
    assert_eq!(
        (row.created_ms, row.last_seen_ms),
        (BASE_MS, Some(BASE_MS + 60_000)),
        "created once, seen at the reconnection"
    );
}

#[tokio::test(start_paused = true)]
async fn checks_of_a_gone_agent_move_to_another() {
    let h = start().await;
    let mut a1 = h.connect(hello("a1"), 8).await.expect("a1");
    assert_eq!(a1.assignment().await, ["shop"]);
    let mut a2 = h.connect(hello("a2"), 8).await.expect("a2");
    assert_eq!(a2.assignment().await, Vec::<ServiceId>::new());
    h.agents.gone("a1".into(), a1.welcome.session).await;
    assert_eq!(a2.assignment().await, ["shop"]);
    let directory = h.agents.directory().borrow().clone();
    assert_eq!(directory.by_service.get("shop"), Some(&vec!["a2".into()]));
    assert!(!directory.agents.contains_key("a1"));
}

/// An agent silent for the whole window is dead exactly at its deadline
/// (not a millisecond before): its checks move to a live agent, and come
/// back when it is heard from.
#[tokio::test(start_paused = true)]
async fn checks_of_an_agent_declared_dead_move_and_come_back() {
    let mut h = start().await;
    let mut a1 = h.connect(hello("a1"), 8).await.expect("a1");
    assert_eq!(a1.assignment().await, ["shop"]);
    let mut a2 = h.connect(hello("a2"), 8).await.expect("a2");
    assert_eq!(a2.assignment().await, Vec::<ServiceId>::new());
    settle().await;

    h.bench.time.advance(WINDOW / 2).await;
    h.agents.heard("a2".into()).await;
    h.bench
        .time
        .advance(WINDOW / 2 - Duration::from_millis(1))
        .await;
    assert!(h.changes.is_empty(), "dead before its deadline");
    assert_eq!(h.live().await, HashSet::from(["a1".into(), "a2".into()]));

    h.bench.time.advance(Duration::from_millis(1)).await;
    assert_eq!(
        soon("a1 declared dead", h.changes.recv()).await,
        Some(Change::Down("a1".into()))
    );
    assert_eq!(a1.assignment().await, Vec::<ServiceId>::new());
    assert_eq!(a2.assignment().await, ["shop"]);
    assert_eq!(h.live().await, HashSet::from(["a2".into()]));

    h.agents.heard("a1".into()).await;
    assert_eq!(
        soon("a1 back", h.changes.recv()).await,
        Some(Change::Up("a1".into()))
    );
    assert_eq!(a1.assignment().await, ["shop"]);
    assert_eq!(a2.assignment().await, Vec::<ServiceId>::new());
}

#[tokio::test(start_paused = true)]
async fn a_suspended_agent_gives_its_checks_away() {
    let h = start().await;
    let mut a1 = h.connect(hello("a1"), 8).await.expect("a1");
    assert_eq!(a1.assignment().await, ["shop"]);
    let mut a2 = h.connect(hello("a2"), 8).await.expect("a2");
    assert_eq!(a2.assignment().await, Vec::<ServiceId>::new());
    let row = soon(
        "a1 suspended",
        h.agents.set_state("a1".into(), AgentState::Suspended),
    )
    .await
    .expect("suspended");
    assert_eq!(row.state, AgentState::Suspended);
    assert_eq!(a1.assignment().await, Vec::<ServiceId>::new());
    assert_eq!(a2.assignment().await, ["shop"]);
    assert!(matches!(
        h.agents
            .set_state("nobody".into(), AgentState::Active)
            .await,
        Err(StateError::UnknownAgent(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_downlink_is_full_is_cancelled() {
    let h = start().await;
    let (tx, _downlink) = DownlinkTx::channel(1);
    tx.try_send(Downlink::Ack(0)).expect("room for one");
    let cancel = CancellationToken::new();
    soon("a welcome", h.agents.hello(hello("a1"), tx, cancel.clone()))
        .await
        .expect("welcome");
    soon("the session's cancellation", cancel.cancelled()).await;
}
