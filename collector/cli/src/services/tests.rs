//! `service ID`: the history in JSON (snake_case) and as text lines.

use picket_proto::prost_types::Timestamp;
use serde_json::json;

use super::*;

fn shown() -> pb::Service {
    let bar = |day: i64, probes, failures, uptime| pb::DailyBar {
        start: Some(Timestamp {
            seconds: 1_699_920_000 + day * 86_400,
            nanos: 0,
        }),
        probes,
        failures,
        uptime,
        p95_ms: uptime.map(|_| 42.0),
    };
    pb::Service {
        id: "shop".into(),
        state: "up".into(),
        history: Some(pb::ServiceHistory {
            uptime_24h: Some(1.0),
            uptime_7d: Some(0.9995),
            uptime_30d: Some(0.98),
            latency_24h: Some(pb::LatencySummary {
                count: 4320,
                min_ms: 20.0,
                mean_ms: 40.0,
                p50_ms: 41.0,
                p95_ms: 60.5,
                p99_ms: 80.0,
                max_ms: 120.0,
            }),
            latency_7d: None,
            latency_30d: None,
            daily: vec![
                bar(0, 0, 0, None),
                bar(1, 100, 10, Some(0.9)),
                bar(2, 1000, 1, Some(0.999)),
                bar(3, 10, 0, Some(1.0)),
            ],
        }),
        latest: vec![
            pb::ProbeOutcome {
                agent: "paris-1".into(),
                agent_id: "a1".into(),
                region: "eu".into(),
                ok: true,
                status_code: Some(200),
                latency_ms: 32.1,
                time: Some(Timestamp {
                    seconds: 1_699_920_000,
                    nanos: 0,
                }),
                phases: Some(pb::Phases {
                    dns_ms: Some(1.2),
                    connect_ms: Some(0.8),
                    tls_ms: Some(12.0),
                    processing_ms: Some(16.1),
                    transfer_ms: Some(2.0),
                }),
                cert_expires_at: Some(Timestamp {
                    seconds: CERT_S,
                    nanos: 0,
                }),
                ..Default::default()
            },
            pb::ProbeOutcome {
                agent: "tokyo-1".into(),
                agent_id: "a2".into(),
                region: "ap".into(),
                ok: false,
                error_kind: "connect".into(),
                error_detail: "connect: connection refused".into(),
                latency_ms: 0.9,
                time: Some(Timestamp {
                    seconds: 1_699_920_001,
                    nanos: 0,
                }),
                phases: Some(pb::Phases {
                    dns_ms: Some(0.3),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// 2027-01-02T00:00:00Z.
const CERT_S: i64 = 1_798_848_000;

#[test]
fn json_carries_the_history_with_snake_case_names() {
    let v = convert::service(&shown());
    let h = &v["history"];
    assert_eq!(h["uptime_24h"], json!(1.0));
    assert_eq!(h["uptime_7d"], json!(0.9995));
    assert_eq!(h["uptime_30d"], json!(0.98));
    assert_eq!(h["latency_24h"]["p95_ms"], json!(60.5));
    assert_eq!(h["latency_7d"], json!(null));
    assert_eq!(
        h["daily"][1],
        json!({"start": "2023-11-15T00:00:00.000Z", "probes": 100, "failures": 10, "uptime": 0.9, "p95_ms": 42.0})
    );
    assert_eq!(h["daily"][0]["uptime"], json!(null));
    let listed = convert::service(&pb::Service::default());
    assert!(listed.get("history").is_none(), "lists carry no history");
}

#[test]
fn text_shows_the_uptimes_and_a_line_of_daily_bars() {
    let text = render_show(convert::service(&shown()), false, 0).expect("text");
    assert!(
        text.contains("uptime      24h 100.000%  7d 99.950%  30d 98.000%"),
        "{text}"
    );
    assert!(text.contains("p95 60.5"), "{text}");
    assert!(text.contains("daily       ·▂▇█"), "{text}");
    assert!(
        !text.contains("\"daily\""),
        "the history is not dumped as JSON: {text}"
    );
}

#[test]
fn json_carries_each_agents_latest_result_with_phases() {
    let v = convert::service(&shown());
    let paris = &v["latest"][0];
    assert_eq!(
        (&paris["agent"], &paris["agent_id"], &paris["region"]),
        (&json!("paris-1"), &json!("a1"), &json!("eu"))
    );
    for (key, ms) in [
        ("dns_ms", 1.2),
        ("connect_ms", 0.8),
        ("tls_ms", 12.0),
        ("processing_ms", 16.1),
        ("transfer_ms", 2.0),
        ("latency_ms", 32.1),
    ] {
        assert_eq!(paris[key], json!(ms), "{key}");
    }
    assert_eq!(paris["cert_expires_at"], json!("2027-01-02T00:00:00.000Z"));
    let tokyo = &v["latest"][1];
    assert_eq!(tokyo["tls_ms"], json!(null), "not measured");
    assert_eq!(tokyo["cert_expires_at"], json!(null));
    assert_eq!(tokyo["error_kind"], json!("connect"));
    let listed = convert::service(&pb::Service::default());
    assert!(
        listed.get("latest").is_none(),
        "lists carry no latest results"
    );
}

#[test]
fn text_shows_one_line_per_agent_with_phases_and_cert_expiry() {
    // 34 days and a bit before the certificate expires.
    let now_ms = (CERT_S - 34 * 86_400 - 3_600) * 1000;
    let text = render_show(convert::service(&shown()), false, now_ms).expect("text");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("agents "))
        .expect("an agents section");
    assert_eq!(
        &lines[at..],
        [
            "agents      2",
            "  paris-1 (eu)  2023-11-14T00:00:00.000Z  ok 200  32.1ms  dns 1.2ms connect 0.8ms tls 12.0ms processing 16.1ms transfer 2.0ms  cert expires 2027-01-02 (34 days)",
            "  tokyo-1 (ap)  2023-11-14T00:00:01.000Z  failed connect: connection refused  0.9ms  dns 0.3ms",
        ]
    );
    let expired = render_show(
        convert::service(&shown()),
        false,
        (CERT_S + 3 * 86_400) * 1000,
    )
    .expect("text");
    assert!(
        expired.contains("cert expired 2027-01-02 (3 days ago)"),
        "{expired}"
    );
}

/// `cert_expiring_at` (set by GetService when the earliest certificate
/// expires within the service's warning) is in the JSON and the text.
#[test]
fn shows_an_expiring_certificate() {
    let mut s = shown();
    s.cert_expiring_at = Some(Timestamp {
        seconds: CERT_S,
        nanos: 0,
    });
    let v = convert::service(&s);
    assert_eq!(v["cert_expiring_at"], json!("2027-01-02T00:00:00.000Z"));
    let text = render_show(v, false, 0).expect("text");
    assert!(
        text.contains("cert_expiring_at") && text.contains("2027-01-02T00:00:00.000Z"),
        "{text}"
    );
    assert_eq!(convert::service(&shown())["cert_expiring_at"], json!(null));
}
