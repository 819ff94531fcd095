//! The heartbeats actor: the dead-man's switch over the push check-ins.
//!
//! Leader-only (started in `leader/start.rs`). It owns one deadline timer
//! per `active` heartbeat and drives the pure [`Deadlines`] with them; every
//! write about heartbeats goes through it (pings, registration, approval,
//! suspension, new tokens, reloads), so a ping and a deadline never race.
//! A deadline that passes opens `[NO CHECK-IN] {name}` (`heartbeat.missed`,
//! `request.opened`); the next ping closes it (`heartbeat.resumed`,
//! `request.closed`, reason `recovered`). A heartbeat whose equipment is in
//! maintenance when its deadline passes is held: nothing is written, and
//! its request opens when the window ends if it is still silent.
//!
//! After a start (or a failover) every active heartbeat gets a full window
//! from the start ([`first_deadline`]); one whose request is open stays
//! late until it pings, and gets no second request.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::{DelayQueue, delay_queue};
use tracing::{info, warn};

use super::alerts::Unrecorded;
use super::clones::Recent;
use super::deadlines::{Change, Deadlines, first_deadline};
use super::token;
use crate::config::HeartbeatSettings;
use crate::domain::{EquipmentId, HeartbeatId, HeartbeatState, texts};
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::store::{HeartbeatRow, NewHeartbeat, Ping, Store, StoreError};
use crate::time::Clock;

/// What the heartbeats actor may answer.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("unknown heartbeat {0:?}")]
    Unknown(HeartbeatId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the heartbeats actor stopped")]
    Stopped,
}

type Reply<T> = oneshot::Sender<Result<T, HeartbeatError>>;

enum Msg {
    Ping(Box<HeartbeatRow>, Ping, Reply<()>),
    Register(NewHeartbeat, Reply<HeartbeatRow>),
    SetState(HeartbeatId, HeartbeatState, Reply<HeartbeatRow>),
    IssueToken(HeartbeatId, Reply<String>),
    Reconfigure(HeartbeatSettings, Reply<()>),
}

/// Handle to the heartbeats actor; it ends when the last handle drops.
#[derive(Clone)]
pub struct HeartbeatsHandle {
    tx: mpsc::Sender<Msg>,
}

pub(super) struct Actor {
    pub(super) store: Store,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
    inbox: mpsc::Receiver<Msg>,
    pub(super) deadlines: Deadlines,
    pub(super) timers: DelayQueue<HeartbeatId>,
    pub(super) keys: HashMap<HeartbeatId, delay_queue::Key>,
    /// The last pings of each token (clone detection).
    pub(super) recent: HashMap<HeartbeatId, Recent>,
    /// Missed while their equipment was in maintenance: opened at its end.
    pub(super) held: HashSet<HeartbeatId>,
    /// Missed, but the store refused the write: tried again until stored.
    pub(super) unrecorded: Unrecorded,
    /// The equipment of each watched heartbeat that has one: whether a
    /// missed deadline is held is decided without reading the store.
    pub(super) equipment: HashMap<HeartbeatId, EquipmentId>,
    pub(super) maintenance: watch::Receiver<Arc<MaintenanceSet>>,
}

fn window(h: &HeartbeatRow) -> Duration {
    Duration::from_millis((h.period_ms + h.grace_ms).max(0) as u64)
}

impl HeartbeatsHandle {
    /// Stores the configured heartbeats, then spawns the actor watching
    /// every active one, each with a full window from now.
    pub async fn spawn(
        store: Store,
        settings: &HeartbeatSettings,
        metrics: Arc<Metrics>,
        clock: Clock,
        maintenance: watch::Receiver<Arc<MaintenanceSet>>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<HeartbeatsHandle, StoreError> {
        store.sync_heartbeats(&settings.configured).await?;
        let (tx, inbox) = mpsc::channel(1024);
        let mut actor = Actor {
            store,
            metrics,
            clock,
            inbox,
            deadlines: Deadlines::default(),
            timers: DelayQueue::new(),
            keys: HashMap::new(),
            recent: HashMap::new(),
            held: HashSet::new(),
            unrecorded: Unrecorded::default(),
            equipment: HashMap::new(),
            maintenance,
        };
        actor.reconcile(true).await?;
        tasks.spawn(actor.run(cancel));
        Ok(HeartbeatsHandle { tx })
    }

    async fn call<T>(&self, msg: impl FnOnce(Reply<T>) -> Msg) -> Result<T, HeartbeatError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(msg(reply))
            .await
            .map_err(|_| HeartbeatError::Stopped)?;
        rx.await.map_err(|_| HeartbeatError::Stopped)?
    }

    /// Records a ping of `heartbeat` (found by its token).
    pub async fn ping(&self, heartbeat: HeartbeatRow, ping: Ping) -> Result<(), HeartbeatError> {
        self.call(|r| Msg::Ping(Box::new(heartbeat), ping, r)).await
    }

    /// Registers a heartbeat in state `new`.
    pub async fn register(&self, new: NewHeartbeat) -> Result<HeartbeatRow, HeartbeatError> {
        self.call(|r| Msg::Register(new, r)).await
    }

    /// Approves (`active`) or suspends a heartbeat.
    pub async fn set_state(
        &self,
        id: HeartbeatId,
        state: HeartbeatState,
    ) -> Result<HeartbeatRow, HeartbeatError> {
        self.call(|r| Msg::SetState(id, state, r)).await
    }

    /// Issues a new token (returned once), ending the old one.
    pub async fn issue_token(&self, id: HeartbeatId) -> Result<String, HeartbeatError> {
        self.call(|r| Msg::IssueToken(id, r)).await
    }

    /// A reload's part: the configured heartbeats.
    pub async fn reconfigure(&self, settings: HeartbeatSettings) -> Result<(), HeartbeatError> {
        self.call(|r| Msg::Reconfigure(settings, r)).await
    }
}

impl Actor {
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(msg) => self.handle(msg).await,
                    None => break,
                },
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)) => {
                    let id = expired.into_inner();
                    self.keys.remove(&id);
                    if let Some(Change::Missed(id)) = self.deadlines.expire(&id, Instant::now()) {
                        self.missed(&id).await;
                    }
                }
                Ok(()) = self.maintenance.changed() => self.release_held().await,
                () = self.unrecorded.due() => self.retry_unrecorded().await,
                () = cancel.cancelled() => break,
            }
        }
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Ping(row, ping, reply) => {
                let _ = reply.send(self.ping(*row, ping).await);
            }
            Msg::Register(new, reply) => {
                let r = self
                    .store
                    .register_heartbeat(&new)
                    .await
                    .map_err(Into::into);
                if let Ok(row) = &r {
                    info!(heartbeat = %row.id, name = %row.name, "heartbeat registered");
                }
                self.count().await;
                let _ = reply.send(r);
            }
            Msg::SetState(id, state, reply) => {
                let _ = reply.send(self.set_state(id, state).await);
            }
            Msg::IssueToken(id, reply) => {
                let token = token::new_token();
                let r = match self
                    .store
                    .set_heartbeat_token(&id, &token::hash(&token))
                    .await
                {
                    Ok(true) => {
                        self.recent.remove(&id);
                        Ok(token)
                    }
                    Ok(false) => Err(HeartbeatError::Unknown(id)),
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(r);
            }
            Msg::Reconfigure(settings, reply) => {
                let r = match self.store.sync_heartbeats(&settings.configured).await {
                    Ok(()) => self.reconcile(false).await.map_err(Into::into),
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(r);
            }
        }
    }

    /// Watches every active heartbeat in the store (a full window from now
    /// for those not watched yet; `start`: all of them), stops watching the
    /// others, and recounts.
    async fn reconcile(&mut self, start: bool) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut active = HashSet::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_heartbeats(None, after.as_ref(), 1000)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for h in page.iter().filter(|h| h.state == HeartbeatState::Active) {
                active.insert(h.id.clone());
                if !start && self.deadlines.is_watched(&h.id) {
                    self.deadlines.set_window(&h.id, window(h));
                } else {
                    self.watch(h, first_deadline(now, window(h)));
                }
            }
        }
        let gone: Vec<HeartbeatId> = self
            .keys
            .keys()
            .filter(|id| !active.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.unwatch(&id);
        }
        self.count().await;
        Ok(())
    }

    fn watch(&mut self, h: &HeartbeatRow, deadline: Instant) {
        let late = h.late_since_ms.is_some();
        self.deadlines.watch_until(&h.id, window(h), late, deadline);
        match &h.equipment_id {
            Some(e) => self.equipment.insert(h.id.clone(), e.clone()),
            None => self.equipment.remove(&h.id),
        };
        if !late {
            self.arm(&h.id, deadline);
        }
    }

    fn unwatch(&mut self, id: &HeartbeatId) {
        self.deadlines.unwatch(id);
        self.held.remove(id);
        self.unrecorded.remove(id);
        self.equipment.remove(id);
        if let Some(key) = self.keys.remove(id) {
            self.timers.remove(&key);
        }
    }

    fn arm(&mut self, id: &HeartbeatId, deadline: Instant) {
        match self.keys.get(id) {
            Some(key) => self.timers.reset_at(key, deadline),
            None => {
                let key = self.timers.insert_at(id.clone(), deadline);
                self.keys.insert(id.clone(), key);
            }
        }
    }

    async fn ping(&mut self, row: HeartbeatRow, ping: Ping) -> Result<(), HeartbeatError> {
        let now = Instant::now();
        let sources =
            self.recent
                .entry(row.id.clone())
                .or_default()
                .ping(&ping.source, now, window(&row));
        if let Some(sources) = sources.filter(|_| !row.cloned)
            && self.store.heartbeat_cloned(&row, &sources).await?
        {
            warn!(heartbeat = %row.id, ?sources, "heartbeat cloned: two sources ping its token");
        }
        let mut resumed = None;
        if let Some((deadline, change)) = self.deadlines.pinged(&row.id, now) {
            self.arm(&row.id, deadline);
            // Neither held nor unrecorded announced the silence: nothing
            // to announce the end of.
            let held = self.held.remove(&row.id) | self.unrecorded.remove(&row.id);
            if change.is_some() && !held {
                resumed = Some(texts::checkin_closing_note(
                    &row.name,
                    &row.id,
                    ping.time_ms,
                    &ping.source,
                ));
            }
        }
        let closed = self
            .store
            .heartbeat_pinged(&row, &ping, resumed.as_deref())
            .await?;
        if resumed.is_some() {
            info!(heartbeat = %row.id, name = %row.name, ?closed, "heartbeat resumed");
        }
        Ok(())
    }

    async fn set_state(
        &mut self,
        id: HeartbeatId,
        state: HeartbeatState,
    ) -> Result<HeartbeatRow, HeartbeatError> {
        let row = self
            .store
            .set_heartbeat_state(&id, state)
            .await?
            .ok_or_else(|| HeartbeatError::Unknown(id.clone()))?;
        if state == HeartbeatState::Active {
            if !self.deadlines.is_watched(&id) {
                self.watch(&row, Instant::now() + window(&row));
            }
        } else {
            self.unwatch(&id);
        }
        info!(heartbeat = %id, state = %state, "heartbeat state changed");
        self.count().await;
        Ok(row)
    }
}
