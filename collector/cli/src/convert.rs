//! Client proto → JSON: the documents `picketctl --json` prints (field names
//! and types are a contract with scripts, see PRODUCT.md) and that the
//! tables are drawn from.
//!
//! The only CLI module that reads the fields of generated messages. Times are
//! RFC 3339 in UTC with milliseconds, as the collector writes them in webhooks;
//! empty optional strings become `null`.

use picket_proto::contract::text::rfc3339;

use picket_proto::prost_types::Timestamp;
use picket_proto::v1 as pb;
use serde_json::{Value, json};

/// A service: state, last result, open request, maintenance, and (from
/// `service ID`) its `history` and each agent's `latest` result.
pub fn service(s: &pb::Service) -> Value {
    let mut value = service_fields(s);
    if let Some(h) = &s.history {
        value["history"] = history(h);
        value["latest"] = s.latest.iter().map(check_result).collect();
        value["cert_expiring_at"] = time(s.cert_expiring_at.as_ref());
    }
    value
}

/// Uptimes (0..1, `null` without probes), latency summaries in ms and the
/// 90 daily bars, oldest first.
pub fn history(h: &pb::ServiceHistory) -> Value {
    json!({
        "uptime_24h": h.uptime_24h,
        "uptime_7d": h.uptime_7d,
        "uptime_30d": h.uptime_30d,
        "latency_24h": h.latency_24h.as_ref().map(latency),
        "latency_7d": h.latency_7d.as_ref().map(latency),
        "latency_30d": h.latency_30d.as_ref().map(latency),
        "daily": h.daily.iter().map(|d| json!({
            "start": time(d.start.as_ref()),
            "probes": d.probes,
            "failures": d.failures,
            "uptime": d.uptime,
            "p95_ms": d.p95_ms,
        })).collect::<Vec<_>>(),
    })
}

fn latency(l: &pb::LatencySummary) -> Value {
    json!({
        "count": l.count,
        "min_ms": l.min_ms,
        "mean_ms": l.mean_ms,
        "p50_ms": l.p50_ms,
        "p95_ms": l.p95_ms,
        "p99_ms": l.p99_ms,
        "max_ms": l.max_ms,
    })
}

fn service_fields(s: &pb::Service) -> Value {
    json!({
        "id": s.id,
        "url": s.url,
        "equipment": s.equipment,
        "state": s.state,
        "ok": s.ok,
        "last_status_code": s.last_status_code,
        "last_error_kind": non_empty(&s.last_error_kind),
        "last_error": non_empty(&s.last_error_detail),
        "last_check_at": time(s.last_check_at.as_ref()),
        "last_latency_ms": s.last_latency_ms,
        "open_request": s.open_request,
        "maintenance_until": time(s.maintenance_until.as_ref()),
        "degraded_since": time(s.degraded_since.as_ref()),
        "degraded_agents": s.degraded_agents.iter().map(|a| json!({
            "agent_id": a.agent_id,
            "name": a.name,
            "region": a.region,
            "since": time(a.since.as_ref()),
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

/// A maintenance request with its notes.
pub fn request(r: &pb::Request) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "priority": r.priority,
        "description": r.description,
        "stage": r.stage,
        "service": r.service,
        "agent": r.agent,
        "equipment": r.equipment,
        "url": non_empty(&r.url),
        "opened_at": time(r.opened_at.as_ref()),
        "closed_at": time(r.closed_at.as_ref()),
        "close_reason": non_empty(&r.close_reason),
        "acknowledged_at": time(r.acknowledged_at.as_ref()),
        "acknowledged_by": non_empty(&r.acknowledged_by),
        "notes": r.notes.iter().map(note).collect::<Vec<_>>(),
    })
}

fn note(n: &pb::Note) -> Value {
    json!({"author": n.author, "time": time(n.time.as_ref()), "text": n.text})
}

/// An agent; `stats` is its last heartbeat's stats object, or `null`.
pub fn agent(a: &pb::Agent) -> Value {
    let stats: Value = if a.stats_json.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&a.stats_json).unwrap_or(Value::Null)
    };
    json!({
        "id": a.id,
        "name": a.name,
        "region": a.region,
        "state": a.state,
        "liveness": a.liveness,
        "last_seen": time(a.last_seen.as_ref()),
        "labels": a.labels,
        "stats": stats,
        "muted_until": time(a.muted_until.as_ref()),
        "mute_note": non_empty(&a.mute_note),
    })
}

/// A maintenance window, as `maintenance start|end` answer it.
pub fn maintenance(m: &pb::Maintenance) -> Value {
    json!({
        "equipment": m.equipment,
        "starts_at": time(m.starts_at.as_ref()),
        "ends_at": time(m.ends_at.as_ref()),
        "reason": m.reason,
        "active": m.active,
        "mode": m.mode,
        "schedule": non_empty(&m.schedule),
    })
}

/// `maintenance list`: the running windows and the schedules.
pub fn maintenance_list(l: &pb::ListMaintenanceResponse) -> Value {
    let schedules: Vec<Value> = (l.schedules.iter())
        .map(|s| {
            json!({
                "name": s.name,
                "equipment": s.equipment,
                "mode": s.mode,
                "timezone": s.timezone,
                "duration": picket_proto::contract::text::format_duration(
                    std::time::Duration::from_millis(s.duration_ms)
                ),
                "next_start": time(s.next_start.as_ref()),
            })
        })
        .collect();
    json!({
        "windows": l.windows.iter().map(maintenance).collect::<Vec<_>>(),
        "schedules": schedules,
    })
}

/// One agent's result: its answer to `check SERVICE`, or its latest result
/// in `service ID`'s `latest`. Phases are in ms (`null`: not measured), as
/// blackbox_exporter splits a probe (`processing_ms`: to the response head
/// less dns, connect and tls); `cert_expires_at` is the earliest
/// certificate expiry of the chain (`null` over plain HTTP).
pub fn check_result(r: &pb::ProbeOutcome) -> Value {
    let p = r.phases.unwrap_or_default();
    json!({
        "agent": r.agent,
        "agent_id": non_empty(&r.agent_id),
        "region": non_empty(&r.region),
        "ok": r.ok,
        "status_code": r.status_code,
        "error_kind": non_empty(&r.error_kind),
        "error": non_empty(&r.error_detail),
        "latency_ms": r.latency_ms,
        "time": time(r.time.as_ref()),
        "dns_ms": p.dns_ms,
        "connect_ms": p.connect_ms,
        "tls_ms": p.tls_ms,
        "processing_ms": p.processing_ms,
        "transfer_ms": p.transfer_ms,
        "cert_expires_at": time(r.cert_expires_at.as_ref()),
    })
}

/// One event; `payload` is the event's JSON payload (or `null`).
pub fn event(e: &pb::Event) -> Value {
    let payload: Value = serde_json::from_str(&e.payload_json).unwrap_or(Value::Null);
    json!({
        "seq": e.seq,
        "time": time(e.time.as_ref()),
        "type": e.r#type,
        "subject": e.subject,
        "payload": payload,
    })
}

/// A webhook receiver with its outbox counts.
pub fn webhook(w: &pb::Webhook) -> Value {
    json!({
        "name": w.name,
        "origin": w.origin,
        "pending": w.pending,
        "failed": w.failed,
        "delivered": w.delivered,
        "disabled": w.disabled,
        "disabled_at": time(w.disabled_at.as_ref()),
        "disabled_reason": non_empty(&w.disabled_reason),
    })
}

/// One webhook delivery (an event for one receiver).
pub fn delivery(d: &pb::Delivery) -> Value {
    json!({
        "id": d.id,
        "webhook": d.webhook,
        "event_seq": d.event_seq,
        "event": non_empty(&d.event_type),
        "subject": non_empty(&d.subject),
        "webhook_id": d.webhook_id,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": time(d.created_at.as_ref()),
        "first_attempt_at": time(d.first_attempt_at.as_ref()),
        "next_attempt_at": time(d.next_attempt_at.as_ref()),
        "delivered_at": time(d.delivered_at.as_ref()),
        "last_error": non_empty(&d.last_error),
    })
}

/// RFC 3339 in UTC with milliseconds (`2026-11-21T06:09:00.123Z`), or `null`.
/// Times outside 1970..=9999 print as the nearest end of that range.
pub fn time(t: Option<&Timestamp>) -> Value {
    let Some(t) = t else { return Value::Null };
    let ms = t
        .seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos) / 1_000_000);
    Value::String(rfc3339(ms))
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}
