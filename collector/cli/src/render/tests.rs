//! Rendering tests: proto messages built by hand, through `convert`, to the
//! exact text people and scripts see.

use std::collections::HashMap;

use picket_proto::prost_types::Timestamp;
use picket_proto::v1 as pb;
use serde_json::{Value, json};

use super::*;
use crate::convert;

/// 2021-02-25T15:02:10.123Z plus `secs`.
fn at(secs: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_614_265_330 + secs,
        nanos: 123_456_789,
    })
}

/// A service never probed yet: every result field unset.
fn service(id: &str, state: &str, equipment: &str, url: &str) -> pb::Service {
    pb::Service {
        id: id.into(),
        url: url.into(),
        equipment: equipment.into(),
        state: state.into(),
        ..Default::default()
    }
}

fn up_service() -> pb::Service {
    pb::Service {
        ok: Some(true),
        last_status_code: Some(200),
        last_check_at: at(0),
        last_latency_ms: Some(12.5),
        ..service("web", "up", "rack-1", "https://example.test/health")
    }
}

fn down_service() -> pb::Service {
    pb::Service {
        ok: Some(false),
        last_error_kind: "connect".into(),
        last_error_detail: "connection refused\ncaused by: os error 111".into(),
        last_check_at: at(60),
        open_request: Some(7),
        ..service("api", "down", "db-2", "http://10.0.0.7:8080/")
    }
}

fn new_service() -> pb::Service {
    service("new", "unknown", "e", "http://new.test/")
}

fn request_with_notes() -> pb::Request {
    pb::Request {
        id: 7,
        name: "[DOWN] api".into(),
        kind: "corrective".into(),
        priority: "high".into(),
        description: "api is down\nfrom 2 of 2 agents".into(),
        stage: "done".into(),
        service: Some("api".into()),
        equipment: Some("db-2".into()),
        url: "http://10.0.0.7:8080/".into(),
        opened_at: at(60),
        closed_at: at(180),
        close_reason: "recovered".into(),
        notes: vec![
            pb::Note {
                author: "picket".into(),
                time: at(60),
                text: "opened".into(),
            },
            pb::Note {
                author: "picket".into(),
                time: at(180),
                text: "recovered after 2m".into(),
            },
        ],
        ..Default::default()
    }
}

fn agent(id: &str, stats_json: &str) -> pb::Agent {
    pb::Agent {
        id: id.into(),
        name: format!("{id}-host"),
        region: "eu".into(),
        state: "active".into(),
        liveness: "live".into(),
        last_seen: at(5),
        labels: HashMap::from([("dc".to_owned(), "par1".to_owned())]),
        stats_json: stats_json.into(),
        ..Default::default()
    }
}

const STATS: &str = r#"{"cpu_percent":12.345,"load1":0.5,"mem_used_bytes":512,
    "mem_total_bytes":2048,"disk_used_bytes":0,"disk_total_bytes":0,
    "checks_in_flight":1,"checks_assigned":3,"results_buffered":0,"agent_version":"0.1.0"}"#;

/// A table for people from `items`, line by line.
fn check_table(layout: &Layout, items: &[Value], expected: &[&str]) {
    let text = list(items.to_vec(), layout, false).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");
}

fn check_fields(value: &Value, expected: &[&str]) {
    let text = object(value, false).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");
}

fn json_of(text: anyhow::Result<String>) -> Value {
    let text = text.unwrap_or_else(|e| panic!("{e:#}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn tables() {
    let services: Vec<Value> = [up_service(), down_service(), new_service()]
        .iter()
        .map(convert::service)
        .collect();
    check_table(
        &SERVICES,
        &services,
        &[
            "ID   STATE    CODE  ERROR               LAST CHECK                REQUEST  EQUIPMENT  URL",
            "web  up       200   -                   2021-02-25T15:02:10.123Z  -        rack-1     https://example.test/health",
            "api  down     -     connection refused  2021-02-25T15:03:10.123Z  7        db-2       http://10.0.0.7:8080/",
            "new  unknown  -     -                   -                         -        e          http://new.test/",
        ],
    );
    check_table(
        &REQUESTS,
        &[convert::request(&request_with_notes())],
        &[
            "ID  STAGE  PRIORITY  OPENED                    CLOSED                    NAME",
            "7   done   high      2021-02-25T15:03:10.123Z  2021-02-25T15:05:10.123Z  [DOWN] api",
        ],
    );
    check_table(
        &AGENTS,
        &[
            convert::agent(&agent("a1", STATS)),
            convert::agent(&agent("a2", "")),
            convert::agent(&agent("a3", "not json")),
        ],
        &[
            "ID  NAME     REGION  STATE   LIVENESS  LAST SEEN                 CPU %  LOAD  MEM  DISK  CHECKS  BUFFERED  VERSION",
            "a1  a1-host  eu      active  live      2021-02-25T15:02:15.123Z  12.3   0.50  25%  -     1/3     0         0.1.0",
            "a2  a2-host  eu      active  live      2021-02-25T15:02:15.123Z  -      -     -    -     -       -         -",
            "a3  a3-host  eu      active  live      2021-02-25T15:02:15.123Z  -      -     -    -     -       -         -",
        ],
    );
    let probe = pb::ProbeOutcome {
        agent: "a1".into(),
        ok: false,
        status_code: Some(503),
        error_kind: "http_status".into(),
        error_detail: "HTTP 503".into(),
        latency_ms: 4.25,
        time: at(1),
        ..Default::default()
    };
    let measured = pb::ProbeOutcome {
        agent: "a2".into(),
        ok: true,
        status_code: Some(200),
        latency_ms: 32.1,
        time: at(1),
        phases: Some(pb::Phases {
            dns_ms: Some(1.2),
            connect_ms: Some(0.8),
            tls_ms: Some(12.0),
            processing_ms: Some(16.1),
            transfer_ms: Some(2.0),
        }),
        // 34 days and a bit after the probe.
        cert_expires_at: Some(Timestamp {
            seconds: 1_614_265_330 + 34 * 86_400 + 3_600,
            nanos: 0,
        }),
        ..Default::default()
    };
    check_table(
        &CHECKS,
        &[
            convert::check_result(&probe),
            convert::check_result(&measured),
        ],
        &[
            "AGENT  OK     CODE  ERROR     LATENCY MS  PHASES",
            "a1     false  503   HTTP 503  4.25        ",
            "a2     true   200   -         32.1        dns 1.2ms connect 0.8ms tls 12.0ms processing 16.1ms transfer 2.0ms  cert expires 2021-03-31 (34 days)",
        ],
    );
    // No items: the header alone.
    check_table(
        &REQUESTS,
        &[],
        &["ID  STAGE  PRIORITY  OPENED  CLOSED  NAME"],
    );
}

#[test]
fn single_objects_for_people() {
    check_fields(
        &convert::request(&request_with_notes()),
        &[
            "acknowledged_at  -",
            "acknowledged_by  -",
            "agent            -",
            "close_reason     recovered",
            "closed_at        2021-02-25T15:05:10.123Z",
            "description      api is down",
            "                 from 2 of 2 agents",
            "equipment        db-2",
            "id               7",
            "kind             corrective",
            "name             [DOWN] api",
            "notes            2",
            "  2021-02-25T15:03:10.123Z picket: opened",
            "  2021-02-25T15:05:10.123Z picket: recovered after 2m",
            "opened_at        2021-02-25T15:03:10.123Z",
            "priority         high",
            "service          api",
            "stage            done",
            "url              http://10.0.0.7:8080/",
        ],
    );
    check_fields(
        &convert::agent(&agent("a1", r#"{"cpu_percent":1.5}"#)),
        &[
            "id           a1",
            r#"labels       {"dc":"par1"}"#,
            "last_seen    2021-02-25T15:02:15.123Z",
            "liveness     live",
            "mute_note    -",
            "muted_until  -",
            "name         a1-host",
            "region       eu",
            "state        active",
            r#"stats        {"cpu_percent":1.5}"#,
        ],
    );
    let window = pb::Maintenance {
        equipment: "rack-1".into(),
        starts_at: at(0),
        ends_at: at(4 * 3600),
        reason: String::new(),
        active: true,
        mode: "mute".into(),
        schedule: String::new(),
    };
    check_fields(
        &convert::maintenance(&window),
        &[
            "active     true",
            "ends_at    2021-02-25T19:02:10.123Z",
            "equipment  rack-1",
            "mode       mute",
            "reason     ",
            "schedule   -",
            "starts_at  2021-02-25T15:02:10.123Z",
        ],
    );
}

#[test]
fn json_documents() {
    // A service with no result yet: unset fields are null, never absent.
    assert_eq!(
        json_of(object(&convert::service(&new_service()), true)),
        json!({
            "id": "new", "url": "http://new.test/", "equipment": "e", "state": "unknown",
            "ok": null, "last_status_code": null, "last_error_kind": null, "last_error": null,
            "last_check_at": null, "last_latency_ms": null, "open_request": null,
            "maintenance_until": null, "degraded_since": null, "degraded_agents": [],
        })
    );
    assert_eq!(
        json_of(object(&convert::service(&down_service()), true))["last_error_kind"],
        "connect"
    );
    let request = json_of(object(&convert::request(&request_with_notes()), true));
    assert_eq!(request["agent"], Value::Null);
    assert_eq!(request["close_reason"], "recovered");
    assert_eq!(
        request["notes"],
        json!([
            {"author": "picket", "time": "2021-02-25T15:03:10.123Z", "text": "opened"},
            {"author": "picket", "time": "2021-02-25T15:05:10.123Z", "text": "recovered after 2m"},
        ])
    );
    let agents: Vec<Value> = [agent("a1", STATS), agent("a2", "")]
        .iter()
        .map(convert::agent)
        .collect();
    let agents = json_of(list(agents, &AGENTS, true));
    assert_eq!(agents[0]["stats"]["checks_assigned"], 3);
    assert_eq!(agents[0]["labels"], json!({"dc": "par1"}));
    assert_eq!(agents[1]["stats"], Value::Null);
    // Lists are pretty-printed arrays, empty ones too.
    assert_eq!(list([], &SERVICES, true).ok().as_deref(), Some("[]"));
    assert_eq!(
        list([json!({"id": 1})], &REQUESTS, true).ok().as_deref(),
        Some("[\n  {\n    \"id\": 1\n  }\n]")
    );
}

#[test]
fn events() {
    let make = |seq: u64, kind: &str, payload: &str| {
        convert::event(&pb::Event {
            seq,
            time: at(0),
            r#type: kind.into(),
            subject: "api".into(),
            payload_json: payload.into(),
        })
    };
    let events = [
        make(1, "service.down", r#"{"service":"api"}"#),
        make(2, "request.opened", ""),
    ];
    check_table(
        &EVENTS,
        &events,
        &[
            "1  2021-02-25T15:02:10.123Z  service.down           api",
            "2  2021-02-25T15:02:10.123Z  request.opened         api",
        ],
    );
    assert_eq!(list([], &EVENTS, false).ok().as_deref(), Some(""));
    // --follow: one line per event, compact JSON with --json.
    assert_eq!(
        event(&events[0], true),
        r#"{"payload":{"service":"api"},"seq":1,"subject":"api","time":"2021-02-25T15:02:10.123Z","type":"service.down"}"#
    );
    assert_eq!(
        event(&events[1], false),
        "2  2021-02-25T15:02:10.123Z  request.opened         api"
    );
}

#[test]
fn times_are_utc_millis_and_clamped_to_what_rfc3339_writes() {
    let check = |seconds: i64, nanos: i32, expected: &str| {
        let probe = pb::ProbeOutcome {
            time: Some(Timestamp { seconds, nanos }),
            ..Default::default()
        };
        assert_eq!(
            convert::check_result(&probe)["time"],
            expected,
            "{seconds}s {nanos}ns"
        );
    };
    check(1_614_265_330, 123_999_999, "2021-02-25T15:02:10.123Z");
    check(0, 0, "1970-01-01T00:00:00.000Z");
    check(-5, 0, "1970-01-01T00:00:00.000Z");
    check(253_402_300_799, 999_000_000, "9999-12-31T23:59:59.999Z");
    check(i64::MAX, 0, "9999-12-31T23:59:59.999Z");
}

#[test]
fn webhooks_and_deliveries() {
    let ok = pb::Webhook {
        name: "ops".into(),
        origin: "https://hooks.test".into(),
        pending: 1,
        delivered: 12,
        ..Default::default()
    };
    let gone = pb::Webhook {
        name: "n8n".into(),
        origin: "http://127.0.0.1:9000".into(),
        pending: 3,
        failed: 2,
        disabled: true,
        disabled_at: at(5),
        disabled_reason: "HTTP 410 Gone".into(),
        ..Default::default()
    };
    let webhooks: Vec<Value> = [ok, gone].iter().map(convert::webhook).collect();
    check_table(
        &WEBHOOKS,
        &webhooks,
        &[
            "NAME  PENDING  FAILED  DELIVERED  DISABLED  SINCE                     REASON         ORIGIN",
            "ops   1        0       12         false     -                         -              https://hooks.test",
            "n8n   3        2       0          true      2021-02-25T15:02:15.123Z  HTTP 410 Gone  http://127.0.0.1:9000",
        ],
    );
    assert_eq!(webhooks[0]["disabled_reason"], Value::Null);
    let retrying = pb::Delivery {
        id: 9,
        webhook: "ops".into(),
        event_seq: 4,
        event_type: "request.opened".into(),
        subject: "7".into(),
        webhook_id: "msg_1".into(),
        state: "pending".into(),
        attempts: 2,
        created_at: at(0),
        first_attempt_at: at(0),
        next_attempt_at: at(120),
        last_error: "HTTP 302 redirect to http://x.test/ (not followed)".into(),
        ..Default::default()
    };
    let delivery = convert::delivery(&retrying);
    check_table(
        &DELIVERIES,
        std::slice::from_ref(&delivery),
        &[
            "ID  WEBHOOK  EVENT           SUBJECT  STATE    ATTEMPTS  NEXT ATTEMPT              LAST ERROR",
            "9   ops      request.opened  7        pending  2         2021-02-25T15:04:10.123Z  HTTP 302 redirect to http://x.test/ (not followed)",
        ],
    );
    assert_eq!(
        json_of(object(&delivery, true)),
        json!({
            "id": 9, "webhook": "ops", "event_seq": 4, "event": "request.opened",
            "subject": "7", "webhook_id": "msg_1", "state": "pending", "attempts": 2,
            "created_at": "2021-02-25T15:02:10.123Z",
            "first_attempt_at": "2021-02-25T15:02:10.123Z",
            "next_attempt_at": "2021-02-25T15:04:10.123Z", "delivered_at": null,
            "last_error": "HTTP 302 redirect to http://x.test/ (not followed)",
        })
    );
}
