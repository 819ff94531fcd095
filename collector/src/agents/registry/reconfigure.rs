//! A configuration reload as the registry applies it: new enrollment
//! rules, services, `agents_per_service` and heartbeat interval, then one
//! reassignment.
//!
//! The reassignment pushes a new set only to the agents whose set changed
//! ([`super::Session::push`] compares with the last one pushed): an agent
//! that runs none of the added, removed or changed checks gets nothing,
//! and no session is dropped. The directory published afterwards names the
//! new services, so a late result for a removed one is refused by the
//! session's guard from then on. Hellos are handled in the same inbox, so
//! an agent that connects during a reload gets the old set or the new one,
//! never a mix; sessions already open keep the heartbeat interval their
//! welcome told them until they reconnect.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::info;

use tokio::sync::oneshot;

use super::{AgentsActor, AgentsHandle, Msg};
use crate::config::settings::RegistrySettings;
use crate::domain::ServiceId;

impl AgentsActor {
    pub(super) fn reconfigure(&mut self, settings: RegistrySettings) {
        let services: HashSet<ServiceId> = settings.services.iter().map(|s| s.id.clone()).collect();
        if services != *self.services {
            self.services = Arc::new(services);
        }
        if settings != self.settings {
            info!(
                services = settings.services.len(),
                agents_per_service = settings.agents_per_service,
                "registry: new settings, reassigning"
            );
        }
        self.settings = settings;
        self.reassign();
    }
}

impl AgentsHandle {
    /// Applies a reload's part; returns once the new sets are pushed.
    pub async fn reconfigure(&self, settings: RegistrySettings) {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Msg::Reconfigure { settings, reply })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }
}
