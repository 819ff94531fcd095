//! `MuteActor`: agent mutes (`picketctl agents mute ID --for 1h`), leader
//! only.
//!
//! The API asks it to mute or unmute an agent; a timer ends each mute
//! exactly at its end time. Mutes are stored (`muted_until`, so they
//! survive a restart and a failover: the new leader loads them, and ends
//! at once those that expired meanwhile) with their `agent.muted` /
//! `agent.unmuted` events, and the running set is published to the
//! evaluator, which keeps a muted agent's results out of every round,
//! quorum and `degraded` count. A muted agent keeps its assignment and
//! keeps probing; its results are stored and shown as any other's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::{DelayQueue, delay_queue};
use tracing::{info, warn};

use crate::agents::AgentsHandle;
use crate::domain::{AgentId, Liveness};
use crate::store::{AgentRow, Mute, Store, StoreError};
use crate::time::Clock;

/// The running mutes, by agent.
pub type MutedSet = HashMap<AgentId, Mute>;

/// The shortest mute.
pub const MIN_MUTE: Duration = Duration::from_secs(60);
/// The longest mute.
pub const MAX_MUTE: Duration = Duration::from_secs(30 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum MuteError {
    #[error("unknown agent {0:?}")]
    UnknownAgent(AgentId),
    #[error("mute duration {0:?} is out of range: it must be from 1m to 30d")]
    Duration(Duration),
    #[error(transparent)]
    Store(StoreError),
    #[error("the mute actor stopped")]
    Stopped,
}

enum Msg {
    Mute {
        agent: AgentId,
        duration: Duration,
        note: String,
        reply: oneshot::Sender<Result<(AgentRow, Mute), MuteError>>,
    },
    Unmute {
        agent: AgentId,
        reply: oneshot::Sender<Result<AgentRow, MuteError>>,
    },
}

/// Handle to the mute actor.
#[derive(Clone)]
pub struct MuteHandle {
    tx: mpsc::Sender<Msg>,
}

struct MuteActor {
    store: Store,
    clock: Clock,
    agents: AgentsHandle,
    inbox: mpsc::Receiver<Msg>,
    set: watch::Sender<Arc<MutedSet>>,
    mutes: MutedSet,
    timers: DelayQueue<AgentId>,
    timer_keys: HashMap<AgentId, delay_queue::Key>,
}

impl MuteHandle {
    /// Loads the stored mutes (arming their ends; an expired one ends at
    /// once) and spawns the actor.
    pub async fn spawn(
        store: Store,
        clock: Clock,
        agents: AgentsHandle,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<(MuteHandle, watch::Receiver<Arc<MutedSet>>), StoreError> {
        let (tx, inbox) = mpsc::channel(64);
        let (set, set_rx) = watch::channel(Arc::new(MutedSet::new()));
        let mut actor = MuteActor {
            store,
            clock,
            agents,
            inbox,
            set,
            mutes: MutedSet::new(),
            timers: DelayQueue::new(),
            timer_keys: HashMap::new(),
        };
        for (agent, mute) in actor.store.mutes().await? {
            actor.arm(agent, mute);
        }
        actor.publish();
        tasks.spawn(actor.run(cancel));
        Ok((MuteHandle { tx }, set_rx))
    }

    /// Mutes `agent` for `duration` (1m to 30d) from now, replacing a
    /// running mute.
    pub async fn mute(
        &self,
        agent: AgentId,
        duration: Duration,
        note: String,
    ) -> Result<(AgentRow, Mute), MuteError> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Mute {
            agent,
            duration,
            note,
            reply,
        };
        self.tx.send(msg).await.map_err(|_| MuteError::Stopped)?;
        rx.await.map_err(|_| MuteError::Stopped)?
    }

    /// Ends `agent`'s mute now (nothing when it is not muted).
    pub async fn unmute(&self, agent: AgentId) -> Result<AgentRow, MuteError> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Unmute { agent, reply };
        self.tx.send(msg).await.map_err(|_| MuteError::Stopped)?;
        rx.await.map_err(|_| MuteError::Stopped)?
    }
}

fn refused(agent: &AgentId, e: StoreError) -> MuteError {
    match e {
        StoreError::NotFound(_) => MuteError::UnknownAgent(agent.clone()),
        e => MuteError::Store(e),
    }
}

impl MuteActor {
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(Msg::Mute { agent, duration, note, reply }) => {
                        let _ = reply.send(self.mute(agent, duration, note).await);
                    }
                    Some(Msg::Unmute { agent, reply }) => {
                        let _ = reply.send(self.unmute(&agent).await);
                    }
                    None => break,
                },
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)) => {
                    let agent = expired.into_inner();
                    self.timer_keys.remove(&agent);
                    match self.unmute(&agent).await {
                        Ok(_) => info!(agent_id = %agent, "agent mute ended at its end time"),
                        Err(e) => warn!(agent_id = %agent, error = %e, "cannot end an agent's mute"),
                    }
                }
                () = cancel.cancelled() => break,
            }
        }
    }

    fn arm(&mut self, agent: AgentId, mute: Mute) {
        let left = u64::try_from(mute.until_ms - self.clock.now_ms()).unwrap_or(0);
        if let Some(key) = self.timer_keys.remove(&agent) {
            self.timers.remove(&key);
        }
        let key = self
            .timers
            .insert(agent.clone(), Duration::from_millis(left));
        self.timer_keys.insert(agent.clone(), key);
        self.mutes.insert(agent, mute);
    }

    fn publish(&self) {
        self.set.send_replace(Arc::new(self.mutes.clone()));
    }

    async fn liveness(&self, agent: &AgentId) -> Liveness {
        if self.agents.live().await.contains(agent) {
            Liveness::Live
        } else {
            Liveness::Dead
        }
    }

    async fn mute(
        &mut self,
        agent: AgentId,
        duration: Duration,
        note: String,
    ) -> Result<(AgentRow, Mute), MuteError> {
        if !(MIN_MUTE..=MAX_MUTE).contains(&duration) {
            return Err(MuteError::Duration(duration));
        }
        let mute = Mute {
            until_ms: self.clock.now_ms() + i64::try_from(duration.as_millis()).unwrap_or(0),
            note,
        };
        let liveness = self.liveness(&agent).await;
        let row = (self.store.mute_agent(&agent, &mute, liveness).await)
            .map_err(|e| refused(&agent, e))?;
        info!(agent_id = %agent, until_ms = mute.until_ms, "agent muted");
        self.arm(agent, mute.clone());
        self.publish();
        Ok((row, mute))
    }

    async fn unmute(&mut self, agent: &AgentId) -> Result<AgentRow, MuteError> {
        let liveness = self.liveness(agent).await;
        let row =
            (self.store.unmute_agent(agent, liveness).await).map_err(|e| refused(agent, e))?;
        if let Some(key) = self.timer_keys.remove(agent) {
            self.timers.remove(&key);
        }
        if self.mutes.remove(agent).is_some() {
            info!(agent_id = %agent, "agent unmuted");
            self.publish();
        }
        Ok(row)
    }
}
