//! `/metrics` over HTTP from a running collector, parsed as Prometheus
//! would read it (`prometheus-parse`): blackbox_exporter's `probe_*`
//! gauges of each agent's latest probe, the collector's `picket_*`
//! families, `probe_series = "service"`, removed services, OpenMetrics.

use std::time::Duration;

use picket_collector::domain::ServiceState;
use picket_e2e::ENROLLMENT_TOKEN;
use picket_e2e::config::Service;
use picket_e2e::inproc::{Harness, Identity, Outcome, ScriptedAgent};
use prometheus_parse::{Sample, Scrape, Value};

use crate::common::{NOT_AFTER_MS, SERVICE, one_equipment, one_service, two_agents_one_measured};

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition")
}

fn value(s: &Sample) -> f64 {
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => f64::NAN,
    }
}

/// The samples of `metric` whose labels include `labels`.
fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The one sample of `metric` with `labels`.
fn one(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(scrape, metric, labels);
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
    value(found[0])
}

#[tokio::test(start_paused = true)]
async fn metrics_serve_each_agents_latest_probe_and_the_verdicts() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let (mut paris, mut tokyo, _) = two_agents_one_measured(&h).await?;
    tokyo.report(SERVICE, &Outcome::status(503)).await?;
    h.wait_state(SERVICE, "suspect").await?;

    let m = parse(&h.metrics_accepting("text/plain").await?.1);
    let p = [
        ("service", SERVICE),
        ("equipment", "web-1"),
        ("agent", "edge-1"),
        ("region", "eu"),
    ];
    assert_eq!(one(&m, "probe_success", &p), 1.0);
    assert!((one(&m, "probe_duration_seconds", &p) - 0.0321).abs() < 1e-9);
    assert_eq!(one(&m, "probe_http_status_code", &p), 200.0);
    for (phase, want) in [
        ("resolve", 0.0012),
        ("connect", 0.0008),
        ("tls", 0.012),
        ("processing", 0.0161),
        ("transfer", 0.002),
    ] {
        let labels = [p.as_slice(), &[("phase", phase)]].concat();
        let got = one(&m, "probe_http_duration_seconds", &labels);
        assert!((got - want).abs() < 1e-9, "{phase}: {got}, sent {want}");
    }
    assert_eq!(
        one(&m, "probe_ssl_earliest_cert_expiry", &p),
        (NOT_AFTER_MS / 1000) as f64
    );
    let t = [
        ("agent", "edge-2"),
        ("region", "ap"),
        ("equipment", "web-1"),
    ];
    assert_eq!(one(&m, "probe_success", &t), 0.0);
    assert_eq!(one(&m, "probe_http_status_code", &t), 503.0);
    assert!(
        find(&m, "probe_ssl_earliest_cert_expiry", &t).is_empty(),
        "no certificate, no expiry"
    );

    let states = find(&m, "picket_service_state", &[("service", SERVICE)]);
    assert_eq!(
        states.len(),
        ServiceState::ALL.len(),
        "one series per state: {states:?}"
    );
    for s in states {
        let current = s.labels.get("state") == Some("suspect");
        assert_eq!(value(s), f64::from(u8::from(current)), "{s:?}");
    }
    assert_eq!(one(&m, "picket_results_ingested_total", &[]), 3.0);
    assert_eq!(one(&m, "picket_requests_open", &[]), 0.0);
    assert_eq!(
        one(
            &m,
            "picket_agents",
            &[("state", "active"), ("liveness", "live")]
        ),
        2.0
    );
    assert_eq!(
        one(
            &m,
            "picket_recheck_rounds_total",
            &[("outcome", "confirmed")]
        ),
        0.0
    );
    assert!(one(&m, "picket_store_bytes", &[]) > 0.0);
    let batches = m
        .samples
        .iter()
        .find(|s| s.metric == "picket_ingest_batch_seconds")
        .expect("the batch histogram");
    let Value::Histogram(buckets) = &batches.value else {
        panic!("not a histogram: {batches:?}");
    };
    assert!(buckets.iter().any(|b| b.count >= 1.0), "{buckets:?}");

    // The round confirms the failure: counted by outcome.
    h.advance(Duration::from_secs(2)).await;
    let (po, to) = (paris.order().await?, tokyo.order().await?);
    paris.answer(&po, &Outcome::status(503)).await?;
    tokyo.answer(&to, &Outcome::status(503)).await?;
    h.wait_state(SERVICE, "down").await?;
    let m = parse(&h.metrics().await?);
    assert_eq!(
        one(
            &m,
            "picket_recheck_rounds_total",
            &[("outcome", "confirmed")]
        ),
        1.0
    );
    assert_eq!(one(&m, "picket_requests_open", &[]), 1.0);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn per_service_series_and_a_removed_service_follow_a_reload() -> anyhow::Result<()> {
    let two = one_service().service(Service::new("blog", "web-1", "http://blog.test/"));
    let mut h = Harness::start(&two).await?;
    let mut paris = h.agent("edge-1", "eu").await?;
    paris.assignment().await?;
    paris.report(SERVICE, &Outcome::ok()).await?;
    paris.report("blog", &Outcome::ok()).await?;
    let m = parse(&h.metrics().await?);
    assert_eq!(find(&m, "probe_success", &[("service", "blog")]).len(), 1);
    assert_eq!(
        find(&m, "picket_service_state", &[("service", "blog")]).len(),
        ServiceState::ALL.len()
    );

    h.rewrite(&one_service().raw("[metrics]\nprobe_series = \"service\"\n"))?;
    h.reload().await?;
    let m = parse(&h.metrics().await?);
    assert!(find(&m, "probe_success", &[("service", "blog")]).is_empty());
    assert!(find(&m, "picket_service_state", &[("service", "blog")]).is_empty());
    let shop = find(&m, "probe_success", &[("service", SERVICE)]);
    assert_eq!(shop.len(), 1, "{shop:?}");
    let mut names: Vec<&str> = shop[0].labels.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["equipment", "service"], "no agent labels");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn openmetrics_on_request_and_label_values_escaped() -> anyhow::Result<()> {
    let h = Harness::start(&one_equipment().service(Service::new(
        SERVICE,
        "web-1",
        "http://shop.test/",
    )))
    .await?;
    let nasty = "edge \"1\" \\ a\nb";
    let identity = Identity {
        id: "nasty-1".into(),
        name: nasty.into(),
        region: "eu".into(),
        credential: String::new(),
    };
    let mut agent = ScriptedAgent::connect(h.grpc_addr(), identity, ENROLLMENT_TOKEN)
        .await?
        .map_err(|r| anyhow::anyhow!("refused: {r}"))?;
    agent.assignment().await?;
    agent.report(SERVICE, &Outcome::ok()).await?;

    let (content_type, text) = h
        .metrics_accepting("application/openmetrics-text; version=1.0.0, text/plain; q=0.5")
        .await?;
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("\n# TYPE picket_results_ingested counter\n"),
        "{text}"
    );
    assert!(
        text.contains("\npicket_results_ingested_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains(r#"agent="edge \"1\" \\ a\nb""#),
        "escaped agent name missing in {text}"
    );

    let (content_type, text) = h.metrics_accepting("*/*").await?;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(!text.contains("# EOF"));
    assert!(text.contains("\n# TYPE picket_results_ingested_total counter\n"));
    let m = parse(&text);
    assert_eq!(find(&m, "probe_success", &[("service", SERVICE)]).len(), 1);
    Ok(())
}
