//! `AgentsActor`: owns the directory of live agent sessions and the
//! dead-man's switch.
//!
//! Sessions send it `Hello` (authenticate, register, refuse duplicates),
//! `Heartbeat` and `Gone`. Every active agent has a deadline
//! ([`super::liveness`]); one that passes it opens `[AGENT DOWN] {name}`
//! and its checks move to the others, and hearing from it again closes the
//! request and gives them back. It recomputes the assignment whenever the
//! set of live active agents or maintenance changes, pushes each agent its
//! full check set (non-blocking: a session too slow to take it is cancelled
//! and gets the full set on reconnect), and publishes a [`Directory`] that
//! the evaluator reads to send recheck orders. It never waits on a session.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::{DelayQueue, delay_queue};
use tracing::{info, warn};

use super::assignment::{Candidate, assign};
use super::auth;
use super::liveness::{Change, Liveness};
use crate::config::Config;
use crate::domain::{
    AgentId, AgentState, CheckSpec, Downlink, Event, Hello, HostStats, ServiceId, texts,
};
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::store::{AgentRow, Store, StoreError};
use crate::time::{now_ms, rfc3339};

/// How long heartbeat history is kept.
const HEARTBEAT_HISTORY_MS: i64 = 7 * 24 * 3600 * 1000;

/// The protocol version this collector speaks.
pub use picket_proto::contract::PROTOCOL_VERSION;

/// How a live agent is reached.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    pub id: AgentId,
    pub name: String,
    pub region: String,
    /// The session's downlink; use `try_send` only.
    pub tx: mpsc::Sender<Downlink>,
}

/// Live agents and which of them probe each service.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub agents: HashMap<AgentId, LinkHandle>,
    pub by_service: HashMap<ServiceId, Vec<AgentId>>,
}

impl Directory {
    /// The live agents assigned to `service`.
    pub fn assigned(&self, service: &str) -> Vec<&LinkHandle> {
        self.by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|id| self.agents.get(id))
            .collect()
    }
}

/// Why a connection is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("invalid enrollment token")]
    BadToken,
    #[error("invalid credential for agent {0}")]
    BadCredential(AgentId),
    #[error("agent id {0} is already connected")]
    Duplicate(AgentId),
    #[error("unsupported protocol version {0} (this collector speaks {PROTOCOL_VERSION})")]
    Incompatible(u32),
    #[error("invalid hello: {0}")]
    Invalid(String),
    #[error("collector unavailable: {0}")]
    Unavailable(String),
}

/// What a successful hello gets back.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    pub agent_id: AgentId,
    /// A newly issued credential, to be stored by the agent.
    pub credential: Option<String>,
    pub state: AgentState,
    pub heartbeat_interval: Duration,
    pub last_committed_seq: u64,
    /// Identifies this session in later `Gone` messages.
    pub session: u64,
}

enum Msg {
    Hello {
        hello: Hello,
        downlink: mpsc::Sender<Downlink>,
        cancel: CancellationToken,
        reply: oneshot::Sender<Result<Welcome, Refusal>>,
    },
    Gone {
        agent: AgentId,
        session: u64,
    },
    Heartbeat {
        agent: AgentId,
        time_ms: i64,
        stats: HostStats,
    },
    Live {
        reply: oneshot::Sender<HashSet<AgentId>>,
    },
    SetState {
        agent: AgentId,
        state: AgentState,
        reply: oneshot::Sender<Result<AgentRow, StateError>>,
    },
}

/// Why an agent's state could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("unknown agent {0:?}")]
    UnknownAgent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the agents actor stopped")]
    Stopped,
}

/// Handle to the agents actor; the actor ends when the last handle drops.
#[derive(Clone)]
pub struct AgentsHandle {
    tx: mpsc::Sender<Msg>,
    directory: watch::Receiver<Arc<Directory>>,
}

struct Session {
    id: u64,
    row: AgentRow,
    link: LinkHandle,
    /// Cancelled to drop the session (e.g. its downlink overflowed).
    cancel: CancellationToken,
    /// The check set last pushed to it.
    assigned: Vec<CheckSpec>,
    /// Whether any assignment was pushed yet (an empty one counts: it stops
    /// checks the agent ran in a previous session).
    sent: bool,
}

struct AgentsActor {
    store: Store,
    config: Arc<Config>,
    inbox: mpsc::Receiver<Msg>,
    maintenance: watch::Receiver<Arc<MaintenanceSet>>,
    /// Publishes the directory to the evaluator.
    directory: watch::Sender<Arc<Directory>>,
    sessions: HashMap<AgentId, Session>,
    next_session: u64,
    metrics: Arc<Metrics>,
    /// The dead-man's switch: deadlines of the active agents.
    liveness: Liveness,
    deadlines: DelayQueue<AgentId>,
    deadline_keys: HashMap<AgentId, delay_queue::Key>,
}

impl AgentsHandle {
    /// Loads the agents to watch and spawns the actor. Every active agent
    /// gets `settle_window` from now to reconnect; one whose `[AGENT DOWN]`
    /// request is open stays down until it is heard from.
    pub async fn spawn(
        store: Store,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        maintenance: watch::Receiver<Arc<MaintenanceSet>>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<AgentsHandle, StoreError> {
        let (tx, inbox) = mpsc::channel(1024);
        let (dir_tx, directory) = watch::channel(Arc::new(Directory::default()));
        let window = config.agents.heartbeat_interval * config.agents.missed_heartbeats;
        let mut actor = AgentsActor {
            store,
            config,
            inbox,
            maintenance,
            directory: dir_tx,
            sessions: HashMap::new(),
            next_session: 1,
            metrics,
            liveness: Liveness::new(window),
            deadlines: DelayQueue::new(),
            deadline_keys: HashMap::new(),
        };
        let down: HashSet<AgentId> = actor
            .store
            .agents_with_open_request()
            .await?
            .into_iter()
            .collect();
        // Agents reconnecting after a restart back off up to 30s: they all
        // get the settle window before their first deadline.
        let settle = Instant::now() + actor.config.agents.settle_window;
        for agent in actor.store.list_agents().await? {
            if agent.state == AgentState::Active {
                let dead = down.contains(&agent.id);
                let deadline = actor.liveness.watch_until(&agent.id, dead, settle);
                if !dead {
                    actor.arm(&agent.id, deadline);
                }
            }
        }
        tasks.spawn(actor.run(cancel));
        Ok(AgentsHandle { tx, directory })
    }

    /// Authenticates and registers a connecting agent.
    pub async fn hello(
        &self,
        hello: Hello,
        downlink: mpsc::Sender<Downlink>,
        cancel: CancellationToken,
    ) -> Result<Welcome, Refusal> {
        let (reply, rx) = oneshot::channel();
        let gone = || Refusal::Unavailable("shutting down".into());
        self.tx
            .send(Msg::Hello {
                hello,
                downlink,
                cancel,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// The session ended.
    pub async fn gone(&self, agent: AgentId, session: u64) {
        let _ = self.tx.send(Msg::Gone { agent, session }).await;
    }

    pub async fn heartbeat(&self, agent: AgentId, time_ms: i64, stats: HostStats) {
        let _ = self
            .tx
            .send(Msg::Heartbeat {
                agent,
                time_ms,
                stats,
            })
            .await;
    }

    /// Ids of the agents connected now.
    pub async fn live(&self) -> HashSet<AgentId> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Live { reply }).await.is_err() {
            return HashSet::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Approves (`Active`) or suspends an agent; its checks follow at once.
    pub async fn set_state(
        &self,
        agent: AgentId,
        state: AgentState,
    ) -> Result<AgentRow, StateError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::SetState {
                agent,
                state,
                reply,
            })
            .await
            .map_err(|_| StateError::Stopped)?;
        rx.await.map_err(|_| StateError::Stopped)?
    }

    /// The live directory (for recheck orders).
    pub fn directory(&self) -> watch::Receiver<Arc<Directory>> {
        self.directory.clone()
    }
}

impl AgentsActor {
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(msg) => self.handle(msg).await,
                    None => break,
                },
                changed = self.maintenance.changed() => {
                    if changed.is_err() { break; }
                    self.reassign();
                }
                Some(expired) = std::future::poll_fn(|cx| self.deadlines.poll_expired(cx)) => {
                    let agent = expired.into_inner();
                    self.deadline_keys.remove(&agent);
                    if let Some(change) = self.liveness.expire(&agent, Instant::now()) {
                        self.apply(change).await;
                    }
                }
                () = cancel.cancelled() => break,
            }
        }
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Hello {
                hello,
                downlink,
                cancel,
                reply,
            } => {
                let result = self.hello(hello, downlink, cancel).await;
                let accepted = result.as_ref().ok().map(|w| (w.agent_id.clone(), w.state));
                let _ = reply.send(result);
                if let Some((agent, state)) = accepted {
                    // An active agent registered or approved since start is
                    // watched from its first hello on.
                    if state == AgentState::Active && !self.liveness.is_watched(&agent) {
                        self.watch(&agent, false);
                    }
                    self.heard(&agent).await;
                    self.reassign();
                }
            }
            Msg::Gone { agent, session } => {
                if self.sessions.get(&agent).is_some_and(|s| s.id == session) {
                    if let Some(s) = self.sessions.remove(&agent) {
                        info!(agent_id = %agent, name = %s.row.name, "agent disconnected");
                    }
                    self.reassign();
                }
            }
            Msg::Heartbeat {
                agent,
                time_ms,
                stats,
            } => {
                self.heard(&agent).await;
                if let Some(s) = self.sessions.get_mut(&agent) {
                    s.row.last_seen_ms = Some(time_ms);
                }
                if let Err(e) = self
                    .store
                    .agent_heartbeat(&agent, time_ms, &stats, HEARTBEAT_HISTORY_MS)
                    .await
                {
                    warn!(agent_id = %agent, error = %e, "cannot record heartbeat");
                }
            }
            Msg::Live { reply } => {
                let live = self
                    .sessions
                    .keys()
                    .filter(|a| !self.liveness.is_dead(a))
                    .cloned()
                    .collect();
                let _ = reply.send(live);
            }
            Msg::SetState {
                agent,
                state,
                reply,
            } => {
                let result = self.set_state(&agent, state).await;
                let changed = result.is_ok();
                let _ = reply.send(result);
                if changed {
                    self.reassign();
                }
            }
        }
    }

    async fn hello(
        &mut self,
        hello: Hello,
        downlink: mpsc::Sender<Downlink>,
        cancel: CancellationToken,
    ) -> Result<Welcome, Refusal> {
        if hello.protocol_version != PROTOCOL_VERSION {
            return Err(Refusal::Incompatible(hello.protocol_version));
        }
        if hello.agent_id.is_empty() || hello.agent_id.len() > 128 {
            return Err(Refusal::Invalid(
                "agent_id must be 1 to 128 characters".into(),
            ));
        }
        let unavailable = |e: StoreError| Refusal::Unavailable(e.to_string());
        let now = now_ms();
        let existing = self
            .store
            .get_agent(&hello.agent_id)
            .await
            .map_err(unavailable)?;
        let (mut row, credential) = match existing {
            Some(row) => {
                let valid = row
                    .credential_hash
                    .as_deref()
                    .is_some_and(|h| auth::verify_credential(&hello.credential, h));
                if !valid {
                    return Err(Refusal::BadCredential(hello.agent_id));
                }
                (row, None)
            }
            None => {
                if !auth::constant_time_eq(
                    hello.enrollment_token.as_bytes(),
                    self.config.agents.enrollment_token.as_bytes(),
                ) {
                    return Err(Refusal::BadToken);
                }
                let credential = auth::new_credential();
                let row = AgentRow {
                    id: hello.agent_id.clone(),
                    name: hello.name.clone(),
                    region: hello.region.clone(),
                    labels: hello.labels.clone(),
                    state: if self.config.agents.auto_approve {
                        AgentState::Active
                    } else {
                        AgentState::New
                    },
                    credential_hash: Some(auth::hash_credential(&credential)),
                    version: Some(hello.version.clone()),
                    created_ms: now,
                    last_seen_ms: Some(now),
                    stats: None,
                    last_seq: 0,
                };
                self.store.register_agent(&row).await.map_err(unavailable)?;
                info!(agent_id = %row.id, name = %row.name, region = %row.region, state = %row.state, "agent registered");
                (row, Some(credential))
            }
        };
        if let Some(live) = self.sessions.get(&hello.agent_id) {
            warn!(agent_id = %hello.agent_id, name = %live.row.name, "refused a second connection: agent id is already connected");
            let event = Event::AgentDuplicate(row.snapshot(crate::domain::Liveness::Live));
            if let Err(e) = self.store.record_event(&event).await {
                warn!(error = %e, "cannot record agent.duplicate");
            }
            return Err(Refusal::Duplicate(hello.agent_id));
        }
        row.name = hello.name;
        row.region = hello.region;
        row.labels = hello.labels;
        row.version = Some(hello.version);
        row.last_seen_ms = Some(now);
        self.store
            .agent_connected(&row)
            .await
            .map_err(unavailable)?;
        let session = self.next_session;
        self.next_session += 1;
        info!(agent_id = %row.id, name = %row.name, region = %row.region, state = %row.state, "agent connected");
        let welcome = Welcome {
            agent_id: row.id.clone(),
            credential,
            state: row.state,
            heartbeat_interval: self.config.agents.heartbeat_interval,
            last_committed_seq: row.last_seq,
            session,
        };
        let link = LinkHandle {
            id: row.id.clone(),
            name: row.name.clone(),
            region: row.region.clone(),
            tx: downlink,
        };
        self.sessions.insert(
            row.id.clone(),
            Session {
                id: session,
                row,
                link,
                cancel,
                assigned: Vec::new(),
                sent: false,
            },
        );
        Ok(welcome)
    }

    async fn set_state(&mut self, agent: &str, state: AgentState) -> Result<AgentRow, StateError> {
        let row = self
            .store
            .get_agent(agent)
            .await?
            .ok_or_else(|| StateError::UnknownAgent(agent.to_owned()))?;
        let live = self.sessions.contains_key(agent);
        let row = self
            .store
            .set_agent_state(
                &row,
                state,
                if live {
                    crate::domain::Liveness::Live
                } else {
                    crate::domain::Liveness::Dead
                },
            )
            .await?;
        if let Some(s) = self.sessions.get_mut(agent) {
            s.row.state = state;
        }
        // Only active agents are watched by the dead-man's switch.
        if state == AgentState::Active {
            if !self.liveness.is_watched(agent) {
                self.watch(agent, false);
            }
        } else {
            self.unwatch(agent);
        }
        info!(agent_id = %agent, state = %state, "agent state changed");
        Ok(row)
    }

    /// Starts the dead-man's switch for an active agent.
    fn watch(&mut self, agent: &str, dead: bool) {
        let deadline = self.liveness.watch(agent, dead, Instant::now());
        if !dead {
            self.arm(agent, deadline);
        }
    }

    fn unwatch(&mut self, agent: &str) {
        self.liveness.unwatch(agent);
        if let Some(key) = self.deadline_keys.remove(agent) {
            self.deadlines.remove(&key);
        }
    }

    fn arm(&mut self, agent: &str, deadline: Instant) {
        match self.deadline_keys.get(agent) {
            Some(key) => self.deadlines.reset_at(key, deadline),
            None => {
                let key = self.deadlines.insert_at(agent.to_owned(), deadline);
                self.deadline_keys.insert(agent.to_owned(), key);
            }
        }
    }

    /// The agent said something: push its deadline; bring it back if dead.
    async fn heard(&mut self, agent: &str) {
        if let Some((deadline, change)) = self.liveness.heard(agent, Instant::now()) {
            self.arm(agent, deadline);
            if let Some(change) = change {
                self.apply(change).await;
            }
        }
    }

    async fn row(&self, agent: &str) -> Option<AgentRow> {
        if let Some(s) = self.sessions.get(agent) {
            return Some(s.row.clone());
        }
        match self.store.get_agent(agent).await {
            Ok(row) => row,
            Err(e) => {
                warn!(agent_id = %agent, error = %e, "cannot load agent");
                None
            }
        }
    }

    async fn apply(&mut self, change: Change) {
        match change {
            Change::Down(agent) => {
                let Some(row) = self.row(&agent).await else {
                    return;
                };
                let window = self.liveness.window();
                let request = texts::agent_down_request(
                    &row.snapshot(crate::domain::Liveness::Dead),
                    self.config.agents.heartbeat_interval,
                    self.config.agents.missed_heartbeats,
                );
                match self.store.agent_down(&row, &request).await {
                    Ok(request) => {
                        self.metrics.agents_down.inc();
                        if request.is_some() {
                            self.metrics.request_opened("agent");
                        }
                        warn!(agent_id = %agent, name = %row.name, ?request, window = ?window, "agent down: dead-man's switch")
                    }
                    Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent down"),
                }
                self.reassign();
            }
            Change::Up(agent) => {
                let Some(row) = self.row(&agent).await else {
                    return;
                };
                let note = format!(
                    "closed automatically: agent {} ({}) is back, heard from at {}",
                    row.name,
                    row.id,
                    rfc3339(now_ms())
                );
                match self.store.agent_up(&row, &note).await {
                    Ok(request) => info!(agent_id = %agent, name = %row.name, ?request, "agent up"),
                    Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent up"),
                }
                self.reassign();
            }
        }
    }

    /// Recomputes the assignment, pushes changed sets, publishes the directory.
    fn reassign(&mut self) {
        let candidates: Vec<Candidate> = self
            .sessions
            .values()
            .filter(|s| s.row.state == AgentState::Active && !self.liveness.is_dead(&s.row.id))
            .map(|s| Candidate {
                id: s.row.id.clone(),
                region: s.row.region.clone(),
            })
            .collect();
        let in_maintenance: HashSet<String> = self.maintenance.borrow().keys().cloned().collect();
        let mut plan = assign(
            &self.config.services,
            &candidates,
            self.config.agents.agents_per_service,
            &in_maintenance,
        );
        for session in self.sessions.values_mut() {
            let checks = plan.by_agent.remove(&session.row.id).unwrap_or_default();
            if session.sent && checks == session.assigned {
                continue;
            }
            match session
                .link
                .tx
                .try_send(Downlink::Assignment(checks.clone()))
            {
                Ok(()) => {
                    session.assigned = checks;
                    session.sent = true;
                }
                Err(_) => {
                    warn!(agent_id = %session.row.id, "agent downlink full: dropping the session, it gets its full assignment on reconnect");
                    session.cancel.cancel();
                }
            }
        }
        let directory = Directory {
            agents: self
                .sessions
                .values()
                .map(|s| (s.row.id.clone(), s.link.clone()))
                .collect(),
            by_service: plan.by_service,
        };
        self.metrics.agents_live.set(directory.agents.len() as i64);
        self.directory.send_replace(Arc::new(directory));
    }
}
