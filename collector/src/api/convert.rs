//! The client API's proto edge: request messages → call arguments
//! (`args.rs`, with [`BadField`] naming what cannot be used), and domain
//! values and store rows → `picket.v1` messages. Besides the `Picket` impl and
//! [`super::server`], the only collector file that names client proto
//! types.

use picket_proto::prost_types::Timestamp;
use picket_proto::v1 as pb;

use super::query::{AgentView, ServiceView, WebhookView};
use crate::domain::rollup::{History, Latency};
use crate::domain::{Liveness, ProbeOutcome, Request, RequestId};
use crate::evaluator::CheckNowResult;
use crate::reload::{ReloadError, Reloaded};
use crate::store::{DeliveryRow, EventRow, LatestResult, MaintenanceWindow};

mod args;
mod heartbeats;
mod lists;

pub use args::*;
pub use heartbeats::*;
pub use lists::*;

pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(timestamp)
}

pub fn service(view: ServiceView) -> pb::Service {
    let ServiceView {
        row: s,
        maintenance_until,
        degraded,
    } = view;
    let (degraded_since, degraded_agents) = match degraded {
        Some(d) if s.state == crate::domain::ServiceState::Degraded => (
            ts(Some(d.since_ms)),
            d.agents
                .into_iter()
                .map(|a| pb::DegradedAgent {
                    agent_id: a.agent_id.into(),
                    name: a.name,
                    region: a.region,
                    since: ts(Some(a.since_ms)),
                    error: a.error,
                })
                .collect(),
        ),
        _ => (None, Vec::new()),
    };
    pb::Service {
        id: s.id.into(),
        url: s.url,
        equipment: s.equipment_id.into(),
        state: s.state.as_str().to_owned(),
        ok: s.ok,
        last_status_code: s.last_status_code.map(u32::from),
        last_error_kind: s.last_error_kind.unwrap_or_default(),
        last_error_detail: s.last_error.unwrap_or_default(),
        last_check_at: ts(s.last_check_ms),
        open_request: s.open_request.map(RequestId::get),
        last_latency_ms: s.last_latency_us.map(|us| us as f64 / 1000.0),
        maintenance_until: ts(maintenance_until),
        history: None,
        latest: Vec::new(),
        cert_expiring_at: None,
        degraded_since,
        degraded_agents,
    }
}

/// A service's rollup history (GetService): uptimes, latency, daily bars.
pub fn history(h: History) -> pb::ServiceHistory {
    pb::ServiceHistory {
        uptime_24h: h.last_24h.uptime(),
        uptime_7d: h.last_7d.uptime(),
        uptime_30d: h.last_30d.uptime(),
        latency_24h: latency(&h.last_24h.latency),
        latency_7d: latency(&h.last_7d.latency),
        latency_30d: latency(&h.last_30d.latency),
        daily: h
            .daily
            .into_iter()
            .map(|(start, s)| pb::DailyBar {
                start: Some(timestamp(start)),
                probes: s.probes,
                failures: s.failures,
                uptime: s.uptime(),
                p95_ms: s.latency.quantile_us(0.95).map(ms),
            })
            .collect(),
    }
}

/// `None` without successful probes.
fn latency(l: &Latency) -> Option<pb::LatencySummary> {
    let q = |q: f64| l.quantile_us(q).map_or(0.0, ms);
    Some(pb::LatencySummary {
        count: l.count,
        min_ms: ms(l.min_us?),
        mean_ms: l.mean_us()? / 1000.0,
        p50_ms: q(0.5),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        max_ms: ms(l.max_us?),
    })
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn request(r: Request) -> pb::Request {
    pb::Request {
        id: r.id.get(),
        name: r.name,
        kind: r.kind.as_str().to_owned(),
        priority: r.priority,
        description: r.description,
        stage: r.stage.as_str().to_owned(),
        service: r.service_id.map(String::from),
        agent: r.agent_id.map(String::from),
        equipment: r.equipment_id.map(String::from),
        opened_at: Some(timestamp(r.opened_ms)),
        closed_at: ts(r.closed_ms),
        close_reason: r
            .close_reason
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        notes: r
            .notes
            .into_iter()
            .map(|n| pb::Note {
                author: n.author,
                time: Some(timestamp(n.time_ms)),
                text: n.text,
            })
            .collect(),
        url: r.url.unwrap_or_default(),
        acknowledged_at: ts(r.acknowledged_ms),
        acknowledged_by: r.acknowledged_by.unwrap_or_default(),
    }
}

pub fn agent(view: AgentView) -> pb::Agent {
    let AgentView { row: a, live, mute } = view;
    let (muted_until, mute_note) = match mute {
        Some(m) => (ts(Some(m.until_ms)), m.note),
        None => (None, String::new()),
    };
    pb::Agent {
        liveness: if live { Liveness::Live } else { Liveness::Dead }
            .as_str()
            .to_owned(),
        id: a.id.into(),
        name: a.name,
        region: a.region,
        state: a.state.as_str().to_owned(),
        last_seen: ts(a.last_seen_ms),
        labels: a.labels.into_iter().collect(),
        stats_json: a
            .stats
            .and_then(|s| serde_json::to_string(&s).ok())
            .unwrap_or_default(),
        muted_until,
        mute_note,
    }
}

pub fn maintenance(w: MaintenanceWindow) -> pb::Maintenance {
    pb::Maintenance {
        equipment: w.equipment.into(),
        starts_at: Some(timestamp(w.starts_ms)),
        ends_at: Some(timestamp(w.ends_ms)),
        reason: w.reason,
        active: w.active,
        mode: w.mode.as_str().to_owned(),
        schedule: w.schedule.unwrap_or_default(),
    }
}

/// `ListMaintenance`'s answer.
pub fn maintenance_list(
    windows: Vec<MaintenanceWindow>,
    schedules: Vec<crate::maintenance::ScheduleInfo>,
) -> pb::ListMaintenanceResponse {
    pb::ListMaintenanceResponse {
        windows: windows.into_iter().map(maintenance).collect(),
        schedules: schedules
            .into_iter()
            .map(|s| pb::MaintenanceSchedule {
                name: s.window.name,
                equipment: s.window.equipment.into(),
                mode: s.window.mode.as_str().to_owned(),
                timezone: s.window.timezone,
                duration_ms: s.window.schedule.duration.as_millis() as u64,
                next_start: ts(s.next_start_ms),
            })
            .collect(),
    }
}

pub fn probe(r: CheckNowResult) -> pb::ProbeOutcome {
    outcome(r.agent.into(), r.agent_name, r.region, r.time_ms, r.outcome)
}

/// One agent's latest result for a service (GetService's `latest`).
pub fn latest(l: LatestResult) -> pb::ProbeOutcome {
    outcome(l.agent.into(), l.agent_name, l.region, l.time_ms, l.outcome)
}

fn outcome(
    agent_id: String,
    agent: String,
    region: String,
    time_ms: i64,
    o: ProbeOutcome,
) -> pb::ProbeOutcome {
    pb::ProbeOutcome {
        agent,
        ok: o.ok,
        status_code: o.status_code.map(u32::from),
        error_kind: o
            .error_kind
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
        error_detail: o.error.unwrap_or_default(),
        latency_ms: ms(o.duration_us),
        time: Some(timestamp(time_ms)),
        phases: Some(pb::Phases {
            dns_ms: o.phases.dns_us.map(ms),
            connect_ms: o.phases.connect_us.map(ms),
            tls_ms: o.phases.tls_us.map(ms),
            processing_ms: o.phases.processing_us.map(ms),
            transfer_ms: o.phases.transfer_us.map(ms),
        }),
        cert_expires_at: ts(o.cert_not_after_ms),
        agent_id,
        region,
    }
}

pub fn event(e: EventRow) -> pb::Event {
    pb::Event {
        seq: e.seq.max(0) as u64,
        time: Some(timestamp(e.time_ms)),
        r#type: e.event_type.as_str().to_owned(),
        subject: e.subject,
        payload_json: e.payload,
    }
}

pub fn webhook(view: WebhookView) -> pb::Webhook {
    let WebhookView { receiver, counts } = view;
    let disabled = receiver.disabled;
    pb::Webhook {
        name: receiver.name,
        origin: receiver.origin,
        pending: counts.pending.max(0) as u64,
        failed: counts.failed.max(0) as u64,
        delivered: counts.delivered.max(0) as u64,
        disabled: disabled.is_some(),
        disabled_at: ts(disabled.as_ref().map(|d| d.since_ms)),
        disabled_reason: disabled.map(|d| d.reason).unwrap_or_default(),
    }
}

pub fn delivery(d: DeliveryRow) -> pb::Delivery {
    let pending = d.state == "pending";
    pb::Delivery {
        id: d.id,
        webhook: d.webhook,
        event_seq: d.event_seq.max(0) as u64,
        event_type: d
            .event_type
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        subject: d.subject.unwrap_or_default(),
        webhook_id: d.msg_id,
        state: d.state,
        attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
        created_at: ts(d.created_ms),
        first_attempt_at: ts(d.first_attempt_ms),
        next_attempt_at: ts(pending.then_some(d.next_attempt_ms)),
        delivered_at: ts(d.delivered_ms),
        last_error: d.last_error.unwrap_or_default(),
    }
}

pub fn webhooks(views: Vec<WebhookView>) -> pb::ListWebhooksResponse {
    pb::ListWebhooksResponse {
        webhooks: views.into_iter().map(webhook).collect(),
    }
}

pub fn probes(results: Vec<CheckNowResult>) -> pb::CheckNowResponse {
    pb::CheckNowResponse {
        results: results.into_iter().map(probe).collect(),
    }
}

/// A reload's outcome: applied (with what needs a restart) or refused.
pub fn reloaded(outcome: Result<Reloaded, ReloadError>) -> pb::ReloadResponse {
    match outcome {
        Ok(r) => pb::ReloadResponse {
            ok: true,
            error: String::new(),
            restart_needed: r.restart_needed,
        },
        Err(e) => pb::ReloadResponse {
            ok: false,
            error: e.to_string(),
            restart_needed: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests;
