//! Storing one verdict that is not quiet (`quiet.rs` takes those): a
//! state, a confirmed failure (held by a mute window, joined to a group
//! request or its own), a recovery, a certificate warning.

use tracing::info;

use super::root_cause;
use crate::config::settings::{LifecycleService, LifecycleSettings};
use crate::domain::{Event, RequestKind, ServiceSnapshot, ServiceState, Verdict, Vote, texts};
use crate::metrics::Metrics;
use crate::store::{Opened, Store};
use crate::time::Clock;

/// Stores `verdict` of `svc`: through the mute window's hold when `muted`,
/// else through the grouping (`root`) for what opens and closes requests.
pub(super) async fn persist(
    (store, metrics, clock, settings): (&Store, &Metrics, &Clock, &LifecycleSettings),
    svc: &LifecycleService<'_>,
    verdict: &Verdict,
    muted: bool,
    root: &mut root_cause::RootCause,
) -> Result<(), crate::store::StoreError> {
    match verdict {
        Verdict::State { from, to } => {
            store.set_service_state(svc.id, *to).await?;
            root.state(svc, *to);
            info!(service_id = %svc.id, from = %from, to = %to, "service state changed");
        }
        Verdict::Down { from, votes } => {
            let snapshot = snapshot(svc, ServiceState::Down, votes);
            if muted {
                // The mute window holds its request (`lifecycle/mute.rs`
                // opens it when the window ends, if still down).
                let request = texts::service_request(svc.url, svc.equipment, svc.priority, votes);
                match store.hold_down(&snapshot, &request).await? {
                    None => {
                        info!(service_id = %svc.id, from = %from, "service down: request held by the mute window")
                    }
                    Some(Opened::New(req)) => {
                        metrics.request_opened(RequestKind::Corrective.as_str());
                        info!(service_id = %svc.id, from = %from, request = req.id.get(), "service down: request opened")
                    }
                    Some(Opened::Existing(id)) => {
                        info!(service_id = %svc.id, from = %from, request = id.get(), "service down: request already open")
                    }
                }
                return Ok(());
            }
            // Its request is opened by the grouping (root_cause.rs).
            info!(service_id = %svc.id, from = %from, "service confirmed down");
            root.down(
                store,
                metrics,
                &settings.grouping,
                clock,
                svc,
                &snapshot,
                votes,
            )
            .await?;
        }
        Verdict::Up {
            from,
            had_request,
            votes,
        } => {
            let note = texts::closing_note(svc.url, votes, clock.now_ms());
            let snapshot = snapshot(svc, ServiceState::Up, votes);
            let was_down = *from == ServiceState::Down || *had_request;
            // A member of a group request leaves it (even in a mute
            // window: a request open before the window closes normally).
            if root
                .up(store, &settings.grouping, clock, &snapshot, was_down)
                .await?
            {
                return Ok(());
            }
            let closed = if muted {
                store.hold_up(&snapshot, was_down, &note).await?
            } else {
                store.service_up(&snapshot, was_down, &note).await?
            };
            match closed {
                Some(req) => {
                    info!(service_id = %svc.id, from = %from, request = req.id.get(), "service up: request closed")
                }
                None => info!(service_id = %svc.id, from = %from, "service up"),
            }
        }
        Verdict::LocalFailure { votes } => {
            let snapshot = snapshot(svc, ServiceState::Up, votes);
            let event = Event::ServiceLocalFailure(snapshot);
            if muted {
                store.record_unrouted(&event).await?;
            } else {
                store.record_event(&event).await?;
            }
            for v in votes {
                metrics.local_failure(svc.id, &v.agent);
            }
            let agents: Vec<&str> = votes.iter().map(|v| v.agent_name.as_str()).collect();
            info!(service_id = %svc.id, agents = ?agents, "local failure: the quorum did not confirm");
        }
        Verdict::Degraded { from, agents } => {
            store
                .service_degraded(&snapshot(svc, ServiceState::Degraded, &[]), agents)
                .await?;
            let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
            info!(service_id = %svc.id, from = %from, agents = ?names, "service degraded: agents keep failing below the quorum");
        }
        Verdict::DegradedEnded => {
            store
                .service_degraded_ended(&snapshot(svc, ServiceState::Up, &[]))
                .await?;
            info!(service_id = %svc.id, "service no longer degraded");
        }
        Verdict::CertExpiring {
            state,
            not_after_ms,
        } => {
            let snapshot = snapshot(svc, *state, &[]);
            if store.warn_cert_expiring(&snapshot, *not_after_ms).await? {
                let not_after = crate::time::rfc3339(*not_after_ms);
                info!(service_id = %svc.id, not_after = %not_after, "certificate expires soon: warned");
            }
        }
    }
    Ok(())
}

/// The service as its `service.*` events show it.
fn snapshot(svc: &LifecycleService<'_>, state: ServiceState, votes: &[Vote]) -> ServiceSnapshot {
    ServiceSnapshot {
        id: svc.id.clone(),
        url: svc.url.to_owned(),
        equipment_id: svc.equipment.clone(),
        equipment: svc.equipment_name.to_owned(),
        state,
        votes: votes.to_vec(),
    }
}
