//! `AgentsActor`: owns the live agent sessions and what each one probes.
//!
//! Sessions send it `Hello` (authenticated by [`super::enroll`]; a second
//! live connection with the same id is refused and recorded as
//! `agent.duplicate`) and `Gone`; the API approves and suspends agents.
//! It recomputes the assignment whenever the set of live, active, not-dead
//! agents or maintenance changes, pushes each agent its check set (the
//! full set in parts first, then only changes, `session.rs`; non-blocking:
//! a session too slow to take it is cancelled and gets the full set on
//! reconnect), and publishes a [`Directory`] that the evaluator
//! reads to send recheck orders. Who is dead comes from the liveness actor
//! ([`super::deadman`]), which the registry tells who to watch. It never
//! waits on a session.
//!
//! Settings: [`RegistrySettings`] (what [`enroll::authenticate`] checks a
//! hello against, the services, agents per service, the heartbeat interval
//! its welcome tells).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::assignment::{Candidate, assign};
use super::deadman::{DeadSet, LivenessHandle};
use super::directory::{Directory, DownlinkTx};
use super::enroll::{self, Refusal, Welcome};
use super::session::Session;
use crate::config::settings::RegistrySettings;
use crate::domain::{AgentId, AgentState, EquipmentId, Event, Hello, Liveness, ServiceId};
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::store::{AgentRow, Store, StoreError};

enum Msg {
    Hello {
        hello: Hello,
        downlink: DownlinkTx,
        cancel: CancellationToken,
        reply: oneshot::Sender<Result<Welcome, Refusal>>,
    },
    Gone {
        agent: AgentId,
        session: u64,
    },
    Live {
        reply: oneshot::Sender<HashSet<AgentId>>,
    },
    SetState {
        agent: AgentId,
        state: AgentState,
        reply: oneshot::Sender<Result<AgentRow, StateError>>,
    },
    Reconfigure {
        settings: RegistrySettings,
        reply: oneshot::Sender<()>,
    },
}

/// Why an agent's state could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("unknown agent {0:?}")]
    UnknownAgent(AgentId),
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
    /// Heartbeats go straight to the dead-man's switch.
    liveness: LivenessHandle,
}

struct AgentsActor {
    store: Store,
    settings: RegistrySettings,
    inbox: mpsc::Receiver<Msg>,
    maintenance: watch::Receiver<Arc<MaintenanceSet>>,
    /// Told who to watch and who was heard from.
    liveness: LivenessHandle,
    /// The agents the dead-man's switch declared dead.
    dead: watch::Receiver<DeadSet>,
    /// Publishes the directory to the evaluator.
    directory: watch::Sender<Arc<Directory>>,
    /// The configured service ids, shared by every directory published.
    services: Arc<HashSet<ServiceId>>,
    sessions: HashMap<AgentId, Session>,
    next_session: u64,
    metrics: Arc<Metrics>,
}

impl AgentsHandle {
    /// Spawns the registry over the running liveness actor.
    pub fn spawn(
        store: Store,
        settings: RegistrySettings,
        metrics: Arc<Metrics>,
        maintenance: watch::Receiver<Arc<MaintenanceSet>>,
        liveness: LivenessHandle,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> AgentsHandle {
        let (tx, inbox) = mpsc::channel(1024);
        // The configured services are known before the first agent is.
        let services: Arc<HashSet<ServiceId>> =
            Arc::new(settings.services.iter().map(|s| s.id.clone()).collect());
        let (dir_tx, directory) = watch::channel(Arc::new(Directory {
            services: services.clone(),
            ..Directory::default()
        }));
        let actor = AgentsActor {
            store,
            settings,
            inbox,
            maintenance,
            dead: liveness.dead(),
            liveness: liveness.clone(),
            directory: dir_tx,
            services,
            sessions: HashMap::new(),
            next_session: 1,
            metrics,
        };
        tasks.spawn(actor.run(cancel));
        AgentsHandle {
            tx,
            directory,
            liveness,
        }
    }

    /// Authenticates and registers a connecting agent.
    pub async fn hello(
        &self,
        hello: Hello,
        downlink: DownlinkTx,
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

    /// The agent was heard from (a heartbeat): tells the dead-man's switch,
    /// without going through the registry or the store.
    pub async fn heard(&self, agent: AgentId) {
        self.liveness.heard(agent).await;
    }

    /// Ids of the agents connected now and not declared dead.
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
                changed = self.dead.changed() => {
                    if changed.is_err() { break; }
                    self.reassign();
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
                    if state == AgentState::Active {
                        self.liveness.watch(agent.clone()).await;
                    }
                    self.liveness.heard(agent.clone()).await;
                    // A dead agent comes back through the switch, whose
                    // published change reassigns (one push, not two).
                    if !self.dead.borrow().contains(&agent) {
                        self.reassign();
                    }
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
            Msg::Live { reply } => {
                let dead = self.dead.borrow().clone();
                let live = self
                    .sessions
                    .keys()
                    .filter(|a| !dead.contains(*a))
                    .cloned()
                    .collect();
                let _ = reply.send(live);
            }
            Msg::Reconfigure { settings, reply } => {
                self.reconfigure(settings);
                let _ = reply.send(());
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
        downlink: DownlinkTx,
        cancel: CancellationToken,
    ) -> Result<Welcome, Refusal> {
        // Registrations and connections are dated by the store's clock,
        // like everything else it writes.
        let now_ms = self.store.clock().now_ms();
        let enroll::Enrolled { row, credential } =
            enroll::authenticate(&self.store, &self.settings.enrollment, &hello, now_ms).await?;
        if let Some(live) = self.sessions.get(&hello.agent_id) {
            warn!(agent_id = %hello.agent_id, name = %live.row.name, "refused a second connection: agent id is already connected");
            let event = Event::AgentDuplicate(row.snapshot(Liveness::Live));
            if let Err(e) = self.store.record_event(&event).await {
                warn!(error = %e, "cannot record agent.duplicate");
            }
            return Err(Refusal::Duplicate(hello.agent_id));
        }
        let digest = hello.assignment_digest;
        let row = enroll::connected(&self.store, row, hello, now_ms).await?;
        let session = self.next_session;
        self.next_session += 1;
        info!(agent_id = %row.id, name = %row.name, region = %row.region, state = %row.state, "agent connected");
        let welcome = Welcome {
            agent_id: row.id.clone(),
            credential,
            state: row.state,
            heartbeat_interval: self.settings.heartbeat_interval,
            last_committed_seq: row.last_seq,
            session,
        };
        self.sessions.insert(
            row.id.clone(),
            Session::new(session, row, downlink, cancel, digest),
        );
        Ok(welcome)
    }

    async fn set_state(
        &mut self,
        agent: &AgentId,
        state: AgentState,
    ) -> Result<AgentRow, StateError> {
        let row = self
            .store
            .get_agent(agent)
            .await?
            .ok_or_else(|| StateError::UnknownAgent(agent.clone()))?;
        let live = self.sessions.contains_key(agent);
        let row = self
            .store
            .set_agent_state(
                &row,
                state,
                if live { Liveness::Live } else { Liveness::Dead },
            )
            .await?;
        if let Some(s) = self.sessions.get_mut(agent) {
            s.row.state = state;
        }
        // Only active agents are watched by the dead-man's switch.
        if state == AgentState::Active {
            self.liveness.watch(agent.clone()).await;
        } else {
            self.liveness.unwatch(agent.clone()).await;
        }
        info!(agent_id = %agent, state = %state, "agent state changed");
        Ok(row)
    }

    /// Recomputes the assignment, pushes the changes, publishes the directory.
    fn reassign(&mut self) {
        let dead = self.dead.borrow_and_update().clone();
        let candidates: Vec<Candidate> = self
            .sessions
            .values()
            .filter(|s| s.row.state == AgentState::Active && !dead.contains(&s.row.id))
            .map(|s| Candidate {
                id: s.row.id.clone(),
                region: s.row.region.clone(),
            })
            .collect();
        let in_maintenance: HashSet<EquipmentId> =
            crate::maintenance::paused_set(&self.maintenance.borrow());
        let mut plan = assign(
            &self.settings.services,
            &candidates,
            self.settings.agents_per_service,
            &in_maintenance,
        );
        for session in self.sessions.values_mut() {
            session.push(plan.by_agent.remove(&session.row.id).unwrap_or_default());
        }
        let directory = Directory {
            agents: self
                .sessions
                .values()
                .map(|s| (s.row.id.clone(), s.link.clone()))
                .collect(),
            by_service: plan.by_service,
            services: self.services.clone(),
        };
        let directory = Arc::new(directory);
        self.metrics.published(&directory, &dead);
        self.directory.send_replace(directory);
    }
}

mod reconfigure;
#[cfg(test)]
mod tests;
