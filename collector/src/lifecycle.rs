//! `LifecycleHandle`: turns verdicts into stored state, requests and events.
//!
//! The evaluator sends it every [`Verdict`] in order; it is the only writer
//! of service states. `Down` opens `[HTTP KO] {url}` unless the service has
//! an open request (the store's unique index backs that), `Up` closes the
//! open request with a note by `picket` and clears the link, `LocalFailure`
//! records `service.local_failure`, `CertExpiring` records
//! `service.cert_expiring` unless the store marked that certificate
//! warned already (once per certificate). The texts come from
//! [`crate::domain::texts`]. Webhooks follow from the events the store
//! writes in the same transactions; this actor sends nothing itself.
//!
//! Requests closed by hand come through [`LifecycleHandle::close_by_hand`]
//! (from the evaluator, after it told the service's tracker): they are
//! taken after every verdict queued before them, so a `Down` decided while
//! the request was still open links to it rather than opening a second.
//!
//! While a `mute` maintenance window runs on a service's equipment, its
//! outage is held: stored and logged, but no request and no webhook until
//! the window ends (`mute.rs`, `store/held.rs`).
//!
//! Settings: [`LifecycleSettings`] (each service's URL, priority and
//! equipment name); verdicts on services it does not know are dropped. A
//! reload hands it new settings and the catalog to store, in order with
//! the verdicts ([`Reconfigure`]).
//!
//! One request per root cause (`grouping.rs` decides, `root_cause.rs`
//! carries it out): a confirmed failure may wait for its grouping window,
//! join a `[HOST KO]` or `[MONITORING KO]` request, or get its own.

mod by_hand;
pub(crate) mod grouping;
mod quiet;
mod retry;
mod root_cause;
#[cfg(test)]
mod test_channel;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::settings::{CatalogSettings, LifecycleService, LifecycleSettings};
use crate::domain::{
    Event, RequestKind, ServiceId, ServiceMap, ServiceSnapshot, ServiceState, Verdict, Vote, texts,
};
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::store::{Opened, Store, StoreError};
use crate::time::Clock;
pub(crate) use by_hand::CloseByHand;
use by_hand::close_by_hand;
use retry::Retry;

/// One verdict on one service, in the evaluator's order.
pub(crate) struct ServiceVerdict {
    pub service: ServiceId,
    pub verdict: Verdict,
}

/// What the lifecycle's inbox carries, in the evaluator's order: verdicts,
/// new settings from a reload, and requests closed by hand.
pub(crate) enum LifecycleMsg {
    Verdict(ServiceVerdict),
    Reconfigure(Reconfigure),
    CloseByHand(CloseByHand),
}

/// A reload's part for the lifecycle: its new settings and the catalog to
/// store. The lifecycle applies both between two verdicts: every verdict
/// the evaluator sent before is stored under the old settings, none after
/// is (so a late verdict on a removed service cannot reopen a request
/// after `sync_config` closed it, and a new service's row exists before
/// its first verdict).
pub struct Reconfigure {
    pub settings: LifecycleSettings,
    pub catalog: CatalogSettings,
    /// The outcome of `Store::sync_config` once applied.
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Handle to the lifecycle actor.
#[derive(Clone)]
pub struct LifecycleHandle {
    tx: mpsc::Sender<LifecycleMsg>,
}

impl LifecycleHandle {
    ///
    /// Returns once the actor has resumed from the store (the outages held
    /// by windows that ended while no collector led released, the open
    /// host and monitoring requests read; `states` are the services'
    /// stored states and open-request flags, as the leader read them), so a collector that reports
    /// ready has a lifecycle that is; a store error is retried until
    /// `cancel`.
    pub async fn spawn(
        store: Store,
        settings: LifecycleSettings,
        metrics: Arc<Metrics>,
        clock: Clock,
        maintenance: watch::Receiver<Arc<MaintenanceSet>>,
        states: &ServiceMap<(ServiceState, bool)>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> LifecycleHandle {
        let (tx, inbox) = mpsc::channel(4096);
        let mut mute = mute::Mute::new(maintenance);
        mute.release(None, (&store, &settings, &metrics, &clock), &cancel)
            .await;
        let root = root_cause::RootCause::start(&store, &settings, &clock, states, &cancel).await;
        let actor = Actor {
            store,
            settings,
            metrics,
            clock,
            mute,
            root,
        };
        tasks.spawn(run(actor, inbox, cancel));
        LifecycleHandle { tx }
    }

    /// Queues a verdict; `false` when the actor is gone.
    pub async fn verdict(&self, service: ServiceId, verdict: Verdict) -> bool {
        self.tx
            .send(LifecycleMsg::Verdict(ServiceVerdict { service, verdict }))
            .await
            .is_ok()
    }

    /// Queues a reconfiguration behind the verdicts already queued;
    /// `false` when the actor is gone. (The evaluator sends it: see
    /// [`Reconfigure`].)
    pub(crate) async fn reconfigure(&self, r: Reconfigure) -> bool {
        self.tx.send(LifecycleMsg::Reconfigure(r)).await.is_ok()
    }

    /// Queues a manual close of `request` behind the verdicts already
    /// queued (see [`Store::close_request_by_hand`]); `reply` gets the
    /// closed request or the store's refusal.
    pub(crate) async fn close_by_hand(&self, close: CloseByHand) {
        if let Err(mpsc::error::SendError(msg)) =
            self.tx.send(LifecycleMsg::CloseByHand(close)).await
            && let LifecycleMsg::CloseByHand(close) = msg
        {
            let _ = close.reply.send(Err(StoreError::Stopped));
        }
    }
}

/// What the lifecycle actor owns once resumed.
struct Actor {
    store: Store,
    settings: LifecycleSettings,
    metrics: Arc<Metrics>,
    clock: Clock,
    mute: mute::Mute,
    root: root_cause::RootCause,
}

async fn run(actor: Actor, mut inbox: mpsc::Receiver<LifecycleMsg>, cancel: CancellationToken) {
    let Actor {
        store,
        mut settings,
        metrics,
        clock,
        mut mute,
        mut root,
    } = actor;
    // The message that ended a run of quiet verdicts, handled next.
    let mut next = None;
    loop {
        let due = root.due_in(&clock);
        let msg = if let Some(msg) = next.take() {
            Some(msg)
        } else {
            tokio::select! {
                v = inbox.recv() => v,
                ended = mute.changed() => {
                    mute.release(Some(&ended), (&store, &settings, &metrics, &clock), &cancel).await;
                    continue;
                }
                () = sleep_or_never(due) => {
                    root.tick(&store, &metrics, &settings, &clock).await;
                    continue;
                }
                () = cancel.cancelled() => {
                    // Drain what the evaluator already decided.
                    inbox.close();
                    inbox.recv().await
                }
            }
        };
        let verdict = match msg {
            None => break,
            Some(LifecycleMsg::Reconfigure(r)) => {
                settings = r.settings;
                let _ = r.reply.send(store.sync_config(&r.catalog).await);
                continue;
            }
            Some(LifecycleMsg::CloseByHand(close)) => {
                if let Some(id) = close_by_hand(&store, close).await {
                    root.closed_by_hand(id);
                }
                continue;
            }
            Some(LifecycleMsg::Verdict(v)) => v,
        };
        let ServiceVerdict { service, verdict } = verdict;
        let Some(svc) = settings.service(&service) else {
            continue;
        };
        if let Some(first) = quiet::quiet(&service, &verdict, &settings, &mute, &root) {
            let (run, after) = quiet::gather(first, &mut inbox, &settings, &mute, &root);
            next = after;
            if quiet::store_run(&run, &store, &cancel).await {
                quiet::stored(&run, &settings, &mut root, &metrics);
                root.tick(&store, &metrics, &settings, &clock).await;
            }
            continue;
        }
        let muted = mute.muted(svc.equipment);
        if muted && let Verdict::Down { votes, .. } = &verdict {
            mute.held(&service, votes);
        }
        let mut retry = Retry::new();
        loop {
            let ctx = (&store, &*metrics, &clock, &settings);
            match persist(ctx, &svc, &verdict, muted, &mut root).await {
                Ok(()) => {
                    if let Some(state) = verdict.stored_state() {
                        metrics.board.set_state(&service, state);
                    }
                    root.tick(&store, &metrics, &settings, &clock).await;
                    break;
                }
                Err(e)
                    if !retry
                        .after(&e, &cancel, || format!("the verdict on {service}"))
                        .await =>
                {
                    break;
                }
                Err(_) => {}
            }
        }
    }
}

/// Sleeps `due`, or forever when `None` (no grouping decision waits).
async fn sleep_or_never(due: Option<Duration>) {
    match due {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Stores `verdict` of `svc`: through the mute window's hold when `muted`,
/// else through the grouping (`root`) for what opens and closes requests.
async fn persist(
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

mod mute;

#[cfg(test)]
mod tests;
