//! `Event`: one variant per event type of PRODUCT.md ("Webhooks"), each
//! with typed data, and its ONE JSON encoding.
//!
//! The store writes [`Event::encode`]'s text once per event; the event
//! log (read by WatchEvents) and the webhook outbox rows carry that same
//! text. The bodies' field names are a contract with webhook receivers
//! (PRODUCT.md "Precise details"): `event`, `event_id`, `time`, then the
//! subject's fields — a request's, a service's, an `agent` object, a
//! maintenance window, or the disabled webhook's name and reason.

use serde_json::{Map, Value, json};

use super::{
    AgentId, AgentState, DegradedAgent, EquipmentId, EventType, Liveness, Request, RequestKind,
    ServiceId, ServiceState, Vote,
};
use crate::time::rfc3339;

mod degraded;
mod heartbeat;
pub use degraded::degraded_json;
pub use heartbeat::HeartbeatSnapshot;

/// A service as `service.*` events show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    pub id: ServiceId,
    /// The URL as configured.
    pub url: String,
    pub equipment_id: EquipmentId,
    /// The equipment's display name.
    pub equipment: String,
    pub state: ServiceState,
    /// The votes behind the event (failing for `down`, succeeding for `up`).
    pub votes: Vec<Vote>,
}

/// An agent as `agent.*` events (and agent `request.opened`) show it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSnapshot {
    pub id: AgentId,
    pub name: String,
    pub region: String,
    pub state: AgentState,
    pub liveness: Liveness,
    pub last_seen_ms: Option<i64>,
}

/// A request as `request.*` events show it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSnapshot {
    pub request: Request,
    /// The equipment's display name (empty when the request has none).
    pub equipment: String,
    /// The request's page on the collector.
    pub link: String,
    /// The services of a `host` or `monitoring` request (empty otherwise).
    pub services: Vec<ServiceId>,
}

/// A maintenance window as `maintenance.*` events show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceSnapshot {
    pub equipment_id: EquipmentId,
    /// The equipment's display name.
    pub equipment: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub reason: String,
    pub mode: super::MaintenanceMode,
    /// The recurring window that started it (`None`: by hand).
    pub schedule: Option<String>,
}

/// Something that happened, as the event log and webhooks record it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A request was opened; an agent request carries its agent.
    RequestOpened {
        request: RequestSnapshot,
        agent: Option<AgentSnapshot>,
    },
    RequestClosed(RequestSnapshot),
    ServiceDown(ServiceSnapshot),
    ServiceUp(ServiceSnapshot),
    ServiceLocalFailure(ServiceSnapshot),
    /// The earliest certificate of a service expires soon (or expired):
    /// once per certificate, identified by its `notAfter`.
    ServiceCertExpiring {
        service: ServiceSnapshot,
        not_after_ms: i64,
        /// Whole days left when the event was written (negative once
        /// expired; see [`super::cert::days_left`]).
        days_left: i64,
    },
    AgentRegistered(AgentSnapshot),
    AgentApproved(AgentSnapshot),
    AgentSuspended(AgentSnapshot),
    AgentDown(AgentSnapshot),
    AgentUp(AgentSnapshot),
    /// A second connection with a connected agent's id was refused.
    AgentDuplicate(AgentSnapshot),
    MaintenanceStarted(MaintenanceSnapshot),
    MaintenanceEnded(MaintenanceSnapshot),
    /// A webhook receiver answered 410 Gone: nothing more is sent to it
    /// until the collector restarts (or reloads its configuration).
    WebhookDisabled {
        webhook: String,
        reason: String,
    },
    /// Some agents keep failing the service below the quorum (it started,
    /// or the set of failing agents changed).
    ServiceDegraded {
        service: ServiceSnapshot,
        agents: Vec<DegradedAgent>,
    },
    /// Every failing agent recovered: the service is `up` again.
    ServiceDegradedEnded(ServiceSnapshot),
    /// An agent was muted: it keeps probing, out of every quorum.
    AgentMuted {
        agent: AgentSnapshot,
        until_ms: i64,
        note: String,
    },
    /// An agent's mute ended (by hand or at its end time).
    AgentUnmuted(AgentSnapshot),
    /// An open, unacknowledged request is still open: reminder number
    /// `reminder` (from 1), `open_for_s` seconds after it opened.
    RequestReminder {
        request: RequestSnapshot,
        reminder: i64,
        open_for_s: i64,
    },
    /// Someone acknowledged an open request (its reminders stop).
    RequestAcknowledged(RequestSnapshot),
    HeartbeatRegistered(HeartbeatSnapshot),
    HeartbeatApproved(HeartbeatSnapshot),
    HeartbeatSuspended(HeartbeatSnapshot),
    /// Silent past `period + grace`.
    HeartbeatMissed(HeartbeatSnapshot),
    /// A late heartbeat pinged again.
    HeartbeatResumed(HeartbeatSnapshot),
    /// Two sources ping its token alternately (a cloned instance).
    HeartbeatCloned(HeartbeatSnapshot),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::RequestOpened { .. } => EventType::RequestOpened,
            Event::RequestClosed(_) => EventType::RequestClosed,
            Event::ServiceDown(_) => EventType::ServiceDown,
            Event::ServiceUp(_) => EventType::ServiceUp,
            Event::ServiceLocalFailure(_) => EventType::ServiceLocalFailure,
            Event::ServiceCertExpiring { .. } => EventType::ServiceCertExpiring,
            Event::AgentRegistered(_) => EventType::AgentRegistered,
            Event::AgentApproved(_) => EventType::AgentApproved,
            Event::AgentSuspended(_) => EventType::AgentSuspended,
            Event::AgentDown(_) => EventType::AgentDown,
            Event::AgentUp(_) => EventType::AgentUp,
            Event::AgentDuplicate(_) => EventType::AgentDuplicate,
            Event::MaintenanceStarted(_) => EventType::MaintenanceStarted,
            Event::MaintenanceEnded(_) => EventType::MaintenanceEnded,
            Event::WebhookDisabled { .. } => EventType::WebhookDisabled,
            Event::ServiceDegraded { .. } => EventType::ServiceDegraded,
            Event::ServiceDegradedEnded(_) => EventType::ServiceDegradedEnded,
            Event::AgentMuted { .. } => EventType::AgentMuted,
            Event::AgentUnmuted(_) => EventType::AgentUnmuted,
            Event::RequestReminder { .. } => EventType::RequestReminder,
            Event::RequestAcknowledged(_) => EventType::RequestAcknowledged,
            Event::HeartbeatRegistered(_) => EventType::HeartbeatRegistered,
            Event::HeartbeatApproved(_) => EventType::HeartbeatApproved,
            Event::HeartbeatSuspended(_) => EventType::HeartbeatSuspended,
            Event::HeartbeatMissed(_) => EventType::HeartbeatMissed,
            Event::HeartbeatResumed(_) => EventType::HeartbeatResumed,
            Event::HeartbeatCloned(_) => EventType::HeartbeatCloned,
        }
    }

    /// The id of what the event is about: request, service, agent or
    /// equipment.
    pub fn subject(&self) -> String {
        match self {
            Event::RequestOpened { request, .. }
            | Event::RequestClosed(request)
            | Event::RequestReminder { request, .. }
            | Event::RequestAcknowledged(request) => request.request.id.to_string(),
            Event::ServiceDown(s)
            | Event::ServiceUp(s)
            | Event::ServiceLocalFailure(s)
            | Event::ServiceCertExpiring { service: s, .. }
            | Event::ServiceDegraded { service: s, .. }
            | Event::ServiceDegradedEnded(s) => s.id.to_string(),
            Event::AgentRegistered(a)
            | Event::AgentApproved(a)
            | Event::AgentSuspended(a)
            | Event::AgentDown(a)
            | Event::AgentUp(a)
            | Event::AgentDuplicate(a)
            | Event::AgentMuted { agent: a, .. }
            | Event::AgentUnmuted(a) => a.id.to_string(),
            Event::MaintenanceStarted(m) | Event::MaintenanceEnded(m) => m.equipment_id.to_string(),
            Event::WebhookDisabled { webhook, .. } => webhook.clone(),
            Event::HeartbeatRegistered(h)
            | Event::HeartbeatApproved(h)
            | Event::HeartbeatSuspended(h)
            | Event::HeartbeatMissed(h)
            | Event::HeartbeatResumed(h)
            | Event::HeartbeatCloned(h) => h.id.to_string(),
        }
    }

    /// The subject's fields, without the `event`, `event_id`, `time` envelope.
    pub fn body(&self) -> Map<String, Value> {
        match self {
            Event::RequestOpened { request, agent } => {
                let mut body = request_body(request);
                if let Some(a) = agent {
                    body.insert("agent".into(), agent_json(a));
                }
                body
            }
            Event::ServiceDown(s)
            | Event::ServiceUp(s)
            | Event::ServiceLocalFailure(s)
            | Event::ServiceDegradedEnded(s) => service_body(s),
            Event::ServiceDegraded { service, agents } => {
                let mut body = service_body(service);
                body.insert("agents".into(), degraded_json(agents));
                body
            }
            Event::RequestClosed(request) | Event::RequestAcknowledged(request) => {
                request_body(request)
            }
            Event::RequestReminder {
                request,
                reminder,
                open_for_s,
            } => {
                let mut body = request_body(request);
                body.insert("reminder".into(), (*reminder).into());
                body.insert("open_for".into(), (*open_for_s).into());
                body
            }
            Event::ServiceCertExpiring {
                service,
                not_after_ms,
                days_left,
            } => {
                let mut body = service_body(service);
                body.insert("not_after".into(), rfc3339(*not_after_ms).into());
                body.insert("days_left".into(), (*days_left).into());
                body.insert("expired".into(), (*days_left < 0).into());
                body
            }
            Event::AgentRegistered(a)
            | Event::AgentApproved(a)
            | Event::AgentSuspended(a)
            | Event::AgentDown(a)
            | Event::AgentUp(a)
            | Event::AgentDuplicate(a)
            | Event::AgentUnmuted(a) => {
                let mut body = Map::new();
                body.insert("agent".into(), agent_json(a));
                body
            }
            Event::AgentMuted {
                agent,
                until_ms,
                note,
            } => object(json!({
                "agent": agent_json(agent),
                "muted_until": rfc3339(*until_ms),
                "mute_note": note,
            })),
            Event::MaintenanceStarted(m) | Event::MaintenanceEnded(m) => object(json!({
                "equipment": m.equipment,
                "equipment_id": m.equipment_id,
                "starts_at": rfc3339(m.starts_ms),
                "ends_at": rfc3339(m.ends_ms),
                "reason": m.reason,
                "mode": m.mode.as_str(),
                "schedule": m.schedule,
            })),
            Event::WebhookDisabled { webhook, reason } => object(json!({
                "webhook": webhook,
                "reason": reason,
            })),
            Event::HeartbeatRegistered(h)
            | Event::HeartbeatApproved(h)
            | Event::HeartbeatSuspended(h)
            | Event::HeartbeatMissed(h)
            | Event::HeartbeatResumed(h)
            | Event::HeartbeatCloned(h) => {
                let mut body = Map::new();
                body.insert("heartbeat".into(), heartbeat::heartbeat_json(h));
                body
            }
        }
    }

    /// The JSON text stored in the event log and sent to webhooks: the
    /// body with `event`, `event_id` and `time` (RFC 3339 of `time_ms`).
    pub fn encode(&self, event_id: &str, time_ms: i64) -> String {
        let mut body = self.body();
        body.insert("event".into(), self.event_type().as_str().into());
        body.insert("event_id".into(), event_id.into());
        body.insert("time".into(), rfc3339(time_ms).into());
        Value::Object(body).to_string()
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The ERP module's field names (`id, name, priority, description,
/// equipment, link`) and the rest of the request.
fn request_body(s: &RequestSnapshot) -> Map<String, Value> {
    let r = &s.request;
    let mut body = request_fields(s);
    if matches!(r.kind, RequestKind::Host | RequestKind::Monitoring) {
        body.insert("services".into(), json!(s.services));
    }
    body
}

fn request_fields(s: &RequestSnapshot) -> Map<String, Value> {
    let r = &s.request;
    object(json!({
        "id": r.id,
        "name": r.name,
        "kind": r.kind.as_str(),
        "priority": r.priority,
        "description": r.description,
        "stage": r.stage.as_str(),
        "service": r.service_id,
        "agent": r.agent_id,
        "url": r.url,
        "equipment": s.equipment,
        "equipment_id": r.equipment_id,
        "link": s.link,
        "opened_at": rfc3339(r.opened_ms),
        "closed_at": r.closed_ms.map(rfc3339),
        "close_reason": r.close_reason.map(|c| c.as_str()),
        "acknowledged_at": r.acknowledged_ms.map(rfc3339),
        "acknowledged_by": r.acknowledged_by,
        "notes": r.notes.iter().map(|n| json!({
            "author": n.author,
            "time": rfc3339(n.time_ms),
            "text": n.text,
        })).collect::<Vec<_>>(),
    }))
}

fn service_body(s: &ServiceSnapshot) -> Map<String, Value> {
    object(json!({
        "service": s.id,
        "id": s.id,
        "url": s.url,
        "equipment": s.equipment,
        "equipment_id": s.equipment_id,
        "state": s.state.as_str(),
        "votes": s.votes.iter().map(|v| json!({
            "agent": v.agent,
            "agent_name": v.agent_name,
            "ok": v.outcome.ok,
            "status_code": v.outcome.status_code,
            "error_kind": v.outcome.error_kind.map(|k| k.as_str()),
            "error": v.outcome.error,
            "time": rfc3339(v.time_ms),
        })).collect::<Vec<_>>(),
    }))
}

fn agent_json(a: &AgentSnapshot) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "region": a.region,
        "state": a.state.as_str(),
        "liveness": a.liveness.as_str(),
        "last_seen": a.last_seen_ms.map(rfc3339),
    })
}

#[cfg(test)]
mod tests;
