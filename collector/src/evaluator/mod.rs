//! `EvaluatorActor`: owns one [`tracker::Tracker`] per service and the
//! timers of their recheck rounds.
//!
//! Ingest sends it committed observations; it feeds them to the trackers,
//! schedules rounds (`recheck_delay` after the failing result was
//! received), sends recheck orders to the live agents assigned to the
//! service (non-blocking `try_send` on their downlinks: a back-edge), closes
//! rounds at `recheck_timeout`, and forwards verdicts to the lifecycle
//! actor. It also answers `CheckNow` by running an ad-hoc round whose votes
//! count for nothing. It never touches the store.
//!
//! Paused services (`active = false`) have no tracker (`pause.rs`: what
//! pausing and resuming do); requests closed by hand pass through here to
//! the lifecycle so that their service's tracker holds (`manual.rs`).
//! A result showing a certificate that expires soon is passed on once as a
//! `CertExpiring` verdict (`cert.rs`).
//!
//! Settings: [`EvaluatorSettings`] (each service's verdict policy, its
//! equipment, and the check timeout a check-now round waits).

mod cert;
mod check_now;
mod degraded;
mod directory;
mod manual;
mod pause;
mod reconfigure;
mod start;
pub mod tracker;

use check_now::CheckNowRound;
pub use check_now::{CheckNowError, CheckNowResult};
pub use reconfigure::Reconfigure;
pub use start::Start;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::DelayQueue;
use tracing::{debug, warn};

use crate::agents::directory::Directory;
use crate::config::settings::EvaluatorSettings;
use crate::domain::{AgentId, Downlink, Observation, ServiceId, ServiceMap, Verdict};
use crate::lifecycle::LifecycleHandle;
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::mute::MutedSet;
use crate::time::Clock;
use tracker::{Effect, Tracker};

enum Msg {
    Observations(Vec<Observation>),
    CheckNow {
        service: ServiceId,
        reply: oneshot::Sender<Result<Vec<CheckNowResult>, CheckNowError>>,
    },
    Reconfigure(Reconfigure),
    CloseByHand(manual::Close),
}

enum Timer {
    StartRound(ServiceId),
    RoundDeadline(ServiceId, u64),
    CheckNowDeadline(u64),
}

/// Handle to the evaluator.
#[derive(Clone)]
pub struct EvaluatorHandle {
    tx: mpsc::Sender<Msg>,
}

struct EvaluatorActor {
    settings: EvaluatorSettings,
    inbox: mpsc::Receiver<Msg>,
    trackers: pause::Trackers,
    timers: DelayQueue<Timer>,
    /// Live agents per service, published by the agents registry.
    directory: watch::Receiver<Arc<Directory>>,
    maintenance: watch::Receiver<Arc<MaintenanceSet>>,
    /// Forward path to the lifecycle actor.
    lifecycle: LifecycleHandle,
    next_round: u64,
    check_now: HashMap<u64, CheckNowRound>,
    /// Recheck orders dropped because an agent's downlink was full.
    dropped_orders: u64,
    /// Whether each service had a live agent at the last directory change.
    observed: ServiceMap<bool>,
    /// Which certificate expiries were passed on as warnings (`cert.rs`).
    certs: cert::CertWatch,
    /// "Now" for certificate expiries.
    clock: Clock,
    /// Counts concluded rounds by outcome.
    metrics: Arc<Metrics>,
    /// Muted agents: out of every round (`degraded.rs`).
    muted: watch::Receiver<Arc<MutedSet>>,
    /// Verdicts decided at start (services paused or resumed since the
    /// stored state), sent first thing in `run`.
    start_verdicts: Vec<(ServiceId, Verdict)>,
}

impl EvaluatorHandle {
    /// Spawns the evaluator with one tracker per active service, from
    /// `start`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the actor's inputs, its two outputs, and the task plumbing"
    )]
    pub fn spawn(
        settings: EvaluatorSettings,
        start: Start,
        directory: watch::Receiver<Arc<Directory>>,
        maintenance: watch::Receiver<Arc<MaintenanceSet>>,
        muted: watch::Receiver<Arc<MutedSet>>,
        lifecycle: LifecycleHandle,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> EvaluatorHandle {
        let (tx, inbox) = mpsc::channel(4096);
        let (trackers, start_verdicts) = pause::start_trackers(&settings, &start);
        let actor = EvaluatorActor {
            certs: cert::CertWatch::default(),
            clock: start.clock.clone(),
            settings,
            inbox,
            trackers,
            timers: DelayQueue::new(),
            directory,
            maintenance,
            lifecycle,
            next_round: start.first_round,
            check_now: HashMap::new(),
            dropped_orders: 0,
            observed: ServiceMap::default(),
            metrics,
            muted,
            start_verdicts,
        };
        tasks.spawn(actor.run(cancel));
        EvaluatorHandle { tx }
    }

    /// Hands committed observations over; waits when the evaluator is behind.
    pub async fn observe(&self, batch: Vec<Observation>) -> bool {
        self.tx.send(Msg::Observations(batch)).await.is_ok()
    }

    /// Probes `service` from all its live agents now.
    pub async fn check_now(
        &self,
        service: ServiceId,
    ) -> Result<Vec<CheckNowResult>, CheckNowError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::CheckNow { service, reply })
            .await
            .map_err(|_| CheckNowError::Stopped)?;
        rx.await.map_err(|_| CheckNowError::Stopped)?
    }

    /// Applies a reload's part (see [`Reconfigure`]); `false` when the
    /// evaluator is gone.
    pub async fn reconfigure(&self, r: Reconfigure) -> bool {
        self.tx.send(Msg::Reconfigure(r)).await.is_ok()
    }
}

impl EvaluatorActor {
    async fn run(mut self, cancel: CancellationToken) {
        for (service, verdict) in std::mem::take(&mut self.start_verdicts) {
            self.apply(&service, vec![Effect::Verdict(verdict)]).await;
        }
        self.apply_maintenance().await;
        self.apply_directory().await;
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(Msg::Observations(batch)) => {
                        for obs in batch {
                            self.observe(obs).await;
                        }
                    }
                    Some(Msg::CheckNow { service, reply }) => self.start_check_now(service, reply),
                    Some(Msg::Reconfigure(r)) => self.reconfigure(r).await,
                    Some(Msg::CloseByHand(close)) => self.close_by_hand(close).await,
                    None => break,
                },
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)) => {
                    match expired.into_inner() {
                        Timer::StartRound(service) => self.start_round(&service).await,
                        Timer::RoundDeadline(service, round) => {
                            if let Some((t, p)) = self.trackers.get_mut(&service) {
                                let effects = t.round_deadline(round, p);
                                count_round(&self.metrics, t);
                                self.apply(&service, effects).await;
                            }
                        }
                        Timer::CheckNowDeadline(round) => self.check_now_deadline(round),
                    }
                }
                // The mute actor may stop first (or be absent in tests):
                // the last set stays.
                changed = self.muted.changed(), if self.muted.has_changed().is_ok() => {
                    if changed.is_ok() { self.apply_mutes().await; }
                }
                changed = self.maintenance.changed() => {
                    if changed.is_err() { break; }
                    self.apply_maintenance().await;
                }
                changed = self.directory.changed() => {
                    // Shutdown ends the sessions, and the directory empties
                    // after the token fired: that is not agents leaving, and
                    // must not store `unknown` on the way out.
                    if changed.is_err() || cancel.is_cancelled() { break; }
                    self.apply_directory().await;
                }
                () = cancel.cancelled() => break,
            }
        }
        if self.dropped_orders > 0 {
            warn!(
                dropped = self.dropped_orders,
                "recheck orders were dropped on full agent downlinks"
            );
        }
    }

    async fn observe(&mut self, obs: Observation) {
        let Some(obs) = self.check_now_answer(obs) else {
            return;
        };
        if self.is_muted(&obs.agent) {
            return;
        }
        let Some((tracker, policy)) = self.trackers.get_mut(&obs.service) else {
            debug!(service_id = %obs.service, "observation for a service that is not configured");
            return;
        };
        let cert = self.certs.sighting(
            &obs.service,
            tracker.state(),
            policy.cert_expiry_warning,
            obs.outcome.cert_not_after_ms,
            self.clock.now_ms(),
        );
        let effects = if obs.round_id == 0 {
            tracker.observe_from(&obs.agent, obs.outcome.ok, policy)
        } else {
            let effects = tracker.vote(obs.round_id, &obs.agent, obs.outcome, obs.time_ms, policy);
            count_round(&self.metrics, tracker);
            effects
        };
        let service = obs.service.clone();
        // recheck_delay counts from the receipt of the failing result.
        for effect in &effects {
            if let Effect::ScheduleRound { delay } = effect {
                let at = obs.received + *delay;
                self.timers
                    .insert_at(Timer::StartRound(service.clone()), at.max(Instant::now()));
            }
        }
        self.apply(&service, effects).await;
        if let Some(warning) = cert {
            self.apply(&service, vec![Effect::Verdict(warning)]).await;
        }
    }

    fn round_id(&mut self) -> u64 {
        self.next_round += 1;
        self.next_round
    }

    /// Orders every live agent assigned to `service` to probe it now.
    /// Asks the live agents assigned to `service` to recheck it now:
    /// those asked, with their name and region.
    fn order_recheck(
        &mut self,
        service: &ServiceId,
        round: u64,
    ) -> BTreeMap<AgentId, (String, String)> {
        // Borrowed, not cloned: try_send never waits.
        let directory = self.directory.borrow();
        let muted = self.muted.borrow().clone();
        let mut asked = BTreeMap::new();
        for link in directory.assigned(service) {
            if muted.contains_key(&link.id) {
                continue;
            }
            match link.tx.try_send(Downlink::Recheck {
                service: service.clone(),
                round_id: round,
            }) {
                Ok(()) => {
                    asked.insert(link.id.clone(), (link.name.clone(), link.region.clone()));
                }
                Err(_) => self.dropped_orders += 1,
            }
        }
        asked
    }

    async fn start_round(&mut self, service: &ServiceId) {
        let round = self.round_id();
        let due = self
            .trackers
            .get(service)
            .is_some_and(|(t, _)| t.round_due());
        let voters = if !due {
            BTreeMap::new()
        } else {
            (self.order_recheck(service, round).into_iter())
                .map(|(id, (name, _))| (id, name))
                .collect()
        };
        let Some((tracker, policy)) = self.trackers.get_mut(service) else {
            return;
        };
        debug!(service_id = %service, round, voters = voters.len(), "recheck round");
        let timeout = policy.recheck_timeout;
        let effects = tracker.start_round(round, voters, policy);
        if tracker.round_id() == Some(round) {
            self.timers
                .insert(Timer::RoundDeadline(service.clone(), round), timeout);
        }
        self.apply(service, effects).await;
    }

    async fn apply_maintenance(&mut self) {
        let set = self.maintenance.borrow_and_update().clone();
        let mut all = Vec::new();
        for s in &self.settings.services {
            if let Some((tracker, _)) = self.trackers.get_mut(&s.id) {
                let effects =
                    tracker.set_maintenance(crate::maintenance::paused(&set, &s.equipment));
                if !effects.is_empty() {
                    all.push((s.id.clone(), effects));
                }
            }
        }
        for (service, effects) in all {
            self.apply(&service, effects).await;
        }
    }

    /// Carries out a tracker's effects (rounds are scheduled by the caller
    /// that knows when the observation was received).
    async fn apply(&mut self, service: &ServiceId, effects: Vec<Effect>) {
        for effect in self.place_degraded(service, effects) {
            let Effect::Verdict(verdict) = effect else {
                continue;
            };
            if !self.lifecycle.verdict(service.clone(), verdict).await {
                warn!(service_id = %service, "lifecycle stopped; verdict lost");
            }
        }
    }
}

/// Counts the round `tracker` just concluded, if it did.
fn count_round(metrics: &Metrics, tracker: &mut Tracker) {
    if let Some(outcome) = tracker.take_concluded() {
        metrics.recheck_round(outcome.as_str());
    }
}

#[cfg(test)]
mod tests;
