//! Conversions at the collector's edge of the agent link.

#![allow(clippy::unwrap_used)] // a failed conversion should panic here

use super::*;

fn result(seq: u64, ok: bool, kind: pb::ErrorKind, status: u32) -> pb::ProbeResult {
    pb::ProbeResult {
        seq,
        check_id: "shop".into(),
        ok,
        status_code: status,
        error_kind: kind as i32,
        error_detail: if ok { String::new() } else { "HTTP 503".into() },
        ..Default::default()
    }
}

#[test]
fn results_are_checked_field_by_field() {
    let ok = ProbeResult::try_from(result(1, true, pb::ErrorKind::Unspecified, 200)).expect("ok");
    assert_eq!(
        (ok.outcome.status_code, ok.outcome.error_kind),
        (Some(200), None)
    );
    let bad =
        ProbeResult::try_from(result(2, false, pb::ErrorKind::HttpStatus, 503)).expect("failure");
    assert_eq!(bad.outcome.error_kind, Some(ErrorKind::HttpStatus));
    assert_eq!(bad.outcome.error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        ProbeResult::try_from(result(0, true, pb::ErrorKind::Unspecified, 200)),
        Err(ConvertError::ZeroSeq)
    );
    assert_eq!(
        ProbeResult::try_from(result(3, false, pb::ErrorKind::Unspecified, 0)),
        Err(ConvertError::NoErrorKind { seq: 3 })
    );
    assert_eq!(
        ProbeResult::try_from(result(4, true, pb::ErrorKind::Unspecified, 70000)),
        Err(ConvertError::BadStatus {
            seq: 4,
            value: 70000
        })
    );
    let mut unknown = result(5, false, pb::ErrorKind::Tls, 0);
    unknown.error_kind = 99;
    assert_eq!(
        ProbeResult::try_from(unknown),
        Err(ConvertError::BadErrorKind { seq: 5, value: 99 })
    );
}

fn up(msg: pb::agent_message::Msg) -> Result<Uplink, ConvertError> {
    uplink(pb::AgentMessage { msg: Some(msg) })
}

#[test]
fn uplink_messages_become_domain_messages() {
    use pb::agent_message::Msg;
    let hello = up(Msg::Hello(pb::Hello {
        protocol_version: 1,
        agent_id: "a1".into(),
        name: "edge".into(),
        labels: [("net".to_owned(), "x".to_owned())].into(),
        assignment_digest: 7,
        ..Default::default()
    }))
    .unwrap();
    let Uplink::Hello(hello) = hello else {
        panic!("not a hello: {hello:?}")
    };
    assert_eq!(hello.assignment_digest, Some(7));
    assert_eq!(
        (hello.agent_id.as_str(), hello.name.as_str()),
        ("a1", "edge")
    );
    assert_eq!(hello.labels.get("net").map(String::as_str), Some("x"));

    let stats = pb::HostStats {
        load1: 1.5,
        agent_version: "0.1.0".into(),
        ..Default::default()
    };
    let beat = up(Msg::Heartbeat(pb::Heartbeat {
        time_ms: 7,
        stats: Some(stats.clone()),
    }));
    assert_eq!(beat, Ok(Uplink::Heartbeat(HostStats::from(stats))));
    let bare = up(Msg::Heartbeat(pb::Heartbeat::default()));
    assert_eq!(bare, Ok(Uplink::Heartbeat(HostStats::default())));
}

#[test]
fn a_bad_result_is_dropped_alone_and_named() {
    let batch = pb::ResultBatch {
        results: vec![
            result(1, true, pb::ErrorKind::Unspecified, 200),
            pb::ProbeResult {
                check_id: String::new(),
                ..result(2, true, pb::ErrorKind::Unspecified, 200)
            },
            result(3, false, pb::ErrorKind::Timeout, 0),
        ],
    };
    let Uplink::Results { results, rejected } = up(pb::agent_message::Msg::Results(batch)).unwrap()
    else {
        panic!("not results")
    };
    let seqs: Vec<u64> = results.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 3]);
    assert_eq!(rejected, ["result 2: check_id is empty"]);
}

#[test]
fn an_empty_uplink_message_is_malformed() {
    let err = uplink(pb::AgentMessage { msg: None }).unwrap_err();
    assert_eq!(err, ConvertError::EmptyMessage);
    assert_eq!(err.to_string(), "empty message");
}

#[test]
fn downlink_messages_become_proto() {
    use pb::collector_message::Msg;
    fn check(down: Downlink, expected: Msg) {
        assert_eq!(downlink(down.clone()).msg, Some(expected), "{down:?}");
    }
    check(Downlink::Ack(9), Msg::Ack(pb::Ack { seq: 9 }));
    check(
        Downlink::Recheck {
            service: "shop".into(),
            round_id: 4,
        },
        Msg::Recheck(pb::Recheck {
            check_id: "shop".into(),
            round_id: 4,
        }),
    );
    let spec = CheckSpec {
        id: "shop".into(),
        url: "https://shop.example.com/health".into(),
        method: "GET".into(),
        headers: [("x-a".to_owned(), "1".to_owned())].into(),
        basic_auth: Some(("u".into(), "p".into())),
        expected_status: vec![200, 204],
        body_contains: None,
        follow_redirects: true,
        max_redirects: 5,
        timeout_ms: 10_000,
        interval_ms: 60_000,
        max_body_bytes: 1024,
        reuse_connections: false,
    };
    check(
        Downlink::Assignment(AssignmentPart {
            generation: 3,
            kind: AssignmentKind::Delta { base: 2 },
            checks: vec![spec.into()],
            removed: vec!["gone".into()],
            last: true,
            digest: 42,
        }),
        Msg::Assignment(pb::Assignment {
            checks: vec![pb::Check {
                id: "shop".into(),
                url: "https://shop.example.com/health".into(),
                method: "GET".into(),
                headers: [("x-a".to_owned(), "1".to_owned())].into(),
                basic_auth: Some(pb::BasicAuth {
                    user: "u".into(),
                    password: "p".into(),
                }),
                expected_status: vec![200, 204],
                body_contains: String::new(),
                follow_redirects: true,
                max_redirects: 5,
                timeout_ms: 10_000,
                interval_ms: 60_000,
                max_body_bytes: 1024,
                reuse_connections: false,
            }],
            generation: 3,
            kind: pb::AssignmentKind::Delta.into(),
            base_generation: 2,
            removed: vec!["gone".into()],
            last: true,
            digest: 42,
        }),
    );
}

#[test]
fn welcome_carries_the_session_facts() {
    let w = Welcome {
        agent_id: "a1".into(),
        credential: None,
        state: crate::domain::AgentState::Active,
        heartbeat_interval: std::time::Duration::from_secs(10),
        last_committed_seq: 12,
        session: 3,
    };
    let Some(pb::collector_message::Msg::Welcome(msg)) = welcome(&w).msg else {
        panic!("not a welcome")
    };
    assert_eq!(
        msg,
        pb::Welcome {
            agent_id: "a1".into(),
            credential: String::new(),
            state: "active".into(),
            heartbeat_interval_ms: 10_000,
            last_committed_seq: 12,
        }
    );
}

#[test]
fn a_hello_outside_the_limits_is_refused_naming_the_field() {
    use pb::agent_message::Msg;
    fn check(h: pb::Hello, expected: &str) {
        let err = up(Msg::Hello(h)).expect_err("accepted");
        assert_eq!(err.to_string(), expected);
    }
    let good = pb::Hello {
        protocol_version: 1,
        agent_id: "a1".into(),
        name: "edge".into(),
        ..Default::default()
    };
    check(
        pb::Hello {
            name: "n".repeat(10 << 20),
            ..good.clone()
        },
        "invalid hello: name: 10485760 bytes, at most 256",
    );
    check(
        pb::Hello {
            labels: (0..10_000).map(|i| (format!("k{i}"), "v".into())).collect(),
            ..good.clone()
        },
        "invalid hello: labels: 10000 labels, at most 64",
    );
    check(
        pb::Hello {
            agent_id: "a/../b".into(),
            ..good.clone()
        },
        "invalid hello: agent_id: character '/' is not a letter, digit, '.', '_', '-' or ':'",
    );
    assert!(up(Msg::Hello(good)).is_ok());
}

#[test]
fn results_past_the_limits_are_refused_or_cut() {
    let mut long_check = result(6, true, pb::ErrorKind::Unspecified, 200);
    long_check.check_id = "c".repeat(129);
    assert_eq!(
        ProbeResult::try_from(long_check),
        Err(ConvertError::LongCheck { seq: 6, len: 129 })
    );
    let huge = result(u64::MAX, true, pb::ErrorKind::Unspecified, 200);
    let err = ProbeResult::try_from(huge).unwrap_err();
    assert_eq!(
        err.to_string(),
        "result seq 18446744073709551615 is over the largest, 9223372036854775807"
    );
    // A long detail is kept up to the limit, cut on a character boundary.
    let mut long_detail = result(7, false, pb::ErrorKind::Tls, 0);
    long_detail.error_detail = format!("x{}", "é".repeat(1000));
    let kept = ProbeResult::try_from(long_detail).expect("a long detail is cut, not refused");
    let detail = kept.outcome.error.expect("a failure has a detail");
    assert_eq!(detail.len(), 1023);
    assert!(detail.starts_with("xé"));
}

#[test]
fn phases_and_cert_expiry_pass_through() {
    let r = ProbeResult::try_from(pb::ProbeResult {
        duration_us: 32_100,
        dns_us: 1_200,
        connect_us: 800,
        tls_us: 12_000,
        first_byte_us: 16_100,
        transfer_us: 2_000,
        cert_not_after_ms: 1_796_083_200_000,
        ..result(8, true, pb::ErrorKind::Unspecified, 200)
    })
    .expect("converted");
    assert_eq!(
        r.outcome.phases,
        Phases {
            dns_us: Some(1_200),
            connect_us: Some(800),
            tls_us: Some(12_000),
            processing_us: Some(16_100),
            transfer_us: Some(2_000),
        }
    );
    assert_eq!(r.outcome.cert_not_after_ms, Some(1_796_083_200_000));
    let plain =
        ProbeResult::try_from(result(9, true, pb::ErrorKind::Unspecified, 200)).expect("converted");
    assert_eq!(
        (plain.outcome.phases, plain.outcome.cert_not_after_ms),
        (Phases::default(), None),
        "0 is not measured"
    );
}

#[test]
fn absurd_phases_and_cert_expiries_are_dropped_and_the_result_kept() {
    let check = |r: pb::ProbeResult, phases: Phases, cert: Option<i64>| {
        let seq = r.seq;
        let got = ProbeResult::try_from(r).expect("the result itself stands");
        assert_eq!(
            (got.outcome.phases, got.outcome.cert_not_after_ms),
            (phases, cert),
            "result {seq}"
        );
    };
    let base = result(10, true, pb::ErrorKind::Unspecified, 200);
    // A phase longer than the whole probe cannot be true.
    check(
        pb::ProbeResult {
            duration_us: 5_000,
            dns_us: 1_000,
            tls_us: 6_000,
            first_byte_us: u64::MAX,
            transfer_us: 5_001,
            ..base.clone()
        },
        Phases {
            dns_us: Some(1_000),
            ..Phases::default()
        },
        None,
    );
    // Nor one over a day, even within a (bogus) longer duration.
    check(
        pb::ProbeResult {
            duration_us: u64::MAX,
            connect_us: MAX_PHASE_US + 1,
            first_byte_us: MAX_PHASE_US,
            transfer_us: MAX_PHASE_US + 1,
            ..base.clone()
        },
        Phases {
            processing_us: Some(MAX_PHASE_US),
            ..Phases::default()
        },
        None,
    );
    // Certificate expiries before 1970 or after 9999 are unknown.
    for (ms, kept) in [
        (-1, None),
        (i64::MIN, None),
        (MAX_CERT_NOT_AFTER_MS + 1, None),
        (i64::MAX, None),
        (MAX_CERT_NOT_AFTER_MS, Some(MAX_CERT_NOT_AFTER_MS)),
    ] {
        check(
            pb::ProbeResult {
                cert_not_after_ms: ms,
                ..base.clone()
            },
            Phases::default(),
            kept,
        );
    }
}

/// The chunker cuts parts by `chunks::encoded_bound`: it must never be
/// below a check's real encoding, and a full part must stay far under the
/// link's limit once encoded.
#[test]
fn the_size_bound_of_a_check_covers_its_encoding() {
    use picket_proto::prost::Message as _;
    let spec = |i: usize| CheckSpec {
        id: format!("svc-{i}").into(),
        url: format!("https://host-{i}.example.com/{}", "p".repeat(i % 300)),
        method: "GET".into(),
        headers: (0..i % 4)
            .map(|h| (format!("x-h{h}"), "v".repeat(i % 50)))
            .collect(),
        basic_auth: (i.is_multiple_of(3)).then(|| ("user".into(), "secret".into())),
        expected_status: vec![200, 204, 301],
        body_contains: (i.is_multiple_of(5)).then(|| "ok".into()),
        follow_redirects: true,
        max_redirects: u32::MAX,
        timeout_ms: u64::MAX,
        interval_ms: u64::MAX,
        max_body_bytes: u64::MAX,
        reuse_connections: true,
    };
    let specs: Vec<std::sync::Arc<CheckSpec>> = (0..20_000).map(|i| spec(i).into()).collect();
    for s in &specs[..500] {
        let real = check(s).encoded_len() + 5;
        assert!(crate::agents::chunks::encoded_bound(s) >= real, "{s:?}");
    }
    let parts = crate::agents::chunks::full(1, &specs, 9);
    assert!(parts.len() > 1, "20k checks in one part");
    for part in parts {
        let len = downlink(Downlink::Assignment(part)).encoded_len();
        assert!(
            len <= limits::MAX_ASSIGNMENT_PART_BYTES + 1024,
            "a part of {len} bytes"
        );
    }
}
