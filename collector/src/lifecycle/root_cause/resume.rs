//! Where [`RootCause`] resumes from after a start: the open host and
//! monitoring requests with their services, the services stored down,
//! in maintenance or paused, and those down without a request (which
//! wait again).

use tracing::warn;

use super::{RETRY, RootCause};
use crate::config::settings::LifecycleSettings;
use crate::domain::RequestKind;
use crate::lifecycle::grouping::Grouping;
use crate::store::{OpenGroup, Store, StoreError};
use crate::time::Clock;

impl RootCause {
    /// The state the store holds; a store error is retried until `cancel`.
    pub async fn start(
        store: &Store,
        settings: &LifecycleSettings,
        clock: &Clock,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> RootCause {
        loop {
            match Self::load(store, settings, clock).await {
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
    ) -> Result<RootCause, StoreError> {
        let mut g = Grouping::default();
        for (id, state, _) in store.service_states().await? {
            if let Some(svc) = settings.service(&id) {
                g.restore_state(&id, svc.equipment, state);
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
