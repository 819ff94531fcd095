//! `LifecycleActor`: turns verdicts into stored state, requests and events.
//!
//! The evaluator sends it every [`Effect`] in order; it is the only writer
//! of service states. `Down` opens `[HTTP KO] {url}` unless the service has
//! an open request (the store's unique index backs that), `Up` closes the
//! open request with a note by `picket` and clears the link, `LocalFailure`
//! records `service.local_failure`. Webhooks follow from the events the
//! store writes in the same transactions; this actor sends nothing itself.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{Config, ServiceConfig};
use crate::domain::{ServiceId, ServiceState};
use crate::evaluator::tracker::{Effect, Vote};
use crate::metrics::Metrics;
use crate::store::{NewRequest, Opened, Store};
use crate::time::{now_ms, rfc3339};

/// One effect on one service, in the evaluator's order.
pub(crate) struct Verdict {
    pub service: ServiceId,
    pub effect: Effect,
}

/// Handle to the lifecycle actor.
#[derive(Clone)]
pub struct LifecycleHandle {
    tx: mpsc::Sender<Verdict>,
}

impl LifecycleHandle {
    pub fn spawn(
        store: Store,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> LifecycleHandle {
        let (tx, inbox) = mpsc::channel(4096);
        tasks.spawn(run(store, config, metrics, inbox, cancel));
        LifecycleHandle { tx }
    }

    /// A handle whose verdicts land in the returned receiver (tests).
    #[cfg(test)]
    pub(crate) fn channel() -> (LifecycleHandle, mpsc::Receiver<Verdict>) {
        let (tx, rx) = mpsc::channel(64);
        (LifecycleHandle { tx }, rx)
    }

    /// Queues a verdict; `false` when the actor is gone.
    pub async fn verdict(&self, service: ServiceId, effect: Effect) -> bool {
        self.tx.send(Verdict { service, effect }).await.is_ok()
    }
}

async fn run(
    store: Store,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    mut inbox: mpsc::Receiver<Verdict>,
    cancel: CancellationToken,
) {
    loop {
        let verdict = tokio::select! {
            v = inbox.recv() => v,
            () = cancel.cancelled() => {
                // Drain what the evaluator already decided.
                inbox.close();
                inbox.recv().await
            }
        };
        let Some(Verdict { service, effect }) = verdict else {
            break;
        };
        let Some(svc) = config.service(&service) else {
            continue;
        };
        let mut delay = Duration::from_millis(100);
        // A verdict is retried until it is stored: dropping it would lose a
        // request or leave a wrong state.
        while let Err(e) = persist(&store, &config, &metrics, svc, &effect).await {
            if cancel.is_cancelled() {
                error!(service_id = %service, error = %e, "verdict not stored at shutdown");
                break;
            }
            warn!(service_id = %service, error = %e, "cannot store verdict; retrying");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => {}
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
}

async fn persist(
    store: &Store,
    config: &Config,
    metrics: &Metrics,
    svc: &ServiceConfig,
    effect: &Effect,
) -> Result<(), crate::store::StoreError> {
    match effect {
        Effect::ScheduleRound { .. } => {}
        Effect::State { from, to } => {
            store.set_service_state(&svc.id, *to).await?;
            info!(service_id = %svc.id, from = %from, to = %to, "service state changed");
        }
        Effect::Down { from, votes } => {
            let request = NewRequest {
                name: format!("[HTTP KO] {}", svc.url),
                kind: "corrective".into(),
                priority: svc.priority.clone(),
                description: describe_failure(svc, votes),
                equipment_id: Some(svc.equipment.clone()),
                url: Some(svc.url.clone()),
            };
            let body = service_body(config, svc, ServiceState::Down, votes);
            match store.service_down(&svc.id, request, body).await? {
                Opened::New(req) => {
                    metrics.request_opened("corrective");
                    info!(service_id = %svc.id, from = %from, request = req.id, "service down: request opened")
                }
                Opened::Existing(id) => {
                    info!(service_id = %svc.id, from = %from, request = id, "service down: request already open")
                }
            }
        }
        Effect::Up {
            from,
            had_request,
            votes,
        } => {
            let note = closing_note(svc, votes);
            let body = service_body(config, svc, ServiceState::Up, votes);
            let closed = store
                .service_up(
                    &svc.id,
                    *from == ServiceState::Down || *had_request,
                    &note,
                    body,
                )
                .await?;
            match closed {
                Some(req) => {
                    info!(service_id = %svc.id, from = %from, request = req.id, "service up: request closed")
                }
                None => info!(service_id = %svc.id, from = %from, "service up"),
            }
        }
        Effect::LocalFailure { votes } => {
            let body = service_body(config, svc, ServiceState::Up, votes);
            store
                .record_event("service.local_failure", &svc.id, body)
                .await?;
            for v in votes {
                metrics.local_failure(&svc.id, &v.agent);
            }
            let agents: Vec<&str> = votes.iter().map(|v| v.agent_name.as_str()).collect();
            info!(service_id = %svc.id, agents = ?agents, "local failure: the quorum did not confirm");
        }
    }
    Ok(())
}

/// `HTTP 503` (the first failing vote's label), then who saw what.
pub fn describe_failure(svc: &ServiceConfig, votes: &[Vote]) -> String {
    let label = votes
        .iter()
        .find_map(|v| v.outcome.error.clone())
        .unwrap_or_else(|| "failure".to_owned());
    let mut text = format!("{label}\n\n{} failed the double-check.\nSeen by:", svc.url);
    for v in votes {
        let what = v.outcome.error.as_deref().unwrap_or("failed");
        text.push_str(&format!(
            "\n- {} ({}): {} at {}",
            v.agent_name,
            v.agent,
            what,
            rfc3339(v.time_ms)
        ));
    }
    text
}

/// The automatic closing note (author `picket`).
pub fn closing_note(svc: &ServiceConfig, votes: &[Vote]) -> String {
    let agents: Vec<&str> = votes.iter().map(|v| v.agent_name.as_str()).collect();
    let code = votes
        .iter()
        .find_map(|v| v.outcome.status_code)
        .map_or_else(|| "OK".to_owned(), |c| format!("HTTP {c}"));
    format!(
        "closed automatically: {} answered {} from agents {} at {}",
        svc.url,
        code,
        if agents.is_empty() {
            "-".to_owned()
        } else {
            agents.join(", ")
        },
        rfc3339(now_ms())
    )
}

/// The body of `service.*` events.
fn service_body(
    config: &Config,
    svc: &ServiceConfig,
    state: ServiceState,
    votes: &[Vote],
) -> Map<String, Value> {
    let equipment = config
        .equipment(&svc.equipment)
        .map_or(svc.equipment.as_str(), |e| e.name.as_str());
    let v = json!({
        "service": svc.id,
        "id": svc.id,
        "url": svc.url,
        "equipment": equipment,
        "equipment_id": svc.equipment,
        "state": state.as_str(),
        "votes": votes.iter().map(|v| json!({
            "agent": v.agent,
            "agent_name": v.agent_name,
            "ok": v.outcome.ok,
            "status_code": v.outcome.status_code,
            "error_kind": v.outcome.error_kind.map(|k| k.as_str()),
            "error": v.outcome.error,
            "time": rfc3339(v.time_ms),
        })).collect::<Vec<_>>(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
