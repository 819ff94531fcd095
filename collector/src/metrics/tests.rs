use crate::domain::{AgentId, ServiceId};

#[test]
fn renders_counters_with_labels() {
    let m = super::Metrics::new();
    let (shop, a1) = (ServiceId::from("shop"), AgentId::from("a1"));
    m.local_failure(&shop, &a1);
    m.local_failure(&shop, &a1);
    m.results_ingested.inc_by(3);
    m.link_rejected("seq_jump");
    m.recheck_round("local");
    let text = m.render();
    for line in [
        r#"picket_service_local_failures_total{service="shop",agent="a1"} 2"#,
        "picket_results_ingested_total 3",
        r#"picket_link_rejected_total{reason="seq_jump"} 1"#,
        r#"picket_recheck_rounds_total{outcome="local"} 1"#,
        r#"picket_recheck_rounds_total{outcome="confirmed"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    assert!(
        !text.contains("picket_collector_ingest_results_total"),
        "{text}"
    );
}
