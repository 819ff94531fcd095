//! `MaintenanceActor`: owns the maintenance windows per equipment.
//!
//! The API asks it to start or end a window; a timer ends each window
//! exactly at its end time. It persists windows (with their events) through
//! the store and publishes the running set, which the agents registry
//! (stop probing) and the evaluator (state `maintenance`, no requests)
//! watch for `pause` windows, and the lifecycle (requests and webhooks
//! held, released at the end: `store/held.rs`) for `mute` ones. It knows nothing about services or agents itself. Window times
//! and the timers' delays come from one [`Clock`], so a window ends when
//! that clock reaches its end.
//!
//! Settings: [`MaintenanceSettings`] (the default window length and the
//! equipment a window may name).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::{DelayQueue, delay_queue};
use tracing::{info, warn};

use crate::config::settings::MaintenanceSettings;
use crate::domain::{EquipmentId, MaintenanceMode};
use crate::store::{MaintenanceWindow, Store, StoreError};
use crate::time::Clock;

/// The running windows, by equipment.
pub type MaintenanceSet = HashMap<EquipmentId, MaintenanceWindow>;

/// Whether a `pause` window runs on `equipment` (its services are not
/// probed; a `mute` window keeps them probed).
pub fn paused(set: &MaintenanceSet, equipment: &EquipmentId) -> bool {
    set.get(equipment)
        .is_some_and(|w| w.mode == MaintenanceMode::Pause)
}

/// The equipment a `pause` window runs on.
pub fn paused_set(set: &MaintenanceSet) -> std::collections::HashSet<EquipmentId> {
    set.keys().filter(|e| paused(set, e)).cloned().collect()
}

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("unknown equipment {0:?}")]
    UnknownEquipment(EquipmentId),
    #[error("equipment {0:?} is not in maintenance")]
    NotInMaintenance(EquipmentId),
    #[error("duration must be more than 0s")]
    ZeroDuration,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the maintenance actor stopped")]
    Stopped,
}

enum Msg {
    Start {
        equipment: EquipmentId,
        duration: Option<Duration>,
        reason: String,
        mode: MaintenanceMode,
        reply: oneshot::Sender<Result<MaintenanceWindow, MaintenanceError>>,
    },
    End {
        equipment: EquipmentId,
        reply: oneshot::Sender<Result<MaintenanceWindow, MaintenanceError>>,
    },
    Reconfigure(MaintenanceSettings),
    List(oneshot::Sender<(Vec<MaintenanceWindow>, Vec<ScheduleInfo>)>),
}

/// Handle to the maintenance actor.
#[derive(Clone)]
pub struct MaintenanceHandle {
    tx: mpsc::Sender<Msg>,
}

struct MaintenanceActor {
    store: Store,
    settings: MaintenanceSettings,
    /// Window times, and the timers' delays from them.
    clock: Clock,
    inbox: mpsc::Receiver<Msg>,
    /// Publishes the running set to the registry and the evaluator.
    set: watch::Sender<Arc<MaintenanceSet>>,
    windows: MaintenanceSet,
    timers: DelayQueue<EquipmentId>,
    timer_keys: HashMap<EquipmentId, delay_queue::Key>,
    /// Each recurring window's next start, by schedule name.
    starts: DelayQueue<String>,
}

impl MaintenanceHandle {
    /// Loads the running windows from the store (ending the ones that expired
    /// while the collector was down) and spawns the actor.
    pub async fn spawn(
        store: Store,
        settings: MaintenanceSettings,
        clock: Clock,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<(MaintenanceHandle, watch::Receiver<Arc<MaintenanceSet>>), StoreError> {
        let (tx, inbox) = mpsc::channel(64);
        let (set, set_rx) = watch::channel(Arc::new(MaintenanceSet::new()));
        let mut actor = MaintenanceActor {
            store,
            settings,
            clock,
            inbox,
            set,
            windows: HashMap::new(),
            timers: DelayQueue::new(),
            timer_keys: HashMap::new(),
            starts: DelayQueue::new(),
        };
        for w in actor.store.active_maintenance().await? {
            actor.arm(w);
        }
        actor.publish();
        actor.rearm_schedules().await;
        tasks.spawn(actor.run(cancel));
        Ok((MaintenanceHandle { tx }, set_rx))
    }

    /// Starts (or replaces) a window of `duration` (default
    /// `maintenance.default_duration`) from now, in `mode`.
    pub async fn start(
        &self,
        equipment: EquipmentId,
        duration: Option<Duration>,
        reason: String,
        mode: MaintenanceMode,
    ) -> Result<MaintenanceWindow, MaintenanceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Start {
                equipment,
                duration,
                reason,
                mode,
                reply,
            })
            .await
            .map_err(|_| MaintenanceError::Stopped)?;
        rx.await.map_err(|_| MaintenanceError::Stopped)?
    }

    /// A reload's part: the default duration, the equipment names.
    pub async fn reconfigure(&self, settings: MaintenanceSettings) {
        let _ = self.tx.send(Msg::Reconfigure(settings)).await;
    }

    /// The running windows (by equipment) and the configured schedules
    /// with their next starts.
    pub async fn list(
        &self,
    ) -> Result<(Vec<MaintenanceWindow>, Vec<ScheduleInfo>), MaintenanceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::List(reply))
            .await
            .map_err(|_| MaintenanceError::Stopped)?;
        rx.await.map_err(|_| MaintenanceError::Stopped)
    }

    /// Ends the running window now.
    pub async fn end(&self, equipment: EquipmentId) -> Result<MaintenanceWindow, MaintenanceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::End { equipment, reply })
            .await
            .map_err(|_| MaintenanceError::Stopped)?;
        rx.await.map_err(|_| MaintenanceError::Stopped)?
    }
}

impl MaintenanceActor {
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(Msg::Start { equipment, duration, reason, mode, reply }) => {
                        let _ = reply.send(self.start(equipment, duration, reason, mode).await);
                    }
                    Some(Msg::End { equipment, reply }) => {
                        let _ = reply.send(self.end(&equipment).await);
                    }
                    Some(Msg::Reconfigure(settings)) => {
                        self.reconfigure(settings);
                        self.rearm_schedules().await;
                    }
                    Some(Msg::List(reply)) => {
                        let mut windows: Vec<_> = self.windows.values().cloned().collect();
                        windows.sort_by(|a, b| a.equipment.cmp(&b.equipment));
                        let _ = reply.send((windows, self.schedules()));
                    }
                    None => break,
                },
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)) => {
                    let equipment = expired.into_inner();
                    self.timer_keys.remove(&equipment);
                    if let Err(e) = self.end(&equipment).await {
                        warn!(equipment = %equipment, error = %e, "cannot end maintenance");
                    }
                }
                Some(due) = std::future::poll_fn(|cx| self.starts.poll_expired(cx)) => {
                    self.occurrence(due.into_inner()).await;
                }
                () = cancel.cancelled() => break,
            }
        }
    }

    /// A reload: the new default duration and equipment names. Equipment
    /// that left the file while its window runs keeps its old entry until
    /// the window ends, so that the end is still recorded.
    fn reconfigure(&mut self, mut settings: MaintenanceSettings) {
        for e in std::mem::take(&mut self.settings.equipment) {
            if self.windows.contains_key(&e.id) && settings.equipment_name(&e.id).is_none() {
                settings.equipment.push(e);
            }
        }
        self.settings = settings;
    }

    fn equipment_name(&self, id: &EquipmentId) -> Result<String, MaintenanceError> {
        self.settings
            .equipment_name(id)
            .map(str::to_owned)
            .ok_or_else(|| MaintenanceError::UnknownEquipment(id.clone()))
    }

    async fn start(
        &mut self,
        equipment: EquipmentId,
        duration: Option<Duration>,
        reason: String,
        mode: MaintenanceMode,
    ) -> Result<MaintenanceWindow, MaintenanceError> {
        let name = self.equipment_name(&equipment)?;
        let duration = duration.unwrap_or(self.settings.default_duration);
        if duration.is_zero() {
            return Err(MaintenanceError::ZeroDuration);
        }
        let now = self.clock.now_ms();
        let window = MaintenanceWindow {
            equipment: equipment.clone(),
            starts_ms: self.windows.get(&equipment).map_or(now, |w| w.starts_ms),
            ends_ms: now + duration.as_millis() as i64,
            reason,
            active: true,
            mode,
            schedule: None,
        };
        self.store.start_maintenance(&window, &name).await?;
        info!(equipment = %equipment, until = %crate::time::rfc3339(window.ends_ms), reason = %window.reason, mode = %window.mode, "maintenance started");
        self.arm(window.clone());
        self.publish();
        Ok(window)
    }

    async fn end(
        &mut self,
        equipment: &EquipmentId,
    ) -> Result<MaintenanceWindow, MaintenanceError> {
        let name = self.equipment_name(equipment)?;
        let Some(window) = self.windows.get(equipment).cloned() else {
            return Err(MaintenanceError::NotInMaintenance(equipment.clone()));
        };
        let ended = self
            .store
            .end_maintenance(&window, &name, self.clock.now_ms().min(window.ends_ms))
            .await?;
        self.windows.remove(equipment);
        if let Some(key) = self.timer_keys.remove(equipment) {
            self.timers.remove(&key);
        }
        info!(equipment = %equipment, "maintenance ended");
        self.publish();
        Ok(ended)
    }

    /// Records a running window and its end timer.
    fn arm(&mut self, window: MaintenanceWindow) {
        let left = Duration::from_millis((window.ends_ms - self.clock.now_ms()).max(0) as u64);
        match self.timer_keys.get(&window.equipment) {
            Some(key) => self.timers.reset(key, left),
            None => {
                let key = self.timers.insert(window.equipment.clone(), left);
                self.timer_keys.insert(window.equipment.clone(), key);
            }
        }
        self.windows.insert(window.equipment.clone(), window);
    }

    fn publish(&self) {
        self.set.send_replace(Arc::new(self.windows.clone()));
    }
}

mod recurring;
pub mod schedule;

pub use recurring::{ScheduleInfo, schedules};

#[cfg(test)]
mod tests;
