//! Mute maintenance windows in the lifecycle: which equipment is muted
//! (from the maintenance actor's running set), and the release of the
//! outages a window held when it ends.
//!
//! The lifecycle decides with its own view of the set, between two
//! verdicts: a `Down` stored while it saw the window running is held
//! (`store/held.rs`), and the release that follows the window's end
//! (seen later, in order) opens its request. At start, outages held by a
//! window that is no longer running (it ended while the collector was
//! down, or before a leader change) are released at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::config::settings::LifecycleSettings;
use crate::domain::{EquipmentId, MaintenanceMode, RequestKind, ServiceId, Vote, texts};
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::time::Clock;

/// The lifecycle's view of the running windows.
pub(super) struct Mute {
    rx: watch::Receiver<Arc<MaintenanceSet>>,
    /// The mode of each running window, as last seen.
    windows: HashMap<EquipmentId, MaintenanceMode>,
    /// The votes of each held outage, for its request's description (lost
    /// on restart: the request then lists none).
    votes: HashMap<ServiceId, Vec<Vote>>,
    /// The maintenance actor is gone: no more changes.
    closed: bool,
}

impl Mute {
    pub fn new(mut rx: watch::Receiver<Arc<MaintenanceSet>>) -> Mute {
        let windows = modes(&rx.borrow_and_update());
        Mute {
            rx,
            windows,
            votes: HashMap::new(),
            closed: false,
        }
    }

    /// Whether a `mute` window runs on `equipment`.
    pub fn muted(&self, equipment: &EquipmentId) -> bool {
        self.windows.get(equipment) == Some(&MaintenanceMode::Mute)
    }

    /// Remembers the votes of an outage the window holds.
    pub fn held(&mut self, service: &ServiceId, votes: &[Vote]) {
        self.votes.insert(service.clone(), votes.to_vec());
    }

    /// Waits for the set to change; returns the equipment that left every
    /// window (whose held outages are released). Pending forever once
    /// the maintenance actor is gone.
    pub async fn changed(&mut self) -> HashSet<EquipmentId> {
        if self.closed || self.rx.changed().await.is_err() {
            self.closed = true;
            return std::future::pending().await;
        }
        let now = modes(&self.rx.borrow_and_update());
        let ended = self
            .windows
            .keys()
            .filter(|e| !now.contains_key(*e))
            .cloned()
            .collect();
        self.windows = now;
        ended
    }

    /// Releases the outages held on `ended` equipment (`None`: on every
    /// equipment not in a window now, at start), retrying until stored.
    pub async fn release(
        &mut self,
        ended: Option<&HashSet<EquipmentId>>,
        cx: (&Store, &LifecycleSettings, &Metrics, &Clock),
        cancel: &CancellationToken,
    ) {
        if ended.is_some_and(HashSet::is_empty) {
            return;
        }
        let mut backoff = Backoff::default();
        loop {
            let Err(e) = self.try_release(ended, cx).await else {
                return;
            };
            if cancel.is_cancelled() {
                warn!(error = %e, "held outages not released at shutdown (released at the next start)");
                return;
            }
            warn!(error = %e, "cannot release held outages; retrying");
            tokio::select! {
                () = tokio::time::sleep(backoff.delay()) => {}
                () = cancel.cancelled() => {}
            }
        }
    }

    async fn try_release(
        &mut self,
        ended: Option<&HashSet<EquipmentId>>,
        (store, settings, metrics, clock): (&Store, &LifecycleSettings, &Metrics, &Clock),
    ) -> Result<(), StoreError> {
        for held in store.held_services().await? {
            let releases = match ended {
                Some(ended) => ended.contains(&held.equipment),
                None => !self.windows.contains_key(&held.equipment),
            };
            if !releases {
                continue;
            }
            let votes = self.votes.get(&held.id).cloned().unwrap_or_default();
            let request = settings.service(&held.id).map(|svc| {
                texts::held_request(
                    (svc.url, svc.equipment, svc.priority),
                    &votes,
                    held.since_ms,
                    clock.now_ms(),
                )
            });
            match store.release_held(&held.id, request.as_ref()).await? {
                Some(req) => {
                    metrics.request_opened(RequestKind::Corrective.as_str());
                    info!(service_id = %held.id, request = req.id.get(), "mute window ended, service still down: request opened");
                }
                None => info!(service_id = %held.id, "mute window ended: held outage over"),
            }
            self.votes.remove(&held.id);
        }
        Ok(())
    }
}

fn modes(set: &MaintenanceSet) -> HashMap<EquipmentId, MaintenanceMode> {
    set.iter().map(|(e, w)| (e.clone(), w.mode)).collect()
}
