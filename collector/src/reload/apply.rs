//! [`Live`]: the running parts a reload hands their new settings to, and
//! the order it does so in.
//!
//! 1. The store's event routing and the API's tokens are swapped whole:
//!    the next event and the next call use the new ones.
//! 2. The notifier starts, stops or restarts the workers whose webhook
//!    changed; maintenance, liveness and the pruner take their new values.
//! 3. The evaluator drops the trackers of removed and paused services,
//!    has the lifecycle store the new catalog behind every verdict sent
//!    so far (removed services' open requests close with `removed`), and
//!    only then adds trackers for new and resumed services
//!    (`evaluator/reconfigure.rs`).
//! 4. `/metrics` follows the new catalog (removed services' series go)
//!    and `[metrics] probe_series`.
//! 5. The registry reassigns last, so a new service's first result finds
//!    its row and its tracker, and a removed one is no longer probed once
//!    nothing can count its results. It pushes only the sets that changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::oneshot;

use super::ReloadError;
use crate::agents::{AgentsHandle, LivenessHandle};
use crate::config::Config;
use crate::config::settings::{ApiSettings, Settings};
use crate::domain::ServiceId;
use crate::evaluator::{self, EvaluatorHandle};
use crate::lifecycle;
use crate::maintenance::MaintenanceHandle;
use crate::metrics::Metrics;
use crate::notifier::Notifier;
use crate::retention::RetentionHandle;
use crate::store::{Store, StoreError};

/// What a reload changes in the running collector.
pub(crate) struct Live {
    pub store: Store,
    /// The tokens the API checks (shared with it).
    pub api: Arc<ArcSwap<ApiSettings>>,
    pub notifier: Notifier,
    pub maintenance: MaintenanceHandle,
    pub liveness: LivenessHandle,
    pub evaluator: EvaluatorHandle,
    pub agents: AgentsHandle,
    /// The pruner: new periods apply from its next pass.
    pub retention: RetentionHandle,
    /// `/metrics`: the catalog its series follow, `probe_series`.
    pub metrics: Arc<Metrics>,
    /// The reminder actor: new cadences apply at once.
    pub reminders: crate::reminders::RemindersHandle,
    /// Push check-ins: the configured heartbeats, and the enrollment
    /// token `/heartbeats/register` checks (shared with it).
    pub heartbeats: crate::heartbeats::HeartbeatsHandle,
    pub checkins: Arc<ArcSwap<crate::config::HeartbeatSettings>>,
}

impl Live {
    /// Hands every part its piece of `new` (see the module docs).
    pub async fn apply(&mut self, old: &Config, new: &Config) -> Result<(), ReloadError> {
        let stored = self.gaining_trackers(old, new).await?;
        let settings = Settings::from(new);
        self.store.set_event_settings(settings.events);
        self.api.store(Arc::new(settings.api));
        self.notifier.reconfigure(&settings.notifier);
        self.maintenance.reconfigure(settings.maintenance).await;
        self.liveness.reconfigure(settings.liveness).await;
        self.retention.reconfigure(settings.retention);
        self.reminders.reconfigure(settings.reminders);
        self.checkins.store(Arc::new(settings.heartbeats.clone()));
        match self.heartbeats.reconfigure(settings.heartbeats).await {
            Ok(()) => {}
            Err(crate::heartbeats::HeartbeatError::Store(e)) => return Err(e.into()),
            Err(_) => return Err(ReloadError::Stopped),
        }

        let (catalog_reply, catalog) = oneshot::channel();
        let (reply, done) = oneshot::channel();
        let sent = self
            .evaluator
            .reconfigure(evaluator::Reconfigure {
                settings: settings.evaluator,
                stored,
                lifecycle: lifecycle::Reconfigure {
                    settings: settings.lifecycle,
                    catalog: settings.catalog,
                    reply: catalog_reply,
                },
                reply,
            })
            .await;
        if !sent || done.await.is_err() {
            return Err(ReloadError::Stopped);
        }
        catalog.await.map_err(|_| ReloadError::Stopped)??;
        self.metrics.reconfigure(new);
        self.agents.reconfigure(settings.registry).await;
        Ok(())
    }

    /// The stored state and open-request flag of each service that is
    /// active in `new` but was not in `old` (new, or resumed).
    async fn gaining_trackers(
        &self,
        old: &Config,
        new: &Config,
    ) -> Result<HashMap<ServiceId, (crate::domain::ServiceState, bool)>, StoreError> {
        let mut stored = HashMap::new();
        let was_active: HashSet<&ServiceId> = old
            .services
            .iter()
            .filter(|s| s.active)
            .map(|s| &s.id)
            .collect();
        for s in new.services.iter().filter(|s| s.active) {
            if was_active.contains(&s.id) {
                continue;
            }
            match self.store.get_service(&s.id).await {
                Ok(row) => {
                    stored.insert(s.id.clone(), (row.state, row.open_request.is_some()));
                }
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(stored)
    }
}
