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
        ..Default::default()
    }
}

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
    let text = render_show(convert::service(&shown()), false).expect("text");
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
