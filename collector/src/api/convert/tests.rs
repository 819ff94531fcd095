//! Conversions at the client API's edge: request fields in, domain values
//! out as `picket.v1` messages.

#![allow(clippy::unwrap_used)] // a failed conversion should panic here

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::{Code, Status};

use super::*;
use crate::domain::{
    AgentState, CloseReason, ErrorKind, EventType, HostStats, Note, ProbeOutcome, RequestKind,
    ServiceState, Stage,
};
use crate::store::{AgentRow, ServiceRow};

fn ts(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

fn start(duration_ms: u64) -> pb::StartMaintenanceRequest {
    pb::StartMaintenanceRequest {
        equipment: "rack-1".into(),
        duration_ms,
        reason: "firmware".into(),
        mode: String::new(),
    }
}

#[test]
fn maintenance_modes_default_to_pause_and_unknown_ones_are_refused() {
    let mode = |m: &str| {
        StartMaintenance::try_from(pb::StartMaintenanceRequest {
            mode: m.into(),
            ..start(0)
        })
        .map(|s| s.mode)
    };
    assert_eq!(mode("").ok(), Some(crate::domain::MaintenanceMode::Pause));
    assert_eq!(
        mode("mute").ok(),
        Some(crate::domain::MaintenanceMode::Mute)
    );
    let err = mode("silent").unwrap_err();
    assert_eq!(err.field, "mode");
    assert!(err.reason.contains("pause or mute"), "{}", err.reason);
}

#[test]
fn maintenance_durations_are_checked() {
    let max = MAX_MAINTENANCE.as_millis() as u64;
    let cases: [(u64, Option<Option<Duration>>); 6] = [
        (0, Some(None)),
        (1, Some(Some(Duration::from_millis(1)))),
        (3_600_000, Some(Some(Duration::from_secs(3600)))),
        (max, Some(Some(MAX_MAINTENANCE))),
        (max + 1, None),
        (u64::MAX, None),
    ];
    for (duration_ms, want) in cases {
        let got = StartMaintenance::try_from(start(duration_ms));
        match want {
            Some(duration) => assert_eq!(
                got,
                Ok(StartMaintenance {
                    equipment: "rack-1".into(),
                    duration,
                    reason: "firmware".into(),
                    mode: crate::domain::MaintenanceMode::Pause,
                }),
                "{duration_ms}"
            ),
            None => assert_eq!(got.unwrap_err().field, "duration_ms", "{duration_ms}"),
        }
    }
}

#[test]
fn bad_fields_answer_invalid_argument_naming_the_field() {
    let err = StartMaintenance::try_from(start(u64::MAX)).unwrap_err();
    let status = Status::from(err);
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "duration_ms: 18446744073709551615 is more than the longest window \
         (3153600000000 ms, 100 years)"
    );
}

#[test]
fn watch_cursors_saturate() {
    for (seq, want) in [
        (0, 0),
        (41, 41),
        (i64::MAX as u64, i64::MAX),
        (u64::MAX, i64::MAX),
    ] {
        let request = pb::WatchEventsRequest { after_seq: seq };
        assert_eq!(after_seq(&request), want, "{seq}");
    }
}

#[test]
fn timestamps_split_milliseconds() {
    for (ms, want) in [
        (0, ts(0, 0)),
        (1_500, ts(1, 500_000_000)),
        (1_614_265_330_123, ts(1_614_265_330, 123_000_000)),
        (-1, ts(-1, 999_000_000)),
    ] {
        assert_eq!(Some(timestamp(ms)), want, "{ms}");
    }
}

fn service_row() -> ServiceRow {
    ServiceRow {
        id: "shop".into(),
        url: "https://shop.test/".into(),
        equipment_id: "rack-1".into(),
        active: true,
        state: ServiceState::Down,
        ok: Some(false),
        last_status_code: Some(503),
        last_error_kind: Some("http_status".into()),
        last_error: Some("HTTP 503".into()),
        last_check_ms: Some(2_000),
        last_latency_us: Some(1_500),
        open_request: Some(7.into()),
        cert_warning_ms: 14 * 86_400_000,
    }
}

#[test]
fn services_carry_their_maintenance_end() {
    let got = service(ServiceView {
        row: service_row(),
        maintenance_until: Some(9_000),
        degraded: None,
    });
    assert_eq!(
        got,
        pb::Service {
            id: "shop".into(),
            url: "https://shop.test/".into(),
            equipment: "rack-1".into(),
            state: "down".into(),
            ok: Some(false),
            last_status_code: Some(503),
            last_error_kind: "http_status".into(),
            last_error_detail: "HTTP 503".into(),
            last_check_at: ts(2, 0),
            open_request: Some(7.into()),
            last_latency_ms: Some(1.5),
            maintenance_until: ts(9, 0),
            history: None,
            latest: vec![],
            cert_expiring_at: None,
            degraded_since: None,
            degraded_agents: vec![],
        }
    );
    let fresh = service(ServiceView {
        row: ServiceRow {
            state: ServiceState::Unknown,
            ok: None,
            last_status_code: None,
            last_error_kind: None,
            last_error: None,
            last_check_ms: None,
            last_latency_us: None,
            open_request: None,
            ..service_row()
        },
        maintenance_until: None,
        degraded: None,
    });
    assert_eq!(
        fresh,
        pb::Service {
            id: "shop".into(),
            url: "https://shop.test/".into(),
            equipment: "rack-1".into(),
            state: "unknown".into(),
            ..Default::default()
        }
    );
}

#[test]
fn requests_carry_their_notes() {
    let got = request(Request {
        id: 7.into(),
        name: "[DOWN] shop".into(),
        kind: RequestKind::Corrective,
        priority: "1".into(),
        description: "shop is down".into(),
        stage: Stage::Done,
        service_id: Some("shop".into()),
        agent_id: None,
        equipment_id: Some("rack-1".into()),
        url: None,
        opened_ms: 1_000,
        closed_ms: Some(61_250),
        close_reason: Some(CloseReason::Recovered),
        acknowledged_ms: Some(40_000),
        acknowledged_by: Some("alice".into()),
        notes: vec![
            Note {
                author: "ops".into(),
                time_ms: 30_000,
                text: "looking".into(),
            },
            Note {
                author: "picket".into(),
                time_ms: 61_250,
                text: "recovered".into(),
            },
        ],
    });
    assert_eq!(
        got,
        pb::Request {
            id: 7,
            name: "[DOWN] shop".into(),
            kind: "corrective".into(),
            priority: "1".into(),
            description: "shop is down".into(),
            stage: "done".into(),
            service: Some("shop".into()),
            agent: None,
            equipment: Some("rack-1".into()),
            opened_at: ts(1, 0),
            closed_at: ts(61, 250_000_000),
            close_reason: "recovered".into(),
            acknowledged_at: ts(40, 0),
            acknowledged_by: "alice".into(),
            notes: vec![
                pb::Note {
                    author: "ops".into(),
                    time: ts(30, 0),
                    text: "looking".into(),
                },
                pb::Note {
                    author: "picket".into(),
                    time: ts(61, 250_000_000),
                    text: "recovered".into(),
                },
            ],
            url: String::new(),
        }
    );
}

#[test]
fn agents_carry_liveness_labels_and_stats() {
    let stats = HostStats {
        cpu_percent: 12.5,
        agent_version: "1.2.3".into(),
        checks_assigned: 4,
        ..Default::default()
    };
    let row = AgentRow {
        id: "a1".into(),
        name: "paris-1".into(),
        region: "eu".into(),
        labels: BTreeMap::from([("dc".into(), "par".into())]),
        state: AgentState::Active,
        credential_hash: Some("ab12".into()),
        version: Some("1.2.3".into()),
        created_ms: 500,
        last_seen_ms: Some(4_000),
        stats: Some(stats.clone()),
        last_seq: 99,
    };
    let want = pb::Agent {
        id: "a1".into(),
        name: "paris-1".into(),
        region: "eu".into(),
        state: "active".into(),
        liveness: "live".into(),
        last_seen: ts(4, 0),
        labels: [("dc".to_owned(), "par".to_owned())].into(),
        stats_json: serde_json::to_string(&stats).unwrap(),
        muted_until: None,
        mute_note: String::new(),
    };
    for live in [true, false] {
        let got = agent(AgentView {
            row: row.clone(),
            live,
            mute: None,
        });
        let liveness = if live { "live" } else { "dead" };
        assert_eq!(
            got,
            pb::Agent {
                liveness: liveness.into(),
                ..want.clone()
            }
        );
    }
    let parsed: HostStats = serde_json::from_str(&want.stats_json).unwrap();
    assert_eq!(parsed, stats);
    let silent = agent(AgentView {
        row: AgentRow {
            stats: None,
            last_seen_ms: None,
            ..row
        },
        live: false,
        mute: None,
    });
    assert_eq!((silent.stats_json.as_str(), silent.last_seen), ("", None));
}

#[test]
fn windows_probes_and_events_convert() {
    let window = maintenance(MaintenanceWindow {
        equipment: "rack-1".into(),
        starts_ms: 1_000,
        ends_ms: 3_601_000,
        reason: "firmware".into(),
        active: true,
        mode: crate::domain::MaintenanceMode::Mute,
        schedule: None,
    });
    assert_eq!(
        window,
        pb::Maintenance {
            equipment: "rack-1".into(),
            starts_at: ts(1, 0),
            ends_at: ts(3_601, 0),
            reason: "firmware".into(),
            active: true,
            mode: "mute".into(),
            schedule: String::new(),
        }
    );
    let outcome = probe(CheckNowResult {
        agent: "a1".into(),
        agent_name: "paris-1".into(),
        region: "eu".into(),
        outcome: ProbeOutcome {
            ok: false,
            status_code: None,
            error_kind: Some(ErrorKind::Connect),
            error: Some("connect: connection refused".into()),
            duration_us: 2_500,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
        time_ms: 5_000,
    });
    assert_eq!(
        outcome,
        pb::ProbeOutcome {
            agent: "paris-1".into(),
            ok: false,
            status_code: None,
            error_kind: "connect".into(),
            error_detail: "connect: connection refused".into(),
            latency_ms: 2.5,
            time: ts(5, 0),
            phases: Some(pb::Phases::default()),
            cert_expires_at: None,
            agent_id: "a1".into(),
            region: "eu".into(),
        }
    );
    let e = event(EventRow {
        seq: 12,
        event_id: "e-12".into(),
        time_ms: 7_000,
        event_type: EventType::ServiceDown,
        subject: "shop".into(),
        payload: "{}".into(),
    });
    assert_eq!(
        e,
        pb::Event {
            seq: 12,
            time: ts(7, 0),
            r#type: "service.down".into(),
            subject: "shop".into(),
            payload_json: "{}".into(),
        }
    );
}

#[test]
fn ids_longer_than_any_id_are_bad_fields() {
    assert_eq!(id("id", "shop".into()), Ok("shop".to_owned()));
    assert_eq!(id("id", "s".repeat(128)).map(|s| s.len()), Ok(128));
    let err = id("service", "s".repeat(10_000)).unwrap_err();
    assert_eq!(err.to_string(), "service: 10000 bytes, at most 128");
    let long = pb::StartMaintenanceRequest {
        equipment: "e".repeat(129),
        ..start(0)
    };
    assert_eq!(
        StartMaintenance::try_from(long).map_err(|e| e.field),
        Err("equipment")
    );
}

#[test]
fn latest_results_carry_phases_in_ms_and_the_cert_expiry() {
    let l = latest(crate::store::LatestResult {
        agent: "a1".into(),
        agent_name: "paris-1".into(),
        region: "eu".into(),
        time_ms: 5_000,
        round_id: 0,
        outcome: ProbeOutcome {
            ok: true,
            status_code: Some(200),
            error_kind: None,
            error: None,
            duration_us: 32_100,
            phases: crate::domain::Phases {
                dns_us: Some(1_200),
                connect_us: Some(800),
                tls_us: None,
                processing_us: Some(16_100),
                transfer_us: Some(2_000),
            },
            cert_not_after_ms: Some(1_796_083_200_000),
        },
    });
    assert_eq!(
        (l.agent_id.as_str(), l.agent.as_str(), l.region.as_str()),
        ("a1", "paris-1", "eu")
    );
    assert_eq!(
        l.phases,
        Some(pb::Phases {
            dns_ms: Some(1.2),
            connect_ms: Some(0.8),
            tls_ms: None,
            processing_ms: Some(16.1),
            transfer_ms: Some(2.0),
        }),
        "phases in ms, unset where not measured"
    );
    assert_eq!(l.cert_expires_at, ts(1_796_083_200, 0));
    assert_eq!((l.status_code, l.latency_ms), (Some(200), 32.1));
}
