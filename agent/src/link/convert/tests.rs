//! Conversions at the agent's edge of the link.

#![allow(clippy::unwrap_used)] // a failed conversion should panic here

use super::*;
use crate::domain::{ProbeFailure, ProbeReport};

fn pb_check() -> pb::Check {
    pb::Check {
        id: "shop".into(),
        url: "https://shop.example.com/health".into(),
        ..Default::default()
    }
}

#[test]
fn checks_take_defaults() {
    let c = Check::try_from(pb_check()).unwrap();
    assert_eq!(c.method, Method::Get);
    assert_eq!(c.expected_status, vec![200]);
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.max_body_bytes, 1024 * 1024);
    assert_eq!(c.max_redirects, 10);
    assert!(c.basic_auth.is_none());
}

#[test]
fn bad_checks_name_the_field() {
    fn check(edit: impl FnOnce(&mut pb::Check), field: &str) {
        let mut c = pb_check();
        edit(&mut c);
        let err = Check::try_from(c).unwrap_err();
        assert_eq!(err.field, field, "{err}");
    }
    check(|c| c.id.clear(), "check.id");
    check(|c| c.url = "not a url".into(), "check[shop].url");
    check(|c| c.url = "ftp://x/".into(), "check[shop].url");
    check(|c| c.method = "POST".into(), "check[shop].method");
    check(
        |c| c.expected_status = vec![200, 70000],
        "check[shop].expected_status",
    );
    check(|c| c.interval_ms = 500, "check[shop].interval_ms");
}

#[test]
fn assignment_keeps_valid_checks() {
    let bad_check = pb::Check {
        method: "PUT".into(),
        ..pb_check()
    };
    let other = pb::Check {
        id: "blog".into(),
        ..pb_check()
    };
    let msg = pb::CollectorMessage {
        msg: Some(Down::Assignment(pb::Assignment {
            checks: vec![bad_check, other],
            generation: 2,
            kind: pb::AssignmentKind::Delta.into(),
            base_generation: 1,
            removed: vec!["old".into()],
            last: true,
            digest: 5,
        })),
    };
    match downlink(msg.clone()).unwrap() {
        Downlink::Assignment(part) => {
            assert_eq!(part.checks.len(), 1);
            assert_eq!(part.checks[0].id, "blog");
            assert_eq!(part.rejected.len(), 1);
            assert_eq!(part.removed.len(), 2, "the refused check stops");
            assert_eq!(part.kind, PartKind::Delta { base: 1 });
            assert_eq!((part.generation, part.last, part.digest), (2, true, 5));
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut unknown = msg;
    if let Some(Down::Assignment(a)) = &mut unknown.msg {
        a.kind = 0;
    }
    assert_eq!(
        downlink(unknown).map_err(|e| e.field),
        Err(ASSIGNMENT_KIND.to_owned())
    );
}

#[test]
fn results_carry_kind_and_detail() {
    let report = ProbeReport {
        check_id: "shop".into(),
        round_id: 3,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1234),
        duration: Duration::from_micros(5678),
        status_code: 503,
        failure: Some(ProbeFailure::new(ErrorKind::HttpStatus, "HTTP 503")),
        phases: Default::default(),
        cert_not_after: None,
    };
    let msg = uplink(Uplink::Results(vec![Sequenced { seq: 9, report }]));
    let Some(Up::Results(batch)) = msg.msg else {
        panic!("not a result batch")
    };
    let r = &batch.results[0];
    assert_eq!(r.seq, 9);
    assert_eq!(r.round_id, 3);
    assert_eq!(r.started_at_ms, 1234);
    assert_eq!(r.duration_us, 5678);
    assert!(!r.ok);
    assert_eq!(r.status_code, 503);
    assert_eq!(r.error_kind, pb::ErrorKind::HttpStatus as i32);
    assert_eq!(r.error_detail, "HTTP 503");
}

#[test]
fn long_error_details_are_cut_to_the_contract_limit() {
    let long = "é".repeat(3000);
    let report = ProbeReport {
        check_id: "shop".into(),
        round_id: 0,
        started_at: SystemTime::UNIX_EPOCH,
        duration: Duration::ZERO,
        status_code: 0,
        failure: Some(ProbeFailure::new(ErrorKind::Protocol, long.as_str())),
        phases: Default::default(),
        cert_not_after: None,
    };
    let msg = uplink(Uplink::Results(vec![Sequenced { seq: 1, report }]));
    let Some(Up::Results(batch)) = msg.msg else {
        panic!("not a result batch")
    };
    let detail = &batch.results[0].error_detail;
    let max = picket_proto::contract::limits::MAX_ERROR_DETAIL_BYTES;
    assert!(
        detail.len() <= max && detail.len() > max - 4,
        "{}",
        detail.len()
    );
    assert!(long.starts_with(detail.as_str()));
}

#[test]
fn welcome_defaults_heartbeat() {
    let msg = pb::CollectorMessage {
        msg: Some(Down::Welcome(pb::Welcome {
            agent_id: "a".into(),
            ..Default::default()
        })),
    };
    let Downlink::Welcome(w) = downlink(msg).unwrap() else {
        panic!("not a welcome")
    };
    assert_eq!(w.heartbeat_interval, Duration::from_secs(10));
    assert_eq!(w.credential, None);
}

#[test]
fn hello_carries_identity_and_versions() {
    let msg = uplink(Uplink::Hello(Hello {
        agent_id: "a1".into(),
        credential: "cred".into(),
        enrollment_token: "tok".into(),
        name: "edge-1".into(),
        region: "eu".into(),
        labels: [("net".to_owned(), "a".to_owned())].into(),
        assignment_digest: 12,
    }));
    let Some(Up::Hello(h)) = msg.msg else {
        panic!("not a hello")
    };
    assert_eq!(h.protocol_version, PROTOCOL_VERSION);
    assert_eq!(h.assignment_digest, 12);
    assert_eq!(h.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        (
            h.agent_id.as_str(),
            h.credential.as_str(),
            h.enrollment_token.as_str()
        ),
        ("a1", "cred", "tok")
    );
    assert_eq!((h.name.as_str(), h.region.as_str()), ("edge-1", "eu"));
    assert_eq!(h.labels.get("net").map(String::as_str), Some("a"));
}

#[test]
fn heartbeat_carries_time_and_stats() {
    let stats = domain::HostStats {
        load1: 0.5,
        results_dropped: 3,
        ..Default::default()
    };
    let msg = uplink(Uplink::Heartbeat {
        time: SystemTime::UNIX_EPOCH + Duration::from_millis(4321),
        stats: stats.clone(),
    });
    let Some(Up::Heartbeat(hb)) = msg.msg else {
        panic!("not a heartbeat")
    };
    assert_eq!(hb.time_ms, 4321);
    assert_eq!(hb.stats.map(domain::HostStats::from), Some(stats));
}

#[test]
fn downlink_messages_become_domain_messages() {
    fn check(msg: Down, expected: Downlink) {
        let msg = pb::CollectorMessage { msg: Some(msg) };
        assert_eq!(downlink(msg.clone()), Ok(expected), "{msg:?}");
    }
    check(Down::Ack(pb::Ack { seq: 7 }), Downlink::Ack { seq: 7 });
    check(
        Down::Recheck(pb::Recheck {
            check_id: "shop".into(),
            round_id: 2,
        }),
        Downlink::Recheck {
            check_id: "shop".into(),
            round_id: 2,
        },
    );
    check(
        Down::Welcome(pb::Welcome {
            agent_id: "a1".into(),
            credential: "cred".into(),
            state: "active".into(),
            heartbeat_interval_ms: 5000,
            last_committed_seq: 11,
        }),
        Downlink::Welcome(Welcome {
            agent_id: "a1".into(),
            credential: Some("cred".into()),
            state: "active".into(),
            heartbeat_interval: Duration::from_secs(5),
            last_committed_seq: 11,
        }),
    );
}

#[test]
fn malformed_downlink_messages_name_the_field() {
    fn check(msg: Option<Down>, field: &str) {
        let err = downlink(pb::CollectorMessage { msg }).unwrap_err();
        assert_eq!(err.field, field, "{err}");
    }
    check(None, "msg");
    check(
        Some(Down::Recheck(pb::Recheck {
            check_id: String::new(),
            round_id: 1,
        })),
        "recheck.check_id",
    );
}
