//! The liveness actor: the dead-man's switch over the active agents.
//!
//! It owns one deadline timer per watched agent and drives the pure
//! [`Deadlines`] with them. It hears of an agent through
//! [`LivenessHandle::heard`]: from its session on each heartbeat, and from
//! the registry on each accepted hello; the registry also starts and stops
//! the watch as agents are approved or suspended. When a
//! deadline passes it opens the agent's `[AGENT DOWN]` request, and when a
//! dead agent is heard from again it closes it (both through
//! [`AgentRequests`]); after each it publishes the set of dead agents, on
//! which the registry moves checks. It never sends to the registry or to a
//! session, so it closes no cycle of bounded channels.
//!
//! A dead agent's request closed by hand opens no other: the agent stays
//! dead here until heard from (and after a restart, `load_watched` keeps
//! it dead).
//!
//! Settings: [`LivenessSettings`] (the window, `heartbeat_interval ×
//! missed_heartbeats`, and the settle window after a start).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::{DelayQueue, delay_queue};

use super::deadlines::{Change, Deadlines};
use crate::config::settings::LivenessSettings;
use crate::domain::{AgentId, AgentState};
use crate::store::{Store, StoreError};

/// What the switch does when an agent goes down or comes back (the store
/// in production, a recorder in tests).
pub trait AgentRequests: Send + 'static {
    /// `agent` missed its deadline: open its `[AGENT DOWN]` request.
    fn down(&mut self, agent: &AgentId) -> impl Future<Output = ()> + Send;
    /// `agent`, declared dead, was heard from: close its request.
    fn up(&mut self, agent: &AgentId) -> impl Future<Output = ()> + Send;
    /// A reload's new settings (the texts quote them); nothing by default.
    fn reconfigure(&mut self, _settings: LivenessSettings) {}
}

/// An active agent to watch from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub agent: AgentId,
    /// Its `[AGENT DOWN]` request is open (or was closed by hand while it
    /// was dead): it stays down until heard from.
    pub dead: bool,
}

/// The active agents, each dead when its `[AGENT DOWN]` request is open,
/// or was closed by hand and the agent has not been heard from since (so
/// that no second request opens before it comes back and dies again).
pub async fn load_watched(store: &Store) -> Result<Vec<Watched>, StoreError> {
    let mut down: HashSet<AgentId> = store
        .agents_with_open_request()
        .await?
        .into_iter()
        .collect();
    down.extend(store.agents_closed_by_hand_while_dead().await?);
    Ok(store
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| a.state == AgentState::Active)
        .map(|a| Watched {
            dead: down.contains(&a.id),
            agent: a.id,
        })
        .collect())
}

/// The agents declared dead, as published to the registry.
pub type DeadSet = Arc<HashSet<AgentId>>;

enum Msg {
    Heard(AgentId),
    Watch(AgentId),
    Unwatch(AgentId),
    Reconfigure(LivenessSettings),
}

/// Handle to the liveness actor; it ends when the last handle drops.
#[derive(Clone)]
pub struct LivenessHandle {
    tx: mpsc::Sender<Msg>,
    dead: watch::Receiver<DeadSet>,
}

struct LivenessActor<R> {
    requests: R,
    inbox: mpsc::Receiver<Msg>,
    /// The pure deadline bookkeeping the timers drive.
    liveness: Deadlines,
    /// One timer per watched agent, at its deadline.
    deadlines: DelayQueue<AgentId>,
    keys: HashMap<AgentId, delay_queue::Key>,
    /// Publishes the dead agents to the registry.
    dead: watch::Sender<DeadSet>,
}

impl LivenessHandle {
    /// Spawns the switch with deadlines `settings.dead_after()` apart. The
    /// agents in `watched` get the settle window from now before their
    /// first deadline (agents reconnecting after a collector start back off
    /// for a while).
    pub fn spawn(
        requests: impl AgentRequests,
        settings: LivenessSettings,
        watched: Vec<Watched>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> LivenessHandle {
        let (tx, inbox) = mpsc::channel(1024);
        let mut actor = LivenessActor {
            requests,
            inbox,
            liveness: Deadlines::new(settings.dead_after()),
            deadlines: DelayQueue::new(),
            keys: HashMap::new(),
            dead: watch::channel(DeadSet::default()).0,
        };
        let first = Instant::now() + settings.settle_window;
        for w in watched {
            let deadline = actor.liveness.watch_until(&w.agent, w.dead, first);
            if !w.dead {
                actor.arm(&w.agent, deadline);
            }
        }
        actor.publish();
        let dead = actor.dead.subscribe();
        tasks.spawn(actor.run(cancel));
        LivenessHandle { tx, dead }
    }

    /// The agent said something (hello or heartbeat): push its deadline,
    /// and bring it back if it was dead.
    pub async fn heard(&self, agent: AgentId) {
        let _ = self.tx.send(Msg::Heard(agent)).await;
    }

    /// Watches an active agent (no-op when already watched).
    pub async fn watch(&self, agent: AgentId) {
        let _ = self.tx.send(Msg::Watch(agent)).await;
    }

    /// Stops watching an agent that is no longer active: no alerts.
    pub async fn unwatch(&self, agent: AgentId) {
        let _ = self.tx.send(Msg::Unwatch(agent)).await;
    }

    /// A reload's part: the window applies to each deadline set from now
    /// on (each agent's next heartbeat), the texts to the next request.
    pub async fn reconfigure(&self, settings: LivenessSettings) {
        let _ = self.tx.send(Msg::Reconfigure(settings)).await;
    }

    /// The agents declared dead, updated after each change is recorded.
    pub fn dead(&self) -> watch::Receiver<DeadSet> {
        self.dead.clone()
    }
}

impl<R: AgentRequests> LivenessActor<R> {
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(msg) => self.handle(msg).await,
                    None => break,
                },
                Some(expired) = std::future::poll_fn(|cx| self.deadlines.poll_expired(cx)) => {
                    let agent = expired.into_inner();
                    self.keys.remove(&agent);
                    if let Some(change) = self.liveness.expire(&agent, Instant::now()) {
                        self.apply(change).await;
                    }
                }
                () = cancel.cancelled() => break,
            }
        }
    }

    async fn handle(&mut self, msg: Msg) {
        let now = Instant::now();
        match msg {
            Msg::Heard(agent) => {
                if let Some((deadline, change)) = self.liveness.heard(&agent, now) {
                    self.arm(&agent, deadline);
                    if let Some(change) = change {
                        self.apply(change).await;
                    }
                }
            }
            Msg::Watch(agent) => {
                if !self.liveness.is_watched(&agent) {
                    let deadline = self.liveness.watch(&agent, false, now);
                    self.arm(&agent, deadline);
                }
            }
            Msg::Reconfigure(settings) => {
                self.liveness.set_window(settings.dead_after());
                self.requests.reconfigure(settings);
            }
            Msg::Unwatch(agent) => {
                self.liveness.unwatch(&agent);
                if let Some(key) = self.keys.remove(&agent) {
                    self.deadlines.remove(&key);
                }
                self.publish();
            }
        }
    }

    fn arm(&mut self, agent: &AgentId, deadline: Instant) {
        match self.keys.get(agent) {
            Some(key) => self.deadlines.reset_at(key, deadline),
            None => {
                let key = self.deadlines.insert_at(agent.clone(), deadline);
                self.keys.insert(agent.clone(), key);
            }
        }
    }

    /// Records the change, then tells the registry (checks move after the
    /// request is written).
    async fn apply(&mut self, change: Change) {
        match &change {
            Change::Down(agent) => self.requests.down(agent).await,
            Change::Up(agent) => self.requests.up(agent).await,
        }
        self.publish();
    }

    fn publish(&self) {
        let dead: HashSet<AgentId> = self.liveness.dead().cloned().collect();
        self.dead.send_if_modified(|cur| {
            let changed = **cur != dead;
            if changed {
                *cur = Arc::new(dead);
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests;
