//! Where [`RootCause`] resumes from after a start: the open host and
//! monitoring requests with their services, the services stored down,
//! in maintenance or paused, and those down without a request (which
//! wait again).

use tracing::warn;

use super::{RETRY, RootCause};
use crate::config::settings::LifecycleSettings;
use crate::domain::{RequestKind, ServiceId, ServiceMap, ServiceState};
use crate::lifecycle::grouping::Grouping;
use crate::store::{OpenGroup, Store, StoreError};
use crate::time::Clock;

impl RootCause {
    /// Of the services' stored states, those the grouping resumes from
    /// (down, in maintenance or paused; see [`Grouping::restore_state`]).
    pub fn kept_states(
        states: &ServiceMap<(ServiceState, bool)>,
    ) -> Vec<(ServiceId, ServiceState)> {
        states
            .iter()
            .filter(|(_, (s, _))| {
                matches!(
                    s,
                    ServiceState::Down | ServiceState::Maintenance | ServiceState::Paused
                )
            })
            .map(|(id, (s, _))| (id.clone(), *s))
            .collect()
    }

    /// The state the store holds, the services' states taken from
    /// `states` (as the leader read them at start, [`Self::kept_states`]:
    /// read again on a retry); a store error is retried until `cancel`.
    pub async fn start(
        store: &Store,
        settings: &LifecycleSettings,
        clock: &Clock,
        states: Vec<(ServiceId, ServiceState)>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> RootCause {
        let mut given = Some(states);
        loop {
            match Self::load(store, settings, clock, given.take()).await {
                Ok(r) => return r,
                Err(e) if !cancel.is_cancelled() => {
                    warn!(error = %e, "cannot read the open host and monitoring requests; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => {}
                        () = cancel.cancelled() => {}
                    }
                }
                Err(_) => return RootCause::default(),
            }
        }
    }

    async fn load(
        store: &Store,
        settings: &LifecycleSettings,
        clock: &Clock,
        states: Option<Vec<(ServiceId, ServiceState)>>,
    ) -> Result<RootCause, StoreError> {
        let mut g = Grouping::default();
        let mut restore = |id: &ServiceId, state| {
            if let Some(svc) = settings.service(id) {
                g.restore_state(id, svc.equipment, state);
            }
        };
        match states {
            Some(states) => states.iter().for_each(|(id, s)| restore(id, *s)),
            None => {
                for (id, state, _) in store.service_states().await? {
                    restore(&id, state);
                }
            }
        }
        for OpenGroup {
            request,
            kind,
            equipment,
            members,
        } in store.open_groups().await?
        {
            let equipment = equipment.filter(|_| kind == RequestKind::Host);
            let down = members.into_iter().filter(|m| m.up_ms.is_none());
            g.opened(
                request,
                equipment.as_ref(),
                down.map(|m| (m.service, Vec::new())),
            );
        }
        let now = clock.now_ms();
        for id in store.unlinked_down_services().await? {
            if let Some(svc) = settings.service(&id) {
                g.wait(&settings.grouping, &id, svc.equipment, &[], now);
            }
        }
        Ok(RootCause {
            grouping: g,
            retry_at: None,
        })
    }
}
