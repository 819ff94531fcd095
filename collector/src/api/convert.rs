//! Domain and store rows → `picket.v1` messages: the only collector file
//! that builds client proto types.

use std::collections::HashSet;

use picket_proto::prost_types::Timestamp;
use picket_proto::v1 as pb;

use crate::domain::{Liveness, Request};
use crate::evaluator::CheckNowResult;
use crate::store::{AgentRow, EventRow, MaintenanceWindow, ServiceRow};

pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(timestamp)
}

pub fn service(s: ServiceRow, maintenance_until: Option<i64>) -> pb::Service {
    pb::Service {
        id: s.id,
        url: s.url,
        equipment: s.equipment_id,
        state: s.state.as_str().to_owned(),
        ok: s.ok,
        last_status_code: s.last_status_code.map(u32::from),
        last_error_kind: s.last_error_kind.unwrap_or_default(),
        last_error_detail: s.last_error.unwrap_or_default(),
        last_check_at: ts(s.last_check_ms),
        open_request: s.open_request,
        last_latency_ms: s.last_latency_us.map(|us| us as f64 / 1000.0),
        maintenance_until: ts(maintenance_until),
    }
}

pub fn request(r: Request) -> pb::Request {
    pb::Request {
        id: r.id,
        name: r.name,
        kind: r.kind.as_str().to_owned(),
        priority: r.priority,
        description: r.description,
        stage: r.stage.as_str().to_owned(),
        service: r.service_id,
        agent: r.agent_id,
        equipment: r.equipment_id,
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
    }
}

pub fn agent(a: AgentRow, live: &HashSet<String>) -> pb::Agent {
    pb::Agent {
        liveness: if live.contains(&a.id) {
            Liveness::Live
        } else {
            Liveness::Dead
        }
        .as_str()
        .to_owned(),
        id: a.id,
        name: a.name,
        region: a.region,
        state: a.state.as_str().to_owned(),
        last_seen: ts(a.last_seen_ms),
        labels: a.labels.into_iter().collect(),
        stats_json: a
            .stats
            .and_then(|s| serde_json::to_string(&s).ok())
            .unwrap_or_default(),
    }
}

pub fn maintenance(w: MaintenanceWindow) -> pb::Maintenance {
    pb::Maintenance {
        equipment: w.equipment,
        starts_at: Some(timestamp(w.starts_ms)),
        ends_at: Some(timestamp(w.ends_ms)),
        reason: w.reason,
        active: w.active,
    }
}

pub fn probe(r: CheckNowResult) -> pb::ProbeOutcome {
    pb::ProbeOutcome {
        agent: r.agent_name,
        ok: r.outcome.ok,
        status_code: r.outcome.status_code.map(u32::from),
        error_kind: r
            .outcome
            .error_kind
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
        error_detail: r.outcome.error.unwrap_or_default(),
        latency_ms: r.outcome.duration_us as f64 / 1000.0,
        time: Some(timestamp(r.time_ms)),
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
