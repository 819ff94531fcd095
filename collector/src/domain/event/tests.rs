//! Every event's type, subject and JSON body, against the bodies written
//! before events were typed (webhook receivers depend on them).

use super::*;
use crate::domain::{CloseReason, ErrorKind, Note, ProbeOutcome, RequestKind, Stage};

const T0: i64 = 1_614_265_330_123; // 2021-02-25T15:02:10.123Z

fn vote(agent: &str, name: &str, ok: bool, code: Option<u16>, error: Option<&str>, t: i64) -> Vote {
    Vote {
        agent: agent.into(),
        agent_name: name.into(),
        outcome: ProbeOutcome {
            ok,
            status_code: code,
            error_kind: (!ok).then_some(if code.is_some() {
                ErrorKind::HttpStatus
            } else {
                ErrorKind::Timeout
            }),
            error: error.map(str::to_owned),
            duration_us: 5,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
        time_ms: t,
    }
}

fn service(state: ServiceState, votes: Vec<Vote>) -> ServiceSnapshot {
    ServiceSnapshot {
        id: "shop".into(),
        url: "http://shop.test/health".into(),
        equipment_id: "web-1".into(),
        equipment: "Web server 1".into(),
        state,
        votes,
    }
}

fn agent(state: AgentState, liveness: Liveness, last_seen_ms: Option<i64>) -> AgentSnapshot {
    AgentSnapshot {
        id: "a1".into(),
        name: "edge-1".into(),
        region: "eu".into(),
        state,
        liveness,
        last_seen_ms,
    }
}

fn closed_request() -> RequestSnapshot {
    RequestSnapshot {
        request: Request {
            id: 7.into(),
            name: "[HTTP KO] x".into(),
            kind: RequestKind::Corrective,
            priority: "2".into(),
            description: "d".into(),
            stage: Stage::Done,
            service_id: Some("shop".into()),
            agent_id: None,
            equipment_id: Some("web-1".into()),
            url: Some("http://shop.test/health".into()),
            opened_ms: T0,
            closed_ms: Some(1_614_265_340_000),
            close_reason: Some(CloseReason::Recovered),
            acknowledged_ms: None,
            acknowledged_by: None,
            notes: vec![Note {
                author: "picket".into(),
                time_ms: 1_614_265_340_000,
                text: "bye".into(),
            }],
        },
        equipment: "Web server 1".into(),
        link: "http://picket.test/requests/7".into(),
        services: Vec::new(),
    }
}

fn agent_request() -> RequestSnapshot {
    RequestSnapshot {
        request: Request {
            id: 8.into(),
            name: "[AGENT DOWN] edge-1".into(),
            kind: RequestKind::Agent,
            priority: "2".into(),
            description: "d".into(),
            stage: Stage::Open,
            service_id: None,
            agent_id: Some("a1".into()),
            equipment_id: None,
            url: None,
            opened_ms: T0,
            closed_ms: None,
            close_reason: None,
            acknowledged_ms: None,
            acknowledged_by: None,
            notes: vec![],
        },
        equipment: String::new(),
        link: "http://picket.test/requests/8".into(),
        services: Vec::new(),
    }
}

fn window() -> MaintenanceSnapshot {
    MaintenanceSnapshot {
        equipment_id: "web-1".into(),
        equipment: "Web server 1".into(),
        starts_ms: T0,
        ends_ms: T0 + 600_000,
        reason: "upgrade".into(),
        mode: crate::domain::MaintenanceMode::Mute,
        schedule: Some("weekly".into()),
    }
}

const DOWN_BODY: &str = r#"{"equipment":"Web server 1","equipment_id":"web-1","id":"shop","service":"shop","state":"down","url":"http://shop.test/health","votes":[{"agent":"a1","agent_name":"edge-1","error":"HTTP 503","error_kind":"http_status","ok":false,"status_code":503,"time":"2021-02-25T15:02:10.123Z"},{"agent":"a2","agent_name":"edge-2","error":null,"error_kind":"timeout","ok":false,"status_code":null,"time":"2021-02-25T15:02:11.000Z"}]}"#;
const UP_BODY: &str = r#"{"equipment":"Web server 1","equipment_id":"web-1","id":"shop","service":"shop","state":"up","url":"http://shop.test/health","votes":[]}"#;
const CLOSED_BODY: &str = r#"{"acknowledged_at":null,"acknowledged_by":null,"agent":null,"close_reason":"recovered","closed_at":"2021-02-25T15:02:20.000Z","description":"d","equipment":"Web server 1","equipment_id":"web-1","id":7,"kind":"corrective","link":"http://picket.test/requests/7","name":"[HTTP KO] x","notes":[{"author":"picket","text":"bye","time":"2021-02-25T15:02:20.000Z"}],"opened_at":"2021-02-25T15:02:10.123Z","priority":"2","service":"shop","stage":"done","url":"http://shop.test/health"}"#;
const AGENT_OPENED_BODY: &str = r#"{"acknowledged_at":null,"acknowledged_by":null,"agent":{"id":"a1","last_seen":"2021-02-25T15:02:10.123Z","liveness":"dead","name":"edge-1","region":"eu","state":"active"},"close_reason":null,"closed_at":null,"description":"d","equipment":"","equipment_id":null,"id":8,"kind":"agent","link":"http://picket.test/requests/8","name":"[AGENT DOWN] edge-1","notes":[],"opened_at":"2021-02-25T15:02:10.123Z","priority":"2","service":null,"stage":"open","url":null}"#;
const AGENT_OPENED_PLAIN: &str = r#"{"acknowledged_at":null,"acknowledged_by":null,"agent":"a1","close_reason":null,"closed_at":null,"description":"d","equipment":"","equipment_id":null,"id":8,"kind":"agent","link":"http://picket.test/requests/8","name":"[AGENT DOWN] edge-1","notes":[],"opened_at":"2021-02-25T15:02:10.123Z","priority":"2","service":null,"stage":"open","url":null}"#;
const NEW_AGENT_BODY: &str = r#"{"agent":{"id":"a1","last_seen":null,"liveness":"live","name":"edge-1","region":"eu","state":"new"}}"#;
const DEAD_AGENT_BODY: &str = r#"{"agent":{"id":"a1","last_seen":"2021-02-25T15:02:10.123Z","liveness":"dead","name":"edge-1","region":"eu","state":"active"}}"#;
const MAINTENANCE_BODY: &str = r#"{"ends_at":"2021-02-25T15:12:10.123Z","equipment":"Web server 1","equipment_id":"web-1","mode":"mute","reason":"upgrade","schedule":"weekly","starts_at":"2021-02-25T15:02:10.123Z"}"#;
const CERT_BODY: &str = r#"{"days_left":0,"equipment":"Web server 1","equipment_id":"web-1","expired":false,"id":"shop","not_after":"2021-02-25T15:12:10.123Z","service":"shop","state":"up","url":"http://shop.test/health","votes":[]}"#;

/// `event` has type `ty`, subject `subject` and body `body` (exact text).
fn check(event: Event, ty: &str, subject: &str, body: &str) {
    assert_eq!(event.event_type().as_str(), ty, "{event:?}");
    assert_eq!(event.event_type(), ty.parse().expect("known type"));
    assert_eq!(event.subject(), subject, "{ty}");
    assert_eq!(Value::Object(event.body()).to_string(), body, "{ty}");
}

#[test]
fn every_event_keeps_its_body() {
    let failing = vec![
        vote("a1", "edge-1", false, Some(503), Some("HTTP 503"), T0),
        vote("a2", "edge-2", false, None, None, 1_614_265_331_000),
    ];
    let live_new = agent(AgentState::New, Liveness::Live, None);
    let dead = agent(AgentState::Active, Liveness::Dead, Some(T0));
    let table = [
        (
            Event::RequestOpened {
                request: agent_request(),
                agent: Some(dead.clone()),
            },
            "request.opened",
            "8",
            AGENT_OPENED_BODY,
        ),
        (
            Event::RequestOpened {
                request: agent_request(),
                agent: None,
            },
            "request.opened",
            "8",
            AGENT_OPENED_PLAIN,
        ),
        (
            Event::RequestClosed(closed_request()),
            "request.closed",
            "7",
            CLOSED_BODY,
        ),
        (
            Event::ServiceDown(service(ServiceState::Down, failing)),
            "service.down",
            "shop",
            DOWN_BODY,
        ),
        (
            Event::ServiceUp(service(ServiceState::Up, vec![])),
            "service.up",
            "shop",
            UP_BODY,
        ),
        (
            Event::ServiceLocalFailure(service(ServiceState::Up, vec![])),
            "service.local_failure",
            "shop",
            UP_BODY,
        ),
        (
            Event::ServiceCertExpiring {
                service: service(ServiceState::Up, vec![]),
                not_after_ms: T0 + 600_000,
                days_left: 0,
            },
            "service.cert_expiring",
            "shop",
            CERT_BODY,
        ),
        (
            Event::AgentRegistered(live_new.clone()),
            "agent.registered",
            "a1",
            NEW_AGENT_BODY,
        ),
        (
            Event::AgentApproved(live_new.clone()),
            "agent.approved",
            "a1",
            NEW_AGENT_BODY,
        ),
        (
            Event::AgentSuspended(live_new.clone()),
            "agent.suspended",
            "a1",
            NEW_AGENT_BODY,
        ),
        (
            Event::AgentDown(dead.clone()),
            "agent.down",
            "a1",
            DEAD_AGENT_BODY,
        ),
        (Event::AgentUp(dead), "agent.up", "a1", DEAD_AGENT_BODY),
        (
            Event::AgentDuplicate(live_new),
            "agent.duplicate",
            "a1",
            NEW_AGENT_BODY,
        ),
        (
            Event::MaintenanceStarted(window()),
            "maintenance.started",
            "web-1",
            MAINTENANCE_BODY,
        ),
        (
            Event::MaintenanceEnded(window()),
            "maintenance.ended",
            "web-1",
            MAINTENANCE_BODY,
        ),
        (
            Event::WebhookDisabled {
                webhook: "ops".into(),
                reason: "HTTP 410 Gone".into(),
            },
            "webhook.disabled",
            "ops",
            r#"{"reason":"HTTP 410 Gone","webhook":"ops"}"#,
        ),
    ];
    for (event, ty, subject, body) in table {
        check(event, ty, subject, body);
    }
}

#[test]
fn the_encoding_adds_the_envelope() {
    let text = Event::MaintenanceEnded(window()).encode("msg_1", T0);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (&v["event"], &v["event_id"], &v["time"], &v["reason"]),
        (
            &json!("maintenance.ended"),
            &json!("msg_1"),
            &json!("2021-02-25T15:02:10.123Z"),
            &json!("upgrade")
        )
    );
}
