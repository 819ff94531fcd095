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
mod persist;
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

use crate::config::settings::{CatalogSettings, LifecycleSettings};
use crate::domain::{ServiceId, ServiceMap, ServiceState, Verdict};
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::time::Clock;
pub(crate) use by_hand::CloseByHand;
use by_hand::close_by_hand;
use persist::persist;
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

/// What the lifecycle resumes from: the maintenance actor's running set
/// (kept for its mute windows) and the services' stored states with their
/// open-request flags, as the leader read them at start.
pub struct ResumeFrom<'a> {
    pub maintenance: watch::Receiver<Arc<MaintenanceSet>>,
    pub states: &'a ServiceMap<(ServiceState, bool)>,
}

/// Resolves once the lifecycle has resumed from the store (or is gone).
pub struct Resumed(oneshot::Receiver<()>);

impl Resumed {
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

/// Handle to the lifecycle actor.
#[derive(Clone)]
pub struct LifecycleHandle {
    tx: mpsc::Sender<LifecycleMsg>,
}

impl LifecycleHandle {
    /// Spawns the actor. It first resumes from the store (the outages
    /// held by windows that ended while no collector led released, the
    /// open host and monitoring requests read), from `from.states` (only
    /// those down, in maintenance or paused are kept). Verdicts queue
    /// meanwhile. The leader waits for [`Resumed`] before it opens its
    /// gates, so a collector that reports ready has a lifecycle that has
    /// resumed; a store error is retried until `cancel`.
    pub fn spawn(
        store: Store,
        settings: LifecycleSettings,
        metrics: Arc<Metrics>,
        clock: Clock,
        from: ResumeFrom<'_>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> (LifecycleHandle, Resumed) {
        let ResumeFrom {
            maintenance,
            states,
        } = from;
        let (tx, inbox) = mpsc::channel(4096);
        let (resumed, done) = oneshot::channel();
        let states = root_cause::RootCause::kept_states(states);
        let mute = mute::Mute::new(maintenance);
        let actor = Actor {
            store,
            settings,
            metrics,
            clock,
            mute,
        };
        tasks.spawn(run(actor, (states, resumed), inbox, cancel));
        (LifecycleHandle { tx }, Resumed(done))
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
}

/// Resumes (`resume`: the kept states, and who waits for the resume),
/// then handles the inbox until it closes.
async fn run(
    actor: Actor,
    resume: (Vec<(ServiceId, ServiceState)>, oneshot::Sender<()>),
    mut inbox: mpsc::Receiver<LifecycleMsg>,
    cancel: CancellationToken,
) {
    let Actor {
        store,
        mut settings,
        metrics,
        clock,
        mut mute,
    } = actor;
    let (states, resumed) = resume;
    mute.release(None, (&store, &settings, &metrics, &clock), &cancel)
        .await;
    let mut root = root_cause::RootCause::start(&store, &settings, &clock, states, &cancel).await;
    let _ = resumed.send(());
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

mod mute;

#[cfg(test)]
mod tests;
